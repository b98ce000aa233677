"""A toy method of three steps (an ensure, a wait, a gate): what a method folder holds, small.

The README's "Adding a method" walks through it. Its "platform" is an in-memory `Bench` (a
thing is created once, becomes ready later), so the engine test can count every effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.heroku.errors import HerokuTransportError
from bot.methods.base import (
    Done,
    Kind,
    Method,
    Outcome,
    PlanContext,
    PlanReport,
    PlanRequest,
    Prompt,
    Step,
    StepContext,
    Wait,
)
from state.models import Approval, MethodData, Migration, Notice, register_data


@register_data
class ToyData(MethodData):
    """What the toy keeps for one migration: when it asked for the thing, and its id."""

    kind: Literal["toy"] = "toy"
    asked_at: datetime | None = None
    thing_id: str | None = None


@dataclass
class Bench:
    """The toy's platform: things by name, each ready after `ready_after` looks."""

    ready_after: int = 2
    crash_after_ask: bool = False
    fail_looks: int = 0

    def __post_init__(self) -> None:
        self.things: dict[str, int] = {}  # name -> looks so far
        self.creates = 0

    def create(self, name: str) -> str:
        self.creates += 1
        self.things.setdefault(name, 0)
        return f"thing-{name}"

    def find(self, name: str) -> str | None:
        return f"thing-{name}" if name in self.things else None

    def look(self, name: str) -> bool:
        self.things[name] += 1
        return self.things[name] > self.ready_after


class Crash(BaseException):
    """The process dies here (a BaseException: nothing in the engine may swallow it)."""


def toy(bench: Bench) -> Method:
    def data(m: Migration) -> ToyData:
        assert isinstance(m.data, ToyData)
        return m.data

    async def make(ctx: StepContext) -> Outcome:
        """Ensure one thing exists: found again by its name after a crash, never made twice."""
        name = ctx.m.new.name
        found = bench.find(name) if data(ctx.m).asked_at is not None else None
        if found is None:
            asked = ctx.clock()
            await ctx.checkpoint(lambda m: setattr(data(m), "asked_at", asked))
            found = bench.create(name)
            if bench.crash_after_ask:
                bench.crash_after_ask = False
                raise Crash
        await ctx.checkpoint(lambda m: setattr(data(m), "thing_id", found))
        return Done(f"{found} exists")

    async def settle(ctx: StepContext) -> Outcome:
        """Wait until the thing is ready; a failed look is retried by the engine."""
        if bench.fail_looks:
            bench.fail_looks -= 1
            raise HerokuTransportError("GET", "/things", "connection reset")
        if bench.look(ctx.m.new.name):
            return Done("ready")
        return Wait("not ready yet", after=5)

    async def undo(ctx: StepContext) -> Outcome:
        bench.things.pop(ctx.m.new.name, None)
        return Done("the thing is gone")

    async def plan(ctx: PlanContext, request: PlanRequest) -> PlanReport:
        return PlanReport("(a toy)", {}, [], [], "none: nothing goes down")

    return Method(
        name="toy",
        title="toy method",
        runbook=(
            Step(
                "make",
                Kind.AUTO,
                "Make a thing",
                "one thing exists",
                run=make,
                changes_platform=True,
            ),
            Step("settle", Kind.WAIT, "Wait until ready", "the thing is ready", run=settle),
            Step(
                "approve",
                Kind.GATE,
                "Approve the end",
                "a second engineer agrees",
                prompt=Prompt("The end", "Done with {promote_app}?"),
            ),
        ),
        abort=(Step("undo", Kind.AUTO, "Remove the thing", "nothing is left", run=undo),),
        no_return="approve",
        data=ToyData,
        new_data=ToyData,
        plan=plan,
    )


class Recorder:
    """Hooks that only record what the engine told them, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _say(self, what: str) -> list[Notice]:
        self.calls.append(what)
        return [Notice(kind="post", text=what)]

    def opened(self, m: Migration) -> list[Notice]:
        return self._say("opened")

    def changed(self, m: Migration) -> None:
        m.parent_rev += 1

    def told(self, m: Migration, text: str) -> list[Notice]:
        return self._say(f"told:{text}")

    def gate_opened(
        self, m: Migration, request: Approval, expired: Approval | None
    ) -> list[Notice]:
        return self._say(f"gate_opened:{request.gate}")

    def gate_closed(self, m: Migration, approval: Approval) -> list[Notice]:
        return self._say(f"gate_closed:{approval.gate}")

    def stepped_back(
        self, m: Migration, to: str, reason: str, voided: list[Approval]
    ) -> list[Notice]:
        return self._say(f"stepped_back:{to}")

    def failed(self, m: Migration, error: str, hint: str) -> list[Notice]:
        return self._say(f"failed:{error}")

    def finished(self, m: Migration) -> list[Notice]:
        return self._say(f"finished:{m.status.value}")

    def wake(self, migration_id: str) -> None:
        pass
