"""`migrate-bot sandbox`: rehearse a follower changeover locally, with no account anywhere.

Starts a real Redis, the Heroku and Slack stand-ins and the bot, then plays two engineers in the
ops channel (alice starts, bob approves) and prints the migration's thread as it happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from sandbox.redis_server import RedisServer
from sandbox.stack import ALICE, BOB, Stack, start_stack, stop_stack, wait_for

APP = "demo-shop"
_TAGS = re.compile(r"<[@#]?([^>|]+)(?:\|[^>]*)?>")


def contracts_dir() -> Path | None:
    """The official schemas beside the repository, when this is a checkout that has them."""
    candidate = Path(__file__).resolve().parents[2] / "shared" / "contracts"
    return candidate if candidate.is_dir() else None


def _plain(text: str) -> str:
    return _TAGS.sub(r"\1", text).replace("*", "")


def _show(who: str, text: str) -> None:
    for i, line in enumerate(_plain(text).splitlines() or [""]):
        print(f"  {who if i == 0 else '':>12} │ {line}", flush=True)


def _message_text(blocks: list[dict[str, Any]], fallback: str) -> str:
    parts = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
        elements = block.get("elements")
        for element in elements if isinstance(elements, list) else []:
            if isinstance(element, dict) and element.get("type") == "mrkdwn":
                parts.append(str(element.get("text", "")))
    return "\n".join(p for p in parts if p) or fallback


def seed(stack: Stack) -> None:
    """A demo app with web and worker dynos, a pooler, and a follower that lags for a while."""
    stack.world.configure(provision_seconds=2, initial_lag=20000, apply_rate=4000)
    stack.world.seed_app(APP, formation={"web": 2, "worker": 1}, pooler=True)


def rehearse(stack: Stack, plan: str, timeout: float) -> int:
    """Run one changeover as alice and bob; 0 when it completed."""
    shown: dict[str, int] = {}

    def follow_thread() -> None:
        for message in stack.thread():
            version = len(message.edits)
            if shown.get(message.ts) == version:
                continue
            shown[message.ts] = version
            prefix = "migrate-bot" if version == 0 else "(updated)"
            _show(prefix, _message_text(message.blocks, message.text))

    print(f"\n$ /migrate plan {APP} --to {plan}    (alice)")
    stack.slash(ALICE, f"plan {APP} --to {plan}")
    reply = wait_for("the plan", lambda: stack.workspace.ephemerals(ALICE))
    _show("to alice", _message_text(reply[-1].blocks, reply[-1].text))

    print(f"\n$ /migrate start {APP} --to {plan}   (alice)")
    stack.slash(ALICE, f"start {APP} --to {plan}")
    deadline = time.monotonic() + timeout
    tried_own = False
    decided: set[str] = set()
    while time.monotonic() < deadline:
        follow_thread()
        if any(" completed" in m.text or " cancelled" in m.text for m in stack.thread()):
            follow_thread()
            return 0
        for message, button in stack.buttons():
            value = json.loads(button["value"])
            if message.ts in decided or value["p"]:
                continue
            if not tried_own:
                tried_own = True
                print("\n  alice clicks Approve on her own migration…")
                stack.click(ALICE, message, button)
                time.sleep(0.3)
                _show("to alice", stack.ephemeral_texts(ALICE)[-1])
            print(f"\n  bob approves {value['g'].replace('_', ' ')}")
            stack.click(BOB, message, button)
            decided.add(message.ts)
        time.sleep(0.1)
    print("The rehearsal did not finish in time; see the bot's log.")
    return 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="migrate-bot sandbox",
        description="Rehearse a follower changeover against local stand-ins of Slack and Heroku.",
    )
    parser.add_argument("--to", default="standard-2", help="plan of the new database")
    parser.add_argument("--poll", default="0.5", help="MIGRATE_POLL_SECONDS for the bot")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after this long")
    args = parser.parse_args(argv)

    print("migrate-bot sandbox: real Redis, Heroku and Slack stand-ins, the bot. Ctrl-C stops.")
    with RedisServer() as redis, tempfile.TemporaryDirectory(prefix="migrate-sandbox-") as tmp:
        stack = start_stack(redis.url, contracts_dir(), Path(tmp), MIGRATE_POLL_SECONDS=args.poll)
        code = 1
        try:
            stack.heroku.call(lambda: seed(stack))
            stack.bot.start()
            print(
                f"Heroku stand-in {stack.heroku.url} · Slack stand-in {stack.slack.url} · "
                f"bot {stack.bot.url}"
            )
            with contextlib.suppress(KeyboardInterrupt):
                code = rehearse(stack, args.to, args.timeout)
            calls = stack.heroku_calls()
            print(
                f"\n{len(calls)} Heroku API calls; contract violations: "
                f"Heroku {len(stack.heroku_violations())}, Slack {len(stack.workspace.violations)}."
            )
        finally:
            stop_stack(stack)
    raise SystemExit(code)
