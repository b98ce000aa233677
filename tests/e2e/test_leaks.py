"""No secret leaks: runs with recognisable secrets in every secret setting, then a scan of
everything the bot wrote: every Slack message (each edit too) and ephemeral, text and blocks;
every line of its log; every Redis key and value, of every type.

Looked for: each configured secret (Slack bot token, signing secret, app token, Heroku API
key, the Redis password), the passwords of the platform's databases (the Data API hands them
to the bot in `resource_url`, `database_password` and the "Following" row), a password carried
by a Heroku error message, and anything shaped like a credential URL or a Slack token.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from sandbox.heroku.app import create_app as heroku_app
from sandbox.heroku.faults import Fault
from sandbox.heroku.world import World
from sandbox.redis_server import RedisServer
from sandbox.server import ThreadedServer
from sandbox.slack import SlackDriver, Workspace
from sandbox.slack import create_app as slack_app
from sandbox.stack import (
    ALICE,
    BOB,
    BotProcess,
    Stack,
    bot_env,
    share_apps_with,
    stop_stack,
    wait_for,
)
from tests.e2e.conftest import seed_shop

# Recognisable, and unlike the stand-ins' defaults, so only this file's settings can match.
BOT_TOKEN = "xoxb-7001-7002-leakcanaryBotToken"
APP_TOKEN = "xapp-1-A0LEAK-7003-leakcanaryAppToken"
SIGNING_SECRET = "leakcanary-signing-secret-91c3"
HEROKU_API_KEY = "HRKU-leakcanary-0a1b2c3d4e5f-apikey"
REDIS_PASSWORD = "leakcanary-redis-password-77e0"
# A password inside a Heroku error message (Heroku echoes input and connection strings).
ERROR_DB_PASSWORD = "leakcanaryErrorPw4411"
ERROR_DB_URL = f"postgres://uleak:{ERROR_DB_PASSWORD}@ec2-54-1-2-3.compute-1.amazonaws.com:5432/dx"

CREDENTIAL_SHAPES = {
    "a database URL with a password": re.compile(r"postgres(?:ql)?://[^\s:@/\"']+:[^\s@/\"']+@"),
    "a Redis URL with a password": re.compile(r"rediss?://[^\s@/\"']*:[^\s@/\"']+@"),
    "a Slack token": re.compile(r"\bx(?:ox[abpre]|app)-[A-Za-z0-9-]{8,}"),
}


class FaultWithMessage(Fault):
    """A Heroku error answer whose message the test chooses (the stand-in's says only
    "Injected fault: ..."): here, one that carries a database URL with its password."""

    message: str

    def error_body(self) -> dict[str, str]:
        return {"id": self.body_id or "invalid_params", "message": self.message}


SURFACES = ("slack thread", "slack ephemeral", "bot log", "redis")


@dataclass
class Scan:
    """What was scanned, and every leak found, by surface (where, what, the text around it)."""

    slack_messages: int = 0
    log_lines: int = 0
    redis_values: int = 0
    leaks: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SURFACES})

    def report(self, label: str) -> str:
        found = ", ".join(f"{s} {len(self.leaks[s])}" for s in SURFACES)
        return (
            f"{label}: scanned {self.slack_messages} Slack messages and ephemerals (every "
            f"edit too), {self.log_lines} bot log lines, {self.redis_values} Redis keys and "
            f"values; leaks found: {sum(map(len, self.leaks.values()))} ({found})"
        )


@contextlib.contextmanager
def running_stack(contracts_dir: Path, tmp: Path) -> Iterator[Stack]:
    """The stand-ins, a Redis with a password and the bot, all using this file's secrets;
    `shop` seeded (web=2, worker=1, a pooler), the bot running."""
    with RedisServer(password=REDIS_PASSWORD) as server:
        world = World(None, seed=7)
        heroku = ThreadedServer(
            heroku_app(
                world, api_key=HEROKU_API_KEY, contracts_dir=contracts_dir, check_responses=True
            )
        ).start()
        workspace = Workspace()
        share_apps_with(world, workspace)
        slack = ThreadedServer(
            slack_app(workspace, bot_token=BOT_TOKEN, contracts_dir=contracts_dir)
        ).start()
        env = bot_env(
            server.url,
            heroku.url,
            slack.url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_APP_TOKEN=APP_TOKEN,
            HEROKU_API_KEY=HEROKU_API_KEY,
        )
        bot = BotProcess(env, tmp / "bot.log")
        driver = SlackDriver(bot.url + "/slack/events", SIGNING_SECRET, slack.url, workspace)
        stack = Stack(world, heroku, workspace, slack, bot, driver, server.url)
        try:
            heroku.call(lambda: seed_shop(stack))
            bot.start()
            yield stack
        finally:
            stop_stack(stack)


def database_passwords(stack: Stack) -> set[str]:
    """The passwords in the connection URLs of every database the platform holds right now."""

    def read() -> set[str]:
        urls = []
        for addon_id in list(stack.world.addons):
            try:
                urls.append(stack.world.backend.url(addon_id))
            except KeyError:  # not a database (or already destroyed)
                continue
        return {url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1] for url in urls}

    return stack.heroku.call(read)


def scan(stack: Stack, secrets: dict[str, str]) -> Scan:
    """Look for every secret and credential shape in Slack, the bot's log and Redis."""
    result = Scan()
    texts: list[tuple[str, str, str]] = []  # (surface, where, text)

    ws = stack.workspace
    for message in ws.messages():
        versions = [(e.text, e.blocks) for e in message.edits] + [(message.text, message.blocks)]
        for text, blocks in versions:
            where = f"message {message.ts}"
            texts.append(("slack thread", where, text + "\n" + json.dumps(blocks)))
            result.slack_messages += 1
    for ephemeral in ws.ephemerals():
        where = f"ephemeral to {ephemeral.user} ({ephemeral.source})"
        texts.append(
            ("slack ephemeral", where, ephemeral.text + "\n" + json.dumps(ephemeral.blocks))
        )
        result.slack_messages += 1

    for number, line in enumerate(stack.bot.logs().splitlines(), 1):
        texts.append(("bot log", f"line {number}", line))
        result.log_lines += 1

    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        for key in r.scan_iter("*"):
            kind = r.type(key)
            values: list[str] = [key]
            if kind == "string":
                values.append(r.get(key) or "")
            elif kind == "hash":
                values += [f"{f}={v}" for f, v in r.hgetall(key).items()]
            elif kind == "list":
                values += r.lrange(key, 0, -1)
            elif kind == "set":
                values += sorted(r.smembers(key))
            elif kind == "zset":
                values += [f"{m} {s}" for m, s in r.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":
                values += [f"{i} {json.dumps(fields)}" for i, fields in r.xrange(key)]
            else:
                values.append(f"(a {kind} this scan cannot read)")
            for value in values:
                texts.append(("redis", f"{kind} {key}", value))
                result.redis_values += 1

    for surface, where, text in texts:
        for name, secret in secrets.items():
            if secret in text:
                at = text.index(secret)
                context = text[max(0, at - 60) : at + 20]
                result.leaks[surface].append(f"{name} in {where}: ...{context}...")
        for shape, pattern in CREDENTIAL_SHAPES.items():
            found = pattern.search(text)
            if found:
                context = text[max(0, found.start() - 60) : found.start() + 40]
                result.leaks[surface].append(f"{shape} in {where}: ...{context}...")
    return result


def configured_secrets() -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HEROKU_API_KEY": HEROKU_API_KEY,
        "the Redis password": REDIS_PASSWORD,
    }


