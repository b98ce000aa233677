"""The Slack stand-in's state (users, channels, messages, threads, ephemerals); no HTTP.
The web app's thread and the driver's share one Workspace, so every access takes its lock."""

from __future__ import annotations

import copy
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_SECONDS = 30 * 60
# The bot scopes manifest.yml asks for; a workspace grants all of them unless a test says not.
MANIFEST_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:read",
        "groups:read",
        "usergroups:read",
        "users:read",
        "users:read.email",
    }
)


class SlackError(Exception):
    """A Slack error code, answered as `{"ok": false, "error": code}` plus any `fields`."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        errors: list[str] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.errors = errors or []
        self.fields = fields or {}


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/London"
    email: str | None = None
    locale: str = "en-US"

    def to_api(self, team_id: str, *, email: bool = False, locale: bool = False) -> dict[str, Any]:
        """The `user` object of users.info; Slack adds `email` and `locale` only when asked."""
        body: dict[str, Any] = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "tz": self.tz,
            "profile": {
                "display_name": self.name,
                "display_name_normalized": self.name,
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "team": team_id,
            },
        }
        if email and self.email is not None:
            body["profile"]["email"] = self.email
        if locale:
            body["locale"] = self.locale
        return body


@dataclass(frozen=True)
class Channel:
    """A channel as the bot knows it; `bot_member` is whether the bot is in it."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    bot_member: bool = True

    def to_api(self) -> dict[str, Any]:
        """The `channel` object of conversations.info, seen by the bot."""
        # Private channels made before 2021 have G ids and still answer as groups.
        legacy_group = self.is_private and self.id.startswith("G")
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not legacy_group,
            "is_group": legacy_group,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": self.bot_member,
            "created": 1_700_000_000,
        }


@dataclass(frozen=True)
class Revision:
    """A message as it was before an edit replaced it."""

    text: str
    blocks: list[dict[str, Any]]
    replaced_at: str


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    team: str
    bot_id: str | None = None
    app_id: str | None = None
    thread_ts: str | None = None
    edited_ts: str | None = None
    deleted: bool = False
    edits: list[Revision] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """The message as Slack's API shows it."""
        body: dict[str, Any] = {"type": "message", "text": self.text, "user": self.user}
        if self.bot_id:
            body |= {"bot_id": self.bot_id, "app_id": self.app_id}
        if self.blocks:
            body["blocks"] = copy.deepcopy(self.blocks)
        body |= {"ts": self.ts, "team": self.team}
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if self.edited_ts:
            body["edited"] = {"user": self.user, "ts": self.edited_ts}
        return body


