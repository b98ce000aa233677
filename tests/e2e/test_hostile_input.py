"""Hostile input against one running bot: fuzzed `/migrate` texts, fuzzed and forged button
payloads, replayed clicks and badly signed requests. Every signed request is answered (never a
5xx, never a stack trace), bad input gets a clear ephemeral refusal, and nothing changes.

One bot serves the whole module: a real migration (`shop`, started by alice) waits at a gate,
so forged clicks have something real to aim at and "nothing changed" has something to compare.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.parse import CommandError, HelpCommand, StartCommand, parse_command
from sandbox.redis_server import RedisServer
from sandbox.slack import Response, SlackDriver
from sandbox.slack.workspace import Message
from sandbox.stack import (
    ALICE,
    BOB,
    CHANNEL,
    SIGNING_SECRET,
    Stack,
    start_stack,
    stop_stack,
    wait_for,
)
from state import keys
from tests.e2e.conftest import MakeStack

MUTATING = ("POST", "PATCH", "PUT", "DELETE")
GATES = ("approve_maintenance", "approve_promote", "approve_destroy")
EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Recognisable password inside credential-shaped input: it must never be echoed back.
CANARY = "hunter2canary"
# Answers to a well-formed command (besides ":warning: ..." refusals).
NORMAL_ANSWER = re.compile(
    r"^(\*migrate-bot\*|Plan for |Active migrations|Recent migrations|Started \*mig-"
    r"|mig-[a-z0-9]{6}: )"
)


@dataclass
class Hostile:
    """The module's bot, its real migration waiting at a gate, and what was sent to it."""

    stack: Stack
    migration_id: str
    sent: Counter[str]
    # The migration at rest at its maintenance gate, before anything hostile was sent.
    baseline: dict[str, Any] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)


class KeepAliveDriver(SlackDriver):
    """The stand-in's driver, sending over one kept-alive connection: a fresh HTTP client per
    request (what `send_raw` does) costs more than the bot's answer, and the fuzz sends
    hundreds. Everything else (payload shapes, signing, showing the ack) is the driver's."""

    def __init__(self, driver: SlackDriver, client: httpx.Client) -> None:
        super().__init__(driver.bot_url, SIGNING_SECRET, driver.standin_url, driver.workspace)
        self._client = client

    async def send_raw(self, body: bytes, headers: dict[str, str]) -> Response:
        started = time.monotonic()
        reply = self._client.post(self.bot_url, content=body, headers=headers)
        try:
            parsed = reply.json()
        except ValueError:
            parsed = None
        return Response(
            reply.status_code,
            parsed if isinstance(parsed, dict) else None,
            reply.text,
            time.monotonic() - started,
        )


def seed_quick_shop(stack: Stack) -> None:
    """`shop` (web=2, worker=1, a pooler); its follower is available and caught up at once."""
    stack.world.configure(provision_seconds=0.1, initial_lag=150, apply_rate=2500)
    stack.world.seed_app("shop", formation={"web": 2, "worker": 1}, pooler=True)


