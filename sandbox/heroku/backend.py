"""The databases behind the stand-in's Postgres add-ons.

`World` keeps the platform's bookkeeping (apps, add-ons, attachments) and asks a
`DatabaseBackend` everything a real database would answer: is it available, whom does it
follow, how far behind is it. `SimulatedBackend` answers from a clock; the rehearsal
sandbox plugs in one backed by real PostgreSQL clusters.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Writers:
    """Processes writing to one database: web dynos and every other kind (workers, one-offs)."""

    web: int = 0
    other: int = 0


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """What the Data API reports about one database."""

    available: bool
    leader_id: str | None
    behind_by: int | None  # None while unknown: not a follower, or not yet available
    commits: int


class DatabaseBackend(Protocol):
    """Databases keyed by add-on id; `World` calls these and never touches a database itself."""

    def create(self, addon_id: str, *, leader_id: str | None, immediate: bool = False) -> None:
        """Start provisioning a database, following `leader_id` if given; `immediate` skips
        provisioning (seeded databases, and seeded followers start caught up)."""

    def destroy(self, addon_id: str) -> None: ...

    def status(self, addon_id: str) -> DatabaseStatus: ...

    def unfollow(self, addon_id: str) -> None:
        """Stop following; the database becomes writable (possibly after a delay)."""

    def url(self, addon_id: str, *, pooled: bool = False, credential: str = "default") -> str:
        """The connection URL (with password) the platform puts in `<ATTACHMENT>_URL`;
        `credential` names the role it logs in as."""

    def set_writers(self, writers: Mapping[str, Writers]) -> None:
        """Replace the set of writing processes, keyed by the add-on id they write to."""

    def configure(self, **params: float) -> None:
        """Change simulation parameters at run time; unknown names raise `ValueError`."""


@dataclass(frozen=True, slots=True)
class SimulationParams:
    """Rates of the simulated backend, all changeable at run time."""

    web_rate: float = 5.0  # commits/s per web dyno, unless the app is in maintenance
    worker_rate: float = 2.0  # commits/s per other dyno, even in maintenance (as on Heroku)
    provision_seconds: float = 3.0  # a new database is "waiting?" this long
    initial_lag: float = 1000.0  # commits a follower is behind when it becomes available
    apply_rate: float = 200.0  # commits/s a follower replays
    unfollow_seconds: float = 0.0  # a follower keeps following this long after unfollow
    # A follower replays only commits at least this old, so it trails by about
    # rate x delay while writes go on, and reaches 0 only once they stop.
    replication_delay: float = 1.0


@dataclass(slots=True)
class _Database:
    leader_id: str | None
    ready_at: float
    password: str = field(repr=False)
    credential_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    commits: float = 0.0  # a follower's count is what it has replayed
    unfollow_at: float | None = None
    started: bool = False  # a follower has taken its starting point from its leader


class SimulatedBackend:
    """Databases simulated from a clock: leaders count commits, followers replay them."""

    def __init__(
        self,
        params: SimulationParams | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params = params or SimulationParams()
        self._clock = clock
        self._dbs: dict[str, _Database] = {}
        self._rates: dict[str, float] = {}
        self._writers: dict[str, Writers] = {}
        self._settled_at = clock()

    def create(self, addon_id: str, *, leader_id: str | None, immediate: bool = False) -> None:
        self._settle()
        if leader_id is not None and leader_id not in self._dbs:
            raise KeyError(leader_id)
        now = self._clock()
        ready_at = now if immediate else now + self.params.provision_seconds
        db = _Database(leader_id, ready_at, password=secrets.token_hex(16))
        if immediate and leader_id is not None:
            # A seeded follower has been following for a while: no initial lag to replay.
            db.commits, db.started = self._dbs[leader_id].commits, True
        self._dbs[addon_id] = db

    def destroy(self, addon_id: str) -> None:
        self._settle()
        self._dbs.pop(addon_id, None)
        for db in self._dbs.values():
            if db.leader_id == addon_id:
                # Orphaned followers keep what they replayed and become standalone.
                db.leader_id = None
        self._recompute_rates()

    def status(self, addon_id: str) -> DatabaseStatus:
        self._settle()
        db = self._dbs[addon_id]
        available = self._clock() >= db.ready_at
        behind_by: int | None = None
        if db.leader_id is not None and available and db.started:
            leader = self._dbs[db.leader_id]
            behind_by = max(0, math.floor(leader.commits) - math.floor(db.commits))
        return DatabaseStatus(available, db.leader_id, behind_by, math.floor(db.commits))

    def unfollow(self, addon_id: str) -> None:
        self._settle()
        db = self._dbs[addon_id]
        if db.leader_id is not None and db.unfollow_at is None:
            db.unfollow_at = self._clock() + self.params.unfollow_seconds
        self._settle()

    def url(self, addon_id: str, *, pooled: bool = False, credential: str = "default") -> str:
        db = self._dbs[addon_id]
        tag = addon_id.replace("-", "")[:12]
        host = f"ec2-10-0-{int(tag[:2], 16)}-{int(tag[2:4], 16)}.compute-1.amazonaws.com"
        if pooled:
            return f"postgres://pool_u{tag}:{db.password}@{host}:5433/d{tag}"
        if credential != "default":
            # A credential is a role of its own: its name is the user, with its own password.
            password = db.credential_passwords.setdefault(credential, secrets.token_hex(16))
            return f"postgres://{credential}:{password}@{host}:5432/d{tag}"
        return f"postgres://u{tag}:{db.password}@{host}:5432/d{tag}"

    def set_writers(self, writers: Mapping[str, Writers]) -> None:
        self._settle()
        self._writers = dict(writers)
        self._recompute_rates()

    def configure(self, **params: float) -> None:
        known = {f.name for f in fields(SimulationParams)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown simulation parameter(s): {', '.join(unknown)}")
        self._settle()
        self.params = replace(self.params, **{k: float(v) for k, v in params.items()})
        self._recompute_rates()

    def _recompute_rates(self) -> None:
        p = self.params
        self._rates = {
            addon_id: w.web * p.web_rate + w.other * p.worker_rate
            for addon_id, w in self._writers.items()
        }

    def _settle(self) -> None:
        """Advance every database from the last settlement to now, leaders before followers."""
        now = self._clock()
        start = self._settled_at
        self._settled_at = now
        for addon_id, db in self._by_depth():
            if db.leader_id is None:
                if now >= db.ready_at:
                    db.commits += self._rates.get(addon_id, 0.0) * (now - max(start, db.ready_at))
                continue
            if now < db.ready_at:
                continue
            leader = self._dbs[db.leader_id]
            since = max(start, db.ready_at)
            if not db.started:
                db.commits = leader.commits - self.params.initial_lag
                db.started = True
            in_flight = self._rates.get(db.leader_id, 0.0) * self.params.replication_delay
            target = leader.commits - in_flight
            replayed = min(db.commits + self.params.apply_rate * (now - since), target)
            db.commits = max(db.commits, replayed)
            if db.unfollow_at is not None and now >= db.unfollow_at:
                db.leader_id = None
                db.unfollow_at = None

    def _by_depth(self) -> list[tuple[str, _Database]]:
        def depth(db: _Database) -> int:
            n = 0
            while db.leader_id is not None and n < len(self._dbs):
                db = self._dbs[db.leader_id]
                n += 1
            return n

        return sorted(self._dbs.items(), key=lambda item: depth(item[1]))
