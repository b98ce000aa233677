"""Waiting for a database Heroku has just created, as `addons:wait` and `pg:wait` do.

Right after `POST /apps/{app}/addons` the add-on is `provisioning` and the Data API does not
know the database yet: it answers 404 (the CLI's `pg:wait` says "Waiting to provision"). That
is waiting, not failure, for a bounded time; then `wait_status` reports progress until the
database is available.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.heroku import HerokuClient
from bot.heroku.errors import NotFound
from bot.lag import format_duration
from bot.slack.mrkdwn import escape

# The Data API learns of a new database within seconds to minutes; far past that, something
# is wrong on Heroku's side and a person should look.
UNKNOWN_LIMIT_SECONDS = 30 * 60.0


@dataclass(frozen=True)
class Readiness:
    """`ready`, or why not: `note` while waiting, `error` when waiting longer cannot help."""

    ready: bool
    note: str
    error: str | None = None


async def readiness(
    heroku: HerokuClient, app: str, addon_id: str, *, since: datetime, now: datetime
) -> Readiness:
    """Is the database `addon_id` of `app` provisioned and available (created at `since`)?"""
    addon = await heroku.get_addon(app, addon_id)
    if addon is None or addon.state == "deprovisioned":
        return Readiness(False, "", f"the add-on {escape(addon_id)} is gone from {escape(app)}")
    name = escape(addon.name)
    try:
        status = await heroku.get_wait_status(addon_id)
    except NotFound:
        waited = (now - since).total_seconds()
        if waited > UNKNOWN_LIMIT_SECONDS:
            return Readiness(
                False,
                "",
                f"Heroku's Postgres API still does not know {name} {format_duration(waited)} "
                "after it was created",
            )
        return Readiness(
            False, f"Heroku is provisioning {name} (not known to its Postgres API yet)"
        )
    if status.error:
        return Readiness(False, "", f"Heroku reports {name} failed: {escape(status.message)}")
    if status.waiting or addon.state != "provisioned":
        return Readiness(
            False, f"{name} is {escape(status.message)} (add-on {escape(addon.state)})"
        )
    return Readiness(True, f"{name} is {escape(status.message)}")