def with_database_passwords(secrets: dict[str, str], passwords: set[str]) -> dict[str, str]:
    numbered = {f"database password #{n}": p for n, p in enumerate(sorted(passwords), 1)}
    return secrets | numbered


def started_id(stack: Stack) -> str:
    reply = wait_for("alice's ack", lambda: stack.ephemeral_texts(ALICE), stack=stack)[-1]
    found = re.search(r"mig-[a-z0-9]{6}", reply)
    assert found, reply
    return found.group(0)


def approve(stack: Stack, gate: str) -> None:
    message, button = wait_for(gate, lambda: stack.gate_button(gate), timeout=60, stack=stack)
    stack.click(BOB, message, button)


def test_a_full_changeover_leaks_no_secret_into_slack_logs_or_redis(
    contracts_dir: Path, tmp_path: Path
) -> None:
    with running_stack(contracts_dir, tmp_path) as stack:
        old_passwords = database_passwords(stack)
        stack.slash(ALICE, "plan shop --to standard-2")
        stack.slash(ALICE, "start shop --to standard-2")
        migration_id = started_id(stack)
        message, button = wait_for(
            "the maintenance gate", lambda: stack.gate_button("approve_maintenance"), stack=stack
        )
        stack.click(ALICE, message, button)  # refused: the two-person rule
        stack.slash(BOB, f"status {migration_id}")
        stack.click(BOB, message, button)
        approve(stack, "approve_promote")
        new_passwords = database_passwords(stack)
        approve(stack, "approve_destroy")
        wait_for(
            "completion",
            lambda: any(f"{migration_id} completed" in m.text for m in stack.thread()),
            timeout=60,
            stack=stack,
        )
        stack.slash(BOB, "list")
        wait_for("bob's listing", lambda: len(stack.ephemeral_texts(BOB)) >= 2, stack=stack)

        passwords = old_passwords | new_passwords
        assert len(passwords) >= 2, "the old and the new database each have a password"
        result = scan(stack, with_database_passwords(configured_secrets(), passwords))
    print("\n" + result.report("full changeover"))
    assert result.slack_messages >= 15 and result.log_lines >= 10 and result.redis_values >= 10
    assert result.leaks == {surface: [] for surface in SURFACES}


