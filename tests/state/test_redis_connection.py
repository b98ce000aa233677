"""The bot's Redis connection, and the real servers the suite runs it against."""

from __future__ import annotations

import os
import socket
import traceback

import pytest
import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from sandbox.redis_server import RedisServer, RedisServerError, free_port
from sandbox.tls_proxy import TLSProxy
from state.redis import RedisURLError, connect, connect_sync, redacted

SECRET = "hunter2-s3cret"


async def test_a_redis_url_gives_a_plain_client_that_decodes_strings(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        await client.set("greeting", "héllo")
        assert await client.get("greeting") == "héllo"
        assert client.connection_pool.connection_class is redis.asyncio.Connection
    finally:
        await client.aclose()


async def test_a_rediss_url_reaches_a_self_signed_endpoint_over_tls(
    tls_redis_url: str, redis_url: str
) -> None:
    client = connect(tls_redis_url)
    try:
        await client.set("through-tls", "yes")
    finally:
        await client.aclose()
    assert client.connection_pool.connection_class is redis.asyncio.SSLConnection
    with redis.Redis.from_url(redis_url, decode_responses=True) as plain:
        assert plain.get("through-tls") == "yes"


def test_the_sync_client_also_accepts_the_self_signed_endpoint(tls_redis_url: str) -> None:
    with connect_sync(tls_redis_url) as client:
        client.set("sync", "1")
        assert client.get("sync") == "1"


async def test_a_client_that_verifies_certificates_is_refused_by_the_endpoint(
    tls_proxy: TLSProxy,
) -> None:
    verifying = redis.asyncio.Redis(
        host="127.0.0.1",
        port=tls_proxy.port,
        ssl=True,
        ssl_cert_reqs="required",
        retry=Retry(NoBackoff(), 0),
    )
    try:
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await verifying.ping()
    finally:
        await verifying.aclose()
    trusting = redis.asyncio.Redis(
        host="127.0.0.1",
        port=tls_proxy.port,
        ssl=True,
        ssl_ca_data=tls_proxy.ca_pem.decode(),
    )
    try:
        assert await trusting.ping() is True, "the same client trusting the CA gets through"
    finally:
        await trusting.aclose()


async def test_the_tls_endpoint_refuses_a_plaintext_client(tls_proxy: TLSProxy) -> None:
    client = connect(f"redis://127.0.0.1:{tls_proxy.port}/0", retries=0, socket_timeout=2)
    try:
        with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
            await client.ping()
    finally:
        await client.aclose()


async def test_a_client_rides_out_a_dropped_connection(tls_proxy: TLSProxy) -> None:
    client = connect(tls_proxy.url)
    try:
        await client.set("before", "drop")
        tls_proxy.disconnect_all()
        assert await client.get("before") == "drop"
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"rediss://:{SECRET}@ec2-3-1.compute-1.amazonaws.com:12790", None),
        (f"redis://default:{SECRET}@127.0.0.1:6380/2", "redis://127.0.0.1:6380/2"),
        (f"redis://h:{SECRET.replace('-', '%2D')}@[::1]/3", "redis://[::1]:6379/3"),
        (f"redis://{SECRET}@localhost", "redis://localhost:6379/0"),
        (f"http://:{SECRET}@localhost:1", "<invalid redis url>"),
        (f"redis://:{SECRET}@localhost:notaport", "<invalid redis url>"),
    ],
)
def test_redacted_names_scheme_host_port_and_db_but_never_the_credentials(
    url: str, expected: str | None
) -> None:
    shown = redacted(url)
    assert SECRET not in shown
    assert "hunter2" not in shown
    if expected is None:
        assert shown == "rediss://ec2-3-1.compute-1.amazonaws.com:12790/0"
    else:
        assert shown == expected


@pytest.mark.parametrize(
    "url",
    [
        f"http://:{SECRET}@localhost:1",
        f"redis://:{SECRET}@localhost:notaport",
        f"redis://:{SECRET}@localhost:1/db",
        f"redis://:{SECRET}@localhost:1/0?ssl_cert_reqs=required",
        f"redis://:{SECRET}@:1/0",
    ],
)
def test_an_unusable_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(RedisURLError) as caught:
        connect(url)
    assert "hunter2" not in "".join(traceback.format_exception(caught.value))


async def test_a_failed_connect_names_host_and_port_and_never_the_password() -> None:
    port = free_port()
    client = connect(f"redis://:{SECRET}@127.0.0.1:{port}/0", retries=1)
    try:
        with pytest.raises(redis.ConnectionError) as caught:
            await client.ping()
    finally:
        await client.aclose()
    assert f"127.0.0.1:{port}" in str(caught.value)
    shown = "".join(traceback.format_exception(caught.value)) + repr(client)
    assert "hunter2" not in shown


async def test_a_wrong_password_is_reported_without_echoing_it() -> None:
    with RedisServer(password="the-right-one") as server:
        client = connect(f"redis://:{SECRET}@127.0.0.1:{server.port}/0", retries=0)
        try:
            with pytest.raises(redis.AuthenticationError) as caught:
                await client.ping()
        finally:
            await client.aclose()
        with redis.Redis.from_url(server.url) as authorized:
            assert authorized.ping() is True
        assert "the-right-one" not in repr(server)
    assert "hunter2" not in "".join(traceback.format_exception(caught.value))


async def test_a_persistent_server_keeps_data_across_a_terminate_or_a_kill() -> None:
    with RedisServer(persistent=True) as server:
        port, first_pid = server.port, server.pid
        client = connect(server.url)
        try:
            await client.set("survives", "sigterm")
            server.restart()
            assert await client.get("survives") == "sigterm"
            await client.set("survives", "sigkill")
            server.restart(kill=True)
            assert await client.get("survives") == "sigkill"
        finally:
            await client.aclose()
        assert server.port == port
        assert server.pid != first_pid


def test_a_default_server_keeps_nothing_across_a_restart() -> None:
    with RedisServer() as server:
        with redis.Redis.from_url(server.url) as client:
            client.set("ephemeral", "1")
        server.restart()
        with redis.Redis.from_url(server.url) as client:
            assert client.get("ephemeral") is None


def test_stop_leaves_no_process_and_no_directory() -> None:
    server = RedisServer(persistent=True).start()
    pid, directory = server.pid, server.directory
    assert pid is not None and directory is not None
    assert directory.is_dir()
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not directory.exists()
    assert server.pid is None


def test_a_taken_port_fails_with_the_server_log_and_leaves_nothing_behind() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        server = RedisServer(port=squatter.getsockname()[1])
        with pytest.raises(RedisServerError, match="in use") as caught:
            server.start()
    assert "server log tail" in str(caught.value)
    assert server.pid is None and server.directory is None