@pytest.fixture(scope="module")
def hostile(contracts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    sent: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    with RedisServer() as server, httpx.Client(trust_env=False, timeout=10) as client:
        stack = start_stack(server.url, contracts_dir, tmp_path_factory.mktemp("hostile"))
        stack.driver = KeepAliveDriver(stack.driver, client)
        try:
            stack.heroku.call(lambda: seed_quick_shop(stack))
            stack.bot.start()
            found = re.search(
                r"mig-[a-z0-9]{6}", stack.slash_reply(ALICE, "start shop --to standard-2")
            )
            assert found, stack.ephemeral_texts(ALICE)
            h = Hostile(stack, found.group(0), sent)
            h.answers = answers
            wait_for("the maintenance gate", lambda: gate(h, "approve_maintenance"), stack=stack)
            h.baseline = settled(h)
            yield h
        finally:
            stop_stack(stack)
            print(f"\nhostile input: {sum(sent.values())} requests sent: {dict(sent)}")
            print(f"slash answers: {dict(answers)}")


# --- reading what the bot did ------------------------------------------------------------


def mutations(stack: Stack) -> list[str]:
    """Platform-changing Heroku calls (add-on resolution is a POST that changes nothing)."""
    return [
        f"{c['method']} {c['path']}"
        for c in stack.heroku_calls()
        if c["method"] in MUTATING and not c["path"].startswith("/actions/")
    ]


def thread_of(h: Hostile) -> list[Message]:
    """The real migration's thread (other, fuzz-started migrations have their own)."""
    messages = h.stack.channel_messages()
    parent = next(
        (m for m in messages if m.thread_ts is None and f"Migration {h.migration_id}" in m.text),
        None,
    )
    if parent is None:
        return []
    return [m for m in messages if parent.ts in (m.ts, m.thread_ts)]


def gate(
    h: Hostile, name: str, *, with_promote: bool = False
) -> tuple[Message, dict[str, Any]] | None:
    """The open approval button of the real migration for `name`, if one is shown."""
    for message in reversed(thread_of(h)):
        for block in message.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("action_id") != "approve_step":
                    continue
                value = json.loads(element["value"])
                if value["g"] == name and bool(value["p"]) == with_promote:
                    return message, element
    return None


def open_gate(h: Hostile, name: str) -> tuple[Message, dict[str, Any]]:
    found = gate(h, name)
    assert found is not None, f"{h.migration_id} shows no open {name} button"
    return found


# What a migration's record says about decisions and progress; bookkeeping that moves on every
# poll while the app is down (version, updated_at, next_run_at, lag samples) is left out.
DECISIVE_FIELDS = (
    "status",
    "step",
    "approvals",
    "pre_approved",
    "completed",
    "cancel_requested_by",
    "error",
    "window",
    "finished_at",
)


def snapshot(h: Hostile) -> dict[str, Any]:
    """Everything a click could change: the migration's decisive fields and the app lock in
    Redis, the decisions in its audit trail, the platform, and the thread (its messages, their
    text and their buttons; the lag message counts by its place, not its figures)."""
    with redis.Redis.from_url(h.stack.redis_url, decode_responses=True) as r:
        raw = r.get(keys.migration(h.migration_id))
        lock = r.get(keys.app_lock("shop"))
        decisions = [
            (e["event"], e.get("actor"))
            for _, e in r.xrange(keys.audit_of(h.migration_id))
            if e.get("event") in ("approved", "rejected", "cancel")
        ]
    assert raw is not None
    migration = json.loads(raw)
    return {
        "migration": {f: migration.get(f) for f in DECISIVE_FIELDS},
        "lock": lock,
        "decisions": decisions,
        "platform": mutations(h.stack),
        "thread": [
            (
                m.ts,
                "(lag)" if m.text.startswith("Follower lag") else m.text,
                json.dumps([b for b in m.blocks if b.get("type") == "actions"]),
            )
            for m in thread_of(h)
        ],
    }


def settled(h: Hostile, timeout: float = 30.0) -> dict[str, Any]:
    """The snapshot once the engine has written its follow-ups (the message ts it posted, the
    parent message it re-rendered): three equal reads, more than a poll interval apart."""
    deadline = time.monotonic() + timeout
    reads: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        reads = [*reads[-2:], snapshot(h)]
        if len(reads) == 3 and reads[0] == reads[1] == reads[2]:
            return reads[-1]
        time.sleep(0.3)
    raise AssertionError(f"{h.migration_id} never came to rest\n{h.stack.bot.logs()[-3000:]}")


def slack_violations(h: Hostile) -> list[str]:
    """What Slack would refuse in the bot's answers (malformed acks, Block Kit errors). The
    3-second ack deadline is left out: on a loaded test machine it measures the machine."""
    return [
        f"{v.method}: {v.detail}"
        for v in h.stack.workspace.violations
        if "acked after" not in v.detail
    ]


def error_log_lines(stack: Stack, since: int) -> list[str]:
    """Log lines at error level or carrying a traceback, written after offset `since`."""
    return [
        line
        for line in stack.bot.logs()[since:].splitlines()
        if '"level": "error"' in line or '"level": "critical"' in line or "Traceback" in line
    ]


# --- sending requests like Slack does (or like an attacker would) ------------------------


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def send(h: Hostile, kind: str, body: bytes, headers: dict[str, str]) -> Response:
    h.sent[kind] += 1
    return asyncio.run(h.stack.driver.send_raw(body, headers))


def response_url(h: Hostile, user: str, message: Message | None = None) -> str:
    ws = h.stack.workspace
    token = ws.issue_response_url(
        CHANNEL,
        user,
        origin_ts=message.ts if message else None,
        thread_ts=message.thread_ts if message else None,
    )
    return f"{h.stack.driver.standin_url}/_responses/{token}"


def click_payload(
    h: Hostile, user: str, message: Message, action_id: str, value: str
) -> dict[str, Any]:
    """A block_actions payload shaped exactly like the one Slack sends for a button click."""
    ws = h.stack.workspace
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": ws.team_id},
        "api_app_id": ws.app_id,
        "token": ws.verification_token,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": CHANNEL,
            "is_ephemeral": False,
            "thread_ts": message.thread_ts,
        },
        "trigger_id": f"{secrets.randbelow(10**10)}.{secrets.token_hex(16)}",
        "team": {"id": ws.team_id, "domain": ws.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "ops"},
        "message": ws.message_view(message),
        "state": {"values": {}},
        "response_url": response_url(h, user, message),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "gate",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": value,
                "type": "button",
                "action_ts": ws.next_ts(),
            }
        ],
    }


