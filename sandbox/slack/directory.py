"""Control routes under `/_standin/` that set up the workspace: channels (kind, archive,
bot membership), people and their emails, and the scopes the bot's token was granted."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.slack.workspace import Channel, SlackError, User, Workspace

USER_FLAGS = ("is_admin", "is_bot", "deleted")
USER_TEXTS = ("name", "real_name", "tz")
Handler = Callable[[web.Request], Awaitable[web.Response]]


class BadRequestError(ValueError):
    """A control request whose body does not say what to set up."""


def register(app: web.Application, workspace: Workspace) -> None:
    ws = workspace

    async def get_scopes(_: web.Request) -> web.Response:
        return _ok(scopes=sorted(ws.scopes))

    async def put_scopes(request: web.Request) -> web.Response:
        scopes = (await _body(request)).get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise BadRequestError("scopes must be a list of strings")
        ws.set_scopes(set(scopes))
        return _ok(scopes=sorted(ws.scopes))

    async def add_channel(request: web.Request) -> web.Response:
        body = await _body(request)
        channel = ws.add_channel(
            _text(body, "id"),
            _text(body, "name"),
            private=_flag(body, "private", default=False),
            bot_member=_flag(body, "bot_member", default=True),
        )
        if _flag(body, "archived", default=False):
            channel = ws.archive_channel(channel.id)
        return _ok(channel=channel.to_api())

    def channel_change(change: Callable[[str], Channel]) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            return _ok(channel=change(request.match_info["channel"]).to_api())

        return handle

    async def upsert_user(request: web.Request) -> web.Response:
        user = _user(ws, await _body(request))
        ws.add_user(user)
        return _ok(user=user.to_api(ws.team_id, email=True))

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_standin/scopes", get_scopes),
        ("PUT", "/_standin/scopes", put_scopes),
        ("POST", "/_standin/channels", add_channel),
        ("POST", "/_standin/channels/{channel}/archive", channel_change(ws.archive_channel)),
        ("POST", "/_standin/channels/{channel}/remove_bot", channel_change(ws.remove_bot)),
        ("POST", "/_standin/channels/{channel}/add_bot", channel_change(ws.add_bot)),
        ("POST", "/_standin/users", upsert_user),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _answering_errors(handler))


def _answering_errors(handler: Handler) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except BadRequestError as e:
            return web.json_response({"ok": False, "error": f"bad request: {e}"}, status=400)
        except SlackError as e:
            return web.json_response({"ok": False, "error": e.code}, status=404)

    return handle


def _user(ws: Workspace, body: dict[str, Any]) -> User:
    """The user the body describes: a new one, or the known one with the given fields changed."""
    changes: dict[str, Any] = {}
    for name in USER_TEXTS:
        if name in body:
            changes[name] = _text(body, name)
    for name in USER_FLAGS:
        if name in body:
            changes[name] = _flag(body, name, default=False)
    if "email" in body:
        email = body["email"]
        if email is not None and not isinstance(email, str):
            raise BadRequestError("email must be a string or null")
        changes["email"] = email
    user_id = _text(body, "id")
    known = ws.users.get(user_id)
    if known is not None:
        return dataclasses.replace(known, **changes)
    if "name" not in changes:
        raise BadRequestError("a new user needs a name")
    changes.setdefault("real_name", changes["name"])
    return User(id=user_id, **changes)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as e:
        raise BadRequestError("the body is not JSON") from e
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"{name} must be a non-empty string")
    return value


def _flag(body: dict[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequestError(f"{name} must be true or false")
    return value


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields})
