"""Control routes under `/_standin/`: what tests and the sandbox page read and inject."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from sandbox.slack.workspace import Message, Workspace


def register(app: web.Application, workspace: Workspace) -> None:
    ws = workspace

    def message_row(message: Message) -> dict[str, Any]:
        row = ws.message_view(message)
        row["channel"] = message.channel
        row["edits"] = [dataclasses.asdict(edit) for edit in message.edits]
        return row

    async def messages(request: web.Request) -> web.Response:
        rows = [message_row(m) for m in ws.messages(request.query.get("channel"))]
        return web.json_response({"ok": True, "revision": ws.revision, "messages": rows})

    async def ephemeral(request: web.Request) -> web.Response:
        found = ws.ephemerals(request.query.get("user"), request.query.get("channel"))
        rows = [e.to_api() for e in found]
        return web.json_response({"ok": True, "revision": ws.revision, "messages": rows})

    async def violations(_: web.Request) -> web.Response:
        rows = [dataclasses.asdict(v) for v in list(ws.violations)]
        return web.json_response({"ok": True, "violations": rows})

    async def calls(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "calls": list(ws.calls)})

    async def list_faults(_: web.Request) -> web.Response:
        rows = [dataclasses.asdict(f) for f in list(ws.faults)]
        return web.json_response({"ok": True, "faults": rows})

    async def add_fault(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            ws.add_fault(
                str(body["method"]),
                str(body["error"]),
                times=int(body.get("times", 1)),
                retry_after=int(body.get("retry_after", 1)),
            )
        except (ValueError, KeyError, TypeError) as e:
            return web.json_response({"ok": False, "error": f"bad fault: {e}"}, status=400)
        return web.json_response({"ok": True})

    async def clear_faults(_: web.Request) -> web.Response:
        ws.clear_faults()
        return web.json_response({"ok": True})

    async def users(_: web.Request) -> web.Response:
        # The tester's view: emails whatever the bot's scopes.
        rows = [u.to_api(ws.team_id, email=True) for u in list(ws.users.values())]
        return web.json_response({"ok": True, "users": rows})

    async def channels(_: web.Request) -> web.Response:
        rows = [c.to_api() for c in list(ws.channels.values())]
        return web.json_response({"ok": True, "channels": rows})

    app.router.add_get("/_standin/messages", messages)
    app.router.add_get("/_standin/ephemeral", ephemeral)
    app.router.add_get("/_standin/violations", violations)
    app.router.add_get("/_standin/calls", calls)
    app.router.add_get("/_standin/faults", list_faults)
    app.router.add_post("/_standin/faults", add_fault)
    app.router.add_delete("/_standin/faults", clear_faults)
    app.router.add_get("/_standin/users", users)
    app.router.add_get("/_standin/channels", channels)