@dataclass
class Ephemeral:
    """A message only `user` sees; `source` says how it came (ack, response_url, ...)."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    source: str
    thread_ts: str | None = None
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "channel": self.channel,
            "user": self.user,
            "ts": self.ts,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "source": self.source,
        }
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        return body


@dataclass(frozen=True)
class Violation:
    """A request Slack would refuse or frown on; tests of the bot expect none."""

    method: str
    detail: str


@dataclass
class Fault:
    """The next `times` calls of `method` ("*": any) fail: `error` is "ratelimited", "down",
    "5xx"/"500".."599", or ANY Slack code ("not_in_channel", "missing_scope", ...), answered as
    Slack does: HTTP 200 `{"ok": false, "error": code}`; a response_url gets status + code."""

    method: str
    error: str
    times: int = 1
    retry_after: int = 1
    # Seconds the answer is held back first; with `error` "slow" the call then succeeds.
    delay_seconds: float = 0.0


@dataclass
class ResponseUrl:
    """One response_url handed to the bot, with what it may still do."""

    token: str
    channel: str
    user: str
    issued_at: float
    origin_ts: str | None = None
    origin_ephemeral: bool = False
    thread_ts: str | None = None
    uses: int = 0


def default_users() -> list[User]:
    return [
        User("U0ALICE", "alice", "Alice Engineer", email="alice@example.com"),
        User("U0BOB", "bob", "Bob Engineer", email="bob@example.com"),
        User("U0MIGRATEBOT", "migrate-bot", "Migrate Bot", is_bot=True),
    ]


class Workspace:
    """One Slack team: state only, guarded by a lock."""

    def __init__(
        self,
        *,
        team_id: str = "T0SANDBOX",
        team_domain: str = "sandbox",
        usergroups_enabled: bool = True,
        strict_channels: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = "Sandbox"
        self.usergroups_enabled = usergroups_enabled
        self.strict_channels = strict_channels
        self.bot_user_id = "U0MIGRATEBOT"
        self.bot_id = "B0MIGRATEBOT"
        self.app_id = "A0MIGRATEBOT"
        # The deprecated per-app verification token Slack still puts in payloads; not a secret.
        self.verification_token = "sandbox-verification-token"  # noqa: S105
        self.clock = clock
        self.users: dict[str, User] = {u.id: u for u in default_users()}
        self.channels: dict[str, Channel] = {"C0OPS": Channel("C0OPS", "ops")}
        self.usergroups: dict[str, list[str]] = {"S0APPROVERS": ["U0BOB"]}
        self.scopes: set[str] = set(MANIFEST_SCOPES)
        self.violations: list[Violation] = []
        self.faults: list[Fault] = []
        self.calls: list[str] = []
        self.revision = 0
        self._messages: list[Message] = []
        self._ephemerals: list[Ephemeral] = []
        self._response_urls: dict[str, ResponseUrl] = {}
        self._last_ts_us = 0
        self._lock = threading.RLock()

    # --- bookkeeping -------------------------------------------------------------------

    def record_call(self, method: str) -> None:
        with self._lock:
            self.calls.append(method)

    def record_violation(self, method: str, detail: str) -> None:
        with self._lock:
            self.violations.append(Violation(method, detail))

    def add_fault(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        retry_after: int = 1,
        delay_seconds: float = 0.0,
    ) -> None:
        """Make the next `times` calls of `method` ("*" for any) fail with `error` ("slow":
        answer normally, `delay_seconds` late)."""
        with self._lock:
            self.faults.append(Fault(method, error, times, retry_after, delay_seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method in (method, "*") and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
            return None

    def next_ts(self) -> str:
        """A message timestamp: unique, increasing, formatted like Slack's."""
        with self._lock:
            now_us = int(self.clock() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            seconds, micros = divmod(self._last_ts_us, 1_000_000)
            return f"{seconds}.{micros:06d}"

    def _changed(self) -> None:
        self.revision += 1

    # --- directory ---------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        """Add `user`, or replace the user with that id."""
        with self._lock:
            self.users[user.id] = user
            self._changed()

    def set_email(self, user_id: str, email: str | None) -> User:
        with self._lock:
            user = self.users.get(user_id)
            if user is None:
                raise SlackError("user_not_found", user_id)
            self.add_user(replace(user, email=email))
            return self.users[user_id]

    def set_scopes(self, scopes: set[str] | frozenset[str]) -> None:
        """Grant the bot exactly these scopes, as reinstalling the app with them would."""
        with self._lock:
            # In place, so a test holding `workspace.scopes` sees the change.
            self.scopes.clear()
            self.scopes.update(scopes)

    def add_channel(
        self, channel_id: str, name: str, *, private: bool = False, bot_member: bool = True
    ) -> Channel:
        """Add a channel, or replace the channel with that id."""
        with self._lock:
            channel = self.channels[channel_id] = Channel(
                channel_id, name, is_private=private, bot_member=bot_member
            )
            self._changed()
            return channel

    def archive_channel(self, channel_id: str) -> Channel:
        return self._change_channel(channel_id, lambda c: replace(c, is_archived=True))

    def remove_bot(self, channel_id: str) -> Channel:
        """Someone kicked the bot out of the channel."""
        return self._change_channel(channel_id, lambda c: replace(c, bot_member=False))

    def add_bot(self, channel_id: str) -> Channel:
        """The bot joined the channel, or someone invited it."""
        return self._change_channel(channel_id, lambda c: replace(c, bot_member=True))

    def _change_channel(self, channel_id: str, change: Callable[[Channel], Channel]) -> Channel:
        with self._lock:
            channel = self.channels.get(channel_id)
            if channel is None:
                raise SlackError("channel_not_found", channel_id)
            changed = self.channels[channel_id] = change(channel)
            self._changed()
            return changed

    def set_usergroup(self, group_id: str, members: list[str]) -> None:
        with self._lock:
            self.usergroups[group_id] = list(members)

    def resolve_channel(self, channel: str, *, by_name: bool = False) -> Channel:
        """The channel an argument names; unknown ids are created unless `strict_channels`."""
        with self._lock:
            if channel in self.channels:
                return self.channels[channel]
            if by_name:
                name = channel.removeprefix("#")
                for known in self.channels.values():
                    if known.name == name:
                        return known
                if channel in self.users and not self.users[channel].is_bot:
                    # A user id names the app's direct messages with that person, as on Slack.
                    dm = f"D{channel}"
                    return self.channels.get(dm) or self.add_channel(
                        dm, f"dm-{channel.lower()}", private=True
                    )
            if not self.strict_channels and CHANNEL_ID.match(channel):
                return self.add_channel(channel, channel.lower(), private=channel[0] == "G")
            raise SlackError("channel_not_found", channel)

    # --- messages ----------------------------------------------------------------------

    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> Message:
        """Store a channel message; by default as the bot, else as `user`."""
        with self._lock:
            as_bot = user is None or user == self.bot_user_id
            message = Message(
                channel=channel,
                ts=self.next_ts(),
                text=text,
                blocks=list(blocks or []),
                user=self.bot_user_id if as_bot else str(user),
                team=self.team_id,
                bot_id=self.bot_id if as_bot else None,
                app_id=self.app_id if as_bot else None,
                thread_ts=thread_ts,
            )
            self._messages.append(message)
            self._changed()
            return message

    def find_message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            for message in self._messages:
                if message.channel == channel and message.ts == ts and not message.deleted:
                    return message
            return None

    def update_message(
        self, channel: str, ts: str, *, text: str | None, blocks: list[dict[str, Any]] | None
    ) -> Message:
        """Edit a bot message in place, keeping the previous version in `edits`."""
        with self._lock:
            message = self.find_message(channel, ts)
            if message is None:
                raise SlackError("message_not_found", ts)
            if message.bot_id != self.bot_id:
                raise SlackError("cant_update_message", ts)
            edited_ts = self.next_ts()
            message.edits.append(Revision(message.text, message.blocks, edited_ts))
            if text is not None:
                message.text = text
            if blocks is not None:
                message.blocks = list(blocks)
            message.edited_ts = edited_ts
            self._changed()
            return message

    def delete_message(self, channel: str, ts: str) -> None:
        with self._lock:
            message = self.find_message(channel, ts)
            if message is None:
                raise SlackError("message_not_found", ts)
            message.deleted = True
            self._changed()

    def messages(self, channel: str | None = None) -> list[Message]:
        """Channel messages and thread replies, oldest first."""
        with self._lock:
            return [
                m
                for m in self._messages
                if not m.deleted and (channel is None or m.channel == channel)
            ]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """A thread's parent followed by its replies."""
        with self._lock:
            return [m for m in self.messages(channel) if thread_ts in (m.ts, m.thread_ts)]

    def message_view(self, message: Message) -> dict[str, Any]:
        """`to_api()` plus the thread summary Slack adds to a parent."""
        with self._lock:
            body = message.to_api()
            replies = [m for m in self.thread(message.channel, message.ts) if m.ts != message.ts]
            if replies and message.thread_ts is None:
                body["thread_ts"] = message.ts
                body["reply_count"] = len(replies)
                body["reply_users"] = sorted({m.user for m in replies})
                body["latest_reply"] = replies[-1].ts
            return body

    # --- ephemeral messages ------------------------------------------------------------

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        source: str,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        with self._lock:
            ephemeral = Ephemeral(
                channel, user, self.next_ts(), text, list(blocks or []), source, thread_ts
            )
            self._ephemerals.append(ephemeral)
            self._changed()
            return ephemeral

    def find_ephemeral(self, user: str, ts: str) -> Ephemeral | None:
        with self._lock:
            for ephemeral in self._ephemerals:
                if ephemeral.user == user and ephemeral.ts == ts and not ephemeral.deleted:
                    return ephemeral
            return None

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        with self._lock:
            return [
                e
                for e in self._ephemerals
                if not e.deleted
                and (user is None or e.user == user)
                and (channel is None or e.channel == channel)
            ]

    def replace_ephemeral(
        self, user: str, ts: str, *, text: str, blocks: list[dict[str, Any]] | None
    ) -> Ephemeral:
        with self._lock:
            ephemeral = self.find_ephemeral(user, ts)
            if ephemeral is None:
                raise SlackError("message_not_found", ts)
            ephemeral.text = text
            ephemeral.blocks = list(blocks or [])
            self._changed()
            return ephemeral

    def delete_ephemeral(self, user: str, ts: str) -> None:
        with self._lock:
            ephemeral = self.find_ephemeral(user, ts)
            if ephemeral is None:
                raise SlackError("message_not_found", ts)
            ephemeral.deleted = True
            self._changed()

    # --- response_url ------------------------------------------------------------------

    def issue_response_url(
        self,
        channel: str,
        user: str,
        *,
        origin_ts: str | None = None,
        origin_ephemeral: bool = False,
        thread_ts: str | None = None,
    ) -> str:
        """A fresh response_url token for a payload sent to the bot."""
        with self._lock:
            token = secrets.token_urlsafe(18)
            self._response_urls[token] = ResponseUrl(
                token, channel, user, self.clock(), origin_ts, origin_ephemeral, thread_ts
            )
            return token

    def rebind_response_url(self, token: str, origin_ts: str, *, origin_ephemeral: bool) -> None:
        """Make `replace_original` on this response_url target the message it last produced."""
        with self._lock:
            entry = self._response_urls.get(token)
            if entry is not None:
                entry.origin_ts = origin_ts
                entry.origin_ephemeral = origin_ephemeral

    def use_response_url(self, token: str) -> ResponseUrl:
        """Count one use; refuses as Slack does after 5 uses or 30 minutes."""
        with self._lock:
            entry = self._response_urls.get(token)
            if entry is None:
                raise SlackError("no_service")
            if self.clock() - entry.issued_at > RESPONSE_URL_TTL_SECONDS:
                raise SlackError("expired_url")
            if entry.uses >= RESPONSE_URL_USES:
                raise SlackError("used_url")
            entry.uses += 1
            return entry