def form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def reply_to(h: Hostile, user: str, before: int) -> str:
    """The next ephemeral `user` sees after they had `before` of them."""
    shown = wait_for(
        f"an ephemeral reply to {user}",
        lambda: h.stack.ephemeral_texts(user)[before:],
        stack=h.stack,
    )
    return shown[0]


def refused_click(h: Hostile, user: str, body: bytes, headers: dict[str, str]) -> str:
    """Send a click that must be refused; return the refusal the clicker was shown."""
    before = len(h.stack.ephemeral_texts(user))
    response = send(h, "forged or replayed click", body, headers)
    assert response.status == 200, response
    reply = reply_to(h, user, before)
    assert reply.startswith((":no_entry:", ":warning:")), reply
    assert len(reply) > 30, f"a refusal must say why: {reply!r}"
    return reply


# --- 1. signatures -----------------------------------------------------------------------


def test_unsigned_wrongly_signed_stale_or_misattributed_requests_get_401_and_change_nothing(
    hostile: Hostile,
) -> None:
    h = hostile
    shown = (len(h.stack.ephemeral_texts(ALICE)), len(h.stack.ephemeral_texts(BOB)))
    message, button = open_gate(h, "approve_maintenance")
    # Each of these would change something if it were accepted: alice cancels her migration,
    # bob (a legitimate approver) approves the maintenance window with the real nonce.
    cancel = urlencode(
        {
            "command": "/migrate",
            "text": f"cancel {h.migration_id}",
            "user_id": ALICE,
            "user_name": "alice",
            "channel_id": CHANNEL,
            "team_id": h.stack.workspace.team_id,
            "response_url": response_url(h, ALICE),
        }
    ).encode()
    approve = form(click_payload(h, BOB, message, "approve_step", button["value"]))
    now = int(time.time())
    for body in (cancel, approve):
        good = sign(body)
        signed_at = int(good["X-Slack-Request-Timestamp"])
        forged: dict[str, dict[str, str]] = {
            "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
            "timestamp only": {k: v for k, v in good.items() if k != "X-Slack-Signature"},
            "signature only": {k: v for k, v in good.items() if k != "X-Slack-Request-Timestamp"},
            "zero signature": good | {"X-Slack-Signature": "v0=" + "0" * 64},
            "empty signature": good | {"X-Slack-Signature": ""},
            "other scheme": good
            | {"X-Slack-Signature": good["X-Slack-Signature"].replace("v0", "v1")},
            "upper-case hex": good
            | {"X-Slack-Signature": "v0=" + good["X-Slack-Signature"][3:].upper()},
            "truncated": good | {"X-Slack-Signature": good["X-Slack-Signature"][:-2]},
            "another secret": sign(body, secret="not-" + SIGNING_SECRET),
            "empty secret": sign(body, secret=""),
            "stale (6 min old)": sign(body, timestamp=now - 360),
            "from the future (6 min ahead)": sign(body, timestamp=now + 360),
            "timestamp moved after signing": good
            | {"X-Slack-Request-Timestamp": str(signed_at + 1)},
            "signature of another body": sign(body.replace(b"cancel", b"status") + b"&x=1"),
            "signature of a list command": sign(b"command=%2Fmigrate&text=list"),
        }
        for name, headers in forged.items():
            response = send(h, "bad signature", body, headers)
            assert response.status == 401, (name, response)
    assert (len(h.stack.ephemeral_texts(ALICE)), len(h.stack.ephemeral_texts(BOB))) == shown
    # Control: the verification is not refusing everything.
    listing = urlencode(
        {"command": "/migrate", "text": "list", "user_id": BOB, "channel_id": CHANNEL}
    ).encode()
    assert send(h, "signed control", listing, sign(listing)).status == 200
    assert snapshot(h) == h.baseline


