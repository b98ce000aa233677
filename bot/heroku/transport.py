"""One HTTP exchange with Heroku: headers, retries that are safe, rate pacing, audit records."""

from __future__ import annotations

import asyncio
import email.utils
import enum
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import httpx
from pydantic import SecretStr

from bot.heroku.errors import (
    HerokuAPIError,
    HerokuError,
    HerokuTimeout,
    HerokuTransportError,
    RateLimited,
    api_error_class,
)

log = logging.getLogger("migrate_bot.heroku")

ACCEPT = "application/vnd.heroku+json; version=3"
# Below this many tokens left, requests are spaced out instead of spending the last ones.
LOW_BUDGET = 100
# The account bucket refills at about 75 tokens a minute.
REFILL_SECONDS = 60 / 75
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# A longer Retry-After is handed to the caller (RateLimited) rather than slept through.
MAX_RETRY_AFTER = 120.0


class Retry(enum.Enum):
    """Which failures may be re-sent for a request."""

    # GET and side-effect-free POST actions (resolve).
    READ = "read"
    # Absolute PATCH, PUT unfollow, DELETE, dyno stop: re-sending lands in the same state.
    IDEMPOTENT = "idempotent"
    # Creates: only a 429 (refused before any effect) is re-sent here; the rest is the caller's.
    CREATE = "create"


