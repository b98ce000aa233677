"""What each changeover step does on Heroku: one *ensure* per step, in runbook order.

Every function reads the platform first and acts only if needed, so running it again after a
crash is harmless. Anything that must survive a crash between two platform calls is
checkpointed into the migration before the second call.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from bot.decisions import PromoteCheck, promote_blockers
from bot.heroku import Attachment, HerokuClient
from bot.heroku.errors import HerokuError, NotFound, Unprocessable
from bot.outcomes import Back, Done, Fail, Outcome, StepContext, Wait
from state.models import LagPoint, Migration, StepName

Ensure = Callable[[StepContext], Awaitable[Outcome]]

POSTGRES = "heroku-postgresql"
# Only these tiers can have followers (seed 000: Standard, Premium, Private, Shield).
_FOLLOWABLE = re.compile(r"^(standard|premium|private|shield|enterprise)-")


def can_have_followers(plan: str) -> bool:
    """`standard-0` or `heroku-postgresql:standard-0`: a tier that supports followers."""
    return bool(_FOLLOWABLE.match(_plan_suffix(plan)))


_ONE_OFF_TYPES = ("run", "scheduler", "release")
_LAG_POINTS_KEPT = 60
UNFOLLOW_RESEND_SECONDS = 30.0
UNANSWERED = "unanswered"
UNFOLLOW_QUICK_CHECKS = 10
UNFOLLOW_QUICK_CHECK_SECONDS = 0.1


def _plan_suffix(plan: str) -> str:
    return plan.split(":", 1)[-1]


def _record_lag(m: Migration, at: float, behind_by: int) -> None:
    m.lag = [*m.lag, LagPoint(at=at, behind_by=behind_by)][-_LAG_POINTS_KEPT:]
    m.progress_rev += 1


async def _running_dynos(heroku: HerokuClient, apps: list[str]) -> int:
    running = 0
    for app in apps:
        dynos = await heroku.list_dynos(app)
        running += sum(1 for d in dynos if d.state in ("up", "starting", "restarting"))
    return running


# 1
async def preflight(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    own = ctx.settings.heroku_app_name
    if own and own in m.apps_down:
        return Fail(
            f"migrate-bot itself runs on {own}: migrating that app would stop the bot mid-run.",
            "Run the migration from a bot deployed on another app.",
        )
    for app in m.apps_down:
        try:
            await heroku.get_app(app)
        except NotFound:
            return Fail(
                f"App {app} was not found, or HEROKU_API_KEY has no access to it.",
                "Check the app name with `heroku apps`.",
            )
    try:
        await heroku.get_plan(_plan_suffix(m.plan))
    except NotFound:
        return Fail(
            f"Plan {m.plan} does not exist.",
            "List plans with `heroku addons:plans heroku-postgresql`.",
        )
    found = await heroku.resolve_attachment(m.app, m.source)
    candidates = [a for a in found if a.namespace is None] or found
    if not candidates:
        return Fail(f"No database {m.source} on {m.app}.", "See `heroku pg:info -a APP`.")
    addon = await heroku.get_addon(candidates[0].addon.app.name, candidates[0].addon.id)
    if addon is None or addon.addon_service.name != POSTGRES:
        return Fail(
            f"{m.source} on {m.app} is not a Heroku Postgres database.",
            "Pass the database with --from (e.g. --from HEROKU_POSTGRESQL_GREEN).",
        )
    source_plan = _plan_suffix(addon.plan.name)
    if not can_have_followers(source_plan):
        return Fail(
            f"{addon.name} is on {addon.plan.name}, which cannot have followers.",
            "A follower changeover needs a Standard, Premium, Private or Shield database; "
            "use `heroku addons:upgrade` or pg:copy for this one.",
        )
    database = await heroku.get_database(addon.id)
    if database.is_follower:
        return Fail(
            f"{addon.name} is itself a follower; migrate its leader instead.",
            "Use --from with the leader's attachment name.",
        )
    formation = {
        app: {f.type: f.quantity for f in await heroku.list_formation(app)} for app in m.apps_down
    }
    maintenance = {app: (await heroku.get_app(app)).maintenance for app in m.apps_down}

    def record(m: Migration) -> None:
        m.source_addon_id = addon.id
        m.source_addon_name = addon.name
        m.source_app = addon.app.name
        m.source_plan = addon.plan.name
        m.formation = formation
        m.maintenance_before = maintenance

    await ctx.checkpoint(record)
    listed = ", ".join(f"{t}={q}" for app in formation.values() for t, q in app.items())
    return Done(f"{addon.name} ({addon.plan.name}) on {m.app}; formation {listed or 'empty'}")


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
    attached = names[0] if names else "?"
    return Done(f"follower {existing.name} on {existing.plan.name}, attached as {attached}")


# 3
async def wait_available(ctx: StepContext) -> Outcome:
    assert ctx.m.follower_addon_id
    status = await ctx.heroku.get_wait_status(ctx.m.follower_addon_id)
    if status.error:
        return Fail(
            f"Heroku reports the follower failed: {status.message}",
            "Cancel with `/migrate cancel` to remove it, then start again.",
        )
    if status.waiting:
        return Wait(f"follower is {status.message}")
    return Done(f"follower is {status.message}")


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


# 6
async def maintenance_on(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    if m.maintenance_on_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m, "maintenance_on_at", now))
    for app in m.apps_down:
        if not (await heroku.get_app(app)).maintenance:
            await heroku.set_maintenance(app, True)
    return Done(f"maintenance on for {', '.join(m.apps_down)}")


# 7
async def scale_down(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    if "formation_final" not in m.marks:
        # Re-read just before scaling: someone may have scaled since preflight. Once recorded
        # it is never re-read, because after a crash mid-scale the platform shows zeros.
        formation = {
            app: {f.type: f.quantity for f in await heroku.list_formation(app)}
            for app in m.apps_down
        }

        def record(m: Migration) -> None:
            m.formation = formation
            m.marks["formation_final"] = "1"

        await ctx.checkpoint(record)
    for app in ctx.m.apps_down:
        current = {f.type: f.quantity for f in await heroku.list_formation(app)}
        to_zero = {t: 0 for t, q in current.items() if q > 0}
        if to_zero:
            await heroku.scale(app, to_zero)
        for dyno in await heroku.list_dynos(app):
            one_off = dyno.type in _ONE_OFF_TYPES or dyno.type not in current
            if one_off and dyno.state in ("up", "starting"):
                await heroku.stop_dyno(app, dyno.name)
                ctx.notice(f"Stopped one-off dyno `{dyno.name}` on {app}.")
    running = await _running_dynos(heroku, ctx.m.apps_down)
    if running:
        return Wait(f"waiting for {running} dynos to stop")
    recorded = ", ".join(f"{t}={q}" for app in ctx.m.formation.values() for t, q in app.items())
    return Done(f"all process types at 0 (recorded {recorded or 'nothing'})")


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
    app = await heroku.get_app(m.app)
    blockers = promote_blockers(
        PromoteCheck(
            behind_by=database.behind_by(),
            is_follower=True,
            maintenance=app.maintenance,
            running_dynos=await _running_dynos(heroku, m.apps_down),
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


def _find(
    attachments: list[Attachment], name: str, namespace: str | None = None
) -> Attachment | None:
    for a in attachments:
        if a.name == name and a.namespace == namespace:
            return a
    return None


# 11
async def promote(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    app = m.promote_app
    assert m.follower_addon_id
    attachments = await heroku.list_attachments(app)
    current = _find(attachments, "DATABASE")
    if current is None or current.addon.id != m.follower_addon_id:
        if "promote_sent_at" not in m.marks:
            old_id = current.addon.id if current else None
            if current is not None and not any(
                a.addon.id == old_id and a.name != "DATABASE" and a.namespace == current.namespace
                for a in attachments
            ):
                # Without a second alias Heroku refuses: "DATABASE is the last billing attachment".
                await heroku.create_attachment(app, current.addon.name, namespace=current.namespace)
            pooler = old_id is not None and any(
                a.addon.id == old_id
                and a.name == "DATABASE_CONNECTION_POOL"
                and a.namespace == "connection-pooling:default"
                for a in attachments
            )
            status = await heroku.get_wait_status(m.follower_addon_id)
            if status.waiting:
                return Wait(f"new database is {status.message}; promote waits")
            sent_at = ctx.clock().isoformat()

            def mark(m: Migration) -> None:
                m.marks["promote_sent_at"] = sent_at
                if pooler:
                    m.marks["pooler"] = "1"

            await ctx.checkpoint(mark)
        await heroku.create_attachment(app, m.follower_name, name="DATABASE")
        attachments = await heroku.list_attachments(app)
    pool = _find(attachments, "DATABASE_CONNECTION_POOL", "connection-pooling:default")
    if ctx.m.marks.get("pooler") and (pool is None or pool.addon.id != m.follower_addon_id):
        await heroku.create_attachment(
            app,
            m.follower_name,
            name="DATABASE_CONNECTION_POOL",
            namespace="connection-pooling:default",
        )
        ctx.notice(
            "Reattached the connection pooler (DATABASE_CONNECTION_POOL) to the new database."
        )
    if m.promoted_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m, "promoted_at", now))
    release_check = await _release_phase(ctx)
    if release_check is not None:
        return release_check
    return Done(f"DATABASE on {app} is now {m.follower_name}")


async def _release_phase(ctx: StepContext) -> Outcome | None:
    """Like `pg:promote`: with a release phase, the Attach DATABASE release must succeed."""
    app = ctx.m.promote_app
    types = {f.type for f in await ctx.heroku.list_formation(app)}
    if "release" not in types:
        return None
    releases = await ctx.heroku.list_releases(app, limit=5)
    attach = next((r for r in releases if "Attach DATABASE" in r.description), None)
    if attach is None:
        return Wait("waiting for the Attach DATABASE release")
    if attach.status == "succeeded":
        return None
    if attach.status == "failed":
        return Fail(
            f"The release phase of {app} failed for Attach DATABASE (v{attach.version}).",
            "DATABASE points at the new database but the release did not succeed: check "
            f"`heroku releases:output {attach.version} -a {app}` and re-run the release.",
        )
    return Wait(f"release v{attach.version} is {attach.status}")


async def _restore_formation(heroku: HerokuClient, m: Migration, apps: list[str]) -> list[str]:
    changed = []
    for app in apps:
        recorded = m.formation.get(app, {})
        current = {f.type: f.quantity for f in await heroku.list_formation(app)}
        updates = {t: q for t, q in recorded.items() if current.get(t) != q and t in current}
        if updates:
            await heroku.scale(app, updates)
        changed += [f"{app} {t}={q}" for t, q in recorded.items()]
    return changed


# 12
async def scale_up(ctx: StepContext) -> Outcome:
    restored = await _restore_formation(ctx.heroku, ctx.m, ctx.m.apps_up)
    return Done(f"formation restored: {', '.join(restored) or 'nothing to restore'}")


async def _restore_maintenance(ctx: StepContext, apps: list[str]) -> None:
    for app in apps:
        wanted = ctx.m.maintenance_before.get(app, False)
        if (await ctx.heroku.get_app(app)).maintenance != wanted:
            await ctx.heroku.set_maintenance(app, wanted)


# 13
async def maintenance_off(ctx: StepContext) -> Outcome:
    await _restore_maintenance(ctx, ctx.m.apps_up)
    if ctx.m.maintenance_off_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m, "maintenance_off_at", now))
    seconds = ctx.m.downtime_seconds
    kept = [a for a in ctx.m.apps_down if a not in ctx.m.apps_up]
    if kept:
        ctx.notice(
            f"{', '.join(kept)} stays in maintenance with 0 dynos: "
            "it still points at the old database."
        )
    return Done(
        f"maintenance off; downtime {seconds:.1f} s" if seconds is not None else "maintenance off"
    )


# 14
async def verify(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    app = m.promote_app
    assert m.follower_addon_id
    current = _find(await heroku.list_attachments(app), "DATABASE")
    if current is None or current.addon.id != m.follower_addon_id:
        return Fail(
            f"DATABASE on {app} is not the new database any more.",
            "Someone changed attachments by hand: check `heroku pg:info -a APP`.",
        )
    if (await heroku.get_database(m.follower_addon_id)).is_follower:
        return Fail(
            "The new database is still a follower (read-only).",
            f"Run `heroku pg:unfollow {m.follower_name} -a {app}`.",
        )
    expected = {t for t, q in m.formation.get(app, {}).items() if q > 0 and t not in _ONE_OFF_TYPES}
    up = {d.type for d in await heroku.list_dynos(app) if d.state == "up"}
    missing = sorted(expected - up)
    if missing:
        return Wait(f"waiting for {', '.join(missing)} dynos to be up")
    return Done(f"DATABASE is {m.follower_name}, writable, and {app} is serving")


# 16
async def destroy_old(ctx: StepContext) -> Outcome:
    m = ctx.m
    assert m.source_addon_id and m.source_app
    gone = await ctx.heroku.destroy_addon(m.source_app, m.source_addon_id)
    return Done(
        f"old database {m.source_addon_name} destroyed" + ("" if gone else " (was already gone)")
    )


async def abort_scale_up(ctx: StepContext) -> Outcome:
    if "formation_final" not in ctx.m.marks:
        # Scale-down never started, so any change since preflight was made by people: keep it.
        return Done("formation was never changed")
    restored = await _restore_formation(ctx.heroku, ctx.m, ctx.m.apps_down)
    return Done(f"formation restored: {', '.join(restored) or 'nothing to restore'}")


async def abort_maintenance_off(ctx: StepContext) -> Outcome:
    if ctx.m.maintenance_on_at is None:
        return Done("maintenance was never changed")
    await _restore_maintenance(ctx, ctx.m.apps_down)
    if ctx.m.maintenance_off_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m, "maintenance_off_at", now))
    return Done("maintenance mode as it was before")


async def abort_remove_follower(ctx: StepContext) -> Outcome:
    m = ctx.m
    if m.follower_addon_id is None and "create_sent_at" not in m.marks:
        return Done("no follower was created")
    # Found by name too: the create may have happened without its answer reaching us.
    addon = await ctx.heroku.get_addon(m.promote_app, m.follower_addon_id or m.follower_name)
    if addon is None:
        return Done("no follower to remove")
    await ctx.heroku.destroy_addon(m.promote_app, addon.id)
    return Done(f"follower {addon.name} destroyed")


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
    StepName.SCALE_UP: scale_up,
    StepName.MAINTENANCE_OFF: maintenance_off,
    StepName.VERIFY: verify,
    StepName.DESTROY_OLD: destroy_old,
    StepName.ABORT_SCALE_UP: abort_scale_up,
    StepName.ABORT_MAINTENANCE_OFF: abort_maintenance_off,
    StepName.ABORT_REMOVE_FOLLOWER: abort_remove_follower,
}