def test_a_request_with_a_timestamp_that_is_not_a_number_gets_401(hostile: Hostile) -> None:
    h = hostile
    body = urlencode({"command": "/migrate", "text": "list", "user_id": BOB}).encode()
    statuses = [
        send(h, "bad signature", body, sign(body) | {"X-Slack-Request-Timestamp": bad}).status
        for bad in ("now", "", "1e9", "12.5", "0x10")
    ]
    assert statuses == [401] * len(statuses)


# --- 2. forged clicks on the real migration ----------------------------------------------

nonces = st.from_regex(r"[A-Za-z0-9_-]{4,64}", fullmatch=True)


@st.composite
def forged_clicks(draw: st.DrawFn) -> dict[str, Any]:
    """A click that looks like one of the bot's buttons but is not valid right now."""
    kind = draw(
        st.sampled_from(
            ["forged nonce", "real nonce, other gate", "real nonce, other migration", "requester"]
        )
    )
    return {
        "kind": kind,
        "user": draw(st.sampled_from([BOB, ALICE, "U0CAROL", "W0ENTERPRISE"]))
        if kind != "requester"
        else ALICE,
        "action_id": draw(st.sampled_from(["approve_step", "reject_step"])),
        "gate": draw(st.sampled_from(GATES)),
        "nonce": draw(nonces),
        "other_id": "mig-" + draw(st.from_regex(r"[a-z0-9]{6}", fullmatch=True)),
        "p": draw(st.sampled_from([0, 1, True, "1", None])),
    }


@FUZZ
@given(click=forged_clicks())
def test_forged_clicks_on_a_real_migration_are_refused_with_a_reason_and_change_nothing(
    hostile: Hostile, click: dict[str, Any]
) -> None:
    h = hostile
    message, button = open_gate(h, "approve_maintenance")
    real = json.loads(button["value"])
    value = {"m": h.migration_id, "g": click["gate"], "n": click["nonce"], "p": click["p"]}
    if click["kind"] == "forged nonce" and value["n"] == real["n"]:
        value["n"] += "x"
    if click["kind"] == "real nonce, other gate":
        other_gate = click["gate"] if click["gate"] != real["g"] else "approve_destroy"
        value |= {"n": real["n"], "g": other_gate}
    if click["kind"] == "real nonce, other migration":
        value |= {"n": real["n"], "g": real["g"], "m": click["other_id"]}
    action_id = click["action_id"]
    if click["kind"] == "requester":  # the right approve button, clicked by the one who asked
        value, action_id = real, "approve_step"  # (the requester may reject: that aborts)
    payload = click_payload(h, click["user"], message, action_id, json.dumps(value))
    body = form(payload)
    refused_click(h, click["user"], body, sign(body))
    assert snapshot(h) == h.baseline


