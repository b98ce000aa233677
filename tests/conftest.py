"""Fixtures the whole suite shares: a real Redis, a TLS front for it, the contracts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sandbox import contracts
from sandbox.redis_server import RedisServer
from sandbox.tls_proxy import TLSProxy

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real valkey-server for the whole test session."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, flushed empty before the test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def _tls_proxy(redis_server: RedisServer) -> Iterator[TLSProxy]:
    with TLSProxy("127.0.0.1", redis_server.port) as proxy:
        yield proxy


@pytest.fixture
def tls_proxy(_tls_proxy: TLSProxy, redis_url: str) -> TLSProxy:
    """A self-signed TLS front (like Heroku Key-Value Store) on the flushed server."""
    return _tls_proxy


@pytest.fixture
def tls_redis_url(tls_proxy: TLSProxy) -> str:
    """``rediss://`` URL of the TLS front on the flushed session server."""
    return tls_proxy.url


@pytest.fixture(scope="session")
def contracts_dir() -> Path:
    """The official Heroku and Slack schemas vendored in the package (never a skip)."""
    return contracts.directory()
