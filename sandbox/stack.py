"""The bot as a real process between a Heroku stand-in and a Slack stand-in, on loopback.

The sandbox and the end-to-end tests run the same stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from sandbox.heroku.app import create_app as heroku_app
from sandbox.heroku.backend import DatabaseBackend
from sandbox.heroku.world import World
from sandbox.lifetime import die_with_parent
from sandbox.server import ThreadedServer
from sandbox.slack import SlackDriver, Workspace
from sandbox.slack import create_app as slack_app
from sandbox.slack.page import register_page
from sandbox.slack.workspace import Message

T = TypeVar("T")

# Credentials of the stand-ins only; recognisable so that leak checks can look for them.
API_KEY = "HRKU-sandbox-0123456789abcdef-key"
BOT_TOKEN = "xoxb-sandbox"  # noqa: S105 (a stand-in token, deliberately short)
SIGNING_SECRET = "sandbox-signing-secret-5f2b8c"  # noqa: S105
CHANNEL = "C0OPS"
ALICE, BOB = "U0ALICE", "U0BOB"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    """`migrate-bot serve` in a subprocess, killed and restarted at will."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = int(env["PORT"])
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=self.env,
            stdout=log,
            stderr=log,
            # No orphan bot if whoever started it is killed (a test runner, the sandbox).
            preexec_fn=die_with_parent(),  # noqa: PLW1509
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"bot exited with {self.proc.returncode}:\n{self.logs()[-3000:]}"
                )
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"bot did not become healthy:\n{self.logs()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, like a dyno that lost its host."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Stack:
    world: World
    heroku: ThreadedServer
    workspace: Workspace
    slack: ThreadedServer
    bot: BotProcess
    driver: SlackDriver
    redis_url: str
    extra: dict[str, Any] = field(default_factory=dict)

    # --- reading the stand-ins (their state lives on their own threads) ---------------------

    def heroku_state(self) -> dict[str, Any]:
        return self.heroku.call(self.world.state)

    def heroku_calls(self) -> list[dict[str, Any]]:
        return self.heroku.call(lambda: [c.to_json() for c in self.world.calls])

    def heroku_violations(self) -> list[dict[str, Any]]:
        return self.heroku.call(lambda: [v.to_json() for v in self.world.violations])

    def channel_messages(self) -> list[Message]:
        return self.workspace.messages(CHANNEL)

    def thread(self) -> list[Message]:
        parents = [m for m in self.channel_messages() if m.thread_ts is None]
        if not parents:
            return []
        return self.workspace.thread(CHANNEL, parents[-1].ts)

    def buttons(self, action_id: str = "approve_step") -> list[tuple[Message, dict[str, Any]]]:
        found = []
        for message in self.thread():
            for block in message.blocks:
                for element in block.get("elements", []) if block.get("type") == "actions" else []:
                    if element.get("action_id") == action_id:
                        found.append((message, element))
        return found

    def gate_button(
        self, gate: str, *, with_next: bool = False
    ) -> tuple[Message, dict[str, Any]] | None:
        for message, element in reversed(self.buttons()):
            value = json.loads(element["value"])
            if value["g"] == gate and bool(value["p"]) == with_next:
                return message, element
        return None

    def ephemeral_texts(self, user: str) -> list[str]:
        return [e.text for e in self.workspace.ephemerals(user)]

    # --- acting like people in the channel ---------------------------------------------------

    def slash(
        self, user: str, text: str, channel: str = CHANNEL, *, answer_within: float = 15.0
    ) -> Any:
        """`user` types `/migrate text` and, like a person, waits to see the bot's answer.

        The bot acks at once and answers through response_url; this returns once a new
        ephemeral for `user` shows (or after `answer_within` seconds with none).
        """
        before = len(self.ephemeral_texts(user))
        response = asyncio.run(self.driver.slash(user, text, channel))
        deadline = time.monotonic() + answer_within
        while len(self.ephemeral_texts(user)) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
        return response

    def slash_reply(self, user: str, text: str, channel: str = CHANNEL) -> str:
        """`user` types `/migrate text`; the bot's answer as shown (its text and blocks)."""
        before = len(self.ephemeral_texts(user))
        self.slash(user, text, channel)
        shown = wait_for(
            f"the answer to {text!r}",
            lambda: self.workspace.ephemerals(user)[before:],
            stack=self,
        )
        sections = [str(b["text"]["text"]) for b in shown[-1].blocks if b.get("type") == "section"]
        return "\n".join([shown[-1].text, *sections])

    def click(self, user: str, message: Message, element: dict[str, Any]) -> Any:
        return asyncio.run(
            self.driver.click(user, CHANNEL, message.ts, element["action_id"], element["value"])
        )


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float = 30.0, stack: Stack | None = None
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    logs = stack.bot.logs()[-4000:] if stack else ""
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def bot_env(redis_url: str, heroku_url: str, slack_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEROKU_", "MIGRATE_"))
    }
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url + "/api/",
        "HEROKU_API_KEY": API_KEY,
        "HEROKU_API_URL": heroku_url,
        "HEROKU_DATA_API_URL": heroku_url,
        "REDIS_URL": redis_url,
        "MIGRATE_POLL_SECONDS": "0.2",
        "MIGRATE_CAUGHT_UP_COMMITS": "200",
        "PORT": str(free_port()),
        "HTTP_PROXY": "",
        "HTTPS_PROXY": "",
    }
    return env | extra


def share_apps_with(world: World, workspace: Workspace) -> None:
    """Slack's people are collaborators of every app the world seeds, as a team is on Heroku
    (what MIGRATE_HEROKU_ACCESS_CHECK asks of an approver)."""
    world.team = [u.email for u in workspace.users.values() if u.email and not u.is_bot]


def start_stack(
    redis_url: str,
    contracts_dir: Path | None,
    tmp: Path,
    *,
    backend: DatabaseBackend | None = None,
    page_port: int = 0,
    **env: str,
) -> Stack:
    """Stand-ins on free ports and a bot configured for them (not started yet)."""
    world = World(backend, seed=7)
    heroku = ThreadedServer(
        heroku_app(world, api_key=API_KEY, contracts_dir=contracts_dir, check_responses=True)
    ).start()
    workspace = Workspace()
    share_apps_with(world, workspace)
    # The page is served before the bot's URL (hence the driver) exists.
    drivers: list[SlackDriver] = []
    slack_standin = slack_app(workspace, bot_token=BOT_TOKEN, contracts_dir=contracts_dir)
    register_page(slack_standin, workspace, lambda: drivers[0] if drivers else None)
    slack = ThreadedServer(slack_standin, port=page_port).start()
    bot = BotProcess(bot_env(redis_url, heroku.url, slack.url, **env), tmp / "bot.log")
    driver = SlackDriver(bot.url + "/slack/events", SIGNING_SECRET, slack.url, workspace)
    drivers.append(driver)
    return Stack(world, heroku, workspace, slack, bot, driver, redis_url)


def stop_stack(stack: Stack) -> None:
    stack.bot.stop()
    stack.slack.stop()
    stack.heroku.stop()
