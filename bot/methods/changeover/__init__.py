"""The follower changeover (seeds 000 and 003): a follower on the new plan, caught up, then
promoted in a short window. DESIGN.md's runbook, plus moving the old database's other
attachments and recreating its followers before it is destroyed.
"""

from __future__ import annotations

from bot.methods.base import Kind, Method, Prompt, Step
from bot.methods.changeover.data import ChangeoverData
from bot.methods.changeover.guardrails import changeover as judge
from bot.methods.changeover.names import StepName
from bot.methods.changeover.reconcile import problems
from bot.methods.changeover.steps import (
    abort_remove_follower,
    create_follower,
    progress,
    promote_still_safe,
    unfollow,
    wait_available,
    wait_caught_up,
    wait_zero_lag,
)
from bot.methods.common import gates
from bot.methods.common.attachments import move_attachments
from bot.methods.common.followers import destroy_old, doomed, recreate_followers
from bot.methods.common.preflight import planner, preflight
from bot.methods.common.promote import promote
from bot.methods.common.verify import verify
from bot.methods.common.window import (
    abort_maintenance_off,
    abort_scale_up,
    maintenance_off,
    maintenance_on,
    scale_down,
    scale_up,
)

S = StepName

MAINTENANCE = Prompt(
    "Maintenance window",
    "The bot will put {apps} into maintenance, scale every process type to 0, wait for the "
    "follower to reach 0 commits behind, then ask again before promoting (unless you approve "
    "both now). *The app is down from here until maintenance is off.*",
    reject_effect="Aborts the migration: the app is put back as it was and the follower is "
    "removed.",
    together="the bot will also promote as soon as the follower is 0 commits behind, without "
    "asking again. This cannot be undone.",
)
PROMOTE = Prompt(
    "Promote",
    "The follower is 0 commits behind. The bot will unfollow it and promote it to DATABASE on "
    "{promote_app}, then scale back up and turn maintenance off. *This cannot be undone.*",
    reject_effect="Aborts the migration: the app is put back as it was and the follower is "
    "removed.",
)
DOWNTIME = (
    "from maintenance on to off, usually under a minute once the follower is caught up: the "
    "time to stop the dynos, reach 0 commits behind, unfollow and promote."
)

RUNBOOK = (
    Step(
        S.PREFLIGHT,
        Kind.AUTO,
        "Preflight",
        "app, database and plan resolve, guardrails pass; formation, attached apps and "
        "followers recorded",
        run=preflight(judge),
    ),
    Step(
        S.CREATE_FOLLOWER,
        Kind.AUTO,
        "Create follower",
        "one follower of the source database exists on the new plan",
        run=create_follower,
        changes_platform=True,
    ),
    Step(
        S.WAIT_AVAILABLE,
        Kind.WAIT,
        "Wait until available",
        "the follower is provisioned and available",
        run=wait_available,
    ),
    Step(
        S.WAIT_CAUGHT_UP,
        Kind.WAIT,
        "Wait until caught up",
        "Behind By is at or under the threshold",
        run=wait_caught_up,
        shows_progress=True,
    ),
    Step(
        S.APPROVE_MAINTENANCE,
        Kind.GATE,
        "Approve maintenance",
        "a second engineer approves the downtime window",
        prompt=MAINTENANCE,
        approves_with=S.APPROVE_PROMOTE,
    ),
    Step(
        S.MAINTENANCE_ON,
        Kind.AUTO,
        "Maintenance on",
        "the app is in maintenance mode",
        run=maintenance_on,
        disruptive=True,
    ),
    Step(
        S.SCALE_DOWN,
        Kind.AUTO,
        "Scale to 0",
        "every process type at 0, one-off dynos stopped; quantities recorded",
        run=scale_down,
        disruptive=True,
    ),
    Step(
        S.WAIT_ZERO_LAG,
        Kind.WAIT,
        "Wait for lag 0",
        "Behind By is 0 commits",
        run=wait_zero_lag,
        shows_progress=True,
    ),
    Step(
        S.APPROVE_PROMOTE,
        Kind.GATE,
        "Approve promote",
        "a second engineer approves the promote",
        prompt=PROMOTE,
        check=promote_still_safe,
    ),
    Step(
        S.UNFOLLOW,
        Kind.AUTO,
        "Unfollow",
        "the new database no longer follows the old one",
        run=unfollow,
        disruptive=True,
    ),
    Step(
        S.PROMOTE,
        Kind.AUTO,
        "Promote",
        "DATABASE points at the new database in every app; the old one keeps an alias; "
        "poolers follow; the release phase succeeded",
        run=promote,
        disruptive=True,
    ),
    Step(
        S.MOVE_ATTACHMENTS,
        Kind.AUTO,
        "Move attachments",
        "named poolers, credentials and other apps' names point at the new database (what the "
        "API refuses is listed as a manual step)",
        run=move_attachments,
    ),
    Step(
        S.SCALE_UP,
        Kind.AUTO,
        "Scale back up",
        "every process type at its recorded quantity",
        run=scale_up,
    ),
    Step(
        S.MAINTENANCE_OFF,
        Kind.AUTO,
        "Maintenance off",
        "the app is out of maintenance; downtime measured",
        run=maintenance_off,
    ),
    Step(
        S.VERIFY,
        Kind.WAIT,
        "Verify",
        "DATABASE is the new database, it is not following, the app is serving",
        run=verify,
    ),
    Step(
        S.RECREATE_FOLLOWERS,
        Kind.WAIT,
        "Recreate followers",
        "each follower of the old database has a replacement following the new one, on the "
        "same plan and under the same names",
        run=recreate_followers,
    ),
    Step(
        S.APPROVE_DESTROY,
        Kind.GATE,
        "Approve destroy",
        "a second engineer approves destroying the old database and its followers",
        prompt=gates.DESTROY,
        check=gates.cooled_off,
    ),
    Step(
        S.DESTROY_OLD,
        Kind.AUTO,
        "Destroy old database",
        "the old database and its old followers are gone",
        run=destroy_old(S.RECREATE_FOLLOWERS),
        disruptive=True,
    ),
)

ABORT = (
    Step(
        S.ABORT_SCALE_UP,
        Kind.AUTO,
        "Restore formation",
        "every process type back at its recorded quantity",
        run=abort_scale_up,
    ),
    Step(
        S.ABORT_MAINTENANCE_OFF,
        Kind.AUTO,
        "Restore maintenance",
        "maintenance mode as it was before the migration",
        run=abort_maintenance_off,
    ),
    Step(
        S.ABORT_REMOVE_FOLLOWER,
        Kind.AUTO,
        "Remove follower",
        "the follower this migration created is destroyed",
        run=abort_remove_follower,
    ),
)

# Re-checked every poll interval while the app is down (and whenever a process resumes).
WATCHED = frozenset(
    {S.SCALE_DOWN, S.WAIT_ZERO_LAG, S.APPROVE_PROMOTE, S.UNFOLLOW, S.PROMOTE}
    | {S.MOVE_ATTACHMENTS, S.SCALE_UP}
)

METHOD = Method(
    name="changeover",
    title="follower changeover",
    runbook=RUNBOOK,
    abort=ABORT,
    no_return=S.PROMOTE,
    data=ChangeoverData,
    new_data=ChangeoverData,
    plan=planner(judge, DOWNTIME),
    drift=problems,
    watched=WATCHED,
    progress=progress,
    doomed=doomed,
)

__all__ = ["METHOD", "ChangeoverData", "StepName"]
