"""Who the bot is on Slack (auth.test), learned once in the background, never on a request.

Bolt's default single-team authorization calls auth.test on the first request, before the
listener can ack; when Slack is slow that first command or click times out. Here Bolt's
`authorize` answers from memory: the bot token, plus the ids once auth.test has told them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("migrate_bot.identity")

RETRY_SECONDS = 30.0


class BotIdentity:
    """The bot's token and ids for Bolt, from memory."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Learn the ids in the background, retrying while Slack does not answer."""
        self._task = asyncio.get_running_loop().create_task(self._learn())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Never hang a shutdown on a cancellation swallowed inside a client (Python < 3.12).
            await asyncio.wait({self._task}, timeout=2.0)

    async def _learn(self) -> None:
        while self.bot_user_id is None:
            try:
                response = await self.client.auth_test()
            except Exception as exc:
                log.warning("auth.test failed; retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.bot_user_id = response.get("user_id")
            self.bot_id = response.get("bot_id")

    def authorizer(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """Bolt's `authorize` function (no I/O); Bolt passes it arguments by parameter name."""

        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id,
                bot_token=self.client.token,
                bot_user_id=self.bot_user_id,
                bot_id=self.bot_id,
            )

        return authorize
