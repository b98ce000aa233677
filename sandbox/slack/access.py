"""What the bot's token may do, as Slack decides it: the scopes a method needs, and which
channels the bot can see and post in (membership, private channels, archives)."""

from __future__ import annotations

from sandbox.slack.workspace import Channel, SlackError, Workspace

# The bot scope each method needs whatever the channel; conversations.info depends on it.
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "users.info": "users:read",
    "conversations.join": "channels:join",
}
POST_ANYWHERE_SCOPE = "chat:write.public"
EMAIL_SCOPE = "users:read.email"


def missing_scope(ws: Workspace, needed: str) -> SlackError:
    """Slack's refusal, naming the scope needed and the ones the token has."""
    provided = ",".join(sorted(ws.scopes))
    return SlackError("missing_scope", needed, fields={"needed": needed, "provided": provided})


def require_scope(ws: Workspace, scope: str) -> None:
    if scope not in ws.scopes:
        raise missing_scope(ws, scope)


def require_method_scope(ws: Workspace, method: str) -> None:
    scope = METHOD_SCOPES.get(method)
    if scope is not None:
        require_scope(ws, scope)


def visible_channel(ws: Workspace, channel: str, *, by_name: bool = False) -> Channel:
    """The channel, unless it is private and the bot is not in it: then it does not exist."""
    found = ws.resolve_channel(channel, by_name=by_name)
    if found.is_private and not found.bot_member:
        raise SlackError("channel_not_found", found.id)
    return found


def postable_channel(ws: Workspace, channel: str, *, by_name: bool = False) -> Channel:
    """The channel if the bot may post there: not archived, and a member or chat:write.public."""
    found = visible_channel(ws, channel, by_name=by_name)
    if found.is_archived:
        raise SlackError("is_archived", found.id)
    if not found.bot_member and POST_ANYWHERE_SCOPE not in ws.scopes:
        raise SlackError("not_in_channel", found.id)
    return found
