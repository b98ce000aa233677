"""The Slack stand-in's aiohttp app: Web API methods at `/api/<method>` and `/<method>`,
answered like Slack (HTTP 200 `{"ok": false, "error": code}`), plus hooks and control routes."""

from __future__ import annotations

import asyncio
import hmac
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.slack import access, control, directory, hooks
from sandbox.slack.contract import MethodContract, load_contracts
from sandbox.slack.faults import fault_response, slack_code
from sandbox.slack.methods import METHODS, Call
from sandbox.slack.workspace import SlackError, Workspace

# Errors that mean the caller broke the API contract, not that the world said no.
CONTRACT_ERRORS = frozenset(
    {
        "invalid_arguments",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "unknown_method",
        "invalid_json",
        "json_not_object",
        "invalid_post_type",
    }
)
TS_ARGS = ("ts", "thread_ts", "message_ts")
BARE_METHOD = r"(?!.*\.(?:ico|js|css|html|png|svg|map|txt|json)$)[a-z]+(?:\.[a-z][A-Za-z]*)+"


class WebApi:
    """Request handling for `/api/<method>`; holds the one bot token it accepts."""

    def __init__(
        self, workspace: Workspace, bot_token: str, contracts: dict[str, MethodContract]
    ) -> None:
        self.workspace = workspace
        self._bot_token = bot_token
        self._contracts = contracts

    def __repr__(self) -> str:
        return f"WebApi(team={self.workspace.team_id!r})"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        ws = self.workspace
        ws.record_call(method)
        fault = ws.take_fault(method)
        if fault is not None and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        if fault is not None and fault.error == "slow":
            fault = None
        code = None if fault is None else slack_code(fault)
        if fault is not None and code is None:
            return fault_response(request, fault)
        if code is not None:
            # Injected, so never the caller's mistake: not recorded as a violation.
            body = _error_body(_injected(ws, method, code))
        else:
            try:
                body = await self._answer(request, method)
            except SlackError as e:
                body = _error_body(e)
                if e.code in CONTRACT_ERRORS:
                    ws.record_violation(method, f"{e.code}: {'; '.join(e.errors) or e}")
        if _json_without_charset(request):
            _warn(body, "missing_charset")
        return web.json_response(body)

    async def _answer(self, request: web.Request, method: str) -> dict[str, Any]:
        query = dict(request.query)
        body_args, json_body = await _read_body(request)
        # Slack reads a token from the header or a form/query field, never from a JSON body.
        query_token = query.pop("token", None)
        form_token = _form_token(body_args, json_body)
        token = _bearer(request) or query_token or form_token
        if not token:
            raise SlackError("not_authed")
        if not hmac.compare_digest(token.encode(), self._bot_token.encode()):
            raise SlackError("invalid_auth")
        handler = METHODS.get(method)
        if handler is None:
            raise SlackError("unknown_method", method)
        contract = self._contracts.get(method)
        if contract is not None:
            for problem in contract.problems(query | body_args, json_body=json_body):
                self.workspace.record_violation(method, problem)
            if json_body and not contract.accepts_json:
                body_args = {}
        args = query | body_args
        if contract is not None and contract.required - set(args):
            missing = sorted(contract.required - set(args))
            raise SlackError("invalid_arguments", errors=[f"missing required field: {missing}"])
        for name in TS_ARGS:
            if name in args and not isinstance(args[name], str):
                raise SlackError(
                    "invalid_arguments",
                    errors=[f"{name} must be a string like '1700000000.000100'"],
                )
        access.require_method_scope(self.workspace, method)
        base_url = f"{request.scheme}://{request.host}"
        return METHODS[method](Call(self.workspace, method, args, base_url))


async def _read_body(request: web.Request) -> tuple[dict[str, Any], bool]:
    if not request.body_exists:
        return {}, False
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.text())
        except ValueError as e:
            raise SlackError("invalid_json") from e
        if not isinstance(body, dict):
            raise SlackError("json_not_object")
        return body, True
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}, False
    raise SlackError("invalid_post_type", request.content_type)


def _error_body(error: SlackError) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": error.code} | error.fields
    if error.errors:
        body["errors"] = error.errors
        body["response_metadata"] = {"messages": [f"[ERROR] {m}" for m in error.errors]}
    return body


def _injected(ws: Workspace, method: str, code: str) -> SlackError:
    """An injected Slack error, with the fields Slack adds to that code."""
    needed = access.METHOD_SCOPES.get(method)
    if code == "missing_scope" and needed is not None:
        return access.missing_scope(ws, needed)
    return SlackError(code, "injected fault")


def _warn(body: dict[str, Any], code: str) -> None:
    """Add a warning the way Slack lists several: all in `response_metadata`, joined in one."""
    warnings = body.setdefault("response_metadata", {}).setdefault("warnings", [])
    warnings.append(code)
    body["warning"] = ",".join(warnings)


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _form_token(body_args: dict[str, Any], json_body: bool) -> str | None:
    if json_body:
        return None
    token = body_args.pop("token", None)
    return token if isinstance(token, str) else None


def _json_without_charset(request: web.Request) -> bool:
    return request.content_type == "application/json" and request.charset is None


def create_app(
    workspace: Workspace, *, bot_token: str, contracts_dir: Path | None
) -> web.Application:
    """The stand-in app; `contracts_dir` holds the OpenAPI spec (None skips argument checks)."""
    contracts = load_contracts(contracts_dir) if contracts_dir is not None else {}
    api = WebApi(workspace, bot_token, contracts)
    app = web.Application()
    app.router.add_route("*", "/api/{method}", api.handle)
    hooks.register(app, workspace)
    control.register(app, workspace)
    directory.register(app, workspace)
    # Only method-shaped names at the root, so a page's /favicon.ico or /app.js is not shadowed.
    app.router.add_route("*", "/{method:" + BARE_METHOD + "}", api.handle)
    return app
