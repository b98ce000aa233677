"""Who may start, cancel and approve: Slack user ids and user-group ids from the environment."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

GROUP_CACHE_SECONDS = 60.0


class AuthzConfigError(Exception):
    """The configured approvers/operators cannot be resolved; the message says how to fix it."""


@dataclass(frozen=True)
class Roles:
    operator: bool
    approver: bool
    # A misconfigured list blocks only what it governs (start/cancel, or approvals).
    operator_error: str | None = None
    approver_error: str | None = None


class Directory:
    """Resolves MIGRATE_OPERATORS / MIGRATE_APPROVERS, caching user-group members briefly."""

    def __init__(self, client: AsyncWebClient, operators: list[str], approvers: list[str]) -> None:
        self.client = client
        self.operators = operators
        self.approvers = approvers
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = asyncio.Lock()

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        async with self._lock:
            try:
                response = await self.client.usergroups_users_list(usergroup=group)
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error == "plan_upgrade_required":
                    raise AuthzConfigError(
                        f"{group} is a user group, but this Slack workspace has no user groups "
                        "(paid plans only). List user ids in MIGRATE_OPERATORS / MIGRATE_APPROVERS."
                    ) from None
                if error in ("no_such_subteam", "subteam_not_found"):
                    raise AuthzConfigError(
                        f"User group {group} does not exist; "
                        "fix MIGRATE_OPERATORS / MIGRATE_APPROVERS."
                    ) from None
                raise AuthzConfigError(
                    f"Could not read user group {group} ({error}); the bot needs the "
                    "usergroups:read scope."
                ) from None
            users: list[str] = response.get("users") or []
            members = frozenset(users)
            self._groups[group] = (time.monotonic(), members)
            return members

    async def _in(self, user: str, entries: list[str]) -> bool:
        if not entries:
            return True
        if user in entries:
            return True
        for entry in entries:
            if entry.startswith("S") and user in await self._members(entry):
                return True
        return False

    async def check(self) -> list[str]:
        """Configuration problems with the user groups, said at startup rather than at a click."""
        problems = []
        for group in sorted({e for e in self.operators + self.approvers if e.startswith("S")}):
            try:
                await self._members(group)
            except AuthzConfigError as exc:
                problems.append(str(exc))
            except Exception as exc:  # Slack unreachable at boot: the click will say it again
                problems.append(f"Could not check user group {group} yet ({type(exc).__name__}).")
        return problems

    async def roles(self, user: str) -> Roles:
        """Empty lists mean everyone; the requester rule is applied per migration."""
        operator, operator_error = await self.operator(user)
        approver, approver_error = await self.approver(user)
        return Roles(operator, approver, operator_error, approver_error)

    async def operator(self, user: str) -> tuple[bool, str | None]:
        """May `user` start and cancel? (and the configuration error, if any)"""
        return await self._role(user, self.operators)

    async def approver(self, user: str) -> tuple[bool, str | None]:
        """May `user` approve? (and the configuration error, if any)"""
        return await self._role(user, self.approvers)

    async def _role(self, user: str, entries: list[str]) -> tuple[bool, str | None]:
        try:
            return await self._in(user, entries), None
        except AuthzConfigError as exc:
            return False, str(exc)
