"""The engine knows no method: a toy three-step method runs through crash, retry, lease and
approval on a real Redis, with nothing of the changeover involved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from pydantic import SecretStr

from bot import decisions
from bot.config import Settings
from bot.engine import Engine
from bot.heroku import HerokuClient
from bot.methods.base import Method
from state.errors import TransitionRefused
from state.models import AuditEvent, Migration, NewDatabase, Status
from state.redis import connect
from state.repository import Repository
from tests.bot.toy import Bench, Crash, Recorder, ToyData, toy
from tests.factories import T0

ALICE, BOB = "U0ALICE", "U0BOB"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


SETTINGS = Settings(
    slack_bot_token=SecretStr("xoxb-test"),
    heroku_api_key=SecretStr("test-key"),
    redis_url=SecretStr("redis://127.0.0.1:1/0"),
    migrate_poll_seconds=1.0,
)


@pytest.fixture
async def repo(redis_url: str) -> AsyncIterator[Repository]:
    client = connect(redis_url)
    try:
        yield Repository(client)
    finally:
        await client.aclose()


@pytest.fixture
async def heroku() -> AsyncIterator[HerokuClient]:
    # Nothing listens there: a toy step that called Heroku would fail the test.
    async with HerokuClient(SecretStr("test-key"), api_url="http://127.0.0.1:1") as client:
        yield client


def toy_migration() -> Migration:
    return Migration(
        id="mig-toy001",
        method="toy",
        app="shop",
        plan="heroku-postgresql:standard-2",
        requested_by=ALICE,
        channel="C0OPS",
        step="make",
        new=NewDatabase(name="mig-toy001-thing"),
        data=ToyData(),
        created_at=T0,
    )


async def test_a_toy_method_runs_through_crash_retry_lease_and_approval(
    repo: Repository, heroku: HerokuClient
) -> None:
    bench = Bench(ready_after=1, crash_after_ask=True, fail_looks=1)
    methods: dict[str, Method] = {"toy": toy(bench)}
    hooks, clock = Recorder(), Clock()

    def engine(holder: str) -> Engine:
        return Engine(repo, heroku, SETTINGS, hooks, methods=methods, holder=holder, clock=clock)

    m = toy_migration()
    await repo.create(m, AuditEvent(migration_id=m.id, event="requested"), hooks.opened(m))

    # Lease: while another process holds the migration, this one touches nothing.
    assert await repo.acquire_lease(m.id, "other", 60_000)
    first = engine("first")
    await first.advance(m.id)
    assert (await repo.get(m.id)).step == "make" and bench.creates == 0
    await repo.release_lease(m.id, "other")

    # Crash: the process dies right after asking for the thing.
    with pytest.raises(Crash):
        await first.advance(m.id)
    crashed = await repo.get(m.id)
    assert crashed.step == "make" and "make" not in crashed.completed
    assert isinstance(crashed.data, ToyData) and crashed.data.asked_at is not None
    assert crashed.changed_platform_at is not None  # set before the first platform change
    assert bench.creates == 1

    # A dead process's lease still stands until it expires; then a redeploy carries on.
    assert await repo.acquire_lease(m.id, "dead", 300)
    second = engine("second")
    await second.advance(m.id)
    assert (await repo.get(m.id)).step == "make"
    await asyncio.sleep(0.4)
    await second.advance(m.id)
    resumed = await repo.get(m.id)
    assert bench.creates == 1, "the thing was made twice"
    assert resumed.completed.keys() == {"make"}
    assert isinstance(resumed.data, ToyData) and resumed.data.thing_id == "thing-mig-toy001-thing"

    # Retry: the wait step's look failed for a passing reason; the engine backs off.
    assert resumed.step == "settle" and resumed.attempt == 1
    assert resumed.error is not None and "connection reset" in resumed.error
    delay = decisions.retry_delay(1, SETTINGS.migrate_poll_seconds)
    assert resumed.next_run_at == pytest.approx((clock.now + timedelta(seconds=delay)).timestamp())
    await second.advance(m.id)  # not due yet: nothing happens
    assert (await repo.get(m.id)).attempt == 1
    clock.advance(delay)
    await second.advance(m.id)
    waiting = await repo.get(m.id)
    assert waiting.step == "settle" and waiting.waiting == "not ready yet"
    assert waiting.attempt == 0 and waiting.error is None

    # The wait ends, and the gate asks a second engineer.
    clock.advance(5)
    await second.advance(m.id)
    gated = await repo.get(m.id)
    assert gated.step == "approve" and gated.status is Status.AWAITING_APPROVAL
    assert hooks.calls[-1] == "gate_opened:approve"
    nonce = gated.approvals["approve"].nonce

    async def approve(user: str) -> Migration:
        click = decisions.Click(m.id, "approve", nonce, user, approve=True)
        toy_method = methods["toy"]
        return await repo.update(
            m.id, lambda m: decisions.apply_click(toy_method, m, click, clock(), is_approver=True)
        )

    with pytest.raises(TransitionRefused, match="two-person rule"):
        await approve(ALICE)
    assert (await repo.get(m.id)).status is Status.AWAITING_APPROVAL
    await approve(BOB)
    await second.advance(m.id)

    done = await repo.get(m.id)
    assert done.status is Status.COMPLETED
    assert list(done.completed) == ["make", "settle", "approve"]
    assert done.step_notes["approve"] == f"approved by <@{BOB}>"
    assert hooks.calls == ["opened", "gate_opened:approve", "finished:completed"]
    assert bench.creates == 1
    events = [e.event for e in await repo.audit_trail(m.id)]
    assert events.count("step_done") == 3 and "step_retry" in events
    assert await repo.active_ids() == []  # ended: the app's lock is free


async def test_cancelling_a_toy_migration_runs_its_own_abort_path(
    repo: Repository, heroku: HerokuClient
) -> None:
    bench = Bench(ready_after=100)
    methods: dict[str, Method] = {"toy": toy(bench)}
    hooks, clock = Recorder(), Clock()
    engine = Engine(repo, heroku, SETTINGS, hooks, methods=methods, holder="one", clock=clock)
    m = toy_migration()
    await repo.create(m, AuditEvent(migration_id=m.id, event="requested"))
    await engine.advance(m.id)
    assert (await repo.get(m.id)).step == "settle" and bench.things

    await repo.update(m.id, lambda m: decisions.cancel(methods["toy"], m, ALICE, clock()))
    await engine.advance(m.id)
    after = await repo.get(m.id)
    assert after.status is Status.CANCELLED and "undo" in after.completed
    assert bench.things == {}
    assert hooks.calls[-1] == "finished:cancelled"