# --- 3. fuzzed slash commands --------------------------------------------------------------

WORDS = [
    # subcommands, real and near
    "help", "plan", "start", "status", "list", "cancel", "HELP", "Start", "strat", "?", "-h",
    # app names, valid and not
    "shop", "nosuchapp", "Shop!", "my-app-", "a", "x" * 31, "../etc", "shop;rm",
    # flags, with the dashes Slack and macOS substitute
    "--to", "\u2014to", "\u2013to", "\u2212to", "---to", "-to", "--to=", "--to=standard-2",
    "--from", "--method", "--target-app", "--", "--bogus", "--TO", "--help",
    # values
    "standard-2", "heroku-postgresql:standard-2", "heroku-redis:mini", "premium-4",
    "heroku-postgresql:", "DATABASE", "HEROKU_POSTGRESQL_GREEN_URL", "postgresql-curly-12345",
    "changeover", "dump-restore", "mig-7f3k2q", "mig-", "MIG-ABCDEF", "42", "-1",
    # Slack escapes and markup
    "&lt;", "&gt;", "&amp;", "&amp;lt;", "&#60;", "<@U0BOB>", "<@U0BOB|bob>", "<#C0OPS|ops>",
    "<!here>", "<!subteam^S0APPROVERS>", "<https://example.com|x>", "<mailto:a@b.c|a@b.c>",
    "\u201cshop\u201d", "\u2018standard-2\u2019", "`shop`", "```", "*bold*", "_it_", ">quote",
    # invisible and control characters
    "\u200bstart", "\ufeff", "\u00ad", "\u202e", "\x00", "\x07", "\x1b[31m", "\t", "\r\n",
    "\u2028", "\x7f",
    # other scripts and emoji
    "\U0001f680", "\U0001f4a5", "\u65e5\u672c\u8a9e", "\u03a9", "\u0130", "\ufb01",
    # credentials pasted by mistake: never to be echoed back
    f"postgres://admin:{CANARY}@db.example.com:5432/d1",
    f"--from=postgres://u:{CANARY}@h/d", f"xoxb-1-{CANARY}", f"rediss://:{CANARY}@h:6379",
    f"HRKU-{CANARY}", f"{CANARY}0123456789abcdef0123456789",
]  # fmt: skip

words = st.sampled_from(WORDS)
slash_texts = st.one_of(
    st.text(max_size=80),
    st.lists(words, min_size=1, max_size=8).map(" ".join),
    st.lists(words | st.text(max_size=12), max_size=8).map(" ".join),
    st.builds(
        lambda sub, app, flag, plan, rest: f"{sub} {app} {flag} {plan} {rest}".strip(),
        st.sampled_from(["plan", "start", "Plan", "\u200bplan"]),
        st.sampled_from(["shop", "nosuchapp", "Shop", "shop-"]),
        st.sampled_from(["--to", "\u2014to", "\u2013to", "--to=", "-to"]),
        st.sampled_from(["standard-2", "heroku-postgresql:premium-4", "\u201cstandard-2\u201d"]),
        st.lists(words, max_size=3).map(" ".join),
    ),
    # Valid, or nearly: the dashes, quotes, case and invisible characters people paste.
    st.builds(
        lambda sub, app, to, plan, extra: f"{sub} {app} {to}{plan} {extra}".strip(),
        st.sampled_from(["plan", "start", "PLAN", "\u200bplan", "Start"]),
        st.sampled_from(["shop", "SHOP", "nosuchapp", "\u201cshop\u201d", "&lt;shop&gt;"]),
        st.sampled_from(["--to ", "\u2014to ", "\u2013to ", "--to=", "--TO "]),
        st.sampled_from(["standard-2", "heroku-postgresql:premium-4", "\u2018private-7\u2019"]),
        st.sampled_from(
            [
                "",
                "--from DATABASE",
                "--method changeover",
                "\u2014from HEROKU_POSTGRESQL_GREEN_URL",
                "--target-app shop-private",
                "--from=postgresql-curly-12345",
            ]
        ),
    ),
    st.sampled_from(
        ["list", "LIST", "status", "status mig-abc123", "cancel mig-abc123", "help", "", "  "]
    ),
    # Huge: a long paste, well past the 500 characters /migrate reads.
    st.tuples(words, st.integers(20, 4000)).map(lambda t: " ".join([t[0]] * t[1])),
)


