"""The Heroku stand-in's databases as real PostgreSQL: followers are streaming replicas.

`PostgresBackend` answers `World` from real clusters; the last test drives it through the
stand-in's Data API over HTTP, the way the bot sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from sandbox.heroku import World, create_app
from sandbox.heroku.backend import Writers
from sandbox.heroku.pg_backend import PostgresBackend
from sandbox.postgres import Cluster, ClusterManager
from sandbox.server import ThreadedServer

KEY = "test-api-key-5e6f7a8b"
V3 = "application/vnd.heroku+json; version=3"


@pytest.fixture(scope="module")
def manager() -> Iterator[ClusterManager]:
    with ClusterManager() as manager:
        yield manager


@pytest.fixture(scope="module")
def backend(manager: ClusterManager) -> Iterator[PostgresBackend]:
    backend = PostgresBackend(manager, poll_seconds=0.05)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def leader(backend: PostgresBackend) -> str:
    backend.create("leader-db", leader_id=None, immediate=True)
    with psycopg.connect(backend.url("leader-db"), autocommit=True) as conn:
        conn.execute("CREATE TABLE rows (id serial PRIMARY KEY, note text)")
    return "leader-db"


@pytest.fixture
def follower_id(request: pytest.FixtureRequest) -> str:
    """An add-on id of the test's own, so tests sharing the leader never share a follower."""
    return f"follower-{request.node.name.removeprefix('test_')[:40]}"


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{check} did not hold within {timeout} s")
        time.sleep(0.02)


def write(url: str, count: int = 1, note: str = "x") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(count):
            conn.execute("INSERT INTO rows (note) VALUES (%s)", (note,))


