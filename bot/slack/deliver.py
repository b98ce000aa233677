"""Delivers each migration's outbox to Slack, in order, whatever Slack is doing.

Notices are written to Redis in the same transaction as the state change that caused them, so
nothing is lost when Slack is rate limiting, failing or down: delivery resumes where it stopped.
One process at a time delivers a migration's outbox (a lease in Redis). A message is removed
from the outbox only after Slack took it, so a crash between the two can post it twice, never
zero times. Errors a retry cannot fix (the bot is not in the channel, the channel is archived,
the token is revoked) are not retried: the message is dropped, logged and, where a person can
fix it, the requester is told how.
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
from bot.slack import render
from bot.slack.mrkdwn import neutralize
from state.errors import MigrationNotFound
from state.models import Migration, Notice
from state.repository import Repository

log = logging.getLogger("migrate_bot.notify")

# Short, and renewed while delivering: a crashed process must not hold Slack up for long.
LEASE_MS = 5_000
MAX_BACKOFF = 60.0
# The runbook message is edited at most this often (chat.update is Tier 3), and every few
# seconds while the app is down, so that "down for N s" stays true.
LIVE_MIN_SECONDS = 1.0
DOWN_REFRESH_SECONDS = 5.0
# Slack errors worth retrying: its own passing failures. Every other error code is permanent.
_TRANSIENT = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable"}
    | {"request_timeout"}
)
# Permanent for every message to the channel, until a person fixes the channel.
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


class _Later(Exception):
    """Stop delivering this outbox for now; try again after `delay` seconds."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class _Refused(Exception):
    """Slack refused for good (`error`): retrying the same call cannot help."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


Record = Callable[[Migration], None]


class Deliverer:
    """Drains outboxes and keeps each runbook message (the thread's first) up to date."""

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
        self._live_at: dict[str, float] = {}
        self._shown_down: dict[str, bool] = {}
        self._refresh: dict[str, asyncio.TimerHandle] = {}
        self._joined: set[str] = set()

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
                stop = asyncio.Event()
                heartbeat = asyncio.create_task(self._heartbeat(migration_id, stop))
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
                    # An event, not only a cancel: a cancellation swallowed inside redis-py
                    # (Python < 3.12) would leave it renewing the lease forever.
                    stop.set()
                    heartbeat.cancel()
                    with contextlib.suppress(Exception):
                        await self.repo.release_delivery(migration_id, self.holder)
        finally:
            self._busy.discard(migration_id)

    async def _heartbeat(self, migration_id: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LEASE_MS / 3000)
            if stop.is_set():
                return
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
        asyncio.get_running_loop().call_later(later.delay, self.kick, migration_id)

    def _later(self, migration_id: str, delay: float) -> None:
        """One pending refresh of the runbook message per migration: the soonest wins."""
        loop = asyncio.get_running_loop()
        pending = self._refresh.get(migration_id)
        if pending is not None and pending.when() <= loop.time() + delay:
            return
        if pending is not None:
            pending.cancel()
        self._refresh[migration_id] = loop.call_later(delay, self._wake, migration_id)

    def _wake(self, migration_id: str) -> None:
        self._refresh.pop(migration_id, None)
        self.kick(migration_id)

    async def _drain(self, migration_id: str) -> None:
        while (notice := await self.repo.outbox_head(migration_id)) is not None:
            await self.repo.acquire_delivery(migration_id, self.holder, LEASE_MS)
            m = await self.repo.get(migration_id)
            try:
                record = await self._send(m, notice)
            except _Refused as refused:
                record = await self._refused(m, notice, refused)

            def apply(m: Migration, record: Record | None = record) -> Migration:
                if record is not None:
                    record(m)
                return m

            await self.repo.update(migration_id, apply, pop_notice=True)
        await self.repo.settle_deliveries(migration_id)

    async def _refused(self, m: Migration, notice: Notice, refused: _Refused) -> Record | None:
        """A permanent refusal: join the channel once if that can fix it, else drop and tell."""
        if refused.error == "not_in_channel" and m.channel not in self._joined:
            self._joined.add(m.channel)
            if await self._join(m):
                try:
                    return await self._send(m, notice)
                except _Refused as again:
                    refused = again
        log.error(
            "slack refused a message for good; dropped",
            extra={"method": refused.method, "error": refused.error, "notice": notice.kind},
        )
        if refused.error not in CHANNEL_ERRORS or m.delivery_problem == refused.error:
            return None
        await self._tell_requester(m, refused.error)
        error = refused.error

        def record(m: Migration) -> None:
            m.delivery_problem = error

        return record

    async def _join(self, m: Migration) -> bool:
        """`conversations.join` (public channels, scope channels:join); False if it cannot."""
        try:
            await self.client.conversations_join(channel=m.channel)
        except SlackApiError as exc:
            log.warning(
                "could not join the channel", extra={"error": str(exc.response.get("error"))}
            )
            return False
        except (aiohttp.ClientError, OSError, TimeoutError):
            return False
        log.info("joined the channel to post there")
        return True

    async def _tell_requester(self, m: Migration, error: str) -> None:
        """How to let the bot post again, to the requester only (best effort, never raises)."""
        text = (
            f":warning: migrate-bot cannot post the thread of {m.id} in <#{m.channel}> "
            f"(Slack says `{error}`). Invite the bot there (`/invite @migrate-bot`), or set "
            f"MIGRATE_CHANNEL to a channel it is in. Meanwhile `/migrate status {m.id}` shows "
            "where it is; approvals are asked again when their requests expire."
        )
        for method, kwargs in (
            ("chat_postEphemeral", {"channel": m.channel, "user": m.requested_by}),
            ("chat_postMessage", {"channel": m.requested_by}),
        ):
            with contextlib.suppress(Exception):
                await self._call(method, m, text=text, **kwargs)
                return

    async def _send(self, m: Migration, notice: Notice) -> Record | None:
        opened: Record | None = None
        if notice.kind == "thread" or (m.thread_ts is None and m.delivery_problem):
            # After the channel refused the thread, each new notice tries to open it again.
            opened = await self._open_thread(m)
            if notice.kind == "thread":
                return opened
            if opened is not None:
                opened(m)
        if m.thread_ts is None:
            raise _Later(1.0, "the thread is not open yet")
        return _both(opened, await self._send_in_thread(m, notice))

    async def _send_in_thread(self, m: Migration, notice: Notice) -> Record | None:
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

    async def _open_thread(self, m: Migration) -> Record | None:
        if m.thread_ts:
            return None
        text, blocks = render.thread_parent(m, threshold=self.caught_up_commits)
        ts = await self._call("chat_postMessage", m, channel=m.channel, text=text, blocks=blocks)
        self._live_at[m.id] = time.monotonic()
        return None if ts is None else _set_thread(ts, m.parent_rev)

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
        """Edit the runbook message when it is behind the state (or, while down, every few s)."""
        m = await self.repo.get(migration_id)
        if not m.thread_ts:
            return
        now = time.monotonic()
        last = self._live_at.get(migration_id, 0.0)
        ticking = m.down and now - last >= DOWN_REFRESH_SECONDS
        if m.parent_rev <= m.parent_shown and not ticking:
            if m.down:
                self._later(migration_id, DOWN_REFRESH_SECONDS - (now - last))
            return
        # The app going down or coming back is shown at once; other changes are coalesced.
        turned = self._shown_down.get(migration_id, False) != m.down
        if now - last < LIVE_MIN_SECONDS and not turned:
            self._later(migration_id, LIVE_MIN_SECONDS - (now - last))
            return
        rev = m.parent_rev
        text, blocks = render.thread_parent(m, threshold=self.caught_up_commits)
        self._live_at[migration_id] = now
        self._shown_down[migration_id] = m.down
        with contextlib.suppress(_Refused):  # logged below; the state is what matters
            await self._call(
                "chat_update", m, channel=m.channel, ts=m.thread_ts, text=text, blocks=blocks
            )
        await self.repo.update(migration_id, _shown(rev))
        if m.down:
            self._later(migration_id, DOWN_REFRESH_SECONDS)

    async def _call(self, method: str, m: Migration, **kwargs: Any) -> str | None:
        """One Web API call, scrubbed and neutralized at the edge; the message's ts, if any."""
        kwargs["text"] = neutralize(self.scrub(kwargs["text"]))
        if kwargs.get("blocks") is not None:
            kwargs["blocks"] = json.loads(neutralize(self.scrub(json.dumps(kwargs["blocks"]))))
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
            if status >= 500 or error in _TRANSIENT:
                raise _Later(self._backoff(m.id), f"{method} failed: {error or status}") from None
            if method == "chat_update":
                log.error("slack refused an update", extra={"error": error})
            raise _Refused(method, error or str(status)) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Later(self._backoff(m.id), f"slack unreachable: {type(exc).__name__}") from None
        ts = response.get("ts")
        return str(ts) if ts else None


def _both(first: Record | None, second: Record | None) -> Record | None:
    if first is None or second is None:
        return first or second

    def record(m: Migration) -> None:
        first(m)
        second(m)

    return record


def _set_thread(ts: str, rev: int) -> Record:
    def record(m: Migration) -> None:
        if m.thread_ts is None:
            m.thread_ts = ts
            m.parent_shown = max(m.parent_shown, rev)
            m.delivery_problem = None

    return record


def _set_approval_ts(key: str, ts: str, notice: Notice) -> Record:
    def record(m: Migration) -> None:
        m.messages[key] = ts
        current = m.approvals.get(notice.gate) if notice.gate else None
        if current is not None and current.nonce == notice.nonce:
            m.approvals[current.gate] = current.model_copy(update={"message_ts": ts})

    return record


def _shown(rev: int) -> Callable[[Migration], Migration]:
    def change(m: Migration) -> Migration:
        m.parent_shown = max(m.parent_shown, rev)
        return m

    return change
