"""Turn an injected Fault into the HTTP answer Slack (or a broken network) would give."""

from __future__ import annotations

from aiohttp import web

from sandbox.slack.workspace import Fault


def fault_response(request: web.Request, fault: Fault) -> web.StreamResponse:
    """The response for `fault`: 429, a 5xx, a Slack error code, or a dropped connection."""
    if fault.error == "ratelimited":
        return web.json_response(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(fault.retry_after)},
        )
    if fault.error == "down":
        if request.transport is not None:
            # abort() closes without a response; the client sees a dropped connection.
            request.transport.abort()
        return web.Response()
    status = 500 if fault.error == "5xx" else _status(fault.error)
    if status is not None:
        return web.Response(status=status, text=f"{status} injected fault")
    return web.json_response({"ok": False, "error": fault.error})


def _status(error: str) -> int | None:
    if error.isdigit() and 500 <= int(error) <= 599:
        return int(error)
    return None
