"""The sandbox's demo app: web and worker dynos that insert rows into DATABASE_URL.

Each formation dyno of the app is a writer thread. Web writers pause while the app is in
maintenance (the router stops sending them requests); workers and one-off dynos keep writing,
as on Heroku. Every id a writer committed is recorded in a `Ledger` outside the database, so
that after a migration the rows missing on the new database can be counted.

The world calls `reconcile` synchronously whenever formation, maintenance or attachments change,
and it waits for in-flight inserts: when the API says a dyno is gone, its writes are over.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from sandbox.heroku.world import World

log = logging.getLogger("migrate_bot.sandbox.demo")

TABLE = "demo_writes"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigint PRIMARY KEY,
    written_at timestamptz NOT NULL DEFAULT now(),
    process text NOT NULL
)
"""


@dataclass(frozen=True)
class Commit:
    id: int
    at: float
    process: str


class Ledger:
    """Every id the demo app committed, kept outside the database."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.commits: list[Commit] = []

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def committed(self, commit_id: int, process: str) -> None:
        with self._lock:
            self.commits.append(Commit(commit_id, time.time(), process))

    def snapshot(self) -> list[Commit]:
        with self._lock:
            return list(self.commits)


@dataclass
class _Writer:
    process: str
    kind: str
    url: str
    rate: float
    ledger: Ledger
    allowed: bool = True
    stop: threading.Event = field(default_factory=threading.Event)
    # Held during each insert; taking it proves no insert of this writer is in flight.
    busy: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    errors: int = 0

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"demo-{self.process}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        conn_url = ""
        while not self.stop.is_set():
            with self.busy:
                if self.allowed and not self.stop.is_set():
                    try:
                        if conn is None or conn_url != self.url:
                            if conn is not None:
                                conn.close()
                            conn_url = self.url
                            conn = psycopg.connect(conn_url, connect_timeout=2, autocommit=True)
                        commit_id = self.ledger.next_id()
                        conn.execute(
                            f"INSERT INTO {TABLE} (id, process) VALUES (%s, %s)",  # noqa: S608
                            (commit_id, self.process),
                        )
                        self.ledger.committed(commit_id, self.process)
                    except psycopg.Error:
                        # Read-only follower, database gone or restarting: like a real app,
                        # this request fails and the next one tries again.
                        self.errors += 1
                        if conn is not None:
                            conn.close()
                        conn = None
            self.stop.wait(1.0 / self.rate)
        if conn is not None:
            conn.close()

    def halt(self) -> None:
        self.stop.set()
        with self.busy:
            pass

    def pause(self) -> None:
        self.allowed = False
        with self.busy:
            pass


class DemoApp:
    """Writers that follow one app's formation, maintenance flag and DATABASE_URL."""

    def __init__(self, app: str, *, web_rate: float = 20.0, worker_rate: float = 10.0) -> None:
        self.app = app
        self.rates = {"web": web_rate, "other": worker_rate}
        self.ledger = Ledger()
        self._writers: dict[str, _Writer] = {}
        self._lock = threading.Lock()

    def attach(self, world: World) -> None:
        """Create the table on the app's database and follow the world from now on."""
        url = self._database_url(world)
        if url is None:
            raise RuntimeError(f"{self.app} has no DATABASE to write to")
        with psycopg.connect(url, connect_timeout=5, autocommit=True) as conn:
            conn.execute(SCHEMA)
        world.observers.append(self.reconcile)
        self.reconcile(world)

    def _database_url(self, world: World) -> str | None:
        app = next((a for a in world.apps.values() if a.name == self.app), None)
        return None if app is None else world.config_vars(app).get("DATABASE_URL")

    def reconcile(self, world: World) -> None:
        """Match the writer threads to the platform, waiting for stopped ones to finish."""
        app = next((a for a in world.apps.values() if a.name == self.app), None)
        url = self._database_url(world)
        wanted: dict[str, tuple[str, bool]] = {}
        if app is not None and url is not None:
            for dyno in app.dynos:
                if dyno.type == "release":
                    continue
                kind = "web" if dyno.type == "web" else "other"
                wanted[dyno.name] = (kind, not (kind == "web" and app.maintenance))
        with self._lock:
            for name in [n for n in self._writers if n not in wanted]:
                self._writers.pop(name).halt()
            for name, (kind, allowed) in wanted.items():
                writer = self._writers.get(name)
                if writer is None:
                    writer = _Writer(name, kind, url or "", self.rates[kind], self.ledger, allowed)
                    self._writers[name] = writer
                    writer.start()
                    continue
                writer.url = url or ""
                if allowed:
                    writer.allowed = True
                else:
                    writer.pause()

    def stop(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.halt()
            for writer in self._writers.values():
                if writer.thread is not None:
                    writer.thread.join(timeout=5)
            self._writers.clear()

    def running(self) -> list[str]:
        with self._lock:
            return sorted(n for n, w in self._writers.items() if w.allowed)


@dataclass(frozen=True)
class LossReport:
    """Did every committed row make it to the database the app ends on?"""

    committed: int
    present: int
    missing: list[int]
    committed_before: int
    committed_after: int
    writes_stopped_seconds: float | None
    maintenance_seconds: float | None
    committed_during: int = 0
    # False when the app was never moved (cancelled, rejected, failed before promote).
    moved: bool = True

    @property
    def lines(self) -> list[str]:
        lines: list[str] = []
        if self.maintenance_seconds is not None:
            lines.append(f"Maintenance window: {self.maintenance_seconds:.2f} s")
            if self.writes_stopped_seconds is not None:
                lines.append(f"Writes stopped for: {self.writes_stopped_seconds:.2f} s")
            lines.append(
                f"Rows committed: {self.committed:,} ({self.committed_before:,} before the "
                f"window, {self.committed_during:,} during it, {self.committed_after:,} after it)"
            )
        else:
            lines.append("The app was never taken down.")
            lines.append(f"Rows committed: {self.committed:,}")
        where = "the new database" if self.moved else "the app's database (it was never moved)"
        sample = ", ".join(str(i) for i in self.missing[:10])
        more = "…" if len(self.missing) > 10 else ""
        lines.append(
            f"Rows missing on {where}: {len(self.missing)}"
            + (f" (ids {sample}{more})" if self.missing else "")
        )
        return lines


def check_loss(
    ledger: Ledger,
    database_url: Callable[[], str],
    *,
    window: tuple[float, float] | None = None,
    moved: bool = True,
) -> LossReport:
    """Compare the ledger with the rows on the app's DATABASE (as `database_url()` says now).

    The ledger is read before the URL: every id committed by then must be on whatever
    database DATABASE points at afterwards, even if another changeover moves it meanwhile.
    """
    commits = ledger.snapshot()
    with psycopg.connect(database_url(), connect_timeout=5) as conn:
        present = {row[0] for row in conn.execute(f"SELECT id FROM {TABLE}")}  # noqa: S608
    missing = sorted(c.id for c in commits if c.id not in present)
    before = during = after = 0
    stopped = None
    if window is not None:
        start, end = window
        before = sum(1 for c in commits if c.at < start)
        after = sum(1 for c in commits if c.at > end)
        during = len(commits) - before - after
        # The longest silence around the window: from the last write on the old database to
        # the first on the new one.
        times = sorted(c.at for c in commits if start - 5 <= c.at <= end + 5)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        stopped = max(gaps) if gaps else None
    return LossReport(
        committed=len(commits),
        present=len(present),
        missing=missing,
        committed_before=before,
        committed_after=after,
        writes_stopped_seconds=stopped,
        maintenance_seconds=(window[1] - window[0]) if window else None,
        committed_during=during,
        moved=moved,
    )