@FUZZ
@given(text=slash_texts)
def test_any_slash_text_gets_a_valid_answer_or_a_clear_ephemeral_error(
    hostile: Hostile, text: str
) -> None:
    h = hostile
    stack = h.stack
    changes = len(mutations(stack))
    log_offset = len(stack.bot.logs())
    h.sent["slash text"] += 1
    before = len(stack.workspace.ephemerals(ALICE))
    response = stack.slash(ALICE, text)
    assert response.status == 200, (text, response)
    if response.body is not None:  # answered in the ack: parse errors and help, no I/O
        assert response.body.get("response_type", "ephemeral") == "ephemeral", response.body
        reply = str(response.body.get("text") or "")
    else:  # an empty ack at once; the answer follows through response_url
        reply = wait_for(
            "the answer after the ack",
            lambda: [
                e.text
                for e in stack.workspace.ephemerals(ALICE)[before:]
                if e.source == "response_url"
            ][-1:],
            stack=stack,
        )[-1]
    try:
        command = parse_command(text)
    except CommandError:
        command = None
    h.answers[
        "refused"
        if reply.startswith(":warning:")
        else type(command).__name__.removesuffix("Command").lower()
    ] += 1
    if command is None:
        assert reply.startswith(":warning:"), (text, reply)
    elif isinstance(command, HelpCommand):
        assert reply.startswith("*migrate-bot*"), (text, reply)
    else:
        assert reply.startswith(":warning:") or NORMAL_ANSWER.match(reply), (text, reply)
    assert "Traceback" not in reply and "Something went wrong" not in reply, (text, reply)
    assert CANARY not in reply and CANARY not in json.dumps(response.body), (text, reply)
    started = isinstance(command, StartCommand) and reply.startswith("Started")
    if not started:
        assert len(mutations(stack)) == changes, (text, mutations(stack)[changes:])
    assert error_log_lines(stack, log_offset) == [], text


def test_slash_fuzzing_left_no_violation_and_the_real_migration_untouched(
    hostile: Hostile,
) -> None:
    """Runs after the fuzz: Slack saw no malformed ack, and the real migration still waits."""
    h = hostile
    assert slack_violations(h) == []
    assert snapshot(h) == h.baseline


