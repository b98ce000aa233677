"""response_url endpoints: what Bolt's `respond()` posts to, answered like hooks.slack.com."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from sandbox.slack.blockkit import check_message
from sandbox.slack.faults import fault_response, hook_status
from sandbox.slack.workspace import ResponseUrl, SlackError, Workspace

HOOK = "response_url"
HOOK_FIELDS = frozenset(
    {
        "text",
        "blocks",
        "attachments",
        "response_type",
        "replace_original",
        "delete_original",
        "thread_ts",
        "unfurl_links",
        "unfurl_media",
        "metadata",
        "mrkdwn",
    }
)
# Refusals that come from the channel's state, not from what the bot sent.
WORLD_ERRORS = frozenset({"channel_is_archived"})


def register(app: web.Application, workspace: Workspace) -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        fault = workspace.take_fault(HOOK)
        if fault is not None:
            return fault_response(request, fault, hook=True)
        try:
            entry = workspace.use_response_url(request.match_info["token"])
        except SlackError as e:
            return web.Response(status=hook_status(e.code), text=e.code)
        try:
            body = await _payload(request)
            _deliver(workspace, entry, body)
        except SlackError as e:
            if e.code not in WORLD_ERRORS:
                workspace.record_violation(HOOK, f"{e.code}: {e}")
            return web.Response(status=hook_status(e.code), text=e.code)
        return web.Response(text="ok")

    app.router.add_post("/_responses/{token}", handle)


async def _payload(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if request.content_type == "application/x-www-form-urlencoded":
        raw = str((await request.post()).get("payload", ""))
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise SlackError("invalid_payload", "body is not JSON") from e
    if not isinstance(body, dict):
        raise SlackError("invalid_payload", "body is not a JSON object")
    return body


def _deliver(ws: Workspace, entry: ResponseUrl, body: dict[str, Any]) -> None:
    channel = ws.channels.get(entry.channel)
    if channel is not None and channel.is_archived:
        # A response_url needs no membership, but an archived channel takes no messages.
        raise SlackError("channel_is_archived", entry.channel)
    for name in sorted(set(body) - HOOK_FIELDS):
        ws.record_violation(HOOK, f"unknown field '{name}'")
    response_type = body.get("response_type", "ephemeral")
    if response_type not in ("ephemeral", "in_channel"):
        raise SlackError("invalid_payload", f"response_type {response_type!r}")
    if body.get("delete_original"):
        _delete_origin(ws, entry)
        return
    verdict = check_message(
        body.get("text"), body.get("blocks"), attachments=body.get("attachments")
    )
    if verdict.error is not None:
        raise SlackError(verdict.error, "; ".join(verdict.errors))
    for warning in verdict.warnings:
        ws.record_violation(HOOK, warning)
    text = str(body.get("text") or "")
    blocks = verdict.blocks or []
    if body.get("replace_original") and entry.origin_ts is not None:
        if entry.origin_ephemeral:
            ws.replace_ephemeral(entry.user, entry.origin_ts, text=text, blocks=blocks)
        else:
            ws.update_message(entry.channel, entry.origin_ts, text=text, blocks=blocks)
        return
    thread_ts = body.get("thread_ts") or entry.thread_ts
    if response_type == "in_channel":
        ts = ws.post_message(entry.channel, text=text, blocks=blocks, thread_ts=thread_ts).ts
    else:
        ts = ws.post_ephemeral(
            entry.channel, entry.user, text=text, blocks=blocks, source=HOOK, thread_ts=thread_ts
        ).ts
    if entry.origin_ts is None:
        # A slash command has no original message; its first response becomes the one to replace.
        ws.rebind_response_url(entry.token, ts, origin_ephemeral=response_type == "ephemeral")


def _delete_origin(ws: Workspace, entry: ResponseUrl) -> None:
    if entry.origin_ts is None:
        raise SlackError("invalid_payload", "delete_original with no original message")
    if entry.origin_ephemeral:
        ws.delete_ephemeral(entry.user, entry.origin_ts)
    else:
        ws.delete_message(entry.channel, entry.origin_ts)