_RETRY_STATUSES = {
    Retry.READ: frozenset({429, 500, 502, 503, 504}),
    Retry.IDEMPOTENT: frozenset({429, 502, 503, 504}),
    Retry.CREATE: frozenset({429}),
}


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt, for the audit stream; `status` is None when nothing came back.

    `error_id` is Heroku's error id, or "timeout" / "connection" when there was no answer.
    """

    method: str
    path: str
    status: int | None
    request_id: str
    duration_ms: float
    error_id: str | None
    attempt: int


def user_agent() -> str:
    """`migrate-bot/<version>` from the installed distribution."""
    try:
        version = metadata.version("migrate-bot")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"migrate-bot/{version}"


def backoff(attempt: int) -> float:
    """Exponential delay with jitter before re-sending after failure number `attempt` (1-based)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))
    jitter = random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto
    return ceiling / 2 + jitter


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Transport:
    """Sends requests with Heroku's headers and retries only what is safe to re-send."""

    def __init__(
        self,
        api_key: SecretStr,
        *,
        timeout: float,
        max_retries: int,
        on_call: Callable[[CallRecord], None] | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
        pacer: Callable[[float], Awaitable[float]] | None = None,
    ) -> None:
        self._api_key = api_key
        self._max_retries = max_retries
        self._on_call = on_call
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._user_agent = user_agent()
        self.rate_limit_remaining: int | None = None
        self._pace_lock = asyncio.Lock()
        self._last_slot = float("-inf")
        # Shared by every bot process when given (the budget is the account's, not ours).
        self._pacer = pacer

    @property
    def max_retries(self) -> int:
        return self._max_retries

    async def aclose(self) -> None:
        await self._http.aclose()

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def request(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        retry: Retry,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send until success or a failure that must not or cannot be retried, which is raised."""
        attempt = 0
        while True:
            attempt += 1
            await self._pace()
            try:
                return await self._attempt(
                    method, base_url, path, body=body, extra_headers=headers, attempt=attempt
                )
            except HerokuError as exc:
                delay = self._retry_delay(retry, exc, attempt)
                if delay is None:
                    raise
                await self._sleep(delay)

    def _retry_delay(self, retry: Retry, exc: HerokuError, attempt: int) -> float | None:
        if attempt > self._max_retries:
            return None
        if isinstance(exc, HerokuTransportError):
            return backoff(attempt) if retry is not Retry.CREATE else None
        if not isinstance(exc, HerokuAPIError) or exc.status not in _RETRY_STATUSES[retry]:
            return None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= MAX_RETRY_AFTER else None
        return backoff(attempt)

    async def _attempt(
        self,
        method: str,
        base_url: str,
        path: str,
        *,
        body: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
        attempt: int,
    ) -> httpx.Response:
        request_id = str(uuid.uuid4())
        headers = {
            "Accept": ACCEPT,
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
            "Request-Id": request_id,
            "User-Agent": self._user_agent,
            **(extra_headers or {}),
        }
        started = self._clock()
        response: httpx.Response | None = None
        error: HerokuError | None = None
        try:
            response = await self._http.request(method, base_url + path, headers=headers, json=body)
        except httpx.TimeoutException as exc:
            error = HerokuTimeout(method, path, f"no answer in time ({type(exc).__name__})")
        except httpx.TransportError as exc:
            error = HerokuTransportError(method, path, f"connection failed ({type(exc).__name__})")
        duration_ms = (self._clock() - started) * 1000
        if response is not None:
            self._note_budget(response)
            if response.status_code >= 400:
                error = self._api_error(method, path, response, request_id)
        status = response.status_code if response is not None else None
        error_id = _error_id(error)
        self._record(CallRecord(method, path, status, request_id, duration_ms, error_id, attempt))
        if error is not None:
            raise error
        assert response is not None
        return response

    def _api_error(
        self, method: str, path: str, response: httpx.Response, request_id: str
    ) -> HerokuAPIError:
        error_id, message, url = _error_body(response)
        # Heroku's text is shown to people; make sure it cannot carry our own key back out.
        message = message.replace(self._api_key.get_secret_value(), "[redacted]")
        cls = api_error_class(response.status_code, error_id)
        if cls is RateLimited:
            return RateLimited(
                response.status_code,
                error_id,
                message,
                url,
                request_id,
                method=method,
                path=path,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return cls(
            response.status_code, error_id, message, url, request_id, method=method, path=path
        )

    def _note_budget(self, response: httpx.Response) -> None:
        value = response.headers.get("RateLimit-Remaining")
        if value is not None and value.strip().isdigit():
            self.rate_limit_remaining = int(value)

    async def _pace(self) -> None:
        """Space request starts `interval` apart while the budget is low.

        Slots are reserved under a lock, so concurrent migrations sharing this client queue up
        instead of all firing at once.
        """
        remaining = self.rate_limit_remaining
        if self._pacer is not None and remaining is not None and remaining < LOW_BUDGET:
            interval = REFILL_SECONDS * (1 + (LOW_BUDGET - remaining) / LOW_BUDGET)
            delay = await self._pacer(interval)
            if delay > 0:
                await self._sleep(delay)
            return
        async with self._pace_lock:
            now = self._clock()
            if remaining is None or remaining >= LOW_BUDGET:
                self._last_slot = now
                return
            # Slower than the refill rate the lower the budget, so the budget climbs back.
            interval = REFILL_SECONDS * (1 + (LOW_BUDGET - remaining) / LOW_BUDGET)
            slot = max(now, self._last_slot + interval)
            self._last_slot = slot
        if slot > now:
            await self._sleep(slot - now)

    def _record(self, record: CallRecord) -> None:
        log.debug(
            "%s %s -> %s in %.0f ms (request %s, attempt %d)",
            record.method,
            record.path,
            record.status if record.status is not None else record.error_id,
            record.duration_ms,
            record.request_id,
            record.attempt,
        )
        if self._on_call is None:
            return
        try:
            self._on_call(record)
        except Exception:
            # The audit hook must not decide whether a platform call succeeded.
            log.exception("on_call hook failed for %s %s", record.method, record.path)


def _error_id(error: HerokuError | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, HerokuAPIError):
        return error.id
    return "timeout" if isinstance(error, HerokuTimeout) else "connection"


def _error_body(response: httpx.Response) -> tuple[str, str, str | None]:
    try:
        data = response.json()
    except ValueError:
        data = None
    fallback_id = "server_error" if response.status_code >= 500 else f"http_{response.status_code}"
    if not isinstance(data, dict):
        return fallback_id, response.reason_phrase or "no error body", None
    error_id = data.get("id")
    message = data.get("message")
    url = data.get("url")
    return (
        error_id if isinstance(error_id, str) and error_id else fallback_id,
        message if isinstance(message, str) and message else response.reason_phrase,
        url if isinstance(url, str) else None,
    )
