"""A tiny scripted Heroku for the client's fault tests: replies queued per route, requests recorded.

Not the sandbox's Heroku stand-in: this one knows nothing, it answers what a test scripts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from sandbox.server import ThreadedServer

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None


def reply(
    status: int = 200,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    stall: float = 0.0,
    effect: Callable[[], None] | None = None,
) -> Reply:
    """A JSON answer; `body` may be a callable evaluated at request time; `effect` runs first,
    then the answer waits `stall` seconds (to outlast a client timeout)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if effect is not None:
            effect()
        if stall:
            await asyncio.sleep(stall)
        value = body() if callable(body) else body
        if value is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(value, status=status, headers=headers)

    return handler


def error(status: int, error_id: str, message: str, **headers: str) -> Reply:
    """A Heroku error body `{id, message, url}`."""
    body = {"id": error_id, "message": message, "url": "https://devcenter.heroku.com/x"}
    return reply(status, body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def drop() -> Reply:
    """Close the connection without answering."""

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    return handler


class HerokuFake:
    """Routes are (METHOD, path) → replies used in order, the last one repeating."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._routes: dict[tuple[str, str], list[Reply]] = {}
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._server = ThreadedServer(app)

    @property
    def url(self) -> str:
        return self._server.url

    def route(self, method: str, path: str, *replies: Reply) -> None:
        self._routes[(method, path)] = list(replies)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and (path is None or s.path == path)
        ]

    def start(self) -> HerokuFake:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.seen.append(Seen(request.method, request.raw_path, CIMultiDict(request.headers), raw))
        replies = self._routes.get((request.method, request.raw_path))
        if not replies:
            return web.json_response(
                {"id": "not_found", "message": "Couldn't find that route."}, status=404
            )
        handler = replies.pop(0) if len(replies) > 1 else replies[0]
        return await handler(request)
