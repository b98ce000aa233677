"""Cross-cutting check for every command and click: who is this user allowed to be?"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.authz import AuthzConfigError, Directory, Roles

ROLES = "migrate_roles"
AUTHZ_ERROR = "migrate_authz_error"


def roles_middleware(directory: Directory) -> Callable[..., Awaitable[Any]]:
    """Put the user's Roles (or the configuration error) into the Bolt context."""

    async def middleware(
        body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[Any]]
    ) -> Any:
        user = body.get("user_id") or (body.get("user") or {}).get("id")
        if isinstance(user, str):
            try:
                context[ROLES] = await directory.roles(user)
            except AuthzConfigError as exc:
                context[ROLES] = Roles(operator=False, approver=False)
                context[AUTHZ_ERROR] = str(exc)
        return await next()

    return middleware
