"""The Slack surface: one `register(app, ...)` per kind of interaction."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.authz import Directory
from bot.logs import Scrubber
from bot.service import MigrationService
from handlers import actions, commands
from handlers.middleware import roles_middleware


def register(
    app: AsyncApp, service: MigrationService, directory: Directory, scrub: Scrubber
) -> None:
    app.middleware(roles_middleware(directory))
    commands.register(app, service, scrub)
    actions.register(app, service)