def count_rows(url: str, note: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM rows WHERE note = %s", (note,)).fetchone()
    assert row is not None
    return int(row[0])


def cluster(manager: ClusterManager, addon_id: str) -> Cluster:
    return next(c for c in manager.clusters if c.name == addon_id)


def follower_of(backend: PostgresBackend, leader: str, addon_id: str) -> str:
    backend.create(addon_id, leader_id=leader)
    eventually(lambda: backend.status(addon_id).behind_by == 0)
    return addon_id


def test_an_immediate_leader_is_available_at_once_and_takes_writes(
    backend: PostgresBackend, leader: str
) -> None:
    status = backend.status(leader)
    assert (status.available, status.leader_id, status.behind_by) == (True, None, None)
    url = backend.url(leader)
    assert url.startswith("postgres://app:") and "@127.0.0.1:" in url
    assert backend.url(leader, pooled=True) == url
    write(url, 2, note="immediate")
    assert count_rows(url, "immediate") == 2
    eventually(lambda: backend.status(leader).commits >= 2)


def test_a_follower_provisions_in_the_background_then_follows_with_zero_lag(
    backend: PostgresBackend, leader: str, follower_id: str
) -> None:
    started = time.monotonic()
    backend.create(follower_id, leader_id=leader)
    assert time.monotonic() - started < 0.1
    provisioning = backend.status(follower_id)
    assert (provisioning.available, provisioning.leader_id, provisioning.behind_by) == (
        False, leader, None,
    )  # fmt: skip
    eventually(lambda: backend.status(follower_id).available)
    eventually(lambda: backend.status(follower_id).behind_by == 0)
    write(backend.url(leader), 3, note="followed")
    eventually(lambda: count_rows(backend.url(follower_id), "followed") == 3)
    eventually(lambda: backend.status(follower_id).commits == backend.status(leader).commits)


def test_status_answers_from_cache_without_waiting_on_a_database(
    backend: PostgresBackend, leader: str, follower_id: str
) -> None:
    follower_of(backend, leader, follower_id)
    started = time.perf_counter()
    for _ in range(500):
        backend.status(follower_id)
        backend.status(leader)
    assert time.perf_counter() - started < 0.25
    with pytest.raises(KeyError):
        backend.status("no-such-db")


def test_behind_by_grows_under_an_apply_delay_and_falls_back_to_zero(
    backend: PostgresBackend, leader: str, follower_id: str
) -> None:
    follower = follower_of(backend, leader, follower_id)
    try:
        backend.configure(apply_delay_seconds=1.0)
        write(backend.url(leader), 4, note="delayed")
        eventually(lambda: backend.status(follower).behind_by == 4, timeout=0.9)
        assert count_rows(backend.url(follower), "delayed") == 0
        eventually(lambda: backend.status(follower).behind_by == 0, timeout=5)
        assert count_rows(backend.url(follower), "delayed") == 4
        backend.configure(apply_delay_seconds=30)
        late = follower + "-late"
        backend.create(late, leader_id=leader)  # a new follower gets the current delay
        eventually(lambda: backend.status(late).behind_by == 0)
        write(backend.url(leader), 2, note="late")
        eventually(lambda: backend.status(late).behind_by == 2)
        assert count_rows(backend.url(late), "late") == 0
    finally:
        backend.configure(apply_delay_seconds=0)
    eventually(lambda: backend.status(late).behind_by == 0)


def test_configure_refuses_unknown_parameters_and_negative_delays(
    backend: PostgresBackend,
) -> None:
    with pytest.raises(ValueError, match="web_rate"):
        backend.configure(web_rate=3)
    with pytest.raises(ValueError, match="negative"):
        backend.configure(apply_delay_seconds=-1)
    backend.set_writers({"leader-db": Writers(web=2, other=1)})  # accepted, ignored


def test_unfollow_promotes_in_the_background_and_the_follower_becomes_writable(
    backend: PostgresBackend, leader: str, follower_id: str
) -> None:
    follower = follower_of(backend, leader, follower_id)
    started = time.monotonic()
    backend.unfollow(follower)
    backend.unfollow(follower)  # a repeat while promoting is harmless
    assert time.monotonic() - started < 0.1
    eventually(lambda: backend.status(follower).leader_id is None)
    status = backend.status(follower)
    assert (status.available, status.behind_by) == (True, None)
    write(backend.url(follower), 1, note="promoted")
    assert count_rows(backend.url(follower), "promoted") == 1
    backend.unfollow(follower)  # no longer a follower: nothing happens
    assert backend.status(follower).leader_id is None


def test_destroy_forgets_at_once_removes_the_cluster_and_frees_its_followers(
    manager: ClusterManager, backend: PostgresBackend
) -> None:
    backend.create("doomed-db", leader_id=None, immediate=True)
    write_url = backend.url("doomed-db")
    with psycopg.connect(write_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rows (id serial PRIMARY KEY, note text)")
    follower = follower_of(backend, "doomed-db", "orphan-db")
    doomed = cluster(manager, "doomed-db")
    backend.destroy("doomed-db")
    with pytest.raises(KeyError):
        backend.status("doomed-db")
    eventually(lambda: not doomed.directory.exists() and doomed.pid is None)
    eventually(lambda: backend.status(follower).leader_id is None)
    write(backend.url(follower), 1, note="orphan")
    assert count_rows(backend.url(follower), "orphan") == 1


def test_close_destroys_every_cluster_the_backend_created(manager: ClusterManager) -> None:
    backend = PostgresBackend(manager)
    backend.create("closing-leader", leader_id=None, immediate=True)
    backend.create("closing-follower", leader_id="closing-leader")
    clusters = [cluster(manager, "closing-leader"), cluster(manager, "closing-follower")]
    backend.close()
    assert all(c.state == "destroyed" and not c.directory.exists() for c in clusters)
    assert all(c not in manager.clusters for c in clusters)


def test_the_data_api_reports_the_real_lag_of_a_paused_follower(
    manager: ClusterManager, backend: PostgresBackend
) -> None:
    world = World(backend)
    with ThreadedServer(create_app(world, api_key=KEY, contracts_dir=None)) as server:
        app = server.call(lambda: world.seed_app("demo-app"))
        config = server.call(lambda: world.config_vars(app))
        leader = server.call(lambda: world.addons_for_app(app)[0])
        with psycopg.connect(config["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("CREATE TABLE rows (id serial PRIMARY KEY, note text)")
        follower = server.call(
            lambda: world.create_addon(app, plan="standard-2", config={"follow": "DATABASE"})
        )
        api = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}", "Accept": V3}
        )

        def behind_by() -> str | None:
            info = api.get(f"/client/v11/databases/{follower.id}").json()["info"]
            return next((r["values"][0] for r in info if r["name"] == "Behind By"), None)

        def waiting() -> bool | None:
            answer = api.get(f"/client/v11/databases/{follower.id}/wait_status")
            # A new add-on is unknown to the Data API for a moment, as on Heroku: 404, not an error.
            return None if answer.status_code == 404 else bool(answer.json()["waiting?"])

        eventually(lambda: waiting() is False)
        eventually(lambda: behind_by() == "0 commits")
        cluster(manager, follower.id).pause_replay()
        write(config["DATABASE_URL"], 7, note="paused")
        eventually(lambda: behind_by() == "7 commits")
        cluster(manager, follower.id).resume_replay()
        eventually(lambda: behind_by() == "0 commits")
        assert api.put(f"/client/v11/databases/{follower.id}/unfollow").status_code == 200
        eventually(lambda: behind_by() is None)
        state = server.call(world.state)
        password = urlsplit(backend.url(leader.id)).password
        assert password and leader.id in str(state) and password not in str(state)
