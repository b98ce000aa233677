"""The downtime window's own steps: maintenance and formation, on and off, in every app.

Maintenance mode only stops the router: workers, one-off dynos and Scheduler jobs keep
writing, so every process type of every app that writes to the database goes to 0, and the
quantities recorded just before are restored afterwards.
"""

from __future__ import annotations

from bot.heroku import HerokuClient
from bot.methods.base import Done, Outcome, StepContext, Wait
from bot.slack.mrkdwn import escape
from state.models import Migration

ONE_OFF_TYPES = ("run", "scheduler", "release")
_RUNNING = ("up", "starting", "restarting")


async def running_dynos(heroku: HerokuClient, apps: list[str]) -> int:
    running = 0
    for app in apps:
        running += sum(1 for d in await heroku.list_dynos(app) if d.state in _RUNNING)
    return running


def _listed(formation: dict[str, dict[str, int]], apps: list[str] | None = None) -> str:
    return ", ".join(
        f"{escape(app)} {escape(t)}={q}"
        for app, types in formation.items()
        if apps is None or app in apps
        for t, q in types.items()
    )


async def maintenance_on(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    if m.window.on_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m.window, "on_at", now))
    for app in m.apps_down:
        if not (await heroku.get_app(app)).maintenance:
            await heroku.set_maintenance(app, True)
    return Done(f"maintenance on for {', '.join(escape(a) for a in m.apps_down)}")


async def scale_down(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    if not m.window.formation_final:
        # Re-read just before scaling: someone may have scaled since preflight. Once recorded
        # it is never re-read, because after a crash mid-scale the platform shows zeros.
        formation = {
            app: {f.type: f.quantity for f in await heroku.list_formation(app)}
            for app in m.apps_down
        }

        def record(m: Migration) -> None:
            m.window.formation = formation
            m.window.formation_final = True

        await ctx.checkpoint(record)
    stopped: list[str] = []
    for app in ctx.m.apps_down:
        current = {f.type: f.quantity for f in await heroku.list_formation(app)}
        to_zero = {t: 0 for t, q in current.items() if q > 0}
        if to_zero:
            await heroku.scale(app, to_zero)
        for dyno in await heroku.list_dynos(app):
            one_off = dyno.type in ONE_OFF_TYPES or dyno.type not in current
            if one_off and dyno.state in ("up", "starting"):
                await heroku.stop_dyno(app, dyno.name)
                stopped.append(f"{escape(app)} {escape(dyno.name)}")
    running = await running_dynos(heroku, ctx.m.apps_down)
    if running:
        return Wait(f"waiting for {running} dynos to stop")
    note = f"all process types at 0 (recorded {_listed(ctx.m.window.formation) or 'nothing'})"
    if stopped:
        note += f"; one-off dynos stopped: {', '.join(stopped)}"
    return Done(note)


async def restore_formation(heroku: HerokuClient, m: Migration, apps: list[str]) -> str:
    for app in apps:
        recorded = m.window.formation.get(app, {})
        current = {f.type: f.quantity for f in await heroku.list_formation(app)}
        updates = {t: q for t, q in recorded.items() if current.get(t) != q and t in current}
        if updates:
            await heroku.scale(app, updates)
    return _listed(m.window.formation, apps)


async def scale_up(ctx: StepContext) -> Outcome:
    restored = await restore_formation(ctx.heroku, ctx.m, ctx.m.apps_up)
    return Done(f"formation restored: {restored or 'nothing to restore'}")


async def restore_maintenance(ctx: StepContext, apps: list[str]) -> None:
    for app in apps:
        wanted = ctx.m.window.maintenance_before.get(app, False)
        if (await ctx.heroku.get_app(app)).maintenance != wanted:
            await ctx.heroku.set_maintenance(app, wanted)


async def maintenance_off(ctx: StepContext) -> Outcome:
    await restore_maintenance(ctx, ctx.m.apps_up)
    if ctx.m.window.off_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m.window, "off_at", now))
    seconds = ctx.m.downtime_seconds
    note = (
        f"maintenance off; downtime {seconds:.1f} s" if seconds is not None else "maintenance off"
    )
    kept = [a for a in ctx.m.apps_down if a not in ctx.m.apps_up]
    if kept:
        note += (
            f"; {', '.join(escape(a) for a in kept)} stays in maintenance with 0 dynos "
            "(it still points at the old database)"
        )
    return Done(note)


async def abort_scale_up(ctx: StepContext) -> Outcome:
    if not ctx.m.window.formation_final:
        # Scale-down never started, so any change since preflight was made by people: keep it.
        return Done("formation was never changed")
    restored = await restore_formation(ctx.heroku, ctx.m, ctx.m.apps_down)
    return Done(f"formation restored: {restored or 'nothing to restore'}")


async def abort_maintenance_off(ctx: StepContext) -> Outcome:
    if ctx.m.window.on_at is None:
        return Done("maintenance was never changed")
    await restore_maintenance(ctx, ctx.m.apps_down)
    if ctx.m.window.off_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m.window, "off_at", now))
    return Done("maintenance mode as it was before")
