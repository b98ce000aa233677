"""Slack thread updates for a migration: the engine's lifecycle hooks.

A notification that Slack refuses never stops a migration: it is logged, and anything the
engine depends on (a message ts) is retried on the next tick.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers import render
from state.models import Approval, Migration, StepName

log = logging.getLogger("migrate_bot.notify")


class Notifier:
    """Posts and updates the messages of a migration's thread."""

    def __init__(self, client: AsyncWebClient, *, caught_up_commits: int) -> None:
        self.client = client
        self.caught_up_commits = caught_up_commits

    async def _post(self, m: Migration, text: str, blocks: list[Any] | None = None) -> str | None:
        try:
            kwargs: dict[str, Any] = {"channel": m.channel, "text": text}
            if blocks is not None:
                kwargs["blocks"] = blocks
            if m.thread_ts:
                kwargs["thread_ts"] = m.thread_ts
            response = await self.client.chat_postMessage(**kwargs)
            ts = response.get("ts")
            return str(ts) if ts else None
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.warning("slack post failed", extra={"error": _error(exc)})
            return None

    async def _update(self, m: Migration, ts: str, text: str, blocks: list[Any]) -> bool:
        try:
            await self.client.chat_update(channel=m.channel, ts=ts, text=text, blocks=blocks)
            return True
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.warning("slack update failed", extra={"error": _error(exc)})
            return False

    async def start_thread(self, m: Migration) -> str | None:
        text, blocks = render.thread_parent(m)
        try:
            response = await self.client.chat_postMessage(
                channel=m.channel, text=text, blocks=blocks
            )
            ts = response.get("ts")
            return str(ts) if ts else None
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.warning("slack thread start failed", extra={"error": _error(exc)})
            return None

    async def refresh_parent(self, m: Migration) -> None:
        if m.thread_ts:
            text, blocks = render.thread_parent(m)
            await self._update(m, m.thread_ts, text, blocks)

    async def step_done(self, m: Migration, step: StepName, note: str) -> None:
        await self._post(m, render.step_done(m, step, note))
        if step is StepName.WAIT_CAUGHT_UP:
            await self._post(
                m,
                f":large_green_circle: The follower has caught up ({note}). "
                "Next: a second engineer approves the maintenance window.",
            )
        await self.refresh_parent(m)

    async def notice(self, m: Migration, text: str) -> None:
        await self._post(m, text)

    async def progress(self, m: Migration) -> str | None:
        """Create or update in place the one lag message; returns its ts."""
        text, blocks = render.progress_for(m, self.caught_up_commits)
        if m.progress_ts and await self._update(m, m.progress_ts, text, blocks):
            return m.progress_ts
        if m.progress_ts:
            return m.progress_ts
        return await self._post(m, text, blocks)

    async def approval_request(self, m: Migration, approval: Approval) -> str | None:
        text, blocks = render.approval_request(m, approval)
        ts = await self._post(m, text, blocks)
        await self.refresh_parent(m)
        return ts

    async def approval_closed(self, m: Migration, approval: Approval) -> None:
        if approval.message_ts:
            text, blocks = render.approval_closed(m, approval)
            await self._update(m, approval.message_ts, text, blocks)

    async def failed(self, m: Migration, error: str, hint: str) -> None:
        text, blocks = render.failed(m, error, hint)
        await self._post(m, text, blocks)
        await self.refresh_parent(m)

    async def finished(self, m: Migration) -> None:
        text, blocks = render.finished(m)
        await self._post(m, text, blocks)
        await self.refresh_parent(m)


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown"))
    return type(exc).__name__
