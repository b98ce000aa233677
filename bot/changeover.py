"""What each changeover step does on Heroku: one *ensure* per step, in runbook order.

Every function reads the platform first and acts only if needed, so running it again after a
crash is harmless. Anything that must survive a crash between two platform calls is
checkpointed into the migration before the second call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot import assess, provisioning
from bot.decisions import PromoteCheck, promote_blockers
from bot.followers import as_moves, destroy_old, recreate_followers
from bot.heroku.errors import HerokuError, Unprocessable
from bot.mrkdwn import escape
from bot.outcomes import Back, Done, Fail, Outcome, StepContext, Wait
from bot.promote import move_attachments, promote, verify
from bot.window import (
    abort_maintenance_off,
    abort_scale_up,
    maintenance_off,
    maintenance_on,
    running_dynos,
    scale_down,
    scale_up,
)
from state.models import LagPoint, Migration, StepName

Ensure = Callable[[StepContext], Awaitable[Outcome]]

_LAG_POINTS_KEPT = 60
UNFOLLOW_RESEND_SECONDS = 30.0
UNANSWERED = "unanswered"
UNFOLLOW_QUICK_CHECKS = 10
UNFOLLOW_QUICK_CHECK_SECONDS = 0.1


def _record_lag(m: Migration, at: float, behind_by: int) -> None:
    m.lag = [*m.lag, LagPoint(at=at, behind_by=behind_by)][-_LAG_POINTS_KEPT:]
    m.parent_rev += 1  # the runbook message shows lag, trend and ETA


def request_of(m: Migration) -> assess.Request:
    return assess.Request(
        app=m.app, plan=m.plan, source=m.source, target_app=m.target_app, version=m.pg_version
    )


# 1
async def preflight(ctx: StepContext) -> Outcome:
    m = ctx.m
    found = await assess.assess(ctx.heroku, request_of(m), own_app=ctx.settings.heroku_app_name)
    if found.blockers:
        return Fail(
            " ".join(found.blockers),
            "Nothing was changed and the app is free again: fix this, then start again "
            "(`/migrate plan` checks without starting).",
        )
    addon = found.source
    assert addon is not None
    late = sorted(set(found.shared_apps) - set(m.shared_apps))
    if late:
        return Fail(
            f"The database is now also attached to {', '.join(escape(a) for a in late)}, which "
            "was not locked when the migration started.",
            "Nothing was changed: start again, so that every app sharing the database is "
            "locked and stopped with it.",
        )
    database = found.surroundings.database if found.surroundings else None
    followers = found.followers

    def record(m: Migration) -> None:
        m.source_addon_id = addon.id
        m.source_addon_name = addon.name
        m.source_app = addon.app.name
        m.source_plan = addon.plan.name
        m.formation = found.formation
        m.maintenance_before = found.maintenance
        m.source_version = database.major_version if database else None
        m.source_bytes = database.num_bytes if database else None
        m.followers = as_moves(m, followers, 0)
        m.moves = found.moves

    await ctx.checkpoint(record)
    listed = ", ".join(
        f"{escape(app)} {escape(t)}={q}"
        for app, types in found.formation.items()
        for t, q in types.items()
    )
    extra = []
    if followers:
        extra.append(f"{len(followers)} follower(s) to recreate")
    if m.shared_apps:
        extra.append(f"shared with {', '.join(escape(a) for a in m.shared_apps)}")
    tail = f"; {'; '.join(extra)}" if extra else ""
    return Done(
        f"{escape(addon.name)} ({escape(addon.plan.name)}) on {escape(m.app)}; formation "
        f"{listed or 'empty'}{tail}"
    )


# 2
async def create_follower(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    existing = await heroku.get_addon(m.promote_app, m.follower_name)
    if existing is None:
        # The name is ours and unique, so after a crash or timeout the add-on is found by it
        # (Heroku has no idempotency keys): at most one follower per migration.
        await ctx.checkpoint(
            lambda m: m.marks.__setitem__("create_sent_at", ctx.clock().isoformat())
        )
        try:
            existing = await heroku.create_follower(
                m.promote_app,
                plan=m.plan,
                follow=m.source_addon_name or m.source,
                name=m.follower_name,
            )
        except Unprocessable:
            # "Name taken": another process of ours created it after our lookup (a takeover
            # while its call was still in flight). The name is ours, so it is our follower.
            found = await heroku.get_addon(m.promote_app, m.follower_name)
            if found is None:
                raise
            existing = found
    addon_id = existing.id
    attachments = await heroku.list_attachments(m.promote_app)
    names = [a.name for a in attachments if a.addon.id == addon_id]

    def record(m: Migration) -> None:
        m.follower_addon_id = addon_id
        m.follower_attachment = names[0] if names else None

    await ctx.checkpoint(record)
    attached = escape(names[0]) if names else "?"
    return Done(
        f"follower {escape(existing.name)} on {escape(existing.plan.name)}, attached as {attached}"
    )


# 3
async def wait_available(ctx: StepContext) -> Outcome:
    m = ctx.m
    assert m.follower_addon_id
    now = ctx.clock()
    sent = m.marks.get("create_sent_at")
    since = datetime.fromisoformat(sent) if sent else now
    ready = await provisioning.readiness(
        ctx.heroku, m.promote_app, m.follower_addon_id, since=since, now=now
    )
    if ready.error is not None:
        return Fail(
            f"The follower did not come up: {ready.error}.",
            f"`/migrate cancel {m.id}` removes it and puts everything back; then start again.",
        )
    if not ready.ready:
        return Wait(ready.note)
    return Done(ready.note)


async def _poll_lag(ctx: StepContext) -> int | None:
    assert ctx.m.follower_addon_id
    database = await ctx.heroku.get_database(ctx.m.follower_addon_id)
    lag = database.behind_by() if database.is_follower else None
    if lag is not None:
        at = ctx.clock().timestamp()
        await ctx.checkpoint(lambda m: _record_lag(m, at, lag))
    return lag


# 4
async def wait_caught_up(ctx: StepContext) -> Outcome:
    lag = await _poll_lag(ctx)
    threshold = ctx.settings.migrate_caught_up_commits
    if lag is None:
        return Wait("Behind By is not reported yet")
    if lag <= threshold:
        return Done(f"follower caught up: behind by {lag} commits (threshold {threshold})")
    return Wait(f"behind by {lag} commits")


# 8
async def wait_zero_lag(ctx: StepContext) -> Outcome:
    lag = await _poll_lag(ctx)
    if lag is None:
        return Wait("Behind By is not reported; waiting (an unknown lag is never taken as 0)")
    if lag == 0:
        return Done("follower is 0 commits behind")
    return Wait(f"behind by {lag} commits")


# 10
async def unfollow(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    assert m.follower_addon_id
    database = await heroku.get_database(m.follower_addon_id)
    if not database.is_follower:
        return Done("the new database is no longer a follower")
    maintenance = [(await heroku.get_app(app)).maintenance for app in m.apps_down]
    blockers = promote_blockers(
        PromoteCheck(
            behind_by=database.behind_by(),
            is_follower=True,
            maintenance=all(maintenance),
            running_dynos=await running_dynos(heroku, m.apps_down),
        )
    )
    sent = m.marks.get("unfollow_sent_at")
    lag = database.behind_by()
    if sent is None and (lag is None or lag > 0):
        # The promote approval was given for a follower at 0 commits behind: it is void now.
        return Back(StepName.WAIT_ZERO_LAG, f"the follower is {lag} commits behind again")
    if blockers and sent is None:
        reason = "Not safe to unfollow yet: " + "; ".join(blockers) + "."
        if m.marks.get("unsafe_noticed") != reason:
            await ctx.checkpoint(lambda m: m.marks.__setitem__("unsafe_noticed", reason))
            ctx.notice(
                f":warning: {reason} Waiting. Stop whatever still writes (a dyno scaled up by "
                "hand?), or `/migrate cancel` to put the app back."
            )
        return Wait(reason)
    now = ctx.clock()
    answered = sent is not None and sent != UNANSWERED
    if answered and (now.timestamp() - float(sent or 0)) < UNFOLLOW_RESEND_SECONDS:
        return Wait("waiting for Heroku to finish the unfollow")
    await ctx.checkpoint(lambda m: m.marks.__setitem__("unfollow_sent_at", str(now.timestamp())))
    try:
        await heroku.unfollow(m.follower_addon_id)
    except Unprocessable:
        # A re-sent unfollow whose first answer was lost: Heroku says "not a follower".
        if not (await heroku.get_database(m.follower_addon_id)).is_follower:
            return Done("the new database is no longer a follower")
        raise
    except HerokuError:
        # Outcome unknown: the database is still following, so sending again is harmless.
        await ctx.checkpoint(lambda m: m.marks.__setitem__("unfollow_sent_at", UNANSWERED))
        raise
    # Unfollowing takes a moment on Heroku's side, and the app is down meanwhile: look
    # again shortly rather than after a whole poll interval.
    for _ in range(UNFOLLOW_QUICK_CHECKS):
        if not (await heroku.get_database(m.follower_addon_id)).is_follower:
            return Done("the new database is no longer a follower")
        await asyncio.sleep(UNFOLLOW_QUICK_CHECK_SECONDS)
    return Wait("unfollow requested")


async def abort_remove_follower(ctx: StepContext) -> Outcome:
    m = ctx.m
    if m.follower_addon_id is None and "create_sent_at" not in m.marks:
        return Done("no follower was created")
    # Found by name too: the create may have happened without its answer reaching us.
    addon = await ctx.heroku.get_addon(m.promote_app, m.follower_addon_id or m.follower_name)
    if addon is None:
        return Done("no follower to remove")
    await ctx.heroku.destroy_addon(m.promote_app, addon.id)
    return Done(f"follower {escape(addon.name)} destroyed")


# Gate checks run each time a gate is looked at, and once more right after its approval.
async def promote_still_safe(ctx: StepContext) -> Outcome:
    """The promote approval holds only while the follower is 0 commits behind."""
    assert ctx.m.follower_addon_id
    database = await ctx.heroku.get_database(ctx.m.follower_addon_id)
    lag = database.behind_by() if database.is_follower else None
    if lag == 0:
        return Done("follower still 0 commits behind")
    shown = "unknown" if lag is None else f"{lag} commits"
    return Back(StepName.WAIT_ZERO_LAG, f"the follower's lag rose to {shown}")


async def cooled_off(ctx: StepContext) -> Outcome:
    """Keep the old database a while after verification, if the team asked for that."""
    verified = ctx.m.completed.get(StepName.VERIFY)
    cooling = ctx.settings.migrate_destroy_cooling_off_seconds
    if verified is None or cooling <= 0:
        return Done("")
    left = verified.timestamp() + cooling - ctx.clock().timestamp()
    if left > 0:
        return Wait(f"keeping the old database {left:.0f} s more before asking to destroy it", left)
    return Done("")


GATE_CHECKS: dict[StepName, Ensure] = {
    StepName.APPROVE_PROMOTE: promote_still_safe,
    StepName.APPROVE_DESTROY: cooled_off,
}

ENSURES: dict[StepName, Ensure] = {
    StepName.PREFLIGHT: preflight,
    StepName.CREATE_FOLLOWER: create_follower,
    StepName.WAIT_AVAILABLE: wait_available,
    StepName.WAIT_CAUGHT_UP: wait_caught_up,
    StepName.MAINTENANCE_ON: maintenance_on,
    StepName.SCALE_DOWN: scale_down,
    StepName.WAIT_ZERO_LAG: wait_zero_lag,
    StepName.UNFOLLOW: unfollow,
    StepName.PROMOTE: promote,
    StepName.MOVE_ATTACHMENTS: move_attachments,
    StepName.SCALE_UP: scale_up,
    StepName.MAINTENANCE_OFF: maintenance_off,
    StepName.VERIFY: verify,
    StepName.RECREATE_FOLLOWERS: recreate_followers,
    StepName.DESTROY_OLD: destroy_old,
    StepName.ABORT_SCALE_UP: abort_scale_up,
    StepName.ABORT_MAINTENANCE_OFF: abort_maintenance_off,
    StepName.ABORT_REMOVE_FOLLOWER: abort_remove_follower,
}
