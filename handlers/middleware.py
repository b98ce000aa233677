"""Cross-cutting check for every command and click: who is this user allowed to be?

It runs before every listener, so it must not wait on the network (Slack acks within 3 s):
it puts a lookup in the context, which the listener awaits after its `ack()`.
"""

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


class RolesLookup:
    """The user's roles, each resolved when first asked (a user group may need a Slack call)."""

    def __init__(self, directory: Directory, user: str) -> None:
        self._directory = directory
        self._user = user

    async def operator(self) -> tuple[bool, str | None]:
        """May the user start and cancel, and the configuration error if the list has one."""
        return await self._directory.operator(self._user)

    async def approver(self) -> tuple[bool, str | None]:
        """May the user approve, and the configuration error if the list has one."""
        return await self._directory.approver(self._user)


def roles_middleware(directory: Directory) -> Callable[..., Awaitable[Any]]:
    """Put a RolesLookup for the user into the Bolt context (no I/O here)."""

    async def middleware(
        body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[Any]]
    ) -> Any:
        user = user_of(body)
        if user is not None:
            context[ROLES] = RolesLookup(directory, user)
        return await next()

    return middleware


def roles_of(context: dict[str, Any]) -> RolesLookup | None:
    """The request user's roles, to be awaited only after `ack()`."""
    lookup = context.get(ROLES)
    return lookup if isinstance(lookup, RolesLookup) else None
