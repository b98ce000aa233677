"""APScheduler drives the engine: every MIGRATE_POLL_SECONDS it advances due migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.engine import Engine


def build(engine: Engine, poll_seconds: float) -> AsyncIOScheduler:
    """One tick job; a slow tick is never run twice at once nor queued up behind itself."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        engine.tick,
        "interval",
        seconds=poll_seconds,
        id="engine-tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, int(poll_seconds)),
        next_run_time=datetime.now(UTC),
    )
    return scheduler
