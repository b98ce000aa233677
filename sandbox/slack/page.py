"""The ops channel as a web page: `GET /`, the state it polls and the slash commands and clicks
it sends, which go through the SlackDriver so the bot receives exactly what Slack would send."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from sandbox.slack.driver import NoSuchButtonError, SlackDriver
from sandbox.slack.workspace import Channel, Message, User, Workspace

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_CHANNEL = "C0OPS"
COMMAND = "/migrate"
MAX_WAIT_SECONDS = 25.0
WAKE_INTERVAL_SECONDS = 0.05
# The page loads nothing from elsewhere; the policy also stops any markup that slips through.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

DriverFactory = Callable[[], SlackDriver | None]


class PageError(Exception):
    """A request the page cannot serve, answered as `{"ok": false, "error", "message"}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def response(self) -> web.Response:
        body = {"ok": False, "error": self.code, "message": str(self)}
        return web.json_response(body, status=self.status)


class Page:
    """Route handlers of the page, over one workspace and the driver once the bot is known."""

    def __init__(self, workspace: Workspace, driver_factory: DriverFactory) -> None:
        self.workspace = workspace
        self._driver_factory = driver_factory
        self._closing = False

    def __repr__(self) -> str:
        return f"Page(team={self.workspace.team_id!r})"

    async def close(self, _: web.Application) -> None:
        """Release waiting long polls so the server can stop without waiting them out."""
        self._closing = True

    async def index(self, _: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC_DIR / "index.html")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        return response

    async def state(self, request: web.Request) -> web.Response:
        try:
            user = self._viewer(request.query.get("user"))
            channel = self._channel(request.query.get("channel"))
            since = _number(request.query.get("since"), "since", int)
            wait = _number(request.query.get("wait"), "wait", float) or 0.0
        except PageError as e:
            return e.response()
        if since is not None:
            await self._wait_past(int(since), min(max(wait, 0.0), MAX_WAIT_SECONDS))
        return web.json_response(self.snapshot(user, channel))

    async def slash(self, request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            user = self._person(body.get("user"))
            channel = self._channel(body.get("channel"))
            args = _command_args(body.get("text"))
            _open_for_typing(self.workspace.channels[channel])
            driver = self._driver()
        except PageError as e:
            return e.response()
        try:
            reply = await driver.slash(user.id, args, channel, COMMAND)
        except httpx.HTTPError:
            # What Slack shows when the app's URL does not answer at all.
            self.workspace.post_ephemeral(
                channel,
                user.id,
                text=f'{COMMAND} failed with the error "dispatch_failed"',
                source="slack",
            )
            return _failure(502, "dispatch_failed", "The bot did not answer the slash command.")
        return web.json_response({"ok": True, "status": reply.status})

    async def click(self, request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            user = self._person(body.get("user"))
            channel = self._channel(body.get("channel"))
            message_ts = _required_text(body, "message_ts")
            action_id = _required_text(body, "action_id")
            value = body.get("value")
            if value is not None and not isinstance(value, str):
                raise PageError(400, "invalid_arguments", "value must be a string")
            driver = self._driver()
        except PageError as e:
            return e.response()
        try:
            reply = await driver.click(user.id, channel, message_ts, action_id, value)
        except NoSuchButtonError as e:
            return _failure(409, "no_such_button", str(e))
        except httpx.HTTPError:
            return _failure(502, "dispatch_failed", "The bot did not answer the click.")
        return web.json_response({"ok": True, "status": reply.status})

    # --- reading the workspace -----------------------------------------------------------

    def snapshot(self, user: User | None, channel: str) -> dict[str, Any]:
        """Everything the page draws for `user` in `channel`; thread items sit under the parent."""
        ws = self.workspace
        # Read the revision first: a change made meanwhile only costs the page one more poll.
        revision = ws.revision
        messages = ws.messages(channel)
        parents = [m for m in messages if not m.thread_ts or m.thread_ts == m.ts]
        replies: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            if message.thread_ts and message.thread_ts != message.ts:
                replies.setdefault(message.thread_ts, []).append(self._row(message))
        at_root, in_thread = self._ephemerals(user, channel, {m.ts for m in parents})
        rows = [
            self._row(m) | {"replies": replies.get(m.ts, []), "ephemerals": in_thread.get(m.ts, [])}
            for m in parents
        ]
        return {
            "ok": True,
            "revision": revision,
            "team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.team_domain},
            "channel": ws.channels[channel].to_api(),
            "channels": [_channel_row(c) for c in list(ws.channels.values())],
            "users": [_user_row(u) for u in list(ws.users.values())],
            "viewer": user.id if user else None,
            "bot_user_id": ws.bot_user_id,
            "messages": rows,
            "ephemerals": at_root,
        }

    def _ephemerals(
        self, user: User | None, channel: str, parents: set[str]
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """The viewer's ephemerals at the channel root, and those in each thread by parent ts."""
        at_root: list[dict[str, Any]] = []
        in_thread: dict[str, list[dict[str, Any]]] = {}
        for ephemeral in self.workspace.ephemerals(user.id, channel) if user else []:
            if ephemeral.thread_ts in parents:
                in_thread.setdefault(str(ephemeral.thread_ts), []).append(ephemeral.to_api())
            else:
                # A thread whose parent is gone cannot be opened; the root keeps it visible.
                at_root.append(ephemeral.to_api())
        return at_root, in_thread

    def _row(self, message: Message) -> dict[str, Any]:
        row = self.workspace.message_view(message)
        person = self.workspace.users.get(message.user)
        row["user_name"] = person.name if person else message.user
        row["is_bot"] = message.bot_id is not None
        return row

    async def _wait_past(self, since: int, wait: float) -> None:
        deadline = time.monotonic() + wait
        # Changes arrive from other threads too (the driver, tests), so watch the counter.
        while self.workspace.revision <= since and not self._closing:
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(WAKE_INTERVAL_SECONDS)

    # --- validating input ----------------------------------------------------------------

    def _driver(self) -> SlackDriver:
        driver = self._driver_factory()
        if driver is None:
            raise PageError(503, "bot_not_ready", "The bot is not running yet; try again soon.")
        return driver

    def _viewer(self, user_id: str | None) -> User | None:
        return None if user_id is None else self._person(user_id)

    def _person(self, user_id: object) -> User:
        person = self.workspace.users.get(user_id) if isinstance(user_id, str) else None
        if person is None or person.deleted:
            raise PageError(400, "user_not_found", f"No person {user_id!r} in this workspace.")
        if person.is_bot:
            raise PageError(400, "user_is_bot", f"{person.name} is a bot and cannot type here.")
        return person

    def _channel(self, channel_id: object) -> str:
        channel = DEFAULT_CHANNEL if channel_id is None else channel_id
        if not isinstance(channel, str) or channel not in self.workspace.channels:
            raise PageError(404, "channel_not_found", f"No channel {channel!r}.")
        return channel


def _command_args(text: object) -> str:
    """The arguments of a `/migrate` line; anything else is refused as Slack refuses it."""
    line = text.strip() if isinstance(text, str) else ""
    if not line:
        raise PageError(400, "no_text", "Type a command, like /migrate help.")
    command, _, args = line.partition(" ")
    if not command.startswith("/"):
        raise PageError(
            400,
            "not_a_command",
            f"Only slash commands reach the bot in this sandbox. Try {COMMAND} help.",
        )
    if command != COMMAND:
        raise PageError(
            400,
            "invalid_command",
            f"{command} is not a valid command. In Slack, all messages that start with "
            'the "/" character are interpreted as commands.',
        )
    return args.strip()


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text())
    except ValueError as e:
        raise PageError(400, "invalid_json", "The body is not JSON.") from e
    if not isinstance(body, dict):
        raise PageError(400, "invalid_json", "The body must be a JSON object.")
    return body


def _required_text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise PageError(400, "invalid_arguments", f"{name} is required")
    return value


def _number(raw: str | None, name: str, kind: type[int] | type[float]) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        number = kind(raw)
    except ValueError as e:
        raise PageError(400, "invalid_arguments", f"{name} must be a number") from e
    if not math.isfinite(number):
        raise PageError(400, "invalid_arguments", f"{name} must be a finite number")
    return number


def _failure(status: int, code: str, message: str) -> web.Response:
    return PageError(status, code, message).response()


def _open_for_typing(channel: Channel) -> None:
    """Slack shows an archived channel without a composer, so nothing can be typed there."""
    if channel.is_archived:
        raise PageError(409, "is_archived", f"#{channel.name} is archived; nobody can type in it.")


def _channel_row(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_member": channel.bot_member,
    }


def _user_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "real_name": user.real_name,
        "is_bot": user.is_bot,
        "deleted": user.deleted,
    }


def register_page(
    app: web.Application, workspace: Workspace, driver_factory: DriverFactory
) -> None:
    """Serve the page from `app`; call before the app starts (its router freezes then)."""
    page = Page(workspace, driver_factory)
    app.on_shutdown.append(page.close)
    app.router.add_get("/", page.index)
    app.router.add_get("/_page/state", page.state)
    app.router.add_post("/_page/slash", page.slash)
    app.router.add_post("/_page/click", page.click)
    app.router.add_static("/_page/static", STATIC_DIR)
