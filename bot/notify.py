"""Delivers each migration's outbox to Slack, in order, whatever Slack is doing.

Notices are written to Redis in the same transaction as the state change that caused them, so
nothing is lost when Slack is rate limiting, failing or down: delivery resumes where it stopped.
One process at a time delivers a migration's outbox (a lease in Redis). A message is removed
from the outbox only after Slack took it, so a crash between the two can post it twice, never
zero times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import Scrubber, migration_context
from handlers import render
from state.models import Migration, Notice
from state.repository import MigrationNotFound, Repository

log = logging.getLogger("migrate_bot.notify")

# Short, and renewed while delivering: a crashed process must not hold Slack up for long.
LEASE_MS = 5_000
MAX_BACKOFF = 60.0
# Slack errors that retrying cannot fix: the notice is dropped (and logged) so the rest flows.
_PERMANENT = {
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "no_text",
    "invalid_arguments",
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
}


class _Later(Exception):
    """Stop delivering this outbox for now; try again after `delay` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


Record = Callable[[Migration], None]


class Deliverer:
    """Drains outboxes and keeps the live messages (thread head, lag) up to date."""

    def __init__(
        self,
        repo: Repository,
        client: AsyncWebClient,
        *,
        caught_up_commits: int,
        scrub: Scrubber | None = None,
        holder: str | None = None,
    ) -> None:
        self.repo = repo
        self.client = client
        self.caught_up_commits = caught_up_commits
        self.scrub = scrub or Scrubber()
        self.holder = holder or f"deliverer-{secrets.token_hex(6)}"
        self._busy: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def kick(self, migration_id: str) -> None:
        """Deliver soon, in the background (never on a caller's critical path)."""
        task = asyncio.get_running_loop().create_task(self.deliver(migration_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_all(self, ids: list[str]) -> None:
        """Start delivering every outbox with something in it, each on its own task."""
        for migration_id in sorted(set(await self.repo.pending_deliveries()) | set(ids)):
            self.kick(migration_id)

    async def deliver(self, migration_id: str) -> None:
        if migration_id in self._busy or time.monotonic() < self._retry_at.get(migration_id, 0):
            return
        self._busy.add(migration_id)
        try:
            with migration_context(migration_id):
                if not await self.repo.acquire_delivery(migration_id, self.holder, LEASE_MS):
                    return
                heartbeat = asyncio.create_task(self._heartbeat(migration_id))
                try:
                    await self._drain(migration_id)
                    await self._live(migration_id)
                    self._failures.pop(migration_id, None)
                except _Later as later:
                    self._postpone(migration_id, later)
                except MigrationNotFound:
                    pass
                except Exception:
                    log.exception("notification delivery failed")
                    self._postpone(migration_id, _Later(self._backoff(migration_id), "error"))
                finally:
                    heartbeat.cancel()
                    with contextlib.suppress(Exception):
                        await self.repo.release_delivery(migration_id, self.holder)
        finally:
            self._busy.discard(migration_id)

    async def _heartbeat(self, migration_id: str) -> None:
        while True:
            await asyncio.sleep(LEASE_MS / 3000)
            with contextlib.suppress(Exception):
                await self.repo.acquire_delivery(migration_id, self.holder, LEASE_MS)

    def _backoff(self, migration_id: str) -> float:
        failures = self._failures.get(migration_id, 0) + 1
        self._failures[migration_id] = failures
        return float(min(2 ** (failures - 1), MAX_BACKOFF))

    def _postpone(self, migration_id: str, later: _Later) -> None:
        log.warning(
            "slack delivery postponed", extra={"reason": later.reason, "delay": later.delay}
        )
        self._retry_at[migration_id] = time.monotonic() + later.delay
        loop = asyncio.get_running_loop()
        loop.call_later(later.delay, self.kick, migration_id)

    async def _drain(self, migration_id: str) -> None:
        while (notice := await self.repo.outbox_head(migration_id)) is not None:
            await self.repo.acquire_delivery(migration_id, self.holder, LEASE_MS)
            m = await self.repo.get(migration_id)
            record = await self._send(m, notice)

            def apply(m: Migration, record: Record | None = record) -> Migration:
                if record is not None:
                    record(m)
                return m

            await self.repo.update(migration_id, apply, pop_notice=True)
        await self.repo.settle_deliveries(migration_id)

    async def _send(self, m: Migration, notice: Notice) -> Record | None:
        if notice.kind == "thread":
            if m.thread_ts:
                return None
            text, blocks = render.thread_parent(m)
            ts = await self._call(
                "chat_postMessage", m, channel=m.channel, text=text, blocks=blocks
            )
            rev = m.parent_rev
            return None if ts is None else _set_thread(ts, rev)
        if m.thread_ts is None:
            raise _Later(1.0, "the thread is not open yet")
        if notice.kind == "post":
            await self._post(m, notice)
            return None
        key = f"approval:{notice.nonce}"
        if notice.kind == "approval":
            ts = await self._post(m, notice)
            return None if ts is None else _set_approval_ts(key, ts, notice)
        ts = m.messages.get(key)
        if ts is not None:
            await self._call(
                "chat_update", m, channel=m.channel, ts=ts, text=notice.text, blocks=notice.blocks
            )
        return None

    async def _post(self, m: Migration, notice: Notice) -> str | None:
        kwargs: dict[str, Any] = {
            "channel": m.channel,
            "text": notice.text,
            "thread_ts": m.thread_ts,
        }
        if notice.blocks is not None:
            kwargs["blocks"] = notice.blocks
        return await self._call("chat_postMessage", m, **kwargs)

    async def _live(self, migration_id: str) -> None:
        m = await self.repo.get(migration_id)
        if m.thread_ts and m.parent_rev > m.parent_shown:
            text, blocks = render.thread_parent(m)
            await self._call(
                "chat_update", m, channel=m.channel, ts=m.thread_ts, text=text, blocks=blocks
            )
            rev = m.parent_rev
            await self.repo.update(migration_id, _shown("parent_shown", rev))
        if m.thread_ts and m.progress_rev > m.progress_shown:
            text, blocks = render.progress_for(m, self.caught_up_commits)
            rev = m.progress_rev
            if m.progress_ts:
                await self._call(
                    "chat_update", m, channel=m.channel, ts=m.progress_ts, text=text, blocks=blocks
                )
                await self.repo.update(migration_id, _shown("progress_shown", rev))
            else:
                ts = await self._call(
                    "chat_postMessage",
                    m,
                    channel=m.channel,
                    thread_ts=m.thread_ts,
                    text=text,
                    blocks=blocks,
                )
                await self.repo.update(migration_id, _progress_posted(ts, rev))

    async def _call(self, method: str, m: Migration, **kwargs: Any) -> str | None:
        """One Web API call with secrets scrubbed; the ts of the message, if any."""
        kwargs["text"] = self.scrub(kwargs["text"])
        if kwargs.get("blocks") is not None:
            kwargs["blocks"] = json.loads(self.scrub(json.dumps(kwargs["blocks"])))
        try:
            response = await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            status = exc.response.status_code
            if status == 429 or error in ("ratelimited", "rate_limited"):
                retry = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                    "retry-after"
                )
                raise _Later(float(retry) if retry else 1.0, "ratelimited") from None
            if error in _PERMANENT:
                log.error(
                    "slack refused a message; dropped", extra={"method": method, "error": error}
                )
                return None
            raise _Later(self._backoff(m.id), f"{method} failed: {error or status}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Later(self._backoff(m.id), f"slack unreachable: {type(exc).__name__}") from None
        ts = response.get("ts")
        return str(ts) if ts else None


def _set_thread(ts: str, rev: int) -> Record:
    def record(m: Migration) -> None:
        if m.thread_ts is None:
            m.thread_ts = ts
            m.parent_shown = max(m.parent_shown, rev)

    return record


def _set_approval_ts(key: str, ts: str, notice: Notice) -> Record:
    def record(m: Migration) -> None:
        m.messages[key] = ts
        current = m.approvals.get(notice.gate) if notice.gate else None
        if current is not None and current.nonce == notice.nonce:
            m.approvals[current.gate] = current.model_copy(update={"message_ts": ts})

    return record


def _shown(field: str, rev: int) -> Callable[[Migration], Migration]:
    def change(m: Migration) -> Migration:
        setattr(m, field, max(getattr(m, field), rev))
        return m

    return change


def _progress_posted(ts: str | None, rev: int) -> Callable[[Migration], Migration]:
    def change(m: Migration) -> Migration:
        if ts is not None and m.progress_ts is None:
            m.progress_ts = ts
        m.progress_shown = max(m.progress_shown, rev)
        return m

    return change
