"""Contract of the engine's lease heartbeat: stopping it can never hang a migration.

On Python < 3.12 a cancellation that lands inside redis-py's timeout handling can be swallowed
(the call is retried and returns). An engine that stopped its heartbeat by cancelling it and
then awaited it hung that migration for good: every later kick was dropped as "still running".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.engine import Engine
from bot.heroku import HerokuClient
from bot.methods.base import Done, Kind, Method, Outcome, PlanReport, Step, StepContext, Wait
from state.models import AuditEvent
from state.redis import connect
from state.repository import Repository
from tests.bot.toy import Recorder, ToyData
from tests.factories import migration


class SwallowingRepository(Repository):
    """A real repository whose lease renewal swallows a cancellation, as 3.11 can."""

    async def renew_lease(self, migration_id: str, holder: str, ttl_ms: int) -> bool:
        renewed = await super().renew_lease(migration_id, holder, ttl_ms)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.5)
        return renewed


@pytest.fixture
async def repo(redis_url: str) -> AsyncIterator[Repository]:
    client = connect(redis_url)
    try:
        yield SwallowingRepository(client)
    finally:
        await client.aclose()


async def test_a_heartbeat_that_swallows_its_cancellation_does_not_hang_the_migration(
    repo: Repository,
) -> None:
    settings = Settings(
        slack_bot_token=SecretStr("xoxb-test"),
        heroku_api_key=SecretStr("test-key"),
        redis_url=SecretStr("redis://127.0.0.1:1/0"),
        migrate_poll_seconds=1.0,
    )

    async def slow_step(ctx: StepContext) -> Outcome:
        # Long enough that the heartbeat (every lease/3 = 1 s) is inside its renewal when the
        # step ends and the engine stops it.
        await asyncio.sleep(1.2)
        return Done("checked")

    async def later(ctx: StepContext) -> Outcome:
        return Wait("not yet", after=60)

    async def plan(*args: object) -> PlanReport:
        return PlanReport("", {}, [], [], "")

    method = Method(
        name="slow",
        title="slow",
        runbook=(
            Step("slow", Kind.AUTO, "Slow", "takes a while", run=slow_step),
            Step("later", Kind.WAIT, "Later", "not yet", run=later),
        ),
        abort=(),
        no_return="later",
        data=ToyData,
        new_data=ToyData,
        plan=plan,
    )
    m = migration(method="slow", step="slow", data=ToyData())
    await repo.create(m, AuditEvent(migration_id=m.id, event="requested"))
    async with HerokuClient(SecretStr("test-key"), api_url="http://127.0.0.1:1") as heroku:
        engine = Engine(
            repo,
            heroku,
            settings,
            Recorder(),
            methods={"slow": method},
        )
        advancing = asyncio.create_task(engine.advance(m.id))
        done, _ = await asyncio.wait({advancing}, timeout=6)
        advancing.cancel()
        assert advancing in done, "the engine hung stopping its heartbeat"
    after = await repo.get(m.id)
    assert "slow" in after.completed
    assert await repo.lease_holder(m.id) is None  # released, so another process may go on
