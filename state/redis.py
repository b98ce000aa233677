"""Redis clients for the bot, from ``REDIS_URL``, with Heroku's TLS rules.

Heroku Key-Value Store serves ``rediss://`` with self-signed certificates, so TLS
stays on but certificate verification is off, as Heroku documents for redis-py.
The URL may carry a password: it never reaches a log line, a repr or an error;
use ``redacted()`` to name the server.

Commands are retried on connection errors and timeouts with backoff, which is
right for idempotent commands and for WATCH/MULTI/EXEC (a dropped connection
while watching raises WatchError instead). A non-idempotent command (INCR, XADD
without an explicit id) may run twice after a dropped reply; pass ``retries=0``
for a client that must never repeat one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from redis.backoff import ExponentialWithJitterBackoff

DEFAULT_PORT = 6379
HEALTH_CHECK_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 5.0
SOCKET_TIMEOUT_SECONDS = 10.0
CLIENT_NAME = "migrate-bot"


class RedisURLError(ValueError):
    """``REDIS_URL`` is not a redis:// or rediss:// URL we can use."""


def redacted(url: str) -> str:
    """``scheme://host:port/db`` with any user and password left out."""
    try:
        parts = _parse(url)
    except RedisURLError:
        return "<invalid redis url>"
    host = f"[{parts['host']}]" if ":" in parts["host"] else parts["host"]
    return f"{parts['scheme']}://{host}:{parts['port']}/{parts['db']}"


def connect(
    url: str, *, retries: int = 3, socket_timeout: float = SOCKET_TIMEOUT_SECONDS
) -> redis.asyncio.Redis:
    """An asyncio client for ``url`` (connects lazily, on the first command)."""
    retry = redis.asyncio.retry.Retry(_backoff(), retries)
    return redis.asyncio.Redis(retry=retry, **_options(url, socket_timeout))


def connect_sync(
    url: str, *, retries: int = 3, socket_timeout: float = SOCKET_TIMEOUT_SECONDS
) -> redis.Redis:
    """A blocking client for ``url``, same settings as ``connect``."""
    return redis.Redis(
        retry=redis.retry.Retry(_backoff(), retries), **_options(url, socket_timeout)
    )


def _backoff() -> ExponentialWithJitterBackoff:
    # Rides out a blip; a longer outage surfaces as ConnectionError to the caller.
    return ExponentialWithJitterBackoff(base=0.1, cap=2.0)


def _options(url: str, socket_timeout: float) -> dict[str, Any]:
    parts = _parse(url)
    options: dict[str, Any] = {
        "host": parts["host"],
        "port": parts["port"],
        "db": parts["db"],
        "username": parts["username"],
        "password": parts["password"],
        "decode_responses": True,
        "client_name": CLIENT_NAME,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": socket_timeout,
        "socket_keepalive": True,
    }
    if parts["scheme"] == "rediss":
        options |= {"ssl": True, "ssl_cert_reqs": None, "ssl_check_hostname": False}
    return options


def _parse(url: str) -> dict[str, Any]:
    # Messages here name the part that is wrong, never the URL: it may hold a password.
    try:
        split = urlsplit(url)
        port = split.port or DEFAULT_PORT
    except ValueError:
        raise RedisURLError("REDIS_URL is not a valid URL") from None
    if split.scheme not in ("redis", "rediss"):
        raise RedisURLError("REDIS_URL must start with redis:// or rediss://")
    if not split.hostname:
        raise RedisURLError("REDIS_URL has no host")
    if split.query or split.fragment:
        raise RedisURLError("REDIS_URL options (?...) are not supported")
    path = split.path.strip("/") or "0"
    if not path.isdigit():
        raise RedisURLError("REDIS_URL database (the path) must be a number")
    return {
        "scheme": split.scheme,
        "host": split.hostname,
        "port": port,
        "db": int(path),
        "username": unquote(split.username) if split.username else None,
        "password": unquote(split.password) if split.password else None,
    }
