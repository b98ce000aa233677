"""`migrate-bot sandbox`: rehearse a follower changeover on real PostgreSQL, in the browser.

Starts a real Redis, PostgreSQL clusters (a follower is a real streaming replica), the Heroku
and Slack stand-ins, a demo app that writes while it is scaled up, and the bot. Open the page
it prints, type `/migrate start demo-shop --to standard-2` as alice, approve as bob. At the end
the sandbox reports the downtime and whether any committed row is missing on the new database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import redis

from sandbox import contracts
from sandbox.demo_app import DemoApp, LossReport, check_loss
from sandbox.heroku.pg_backend import PostgresBackend
from sandbox.postgres import ClusterManager
from sandbox.redis_server import RedisServer
from sandbox.slack import User
from sandbox.stack import ALICE, BOB, CHANNEL, Stack, start_stack, stop_stack, wait_for
from state import keys
from state.models import Migration

APP = "demo-shop"
REPORTER = User("U0SANDBOX", "sandbox", "Sandbox", is_bot=True)


class Reporter:
    """Posts the loss report of every migration that finishes, once."""

    def __init__(self, stack: Stack, demo: DemoApp, *, echo: bool = True) -> None:
        self.stack = stack
        self.demo = demo
        # Printed on stdout as well as posted; a benchmark printing its own table says no.
        self.echo = echo
        self.reports: dict[str, LossReport] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-reporter", daemon=True)

    def start(self) -> Reporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with redis.Redis.from_url(self.stack.redis_url, decode_responses=True) as r:
            while not self._stop.wait(0.5):
                for migration_id in r.zrange(keys.index(), 0, -1):
                    if migration_id in self.reports:
                        continue
                    raw = r.get(keys.migration(migration_id))
                    if raw is None:
                        continue
                    m = Migration.from_stored(raw)
                    if m.ended:
                        self.report(m)

    def report(self, m: Migration) -> LossReport:
        def database_url() -> str:
            world = self.stack.world
            app = next(a for a in world.apps.values() if a.name == APP)
            return world.config_vars(app)["DATABASE_URL"]

        window = None
        if m.window.on_at and m.window.off_at:
            window = (m.window.on_at.timestamp(), m.window.off_at.timestamp())
        # Give writers that resumed after the window a moment, so "after" is not empty.
        time.sleep(1.0)
        report = check_loss(
            self.demo.ledger,
            lambda: self.stack.heroku.call(database_url),
            window=window,
            moved=m.window.promoted_at is not None,
        )
        self.reports[m.id] = report
        verdict = "no row lost" if not report.missing else f"{len(report.missing)} ROWS LOST"
        lines = [f"*Sandbox report for {m.id}* ({m.status.value}): {verdict}", *report.lines]
        if self.echo:
            print("\n".join(["", *lines]).replace("*", ""), flush=True)
        self.stack.workspace.post_message(
            CHANNEL, text="\n".join(lines), user=REPORTER.id, thread_ts=m.thread_ts
        )
        return report


def seed(stack: Stack, demo: DemoApp) -> None:
    """The demo app: web and worker dynos, a pooler, its DATABASE on a real cluster."""
    stack.world.seed_app(APP, formation={"web": 1, "worker": 1}, pooler=True)
    demo.attach(stack.world)


def rehearse(stack: Stack, plan: str, timeout: float) -> str:
    """Alice starts, tries to approve her own migration, bob approves every gate."""
    stack.slash(ALICE, f"start {APP} --to {plan}")
    reply = wait_for("the start reply", lambda: stack.ephemeral_texts(ALICE), stack=stack)[-1]
    migration_id = reply.split("*")[1] if "*" in reply else ""
    decided: set[str] = set()
    tried_own = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(" completed" in m.text or " cancelled" in m.text for m in stack.thread()):
            return migration_id
        for message, button in stack.buttons():
            if message.ts in decided or json.loads(button["value"])["p"]:
                continue
            if not tried_own:
                tried_own = True
                stack.click(ALICE, message, button)
            stack.click(BOB, message, button)
            decided.add(message.ts)
        time.sleep(0.1)
    raise TimeoutError("the rehearsal did not finish in time; see the bot's log")


@contextlib.contextmanager
def sandbox(
    *,
    poll: float = 1.0,
    lag_delay: float = 0.0,
    web_rate: float = 20.0,
    worker_rate: float = 10.0,
    port: int = 0,
    echo_reports: bool = True,
) -> Iterator[tuple[Stack, DemoApp, Reporter]]:
    """Everything up, on loopback; everything down and deleted on the way out."""
    with (
        RedisServer() as redis_server,
        ClusterManager() as clusters,
        tempfile.TemporaryDirectory(prefix="migrate-sandbox-") as tmp,
    ):
        backend = PostgresBackend(clusters, apply_delay_seconds=lag_delay)
        stack = start_stack(
            redis_server.url,
            contracts.directory(),
            Path(tmp),
            backend=backend,
            page_port=port,
            MIGRATE_POLL_SECONDS=str(poll),
        )
        demo = DemoApp(APP, web_rate=web_rate, worker_rate=worker_rate)
        reporter = Reporter(stack, demo, echo=echo_reports)
        try:
            stack.workspace.add_user(REPORTER)
            stack.heroku.call(lambda: seed(stack, demo))
            stack.bot.start()
            reporter.start()
            yield stack, demo, reporter
        finally:
            reporter.stop()
            demo.stop()
            stop_stack(stack)
            backend.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="migrate-bot sandbox",
        description="Rehearse a follower changeover on real PostgreSQL, with Slack and Heroku "
        "stand-ins and a demo app that writes. Open the printed URL in a browser.",
    )
    parser.add_argument("--to", default="standard-2", help="plan of the new database")
    parser.add_argument("--poll", type=float, default=1.0, help="MIGRATE_POLL_SECONDS for the bot")
    parser.add_argument(
        "--lag-delay", type=float, default=0.0, help="replica apply delay in seconds (watch lag)"
    )
    parser.add_argument("--web-rate", type=float, default=20.0, help="inserts/s per web dyno")
    parser.add_argument("--worker-rate", type=float, default=10.0, help="inserts/s per worker")
    parser.add_argument("--port", type=int, default=0, help="port of the channel page (0: free)")
    parser.add_argument(
        "--script", action="store_true", help="play alice and bob yourself, report, and exit"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="--script gives up after this")
    args = parser.parse_args(argv)
    # Ctrl-C and a polite kill both clean up; a shell may have started us with SIGINT ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    print("migrate-bot sandbox: starting Redis, PostgreSQL, the stand-ins and the bot…", flush=True)
    code = 0
    try:
        with sandbox(
            poll=args.poll,
            lag_delay=args.lag_delay,
            web_rate=args.web_rate,
            worker_rate=args.worker_rate,
            port=args.port,
        ) as (stack, _demo, reporter):
            if args.script:
                print(
                    f"\n  Rehearsing: alice starts `/migrate start {APP} --to {args.to}`, tries "
                    "to approve her own migration, bob approves every gate.\n"
                    f"  Watch it at {stack.slack.url}/ · bot log: {stack.bot.log_path}\n",
                    flush=True,
                )
            else:
                print(
                    f"\n  Open {stack.slack.url}/  (the #ops channel; switch between alice and "
                    f"bob)\n  Type: /migrate start {APP} --to {args.to}\n"
                    f"  Bot log: {stack.bot.log_path}   Ctrl-C stops and cleans up.\n",
                    flush=True,
                )
            if args.script:
                migration_id = rehearse(stack, args.to, args.timeout)
                report = wait_for("the report", lambda: reporter.reports.get(migration_id), 30)
                code = 1 if report.missing else 0
            else:
                while True:
                    time.sleep(3600)
    except KeyboardInterrupt:
        print("\nStopped; everything was cleaned up.", flush=True)
    raise SystemExit(code)
