"""Play Slack towards the bot: signed slash commands and button clicks from a person, and
what Slack then shows that person (the ack, an error) stored as their ephemeral message."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.slack.blockkit import check_message
from sandbox.slack.workspace import Channel, Workspace

ACK_DEADLINE_SECONDS = 3.0


class NoSuchButtonError(LookupError):
    """The click names a button the person cannot see on that message."""


@dataclass(frozen=True)
class Response:
    """The bot's HTTP answer: status, the JSON body (None if not JSON) and the raw text."""

    status: int
    body: dict[str, Any] | None
    text: str
    elapsed: float

    @property
    def message(self) -> dict[str, Any]:
        """The ack as Slack reads it: a JSON message, or plain text taken as its `text`."""
        if self.body is not None:
            return self.body
        return {"text": self.text} if self.text.strip() else {}


class SlackDriver:
    """Sends signed slash commands and block_actions to the bot's `/slack/events` URL."""

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        standin_url: str,
        workspace: Workspace,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        self.bot_url = bot_url
        self.standin_url = standin_url.rstrip("/")
        self.workspace = workspace
        self._secret = signing_secret.encode()
        self._clock = clock
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SlackDriver(bot_url={self.bot_url!r}, standin_url={self.standin_url!r})"

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The two headers Slack adds to every request it sends the app."""
        ts = str(int(self._clock()) if timestamp is None else timestamp)
        digest = hmac.new(self._secret, b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
        }

    async def slash(
        self, user: str, text: str, channel: str = "C0OPS", command: str = "/migrate"
    ) -> Response:
        """`user` types `command text` in `channel`."""
        ws = self.workspace
        person = ws.users[user]
        where = ws.resolve_channel(channel)
        token = ws.issue_response_url(where.id, user)
        fields = {
            "token": ws.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "channel_id": where.id,
            "channel_name": where.name,
            "user_id": user,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(token),
            "trigger_id": self._trigger_id(),
        }
        response = await self._deliver(urlencode(fields).encode())
        self._show_ack(response, where, user, token, command)
        return response

    async def click(
        self,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
    ) -> Response:
        """`user` clicks button `action_id` (chosen by `value` if several) on a stored message."""
        ws = self.workspace
        person = ws.users[user]
        where = ws.resolve_channel(channel)
        message = ws.find_message(where.id, message_ts)
        ephemeral = None if message is not None else ws.find_ephemeral(user, message_ts)
        if message is not None:
            blocks, thread_ts = message.blocks, message.thread_ts
        elif ephemeral is not None:
            blocks, thread_ts = ephemeral.blocks, ephemeral.thread_ts
        else:
            raise NoSuchButtonError(f"{user} sees no message {message_ts} in {where.id}")
        block_id, button = _find_button(blocks, action_id, value)
        token = ws.issue_response_url(
            where.id,
            user,
            origin_ts=message_ts,
            origin_ephemeral=ephemeral is not None,
            thread_ts=thread_ts,
        )
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": where.id,
            "is_ephemeral": ephemeral is not None,
        }
        if thread_ts:
            container["thread_ts"] = thread_ts
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": person.name,
                "name": person.name,
                "team_id": ws.team_id,
            },
            "api_app_id": ws.app_id,
            "token": ws.verification_token,
            "container": container,
            "trigger_id": self._trigger_id(),
            "team": {"id": ws.team_id, "domain": ws.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": where.id, "name": where.name},
        }
        if message is not None:
            payload["message"] = ws.message_view(message)
        payload |= {
            "state": {"values": {}},
            "response_url": self._response_url(token),
            "actions": [_action(button, block_id, ws.next_ts())],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = await self._deliver(body)
        self._check_deadline(response, where, user, "block_actions")
        return response

    async def send_raw(self, body: bytes, headers: dict[str, str]) -> Response:
        """POST exactly these bytes and headers to the bot (for forged or broken signatures)."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=self._timeout, trust_env=False) as client:
            reply = await client.post(self.bot_url, content=body, headers=headers)
        return Response(
            reply.status_code, _json_body(reply), reply.text, time.monotonic() - started
        )

    async def _deliver(self, body: bytes) -> Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **self.sign(body)}
        return await self.send_raw(body, headers)

    def _show_ack(
        self, response: Response, where: Channel, user: str, token: str, command: str
    ) -> None:
        """Show the person what Slack shows after a slash command: the ack, or an error."""
        if not self._check_deadline(response, where, user, command):
            return
        ws = self.workspace
        if response.status != 200:
            ws.post_ephemeral(
                where.id,
                user,
                text=f'{command} failed with the error "dispatch_failed"',
                source="slack",
            )
            return
        ack = response.message
        if not ack.get("text") and not ack.get("blocks"):
            return
        verdict = check_message(ack.get("text"), ack.get("blocks"))
        for problem in [*verdict.errors, *verdict.warnings]:
            ws.record_violation("ack", problem)
        if verdict.error is not None:
            ws.post_ephemeral(
                where.id,
                user,
                text=f'{command} failed with the error "{verdict.error}"',
                source="slack",
            )
            return
        text, blocks = str(ack.get("text") or ""), verdict.blocks
        if ack.get("response_type") == "in_channel":
            ts = ws.post_message(where.id, text=text, blocks=blocks).ts
        else:
            ts = ws.post_ephemeral(where.id, user, text=text, blocks=blocks, source="ack").ts
        ws.rebind_response_url(token, ts, origin_ephemeral=ack.get("response_type") != "in_channel")

    def _check_deadline(self, response: Response, where: Channel, user: str, what: str) -> bool:
        """Slack gives up after 3 s: a slower ack is a violation and the person sees a timeout."""
        if response.elapsed <= ACK_DEADLINE_SECONDS:
            return True
        ws = self.workspace
        ws.record_violation("ack", f"{what} acked after {response.elapsed:.1f} s (Slack waits 3 s)")
        ws.post_ephemeral(
            where.id, user, text=f'{what} failed with the error "operation_timeout"', source="slack"
        )
        return False

    def _response_url(self, token: str) -> str:
        return f"{self.standin_url}/_responses/{token}"

    def _trigger_id(self) -> str:
        return f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def _find_button(
    blocks: list[dict[str, Any]], action_id: str, value: str | None
) -> tuple[str, dict[str, Any]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        found += [
            (str(block.get("block_id", "")), e)
            for e in elements
            if isinstance(e, dict) and e.get("type") == "button" and e.get("action_id") == action_id
        ]
    if value is not None:
        found = [(b, e) for b, e in found if e.get("value") == value]
    if len(found) != 1:
        which = f"{action_id!r}" + ("" if value is None else f" with value {value!r}")
        reason = "no button" if not found else f"{len(found)} buttons (pass value)"
        raise NoSuchButtonError(f"{reason} {which} on this message")
    return found[0]


def _action(button: dict[str, Any], block_id: str, action_ts: str) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action_id": button["action_id"],
        "block_id": block_id,
        "text": button.get("text"),
    }
    for optional in ("value", "style"):
        if optional in button:
            action[optional] = button[optional]
    return action | {"type": "button", "action_ts": action_ts}


def _json_body(reply: httpx.Response) -> dict[str, Any] | None:
    if not reply.text.strip():
        return None
    try:
        body = json.loads(reply.text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
