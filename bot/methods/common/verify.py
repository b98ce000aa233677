"""Verification before anything is destroyed: the apps run on a writable new database."""

from __future__ import annotations

from bot.methods.base import Done, Fail, Outcome, StepContext, Wait
from bot.methods.common.surroundings import find
from bot.methods.common.window import ONE_OFF_TYPES
from bot.slack.mrkdwn import escape


async def verify(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    assert m.new.addon_id
    name = escape(m.new.name)
    for app in m.apps_up:
        current = find(await heroku.list_attachments(app), "DATABASE")
        if app == m.promote_app and (current is None or current.addon.id != m.new.addon_id):
            return Fail(
                f"DATABASE on {escape(app)} is not the new database any more.",
                f"Someone changed attachments by hand: check `heroku pg:info -a {escape(app)}`.",
            )
    if (await heroku.get_database(m.new.addon_id)).is_follower:
        return Fail(
            "The new database is still a follower (read-only).",
            f"Run `heroku pg:unfollow {name} -a {escape(m.promote_app)}`.",
        )
    missing: list[str] = []
    for app in m.apps_up:
        expected = {
            t
            for t, q in m.window.formation.get(app, {}).items()
            if q > 0 and t not in ONE_OFF_TYPES
        }
        up = {d.type for d in await heroku.list_dynos(app) if d.state == "up"}
        missing += [f"{escape(app)} {escape(t)}" for t in sorted(expected - up)]
    if missing:
        return Wait(f"waiting for {', '.join(missing)} dynos to be up")
    serving = ", ".join(escape(a) for a in m.apps_up)
    return Done(f"DATABASE is {name}, writable, and {serving} serving")
