"""APScheduler drives the engine: every MIGRATE_POLL_SECONDS it advances due migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.engine import Engine
from bot.slack.deliver import Deliverer


def build(engine: Engine, deliverer: Deliverer, poll_seconds: float) -> AsyncIOScheduler:
    """One tick job; a slow tick is never run twice at once nor queued up behind itself."""

    async def tick() -> None:
        # Notifications are delivered apart from the steps, so Slack never delays a step.
        await deliverer.deliver_all(await engine.tick())

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        seconds=poll_seconds,
        id="engine-tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(poll_seconds)),
        next_run_time=datetime.now(UTC),
    )
    return scheduler
