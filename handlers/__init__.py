"""The Slack surface: one `register(app, ...)` per kind of interaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from bot.authz import Directory
from bot.logs import Scrubber
from handlers import actions, commands
from handlers.middleware import roles_middleware

if TYPE_CHECKING:
    # The service is handed in by `bot.app`; handlers only call it.
    from bot.service import MigrationService


def register(
    app: AsyncApp, service: MigrationService, directory: Directory, scrub: Scrubber
) -> None:
    app.middleware(roles_middleware(directory))
    commands.register(app, service, scrub)
    actions.register(app, service)
