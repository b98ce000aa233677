"""What a runbook step reports back to the engine, and what it may use while running."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings
from bot.heroku import HerokuClient
from state.models import Migration, StepName


@dataclass(frozen=True)
class Done:
    """The step's condition holds; move on."""

    note: str = ""


@dataclass(frozen=True)
class Wait:
    """Not yet; look again after `after` seconds (default: the poll interval)."""

    note: str = ""
    after: float | None = None


@dataclass(frozen=True)
class Fail:
    """Stop and tell people: `error` says what happened, `hint` what to do."""

    error: str
    hint: str = ""


@dataclass(frozen=True)
class Back:
    """An earlier step's condition no longer holds: go back to `to`, voiding later approvals."""

    to: StepName
    reason: str


Outcome = Done | Wait | Fail | Back


@dataclass
class StepContext:
    """A step's view of the world: the migration, the Heroku client and a way to checkpoint."""

    migration: Migration
    heroku: HerokuClient
    settings: Settings
    clock: Callable[[], datetime]
    save: Callable[[Callable[[Migration], None]], Awaitable[Migration]]
    notices: list[str] = field(default_factory=list)

    @property
    def m(self) -> Migration:
        return self.migration

    async def checkpoint(self, change: Callable[[Migration], None]) -> None:
        """Persist a change now, before the next platform call, so a crash cannot forget it."""
        self.migration = await self.save(change)

    def notice(self, text: str) -> None:
        """A line for the thread, posted after the step's outcome is saved."""
        self.notices.append(text)