@pytest.fixture(scope="module")
def failed_run(contracts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scan]:
    """A changeover Heroku refuses with a 422 whose message carries a database URL (and the
    API key): the failure in the thread, a status, the cancel; then the scan."""
    with running_stack(contracts_dir, tmp_path_factory.mktemp("leaks")) as stack:
        secrets = configured_secrets() | {"the password in Heroku's error": ERROR_DB_PASSWORD}
        secrets = with_database_passwords(secrets, database_passwords(stack))
        fault = FaultWithMessage(
            path_regex="^/apps/shop/addons$", method="POST", status=422, body_id="invalid_params"
        )
        fault.message = (
            f"Could not create the follower: {ERROR_DB_URL} refused the replication slot "
            f"(DATABASE_URL={ERROR_DB_URL}; token {HEROKU_API_KEY})."
        )
        stack.heroku.call(lambda: stack.world.faults.append(fault))

        stack.slash(ALICE, "start shop --to standard-2")
        migration_id = started_id(stack)
        wait_for(
            "the failure in the thread",
            lambda: [m for m in stack.thread() if "stopped" in m.text],
            stack=stack,
        )
        assert stack.heroku.call(lambda: fault.times) == 0, "Heroku answered with the error"
        stack.slash(BOB, f"status {migration_id}")
        stack.slash(ALICE, f"cancel {migration_id}")
        wait_for(
            "the cancellation",
            lambda: any(f"{migration_id} cancelled" in m.text for m in stack.thread()),
            stack=stack,
        )
        result = scan(stack, secrets)
    print("\n" + result.report("failing changeover"))
    assert result.slack_messages >= 5 and result.log_lines >= 5 and result.redis_values >= 5
    yield result


def test_a_heroku_error_carrying_a_database_url_reaches_neither_the_thread_nor_the_logs(
    failed_run: Scan,
) -> None:
    assert failed_run.leaks["slack thread"] == []
    assert failed_run.leaks["bot log"] == []


def test_a_heroku_error_carrying_a_database_url_is_not_repeated_in_replies(
    failed_run: Scan,
) -> None:
    assert failed_run.leaks["slack ephemeral"] == []


def test_a_heroku_error_carrying_a_database_url_is_not_stored_in_redis(
    failed_run: Scan,
) -> None:
    assert failed_run.leaks["redis"] == []