# --- 4. fuzzed block_actions payloads ------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
button_values = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=300),
    st.integers(300, 50_000).map(lambda n: "9" * n),
    st.fixed_dictionaries(
        {},
        optional={
            "m": st.sampled_from(["mig-abc123", "mig-../../x", "", "mig-ABCDEF"]) | json_values,
            "g": st.sampled_from([*GATES, "destroy_old", "promote", ""]) | json_values,
            "n": nonces | json_values,
            "p": json_values,
        },
    ).map(json.dumps),
    json_values,  # not even a string
)
actions = st.fixed_dictionaries(
    {"action_id": st.sampled_from(["approve_step", "reject_step", "other", ""]) | st.text()},
    optional={
        "value": button_values,
        "block_id": json_values,
        "type": st.sampled_from(["button", "static_select"]) | json_values,
        "action_ts": json_values,
    },
)
users = st.fixed_dictionaries(
    {}, optional={"id": st.sampled_from([ALICE, BOB, "U0NOBODY", ""]) | json_values}
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["block_actions", "interactive_message", "view_submission", ""])
        | json_values,
        "user": users,
        "actions": st.lists(actions, min_size=1, max_size=3),
        "channel": st.fixed_dictionaries({}, optional={"id": st.sampled_from([CHANNEL, "C0NONE"])}),
        "container": st.dictionaries(st.text(max_size=10), json_values, max_size=3),
        "team": st.fixed_dictionaries({}, optional={"id": st.text(max_size=12)}),
        "response_url": st.just("<issued>"),
        "trigger_id": json_values,
        "api_app_id": json_values,
    },
)
# The envelope itself of the wrong shape: `user`, `channel` not objects, `actions` empty, not a
# list, holding something other than objects, or actions without a string action_id.
payloads_with_wrong_types = st.fixed_dictionaries(
    {
        "type": st.just("block_actions"),
        "actions": st.one_of(
            st.just([]),
            st.lists(json_values.filter(lambda v: not isinstance(v, dict)), min_size=1),
            json_values.filter(lambda v: not isinstance(v, list)),
            # an action without an action_id, or with one that is not a string
            st.lists(
                st.fixed_dictionaries(
                    {"value": button_values},
                    optional={"action_id": json_values.filter(lambda v: not isinstance(v, str))},
                ),
                min_size=1,
                max_size=2,
            ),
        ),
    },
    optional={
        "user": json_values.filter(lambda v: not isinstance(v, dict)),
        "channel": json_values.filter(lambda v: not isinstance(v, dict)),
        "response_url": st.just("<issued>"),
    },
)


def send_fuzzed_payload(h: Hostile, payload: dict[str, Any]) -> Response:
    if payload.get("response_url") == "<issued>":
        user = payload["user"].get("id") if isinstance(payload.get("user"), dict) else None
        payload["response_url"] = response_url(h, user if isinstance(user, str) and user else BOB)
    body = form(payload)
    return send(h, "fuzzed payload", body, sign(body))


def quiesce(h: Hostile) -> None:
    """A last forged click whose refusal arrives after every earlier fuzzed click was handled."""
    message, button = open_gate(h, "approve_maintenance")
    value = json.loads(button["value"]) | {"n": "quiesce-" + secrets.token_hex(4)}
    body = form(click_payload(h, BOB, message, "approve_step", json.dumps(value)))
    refused_click(h, BOB, body, sign(body))


@FUZZ
@given(payload=payloads)
def test_fuzzed_block_actions_payloads_never_get_a_5xx_and_change_nothing(
    hostile: Hostile, payload: dict[str, Any]
) -> None:
    h = hostile
    log_offset = len(h.stack.bot.logs())
    response = send_fuzzed_payload(h, payload)
    # Every interaction is acknowledged with 200, even one no listener handles.
    assert response.status == 200, (payload, response)
    assert "Traceback" not in response.text
    assert snapshot(h) == h.baseline
    assert error_log_lines(h.stack, log_offset) == [], payload


def test_after_payload_fuzzing_the_real_migration_is_unchanged(hostile: Hostile) -> None:
    """Runs after the fuzz, once a last refusal shows every fuzzed click was handled."""
    h = hostile
    quiesce(h)
    assert snapshot(h) == h.baseline
    assert slack_violations(h) == []


@FUZZ
@given(payload=payloads_with_wrong_types)
def test_signed_payloads_with_wrongly_typed_fields_never_crash_the_bot(
    hostile: Hostile, payload: dict[str, Any]
) -> None:
    h = hostile
    log_offset = len(h.stack.bot.logs())
    response = send_fuzzed_payload(h, payload)
    assert response.status == 200, (payload, response)
    assert error_log_lines(h.stack, log_offset) == [], payload


