"""Contracts of the Redis repository, against a real Redis server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from state import keys
from state.models import AuditEvent, Migration, Status
from state.redis import connect
from state.repository import AppLocked, LeaseLost, MigrationNotFound, Repository, TransitionRefused
from tests.factories import migration


def requested(m: Migration) -> AuditEvent:
    return AuditEvent(migration_id=m.id, event="requested", actor=m.requested_by)


@pytest.fixture
async def repo(redis_url: str) -> AsyncIterator[Repository]:
    client = connect(redis_url)
    yield Repository(client)
    await client.aclose()


async def test_a_new_migration_takes_the_app_lock_and_joins_the_active_set(
    repo: Repository,
) -> None:
    m = migration()
    await repo.create(m, requested(m))
    assert (await repo.get(m.id)).app == "shop"
    assert await repo.active_ids() == [m.id]
    assert [e.event for e in await repo.audit_trail(m.id)] == ["requested"]


async def test_a_second_migration_of_the_same_app_is_refused_and_names_the_holder(
    repo: Repository,
) -> None:
    first = migration()
    await repo.create(first, requested(first))
    second = migration(id="mig-zzz999", requested_by="U0BOB")
    with pytest.raises(AppLocked) as info:
        await repo.create(second, requested(second))
    assert "mig-abc123" in str(info.value) and "<@U0ALICE>" in str(info.value)
    assert await repo.find("mig-zzz999") is None


async def test_two_starts_at_once_on_one_app_create_exactly_one_migration(repo: Repository) -> None:
    candidates = [migration(id=f"mig-race{i:02d}") for i in range(20)]
    results = await asyncio.gather(
        *(repo.create(m, requested(m)) for m in candidates), return_exceptions=True
    )
    assert sum(isinstance(r, Migration) for r in results) == 1
    assert sum(isinstance(r, AppLocked) for r in results) == 19
    assert len(await repo.active_ids()) == 1


async def test_a_move_into_another_app_locks_both_apps(repo: Repository) -> None:
    m = migration(target_app="shop-private")
    await repo.create(m, requested(m))
    other = migration(id="mig-other1", app="shop-private")
    with pytest.raises(AppLocked):
        await repo.create(other, requested(other))


async def test_concurrent_updates_never_lose_a_write(repo: Repository) -> None:
    m = migration()
    await repo.create(m, requested(m))

    def add(i: int):
        def change(m: Migration) -> Migration:
            m.notes.append(str(i))
            return m

        return change

    await asyncio.gather(*(repo.update(m.id, add(i)) for i in range(30)))
    final = await repo.get(m.id)
    assert sorted(final.notes, key=int) == [str(i) for i in range(30)]
    assert final.version == 30


async def test_a_refused_transition_changes_nothing(repo: Repository) -> None:
    m = migration()
    await repo.create(m, requested(m))

    def refuse(m: Migration) -> Migration:
        m.notes.append("should not stick")
        raise TransitionRefused("no")

    with pytest.raises(TransitionRefused):
        await repo.update(m.id, refuse)
    assert (await repo.get(m.id)).notes == []


async def test_finishing_releases_the_lock_and_leaves_the_active_set(repo: Repository) -> None:
    m = migration()
    await repo.create(m, requested(m))

    def finish(m: Migration) -> Migration:
        m.status = Status.COMPLETED
        return m

    await repo.update(m.id, finish, audit=[AuditEvent(migration_id=m.id, event="completed")])
    assert await repo.active_ids() == []
    again = migration(id="mig-next01")
    await repo.create(again, requested(again))
    assert [e.event for e in await repo.audit_trail(m.id)] == ["requested", "completed"]


async def test_only_one_process_holds_the_lease_and_a_lost_lease_cannot_write(
    repo: Repository,
) -> None:
    m = migration()
    await repo.create(m, requested(m))
    assert await repo.acquire_lease(m.id, "proc-a", 60_000)
    assert not await repo.acquire_lease(m.id, "proc-b", 60_000)
    with pytest.raises(LeaseLost):
        await repo.update(m.id, lambda m: m, lease="proc-b")
    await repo.release_lease(m.id, "proc-a")
    assert await repo.acquire_lease(m.id, "proc-b", 60_000)
    with pytest.raises(LeaseLost):
        await repo.update(m.id, lambda m: m, lease="proc-a")


async def test_an_expired_lease_can_be_taken_over(repo: Repository) -> None:
    m = migration()
    await repo.create(m, requested(m))
    assert await repo.acquire_lease(m.id, "dead-proc", 50)
    await asyncio.sleep(0.1)
    assert await repo.acquire_lease(m.id, "new-proc", 60_000)
    assert await repo.lease_holder(m.id) == "new-proc"


async def test_an_unknown_id_says_how_to_find_migrations(repo: Repository) -> None:
    with pytest.raises(MigrationNotFound, match="/migrate list"):
        await repo.get("mig-nope00")


async def test_the_repository_works_over_rediss_with_a_self_signed_certificate(
    tls_redis_url: str,
) -> None:
    client = connect(tls_redis_url)
    try:
        repo = Repository(client)
        m = migration()
        await repo.create(m, requested(m))
        assert (await repo.get(m.id)).id == m.id
        assert await client.exists(keys.audit())
    finally:
        await client.aclose()
