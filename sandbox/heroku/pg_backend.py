"""`DatabaseBackend` on real PostgreSQL: an add-on is a cluster, a follower a streaming replica.

`World` calls `status()` from the stand-in's event loop on every request, so it never
touches a database: a poller thread measures every cluster every `poll_seconds` and
`status()` reads what it cached. `behind_by` stays None (unknown, never 0) until a
follower has been measured. Slow work is never done on the caller's thread either:
provisioning runs in the manager's threads, and unfollow (``pg_promote``) and destroy in
this backend's job threads, so the platform sees them finish a moment later, as on Heroku.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sandbox.heroku.backend import DatabaseStatus, Writers
from sandbox.postgres import Cluster, ClusterManager, PostgresError

log = logging.getLogger(__name__)

PARAMS = frozenset({"apply_delay_seconds"})


@dataclass(slots=True)
class _Database:
    cluster: Cluster
    leader_id: str | None
    unfollowing: bool = False
    commits: int = 0
    behind_by: int | None = None  # None until measured


class PostgresBackend:
    """Databases keyed by add-on id, each a real cluster of `manager`."""

    def __init__(
        self,
        manager: ClusterManager,
        *,
        apply_delay_seconds: float = 0.0,
        poll_seconds: float = 0.15,
    ) -> None:
        if apply_delay_seconds < 0:
            raise ValueError("apply_delay_seconds must not be negative")
        self._manager = manager
        self._apply_delay = apply_delay_seconds
        self._poll_seconds = poll_seconds
        self._dbs: dict[str, _Database] = {}
        self._lock = threading.Lock()
        self._jobs = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pg-backend")
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="pg-backend-poller", daemon=True)
        self._poller.start()

    def __repr__(self) -> str:
        return f"PostgresBackend(databases={len(self._dbs)}, apply_delay={self._apply_delay})"

    def create(self, addon_id: str, *, leader_id: str | None, immediate: bool = False) -> None:
        """A new leader, or a replica of `leader_id`'s cluster; `immediate` waits until it runs."""
        with self._lock:
            if addon_id in self._dbs:
                raise ValueError(f"database {addon_id} exists")
            leader = self._dbs[leader_id].cluster if leader_id is not None else None
        if leader is None:
            cluster = self._manager.create_leader(addon_id, wait=immediate)
        else:
            cluster = self._manager.create_replica(
                leader, addon_id, apply_delay_seconds=self._apply_delay, wait=immediate
            )
        with self._lock:
            self._dbs[addon_id] = _Database(cluster, leader_id)

    def destroy(self, addon_id: str) -> None:
        """Forget the database now; stop and delete its cluster in the background."""
        with self._lock:
            db = self._dbs.pop(addon_id, None)
            orphans = [oid for oid, other in self._dbs.items() if other.leader_id == addon_id]
        # Followers of a destroyed leader keep what they replayed and become standalone.
        for orphan in orphans:
            self.unfollow(orphan)
        if db is not None:
            self._jobs.submit(self._manager.destroy, db.cluster)

    def status(self, addon_id: str) -> DatabaseStatus:
        with self._lock:
            db = self._dbs[addon_id]
            available = db.cluster.ready
            following = db.leader_id is not None and available
            return DatabaseStatus(
                available, db.leader_id, db.behind_by if following else None, db.commits
            )

    def unfollow(self, addon_id: str) -> None:
        """Promote in the background; `leader_id` turns None once the replica is writable."""
        with self._lock:
            db = self._dbs[addon_id]
            if db.leader_id is None or db.unfollowing:
                return
            db.unfollowing = True
        self._jobs.submit(self._promote, addon_id, db)

    def url(self, addon_id: str, *, pooled: bool = False, credential: str = "default") -> str:
        """The app role's URL, whatever `pooled` and `credential` say: these clusters have no
        PgBouncer and no role per credential."""
        with self._lock:
            return self._dbs[addon_id].cluster.url()

    def set_writers(self, writers: Mapping[str, Writers]) -> None:
        """Ignored: real writers (the demo app) connect to the databases themselves."""

    def configure(self, **params: float) -> None:
        """Only `apply_delay_seconds`: applied to every follower now and to new ones."""
        unknown = sorted(set(params) - PARAMS)
        if unknown:
            raise ValueError(
                f"unknown PostgreSQL backend parameter(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(PARAMS))}"
            )
        if "apply_delay_seconds" in params:
            delay = float(params["apply_delay_seconds"])
            if delay < 0:
                raise ValueError("apply_delay_seconds must not be negative")
            with self._lock:
                self._apply_delay = delay
                followers = [db.cluster for db in self._dbs.values() if db.leader_id is not None]
            for cluster in followers:
                cluster.set_apply_delay(delay)

    def close(self) -> None:
        """Stop polling and destroy every cluster this backend created."""
        self._stopping.set()
        self._poller.join(timeout=5)
        with self._lock:
            dbs = list(self._dbs.values())
            self._dbs.clear()
        for db in dbs:
            self._jobs.submit(self._manager.destroy, db.cluster)
        self._jobs.shutdown(wait=True)

    def _promote(self, addon_id: str, db: _Database) -> None:
        try:
            db.cluster.promote()
        except PostgresError as exc:
            log.warning("unfollow of %s failed, it still follows: %s", addon_id, exc)
            with self._lock:
                db.unfollowing = False
            return
        with self._lock:
            db.leader_id = None
            db.behind_by = None
            db.unfollowing = False

    def _poll(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            with self._lock:
                dbs = list(self._dbs.items())
            for addon_id, db in dbs:
                if self._stopping.is_set():
                    return
                if db.cluster.ready:
                    self._measure(addon_id, db)

    def _measure(self, addon_id: str, db: _Database) -> None:
        try:
            commits = db.cluster.commits()
        except PostgresError as exc:
            log.debug("could not measure %s: %s", addon_id, exc)
            return
        behind_by: int | None = None
        if db.leader_id is not None and db.cluster.leader is not None:
            try:
                behind_by = db.cluster.commits_behind()
            except PostgresError as exc:
                log.debug("could not measure the lag of %s: %s", addon_id, exc)
        with self._lock:
            db.commits = commits
            db.behind_by = behind_by if db.leader_id is not None else None
