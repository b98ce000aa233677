"""Cross-cutting check for every command and click: who is this user allowed to be?"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.authz import Directory

ROLES = "migrate_roles"


def user_of(body: dict[str, Any]) -> str | None:
    """The Slack user behind a slash command or an interaction, if the payload says."""
    user = body.get("user_id")
    if user is None and isinstance(body.get("user"), dict):
        user = body["user"].get("id")
    return user if isinstance(user, str) and user else None


def roles_middleware(directory: Directory) -> Callable[..., Awaitable[Any]]:
    """Put the user's Roles into the Bolt context (Roles carry any configuration error)."""

    async def middleware(
        body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[Any]]
    ) -> Any:
        user = user_of(body)
        if user is not None:
            context[ROLES] = await directory.roles(user)
        return await next()

    return middleware
