"""The Web API methods the bot uses, as plain functions from arguments to a Slack answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.slack import access
from sandbox.slack.blockkit import Verdict, check_message
from sandbox.slack.workspace import Channel, SlackError, Workspace

TRUE_FLAGS = frozenset({"1", "true"})


@dataclass(frozen=True)
class Call:
    """One authenticated call: its method, arguments, and where the stand-in is served."""

    workspace: Workspace
    method: str
    args: dict[str, Any]
    base_url: str

    def arg(self, name: str) -> str | None:
        value = self.args.get(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool:
        """A boolean argument, as the SDK sends it ("1") or as JSON does (true)."""
        value = self.args.get(name)
        return value is True or str(value).lower() in TRUE_FLAGS

    def note(self, detail: str) -> None:
        self.workspace.record_violation(self.method, detail)


Method = Callable[[Call], dict[str, Any]]


def auth_test(call: Call) -> dict[str, Any]:
    ws = call.workspace
    return {
        "ok": True,
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": "migrate-bot",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(call: Call) -> dict[str, Any]:
    ws = call.workspace
    channel = access.postable_channel(ws, call.arg("channel") or "", by_name=True)
    verdict = _judged(call)
    thread_ts = _thread_parent(call, channel, call.arg("thread_ts"))
    message = ws.post_message(
        channel.id, text=call.arg("text") or "", blocks=verdict.blocks, thread_ts=thread_ts
    )
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": message.to_api()}


def chat_update(call: Call) -> dict[str, Any]:
    ws = call.workspace
    # chat.update takes a channel id only; names are not resolved as postMessage does.
    channel = access.postable_channel(ws, call.arg("channel") or "")
    verdict = _judged(call)
    message = ws.update_message(
        channel.id, call.arg("ts") or "", text=call.arg("text"), blocks=verdict.blocks
    )
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(),
    }


def chat_post_ephemeral(call: Call) -> dict[str, Any]:
    ws = call.workspace
    channel = access.postable_channel(ws, call.arg("channel") or "", by_name=True)
    user = call.arg("user") or ""
    if user not in ws.users:
        raise SlackError("user_not_in_channel", user)
    verdict = _judged(call)
    ephemeral = ws.post_ephemeral(
        channel.id,
        user,
        text=call.arg("text") or "",
        blocks=verdict.blocks,
        source="chat.postEphemeral",
        thread_ts=_thread_parent(call, channel, call.arg("thread_ts")),
    )
    return {"ok": True, "message_ts": ephemeral.ts}


def chat_get_permalink(call: Call) -> dict[str, Any]:
    ws = call.workspace
    channel = access.visible_channel(ws, call.arg("channel") or "")
    message = ws.find_message(channel.id, call.arg("message_ts") or "")
    if message is None:
        raise SlackError("message_not_found")
    link = f"{call.base_url}/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.thread_ts:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


def usergroups_users_list(call: Call) -> dict[str, Any]:
    ws = call.workspace
    if not ws.usergroups_enabled:
        raise SlackError("plan_upgrade_required")
    members = ws.usergroups.get(call.arg("usergroup") or "")
    if members is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(members)}


def users_info(call: Call) -> dict[str, Any]:
    ws = call.workspace
    user = ws.users.get(call.arg("user") or "")
    if user is None:
        raise SlackError("user_not_found")
    shown = user.to_api(
        ws.team_id, email=access.EMAIL_SCOPE in ws.scopes, locale=call.flag("include_locale")
    )
    return {"ok": True, "user": shown}


def conversations_info(call: Call) -> dict[str, Any]:
    ws = call.workspace
    channel = access.visible_channel(ws, call.arg("channel") or "")
    access.require_scope(ws, "groups:read" if channel.is_private else "channels:read")
    body = channel.to_api()
    if call.flag("include_locale"):
        body["locale"] = "en-US"
    if call.flag("include_num_members"):
        # Every person is in every channel here; the bot counts only while it is a member.
        people = [u for u in ws.users.values() if not u.is_bot and not u.deleted]
        body["num_members"] = len(people) + int(channel.bot_member)
    return {"ok": True, "channel": body}


def conversations_join(call: Call) -> dict[str, Any]:
    ws = call.workspace
    channel = ws.resolve_channel(call.arg("channel") or "")
    if channel.is_private:
        # Only a person can bring a bot into a private channel, with /invite.
        raise SlackError("method_not_supported_for_channel_type", channel.id)
    if channel.is_archived:
        raise SlackError("is_archived", channel.id)
    if channel.bot_member:
        return {
            "ok": True,
            "channel": channel.to_api(),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    return {"ok": True, "channel": ws.add_bot(channel.id).to_api()}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "usergroups.users.list": usergroups_users_list,
    "users.info": users_info,
    "conversations.info": conversations_info,
    "conversations.join": conversations_join,
}


def _judged(call: Call) -> Verdict:
    verdict = check_message(
        call.args.get("text"), call.args.get("blocks"), attachments=call.args.get("attachments")
    )
    if verdict.error is not None:
        raise SlackError(verdict.error, "; ".join(verdict.errors), errors=verdict.errors)
    for warning in verdict.warnings:
        call.note(warning)
    return verdict


def _thread_parent(call: Call, channel: Channel, thread_ts: str | None) -> str | None:
    """The thread a reply lands in; Slack wants the parent's ts, never a reply's."""
    if not thread_ts:
        return None
    parent = call.workspace.find_message(channel.id, thread_ts)
    if parent is None:
        call.note(f"thread_ts {thread_ts} names no message in {channel.id}")
        return thread_ts
    if parent.thread_ts and parent.thread_ts != parent.ts:
        call.note(f"thread_ts {thread_ts} is a reply; use the parent's ts {parent.thread_ts}")
        return parent.thread_ts
    return thread_ts
