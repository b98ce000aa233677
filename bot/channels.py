"""Can the bot post a migration's thread in this channel? Asked once before "Started".

A private channel the bot was not invited to, or an archived one, refuses every message: the
start is refused with how to fix it, rather than a migration whose thread nobody can see. A
public channel is fine: the bot posts there with `chat:write.public`.
"""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

CACHE_SECONDS = 300.0
INVITE = "Invite it first (`/invite @migrate-bot` in that channel), or set MIGRATE_CHANNEL"


class ChannelCheck:
    """`conversations.info` on the channel, cached briefly; unknown means "try and see"."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack
        self._fine: dict[str, float] = {}

    async def problem(self, channel: str) -> str | None:
        """Why the bot cannot post in `channel`, or None (also when it cannot tell)."""
        if time.monotonic() - self._fine.get(channel, -CACHE_SECONDS) < CACHE_SECONDS:
            return None
        try:
            response = await self.slack.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "channel_not_found":
                return (
                    f"The bot cannot see <#{channel}>, so it could not post the migration's "
                    f"thread there. {INVITE} to a channel it is in. Nothing was started."
                )
            return None  # missing scope, a passing failure: the outbox will find out
        except Exception:
            return None
        info = response.get("channel") or {}
        if info.get("is_archived"):
            return f"<#{channel}> is archived; start the migration from another channel."
        if info.get("is_private") and not info.get("is_member"):
            return (
                f"The bot is not a member of the private channel <#{channel}>. {INVITE}. "
                "Nothing was started."
            )
        self._fine[channel] = time.monotonic()
        return None