def test_every_signed_interaction_payload_is_acked_with_200(hostile: Hostile) -> None:
    h = hostile
    message, button = open_gate(h, "approve_maintenance")
    base = click_payload(h, BOB, message, "approve_step", button["value"])
    statuses = {}
    for name, payload in {
        "other action_id": base | {"actions": [base["actions"][0] | {"action_id": "other"}]},
        "no actions": {k: v for k, v in base.items() if k != "actions"},
        "no type": {k: v for k, v in base.items() if k != "type"},
        "view_submission": base | {"type": "view_submission"},
    }.items():
        body = form(payload)
        statuses[name] = send(h, "unroutable payload", body, sign(body)).status
    assert statuses == dict.fromkeys(statuses, 200)


def test_signed_bodies_that_are_not_payloads_never_get_a_5xx(hostile: Hostile) -> None:
    h = hostile
    bodies = [
        b"payload=%7B",
        b"payload=",
        b"payload=%5B1%2C2%5D",
        b"payload=%22x%22",
        b"payload=null",
        b"\xff\xfe\x00",
        b"payload=" + b"%7B" * 10_000,
    ]
    statuses = {body[:20]: send(h, "not a payload", body, sign(body)).status for body in bodies}
    assert all(status < 500 for status in statuses.values()), statuses


# --- 5. a real decision, then its replay -----------------------------------------------------


def test_a_replayed_click_after_the_decision_is_refused_and_changes_nothing(
    hostile: Hostile,
) -> None:
    h = hostile
    stack = h.stack
    message, button = open_gate(h, "approve_maintenance")
    body = form(click_payload(h, BOB, message, "approve_step", button["value"]))
    headers = sign(body)
    assert send(h, "genuine click", body, headers).status == 200
    wait_for("the promote gate", lambda: gate(h, "approve_promote"), timeout=60, stack=stack)
    before = settled(h)
    assert before["decisions"] == [("approved", BOB)]

    # Slack's own retry, an attacker replaying the captured request within the 5 minutes the
    # signature stays valid, a double click re-signed now, and a reject with the spent nonce.
    retry = headers | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    reject = form(click_payload(h, BOB, message, "reject_step", button["value"]))
    promote = json.loads(button["value"]) | {"g": "approve_promote"}
    stale_promote = form(click_payload(h, BOB, message, "approve_step", json.dumps(promote)))
    for replay_body, replay_headers in [
        (body, headers),
        (body, retry),
        (body, sign(body)),
        (reject, sign(reject)),
        (stale_promote, sign(stale_promote)),
    ]:
        refused_click(h, BOB, replay_body, replay_headers)
        assert snapshot(h) == before
    assert [e for e in mutations(stack) if e.startswith("PUT")] == []  # not promoted


# --- 6. user groups on a workspace that has none ---------------------------------------------


def test_a_user_group_approver_on_a_workspace_without_groups_is_a_clear_configuration_error(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    stack.heroku.call(lambda: stack.world.configure(provision_seconds=0.1, initial_lag=150))
    stack.workspace.usergroups_enabled = False  # a free Slack plan
    found = re.search(r"mig-[a-z0-9]{6}", stack.slash_reply(ALICE, "start shop --to standard-2"))
    assert found, stack.ephemeral_texts(ALICE)
    h = Hostile(stack, found.group(0), Counter())
    wait_for("the maintenance gate", lambda: gate(h, "approve_maintenance"), stack=stack)

    # Redeployed with a user group as approvers, which this workspace cannot resolve.
    stack.bot.stop()
    stack.bot.env["MIGRATE_APPROVERS"] = "S0APPROVERS"
    stack.bot.start()
    before = settled(h)
    message, button = open_gate(h, "approve_maintenance")
    body = form(click_payload(h, BOB, message, "approve_step", button["value"]))
    refusal = refused_click(h, BOB, body, sign(body))
    assert "MIGRATE_APPROVERS" in refusal and "S0APPROVERS" in refusal, refusal
    assert "user group" in refusal, refusal
    assert snapshot(h) == before
