"""A TLS terminator with a self-signed certificate in front of a plain TCP server.

Heroku Key-Value Store serves ``rediss://`` with certificates no trust store
knows. This proxy reproduces that on loopback: its certificate comes from a
throwaway ``trustme`` CA, so a client that verifies certificates fails and one
configured the way Heroku documents (verification off, TLS on) gets through.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import trustme

T = TypeVar("T")
_CHUNK = 64 * 1024


class TLSProxy:
    """Accept TLS on 127.0.0.1:<free port> and pipe bytes to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tls-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    def __repr__(self) -> str:
        return f"TLSProxy(127.0.0.1:{self.port} -> {self.target_host}:{self.target_port})"

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, for a client that should trust this proxy."""
        pem: bytes = self.ca.cert_pem.bytes()
        return pem

    def start(self) -> TLSProxy:
        self._thread.start()
        self._run(self._start())
        return self

    async def _start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=5
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        target_w: asyncio.StreamWriter | None = None
        try:
            target_r, target_w = await asyncio.open_connection(self.target_host, self.target_port)
            # Either side closing ends both directions: Redis has no half-close.
            legs = [
                asyncio.ensure_future(_pump(client_r, target_w)),
                asyncio.ensure_future(_pump(target_r, client_w)),
            ]
            try:
                await asyncio.wait(legs, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for leg in legs:
                    leg.cancel()
                await asyncio.gather(*legs, return_exceptions=True)
        except asyncio.CancelledError:
            # A cut connection is reset at once, not closed politely: that is the blip.
            for writer in (client_w, target_w):
                if writer is not None:
                    writer.transport.abort()
            raise
        except OSError:
            pass
        finally:
            for writer in (target_w, client_w):
                if writer is not None:
                    await _close(writer)
            self._pipes.discard(task)

    def disconnect_all(self) -> None:
        """Cut every open connection, as a network blip or a server failover would."""
        self._run(self._cancel_pipes())

    async def _cancel_pipes(self) -> None:
        pipes = list(self._pipes)
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._run(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cancel_pipes()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def __enter__(self) -> TLSProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ConnectionError, ssl.SSLError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout=1)
