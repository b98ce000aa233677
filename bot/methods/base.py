"""What a migration method is: a runbook of named steps that the engine runs, one at a time.

A step is an *ensure* (acts on the platform only if needed), a *wait* (looks again later) or a
*gate* (a second engineer decides). A method carries its runbook, its abort path, its point of
no return, its `plan`, its typed per-migration data and what drift means for it. The engine
and the Slack rendering read only this; they know no step by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from state.models import MethodData, Migration

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.heroku import HerokuClient


class Kind(StrEnum):
    AUTO = "auto"
    WAIT = "wait"
    GATE = "gate"


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
    """Stop and tell people: `error` says what happened, `hint` what to do (both mrkdwn)."""

    error: str
    hint: str = ""


@dataclass(frozen=True)
class Back:
    """An earlier step's condition no longer holds: go back to `to`, voiding later approvals."""

    to: str
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
        """A message a person must read, posted in the thread after the step's outcome is saved."""
        self.notices.append(text)


Ensure = Callable[[StepContext], Awaitable[Outcome]]


@dataclass(frozen=True)
class Prompt:
    """What a gate's approval request says. `body` may use {apps}, {promote_app}, {doomed}."""

    name: str
    body: str
    # Rejecting aborts (the app is put back), or completes without the gated step.
    reject: Literal["abort", "complete"] = "abort"
    reject_label: str = "Reject"
    reject_effect: str = "Aborts the migration: the app is put back as it was."
    # The gated step destroys something: approving is the dangerous (red) choice.
    destructive: bool = False
    # With `Step.approves_with`: what approving both at once means, for its confirm dialog.
    together: str = ""


@dataclass(frozen=True)
class Step:
    """One named step of a runbook, and what the engine and the thread need to know of it."""

    name: str
    kind: Kind
    title: str
    ensures: str
    run: Ensure | None = None  # the ensure or wait; None for a gate
    # Takes the app down or cannot be undone: shown as such in `plan` and behind a gate.
    disruptive: bool = False
    # Changes something on the platform: once such a step starts, a failure keeps the apps
    # locked until someone cancels; before it there is nothing to undo.
    changes_platform: bool = False
    prompt: Prompt | None = None  # a gate's approval request
    # A gate's check, run while people decide and once more after the approval: an approval
    # holds only while what it was given for holds.
    check: Ensure | None = None
    # A gate that may be approved together with this later gate (maintenance with promote).
    approves_with: str | None = None
    # While this step waits, the runbook message shows the method's live progress line.
    shows_progress: bool = False


@dataclass(frozen=True)
class PlanReport:
    """What `/migrate plan` says of a request, and what `start` and preflight refuse on."""

    facts: str  # one line about the source database, mrkdwn
    formation: dict[str, dict[str, int]]
    blockers: list[str]
    warnings: list[str]
    downtime: str  # the expected downtime and its basis, mrkdwn
    # Other apps attached to the database: `start` locks them with the app.
    shared_apps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanRequest:
    """What was asked: migrate `source` of `app` to `plan` (in `target_app`)."""

    app: str
    plan: str
    source: str = "DATABASE"
    target_app: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class PlanContext:
    heroku: HerokuClient
    settings: Settings


@dataclass(frozen=True)
class Method:
    """One way a database can move."""

    name: str  # the `--method` value
    title: str  # "follower changeover", as the thread and plan say it
    runbook: tuple[Step, ...]
    abort: tuple[Step, ...]
    # The step from whose first platform call on the bot never rolls back.
    no_return: str
    data: type[MethodData]
    new_data: Callable[[], MethodData]
    plan: Callable[[PlanContext, PlanRequest], Awaitable[PlanReport]]
    # What this migration needs to have seen of the platform: problems a person caused.
    drift: Callable[[StepContext], Awaitable[list[str]]] | None = None
    # Steps whose platform expectations are re-checked every poll interval (the window).
    watched: frozenset[str] = frozenset()
    # The live progress line of a waiting step (lag, copy progress), mrkdwn; None if none.
    progress: Callable[[Migration, int], str | None] = lambda m, threshold: None
    # What the destroy removes, for the destroy gate's prompt (mrkdwn).
    doomed: Callable[[Migration], str] = lambda m: "the old database"

    def __post_init__(self) -> None:
        names = [s.name for s in (*self.runbook, *self.abort)]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name}: step names must be unique")
        if self.no_return not in names:
            raise ValueError(f"{self.name}: no_return {self.no_return!r} is not a step")
        for step in (*self.runbook, *self.abort):
            if (step.kind is Kind.GATE) != (step.run is None):
                raise ValueError(f"{self.name}: {step.name} must have a run unless a gate")
            if step.kind is Kind.GATE and step.prompt is None:
                raise ValueError(f"{self.name}: gate {step.name} needs a prompt")

    @property
    def steps(self) -> dict[str, Step]:
        return {s.name: s for s in (*self.runbook, *self.abort)}

    @property
    def gates(self) -> frozenset[str]:
        return frozenset(s.name for s in self.runbook if s.kind is Kind.GATE)

    def step(self, name: str) -> Step:
        return self.steps[name]

    def aborting(self, name: str) -> bool:
        return name in {s.name for s in self.abort}

    def number(self, name: str) -> int:
        """1-based position in its runbook (or its abort path), as shown to people."""
        for steps in (self.runbook, self.abort):
            for i, step in enumerate(steps, start=1):
                if step.name == name:
                    return i
        raise KeyError(name)
