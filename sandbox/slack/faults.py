"""Turn an injected Fault into the HTTP answer Slack (or a broken network) would give."""

from __future__ import annotations

from aiohttp import web

from sandbox.slack.workspace import Fault

TRANSPORT_FAULTS = frozenset({"ratelimited", "down", "5xx"})
# Hooks answer a status and the code as text (api.slack.com/changelog/
# 2016-05-17-changes-to-errors-for-incoming-webhooks); anything unlisted is a 400.
HOOK_STATUS: dict[str, int] = {
    "action_prohibited": 403,
    "posting_to_general_channel_denied": 403,
    "invalid_token": 403,
    "channel_not_found": 404,
    "no_service": 404,
    "team_disabled": 404,
    "expired_url": 404,
    "used_url": 404,
    "channel_is_archived": 410,
}


def slack_code(fault: Fault) -> str | None:
    """The Slack error code the fault answers with; None for 429s, 5xx and dropped links."""
    if fault.error in TRANSPORT_FAULTS or _status(fault.error) is not None:
        return None
    return fault.error


def hook_status(code: str) -> int:
    """The HTTP status a response_url answers a Slack error code with."""
    return HOOK_STATUS.get(code, 400)


def fault_response(request: web.Request, fault: Fault, *, hook: bool = False) -> web.StreamResponse:
    """The response for `fault`: 429, a 5xx, a Slack error code, or a dropped connection.

    `hook` answers a Slack code as a response_url does (status and text), not as JSON."""
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
    if hook:
        return web.Response(status=hook_status(fault.error), text=fault.error)
    return web.json_response({"ok": False, "error": fault.error})


def _status(error: str) -> int | None:
    if error.isdigit() and 500 <= int(error) <= 599:
        return int(error)
    return None
