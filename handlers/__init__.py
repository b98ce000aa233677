"""The Slack surface: one `register(app, ...)` per kind of interaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from bot.authz import Directory
from bot.logs import Scrubber
from handlers import actions, commands
from handlers.middleware import roles_middleware

if TYPE_CHECKING:
    # Only for annotations: importing the service here closes the cycle
    # bot.engine -> bot.notices -> handlers.render -> handlers -> bot.service -> bot.engine.
    from bot.service import MigrationService


def register(
    app: AsyncApp, service: MigrationService, directory: Directory, scrub: Scrubber
) -> None:
    app.middleware(roles_middleware(directory))
    commands.register(app, service, scrub)
    actions.register(app, service)
