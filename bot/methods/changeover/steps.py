"""The follower changeover's own steps: a follower on the new plan, caught up, unfollowed.

Every function reads the platform first and acts only if needed, so running it again after a
crash is harmless. Anything that must survive a crash between two platform calls is
checkpointed into the migration before the second call. The shared steps (the window, promote,
followers, destroy) are in bot/methods/common/.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.heroku.errors import HerokuError, Unprocessable
from bot.lag import LagSample, estimate, render_progress
from bot.methods.base import Back, Done, Fail, Outcome, StepContext, Wait
from bot.methods.changeover.data import ours, record_lag
from bot.methods.changeover.names import StepName
from bot.methods.common import provisioning
from bot.methods.common.window import running_dynos
from bot.slack.mrkdwn import escape
from state.models import Migration, NewDatabase

UNFOLLOW_RESEND_SECONDS = 30.0
UNANSWERED = "unanswered"
UNFOLLOW_QUICK_CHECKS = 10
UNFOLLOW_QUICK_CHECK_SECONDS = 0.1


@dataclass(frozen=True)
class PromoteCheck:
    """The platform facts that decide whether the follower may take over."""

    behind_by: int | None
    maintenance: bool
    running_dynos: int


def promote_blockers(check: PromoteCheck) -> list[str]:
    """Reasons it is not safe to unfollow and promote now; empty means safe (pure)."""
    reasons = []
    if check.behind_by is None:
        reasons.append("the follower's lag is unknown (no Behind By reported)")
    elif check.behind_by > 0:
        reasons.append(f"the follower is {check.behind_by} commits behind")
    if not check.maintenance:
        reasons.append("the app is not in maintenance mode")
    if check.running_dynos:
        reasons.append(f"{check.running_dynos} dynos are still running and may write")
    return reasons


async def create_follower(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    existing = await heroku.get_addon(m.promote_app, m.new.name)
    if existing is None:
        # The name is ours and unique, so after a crash or timeout the add-on is found by it
        # (Heroku has no idempotency keys): at most one follower per migration.
        sent = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(ours(m), "create_sent_at", sent))
        try:
            existing = await heroku.create_follower(
                m.promote_app,
                plan=m.plan,
                follow=m.old.name if m.old else m.source,
                name=m.new.name,
            )
        except Unprocessable:
            # "Name taken": another process of ours created it after our lookup (a takeover
            # while its call was still in flight). The name is ours, so it is our follower.
            found = await heroku.get_addon(m.promote_app, m.new.name)
            if found is None:
                raise
            existing = found
    addon_id = existing.id
    attachments = await heroku.list_attachments(m.promote_app)
    names = [a.name for a in attachments if a.addon.id == addon_id]

    def record(m: Migration) -> None:
        m.new = NewDatabase(
            name=m.new.name,
            addon_id=addon_id,
            attachment=names[0] if names else None,
            requested_at=ours(m).create_sent_at,
        )

    await ctx.checkpoint(record)
    attached = escape(names[0]) if names else "?"
    return Done(
        f"follower {escape(existing.name)} on {escape(existing.plan.name)}, attached as {attached}"
    )


async def wait_available(ctx: StepContext) -> Outcome:
    m = ctx.m
    assert m.new.addon_id
    now = ctx.clock()
    since = ours(m).create_sent_at or now
    ready = await provisioning.readiness(
        ctx.heroku, m.promote_app, m.new.addon_id, since=since, now=now
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
    assert ctx.m.new.addon_id
    database = await ctx.heroku.get_database(ctx.m.new.addon_id)
    lag = database.behind_by() if database.is_follower else None
    if lag is not None:
        at = ctx.clock().timestamp()
        await ctx.checkpoint(lambda m: record_lag(m, at, lag))
    return lag


async def wait_caught_up(ctx: StepContext) -> Outcome:
    lag = await _poll_lag(ctx)
    threshold = ctx.settings.migrate_caught_up_commits
    if lag is None:
        return Wait("Behind By is not reported yet")
    if lag <= threshold:
        return Done(f"follower caught up: behind by {lag} commits (threshold {threshold})")
    return Wait(f"behind by {lag} commits")


async def wait_zero_lag(ctx: StepContext) -> Outcome:
    lag = await _poll_lag(ctx)
    if lag is None:
        return Wait("Behind By is not reported; waiting (an unknown lag is never taken as 0)")
    if lag == 0:
        return Done("follower is 0 commits behind")
    return Wait(f"behind by {lag} commits")


async def unfollow(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    new_id = m.new.addon_id
    assert new_id
    data = ours(m)
    database = await heroku.get_database(new_id)
    if not database.is_follower:
        return Done("the new database is no longer a follower")
    maintenance = [(await heroku.get_app(app)).maintenance for app in m.apps_down]
    blockers = promote_blockers(
        PromoteCheck(
            behind_by=database.behind_by(),
            maintenance=all(maintenance),
            running_dynos=await running_dynos(heroku, m.apps_down),
        )
    )
    sent = data.unfollow_sent_at
    lag = database.behind_by()
    if sent is None and (lag is None or lag > 0):
        # The promote approval was given for a follower at 0 commits behind: it is void now.
        return Back(StepName.WAIT_ZERO_LAG, f"the follower is {lag} commits behind again")
    if blockers and sent is None:
        reason = "Not safe to unfollow yet: " + "; ".join(blockers) + "."
        if data.unsafe_noticed != reason:
            await ctx.checkpoint(lambda m: setattr(ours(m), "unsafe_noticed", reason))
            ctx.notice(
                f":warning: {reason} Waiting. Stop whatever still writes (a dyno scaled up by "
                "hand?), or `/migrate cancel` to put the app back."
            )
        return Wait(reason)
    now = ctx.clock()
    answered = sent is not None and sent != UNANSWERED
    if answered and (now.timestamp() - float(sent or 0)) < UNFOLLOW_RESEND_SECONDS:
        return Wait("waiting for Heroku to finish the unfollow")
    await ctx.checkpoint(lambda m: setattr(ours(m), "unfollow_sent_at", str(now.timestamp())))
    try:
        await heroku.unfollow(new_id)
    except Unprocessable:
        # A re-sent unfollow whose first answer was lost: Heroku says "not a follower".
        if not (await heroku.get_database(new_id)).is_follower:
            return Done("the new database is no longer a follower")
        raise
    except HerokuError:
        # Outcome unknown: the database is still following, so sending again is harmless.
        await ctx.checkpoint(lambda m: setattr(ours(m), "unfollow_sent_at", UNANSWERED))
        raise
    # Unfollowing takes a moment on Heroku's side, and the app is down meanwhile: look
    # again shortly rather than after a whole poll interval.
    for _ in range(UNFOLLOW_QUICK_CHECKS):
        if not (await heroku.get_database(new_id)).is_follower:
            return Done("the new database is no longer a follower")
        await asyncio.sleep(UNFOLLOW_QUICK_CHECK_SECONDS)
    return Wait("unfollow requested")


async def abort_remove_follower(ctx: StepContext) -> Outcome:
    m = ctx.m
    if m.new.addon_id is None and ours(m).create_sent_at is None:
        return Done("no follower was created")
    # Found by name too: the create may have happened without its answer reaching us.
    addon = await ctx.heroku.get_addon(m.promote_app, m.new.addon_id or m.new.name)
    if addon is None:
        return Done("no follower to remove")
    await ctx.heroku.destroy_addon(m.promote_app, addon.id)
    return Done(f"follower {escape(addon.name)} destroyed")


# Gate checks run each time a gate is looked at, and once more right after its approval.
async def promote_still_safe(ctx: StepContext) -> Outcome:
    """The promote approval holds only while the follower is 0 commits behind."""
    assert ctx.m.new.addon_id
    database = await ctx.heroku.get_database(ctx.m.new.addon_id)
    lag = database.behind_by() if database.is_follower else None
    if lag == 0:
        return Done("follower still 0 commits behind")
    shown = "unknown" if lag is None else f"{lag} commits"
    return Back(StepName.WAIT_ZERO_LAG, f"the follower's lag rose to {shown}")


def progress(m: Migration, threshold: int) -> str | None:
    """The lag line of a waiting step: Behind By, trend and ETA (to 0 in the window)."""
    lag = ours(m).lag
    if not lag:
        return None
    target = 0 if m.step == StepName.WAIT_ZERO_LAG else threshold
    est = estimate([LagSample(at=p.at, behind_by=p.behind_by) for p in lag], target)
    return render_progress(est, target) if est else None
