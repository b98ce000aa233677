"""The follower changeover runbook as data (DESIGN.md, seeds 000 and 003).

The engine interprets these tuples; what each step does to the platform lives in
`bot.changeover`, one function per step, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from state.models import StepName


class Kind(StrEnum):
    AUTO = "auto"
    WAIT = "wait"
    GATE = "gate"


@dataclass(frozen=True)
class Step:
    name: StepName
    kind: Kind
    title: str
    ensures: str
    # Takes the app down or cannot be undone: shown as such in `plan` and behind a gate.
    disruptive: bool = False
    # Changes something on the platform: once such a step starts, a failure keeps the app
    # locked until someone cancels (the abort puts things back); before it, nothing to undo.
    changes_platform: bool = False


CHANGEOVER: tuple[Step, ...] = (
    Step(
        StepName.PREFLIGHT,
        Kind.AUTO,
        "Preflight",
        "app and database resolve, plan exists, formation recorded",
    ),
    Step(
        StepName.CREATE_FOLLOWER,
        Kind.AUTO,
        "Create follower",
        "one follower of the source database exists on the new plan",
        changes_platform=True,
    ),
    Step(
        StepName.WAIT_AVAILABLE,
        Kind.WAIT,
        "Wait until available",
        "the follower is provisioned and available",
    ),
    Step(
        StepName.WAIT_CAUGHT_UP,
        Kind.WAIT,
        "Wait until caught up",
        "Behind By is at or under the threshold",
    ),
    Step(
        StepName.APPROVE_MAINTENANCE,
        Kind.GATE,
        "Approve maintenance",
        "a second engineer approves the downtime window",
    ),
    Step(
        StepName.MAINTENANCE_ON,
        Kind.AUTO,
        "Maintenance on",
        "the app is in maintenance mode",
        disruptive=True,
    ),
    Step(
        StepName.SCALE_DOWN,
        Kind.AUTO,
        "Scale to 0",
        "every process type at 0, one-off dynos stopped; quantities recorded",
        disruptive=True,
    ),
    Step(StepName.WAIT_ZERO_LAG, Kind.WAIT, "Wait for lag 0", "Behind By is 0 commits"),
    Step(
        StepName.APPROVE_PROMOTE,
        Kind.GATE,
        "Approve promote",
        "a second engineer approves the promote",
    ),
    Step(
        StepName.UNFOLLOW,
        Kind.AUTO,
        "Unfollow",
        "the new database no longer follows the old one",
        disruptive=True,
    ),
    Step(
        StepName.PROMOTE,
        Kind.AUTO,
        "Promote",
        "DATABASE points at the new database in every app; the old one keeps an alias; "
        "poolers follow; the release phase succeeded",
        disruptive=True,
    ),
    Step(
        StepName.MOVE_ATTACHMENTS,
        Kind.AUTO,
        "Move attachments",
        "named poolers, credentials and other apps' names point at the new database "
        "(what the API refuses is listed as a manual step)",
    ),
    Step(
        StepName.SCALE_UP,
        Kind.AUTO,
        "Scale back up",
        "every process type at its recorded quantity",
    ),
    Step(
        StepName.MAINTENANCE_OFF,
        Kind.AUTO,
        "Maintenance off",
        "the app is out of maintenance; downtime measured",
    ),
    Step(
        StepName.VERIFY,
        Kind.WAIT,
        "Verify",
        "DATABASE is the new database, it is not following, the app is serving",
    ),
    Step(
        StepName.RECREATE_FOLLOWERS,
        Kind.WAIT,
        "Recreate followers",
        "each follower of the old database has a replacement following the new one, on the "
        "same plan and under the same names",
    ),
    Step(
        StepName.APPROVE_DESTROY,
        Kind.GATE,
        "Approve destroy",
        "a second engineer approves destroying the old database and its followers",
    ),
    Step(
        StepName.DESTROY_OLD,
        Kind.AUTO,
        "Destroy old database",
        "the old database and its old followers are gone",
        disruptive=True,
    ),
)

ABORT: tuple[Step, ...] = (
    Step(
        StepName.ABORT_SCALE_UP,
        Kind.AUTO,
        "Restore formation",
        "every process type back at its recorded quantity",
    ),
    Step(
        StepName.ABORT_MAINTENANCE_OFF,
        Kind.AUTO,
        "Restore maintenance",
        "maintenance mode as it was before the migration",
    ),
    Step(
        StepName.ABORT_REMOVE_FOLLOWER,
        Kind.AUTO,
        "Remove follower",
        "the follower this migration created is destroyed",
    ),
)

STEPS: dict[StepName, Step] = {step.name: step for step in CHANGEOVER + ABORT}
GATES: frozenset[StepName] = frozenset(s.name for s in CHANGEOVER if s.kind is Kind.GATE)


def number(name: StepName) -> int:
    """1-based position in its runbook, as shown to people."""
    for runbook in (CHANGEOVER, ABORT):
        for i, step in enumerate(runbook, start=1):
            if step.name is name:
                return i
    raise KeyError(name)
