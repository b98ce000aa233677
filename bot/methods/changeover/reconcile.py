"""Re-read the platform for a drift check (see bot/drift.py).

Run when a process resumes a migration (after a restart or a takeover) and regularly while the
app is down, so that a change made by hand in the dashboard stops the bot with an explanation
instead of being overwritten or ignored.
"""

from __future__ import annotations

from bot.heroku import HerokuClient
from bot.heroku.errors import NotFound
from bot.methods.base import StepContext
from bot.methods.changeover.drift import Snapshot, drift
from state.models import Migration


async def take(heroku: HerokuClient, m: Migration) -> Snapshot:
    maintenance = {app: (await heroku.get_app(app)).maintenance for app in m.apps_down}
    running = {
        app: {f.type: f.quantity for f in await heroku.list_formation(app) if f.quantity > 0}
        for app in m.apps_down
    }
    follower = m.new.addon_id
    exists = follower is not None and await heroku.get_addon(m.promote_app, follower) is not None
    following: bool | None = None
    if exists and follower:
        try:
            following = (await heroku.get_database(follower)).is_follower
        except NotFound:
            following = None  # just created: the Data API does not know it yet

    database = next(
        (a.addon.id for a in await heroku.list_attachments(m.promote_app) if a.name == "DATABASE"),
        None,
    )
    return Snapshot(maintenance, running, exists, following, database)


async def problems(ctx: StepContext) -> list[str]:
    """The changeover's drift: what a person changed that the migration cannot ignore."""
    return drift(ctx.m, await take(ctx.heroku, ctx.m))
