"""Exactly once under concurrency and crashes: several real bot processes on one Redis.

Every test runs real `migrate-bot serve` processes against the Heroku and Slack stand-ins and
a real Redis, and judges the bot only by what the outside world saw: the calls the Heroku
stand-in served, the messages in the Slack stand-in, and the migration's keys in Redis.

Each bot process reaches Heroku through its own small TCP relay, which shows the requests that
process has sent and not yet had answered: that is how a test knows which process is in the
middle of a call before killing it, and which processes did the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bot.methods import REGISTRY
from bot.methods.base import Kind
from sandbox.heroku.faults import Fault
from sandbox.lifetime import die_with_parent
from sandbox.redis_server import RedisServer
from sandbox.slack import SlackDriver, User
from sandbox.slack.driver import Response
from sandbox.slack.workspace import Message
from sandbox.stack import (
    ALICE,
    BOB,
    CHANNEL,
    SIGNING_SECRET,
    BotProcess,
    Stack,
    free_port,
    share_apps_with,
    start_stack,
    stop_stack,
    wait_for,
)
from state import keys
from tests.e2e.conftest import seed_shop

CHANGEOVER = REGISTRY["changeover"].runbook

CAROL, DAVE = "U0CAROL", "U0DAVE"
# The bot's lease on a migration with MIGRATE_POLL_SECONDS=0.2 (the stack's): max(3 s, 3 polls).
LEASE_SECONDS = 3.0
APPROVERS = (BOB, CAROL, DAVE)
GATES = ("approve_maintenance", "approve_promote", "approve_destroy")
STEPS = [s.name for s in CHANGEOVER]
# Each disruptive step and the gate it is behind (the last gate before it in the runbook).
BEHIND_GATE = {
    step.name: [g.name for g in CHANGEOVER[:i] if g.kind is Kind.GATE][-1]
    for i, step in enumerate(CHANGEOVER)
    if step.disruptive
}
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
HTTP_METHODS = tuple(f"{m} ".encode() for m in ("GET", "HEAD", *MUTATING))


# --- a relay per process: which Heroku requests does that process have in flight? ----------


class Relay:
    """TCP relay to the Heroku stand-in for one bot process.

    A request counts as in flight from the moment its first bytes pass until the first byte of
    the answer comes back. When the bot dies, the relay closes its side towards the stand-in
    like a lost host would; the stand-in still finishes what it received.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}
        self._sockets: list[socket.socket] = []
        self.seen: list[str] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def in_flight(self) -> list[str]:
        with self._lock:
            return list(self._pending.values())

    def requests(self) -> list[str]:
        with self._lock:
            return list(self.seen)

    def _accept(self) -> None:
        n = 0
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            n += 1
            with self._lock:
                self._sockets += [client, upstream]
            for args in ((n, client, upstream, True), (n, upstream, client, False)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, conn: int, src: socket.socket, dst: socket.socket, outbound: bool) -> None:
        try:
            while chunk := src.recv(65536):
                with self._lock:
                    if outbound and chunk.startswith(HTTP_METHODS):
                        method, path = chunk.split(b"\r\n", 1)[0].decode("latin-1").split()[:2]
                        line = f"{method} {path.split('?', 1)[0]}"
                        self._pending[conn] = line
                        self.seen.append(line)
                    elif not outbound:
                        self._pending.pop(conn, None)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._pending.pop(conn, None)
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        # shutdown, not just close, wakes the thread blocked in accept().
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._accepting.join(timeout=5)


# --- several bot processes sharing one Redis and the stand-ins ------------------------------


class Bot(BotProcess):
    """A BotProcess that can be spawned now and waited for later, so several start at once."""

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        # Spawned from the test's main thread: the parent-death signal follows that thread.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=self.env,
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent(),  # noqa: PLW1509
        )
        log.close()
        self.starts += 1

    def wait_healthy(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"bot exited with {self.proc.returncode}:\n{self.logs()[-3000:]}"
                )
            if healthy(self):
                return
            time.sleep(0.05)
        raise TimeoutError(f"bot did not become healthy:\n{self.logs()[-3000:]}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def healthy(bot: BotProcess) -> bool:
    try:
        return httpx.get(bot.url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Node:
    """One bot process, the driver that sends it Slack's requests, and its relay to Heroku."""

    name: str
    bot: Bot
    driver: SlackDriver
    relay: Relay


@dataclass
class Cluster:
    stack: Stack
    nodes: list[Node]

    @property
    def r(self) -> redis.Redis:
        return redis.Redis.from_url(self.stack.redis_url, decode_responses=True)

    # -- acting ------------------------------------------------------------------------

    def slash(self, node: int, user: str, text: str) -> Response:
        return asyncio.run(self.nodes[node].driver.slash(user, text, CHANNEL))

    def click(self, node: int, user: str, message: Message, button: dict[str, Any]) -> Response:
        driver = self.nodes[node].driver
        return asyncio.run(
            driver.click(user, CHANNEL, message.ts, button["action_id"], button["value"])
        )

    def burst(
        self, clicks: list[tuple[int, str]], message: Message, button: dict[str, Any]
    ) -> list[Response]:
        """Every (node, user) click on the same button, all sent at once."""

        async def all_at_once() -> list[Response]:
            return await asyncio.gather(
                *(
                    self.nodes[node].driver.click(
                        user, CHANNEL, message.ts, button["action_id"], button["value"]
                    )
                    for node, user in clicks
                )
            )

        return asyncio.run(all_at_once())

    def approve(self, node: int, user: str, gate: str) -> None:
        message, button = self.button(gate)
        response = self.click(node, user, message, button)
        assert response.status == 200, response

    def button(self, gate: str) -> tuple[Message, dict[str, Any]]:
        return wait_for(
            f"the {gate} approval request",
            lambda: self.stack.gate_button(gate),
            timeout=60,
            stack=self.stack,
        )

    # -- reading -----------------------------------------------------------------------

    def migration(self, migration_id: str) -> dict[str, Any]:
        with self.r as r:
            raw = r.get(keys.migration(migration_id))
        assert raw is not None, f"{migration_id} is not in Redis"
        state: dict[str, Any] = json.loads(raw)
        return state

    def wait_finished(self, migration_id: str, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            m = self.migration(migration_id)
            return m if m["status"] in ("completed", "cancelled", "failed") else None

        return wait_for(f"{migration_id} to finish", finished, timeout=timeout, stack=self.stack)

    def audit(self, migration_id: str) -> list[dict[str, Any]]:
        with self.r as r:
            entries = r.xrange(keys.audit_of(migration_id))
        return [fields | {"detail": json.loads(fields["detail"])} for _, fields in entries]

    def logs(self) -> str:
        return "\n".join(f"--- {n.name}\n{n.bot.logs()[-3000:]}" for n in self.nodes)


def start_cluster(redis_url: str, contracts_dir: Path, tmp: Path, processes: int) -> Cluster:
    stack = start_stack(redis_url, contracts_dir, tmp)
    # The stack's own bot is never started: every process of the cluster is a Node.
    cluster = Cluster(stack, [])
    try:
        for user_id, name in ((CAROL, "carol"), (DAVE, "dave")):
            stack.workspace.add_user(
                User(user_id, name, f"{name.title()} Engineer", email=f"{name}@example.com")
            )
        share_apps_with(stack.world, stack.workspace)  # carol and dave may operate the apps too
        stack.heroku.call(lambda: seed_shop(stack))
        for i in range(processes):
            relay = Relay(stack.heroku.port)
            env = stack.bot.env | {
                "PORT": str(free_port()),
                "HEROKU_API_URL": relay.url,
                "HEROKU_DATA_API_URL": relay.url,
            }
            bot = Bot(env, tmp / f"bot-{i}.log")
            driver = SlackDriver(
                bot.url + "/slack/events", SIGNING_SECRET, stack.slack.url, stack.workspace
            )
            cluster.nodes.append(Node(f"bot-{i}", bot, driver, relay))
        for node in cluster.nodes:
            node.bot.spawn()
        for node in cluster.nodes:
            node.bot.wait_healthy()
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    for node in cluster.nodes:  # all at once, then wait for each
        if node.bot.alive:
            assert node.bot.proc is not None
            node.bot.proc.terminate()
    for node in cluster.nodes:
        node.bot.stop()
        node.relay.close()
    stop_stack(cluster.stack)


MakeCluster = Callable[..., Cluster]


@pytest.fixture
def make_cluster(contracts_dir: Path, tmp_path: Path) -> Iterator[MakeCluster]:
    """`make(redis_url, processes=3)`: stand-ins plus that many bot processes."""
    started: list[Cluster] = []

    def make(redis_url: str, processes: int = 3) -> Cluster:
        cluster = start_cluster(redis_url, contracts_dir, tmp_path, processes)
        started.append(cluster)
        return cluster

    yield make
    for cluster in started:
        stop_cluster(cluster)


class RestartableRedis(RedisServer):
    def restart_after(self, down_seconds: float, *, kill: bool) -> None:
        """Like `restart`, but stay down `down_seconds` first (a failover, a slow reboot)."""
        self._terminate(signal.SIGKILL if kill else signal.SIGTERM)
        time.sleep(down_seconds)
        self._spawn()
        self._wait_ready_or_stop()


@pytest.fixture
def persistent_redis() -> Iterator[RestartableRedis]:
    """A Redis of this test's own, with an append-only file, that can be restarted."""
    server = RestartableRedis(persistent=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- what the outside world saw ---------------------------------------------------------------


def platform_changes(stack: Stack) -> list[str]:
    """Every platform-changing request the stand-in served, in order (resolution excluded)."""
    return [
        f"{c['method']} {c['path']}"
        for c in stack.heroku_calls()
        if c["method"] in MUTATING and not c["path"].startswith("/actions/")
    ]


def disruptive_calls(stack: Stack, old_addon_id: str) -> Counter[str]:
    """The runbook's disruptive calls by name, counting every request that reached Heroku."""
    seen: Counter[str] = Counter()
    for c in stack.heroku_calls():
        method, path, body = c["method"], c["path"], c["body"] or {}
        if (method, path) == ("POST", "/apps/shop/addons"):
            seen["create follower"] += 1
        elif (method, path) == ("PATCH", "/apps/shop") and "maintenance" in body:
            seen["maintenance on" if body["maintenance"] else "maintenance off"] += 1
        elif (method, path) == ("PATCH", "/apps/shop/formation"):
            to_zero = all(u["quantity"] == 0 for u in body.get("updates", []))
            seen["scale down" if to_zero else "scale up"] += 1
        elif method == "PUT" and path.endswith("/unfollow"):
            seen["unfollow"] += 1
        elif (method, path) == ("POST", "/addon-attachments") and body.get("name") == "DATABASE":
            seen["attach DATABASE"] += 1
        elif (method, path) == ("DELETE", f"/apps/shop/addons/{old_addon_id}"):
            seen["destroy old"] += 1
    return seen


ONCE_EACH = Counter(
    {
        name: 1
        for name in (
            "create follower",
            "maintenance on",
            "scale down",
            "unfollow",
            "attach DATABASE",
            "scale up",
            "maintenance off",
            "destroy old",
        )
    }
)


def source_addon_id(stack: Stack) -> str:
    state = stack.heroku_state()
    addon_id: str = next(a["id"] for a in state["addons"] if a["app"] == "shop")
    return addon_id


def migration_id_from(stack: Stack, user: str = ALICE) -> str:
    """The id in `user`'s start reply (the bot answers after its ack, so wait for it)."""

    def found() -> str | None:
        for text in stack.ephemeral_texts(user):
            match = re.search(r"Started \*(mig-[a-z0-9]{6})\*", text)
            if match:
                return match.group(1)
        return None

    return wait_for("the start reply", found, stack=stack)


def thread_parents(stack: Stack) -> list[Message]:
    return [m for m in stack.channel_messages() if m.thread_ts is None]


def approval_requests(
    stack: Stack, gate: str, messages: list[Message] | None = None
) -> list[Message]:
    """Messages (of the latest thread by default) that carry, or once carried, approve
    buttons for `gate`."""

    def has_button(blocks: list[dict[str, Any]]) -> bool:
        for block in blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if (
                    element.get("action_id") == "approve_step"
                    and json.loads(element["value"]).get("g") == gate
                ):
                    return True
        return False

    return [
        m
        for m in (stack.thread() if messages is None else messages)
        if has_button(m.blocks) or any(has_button(e.blocks) for e in m.edits)
    ]


def step_done_counts(audit: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["detail"].get("step") for e in audit if e["event"] == "step_done")


def caused_by(audit: list[dict[str, Any]]) -> dict[str, list[str]]:
    """For each audited disruptive Heroku call, the person behind it.

    That is the last person who asked for the migration or approved a gate before the call
    appears in the audit stream.
    """
    person = None
    found: dict[str, list[str]] = {}
    for e in audit:
        if e["event"] in ("requested", "approved"):
            person = e["actor"]
        elif e["event"] == "heroku_call" and e["detail"]["method"] in MUTATING:
            d = e["detail"]
            if d["path"].startswith("/actions/"):
                continue  # resolving an attachment name changes nothing
            key = f"{d['method']} {d['path']}"
            found.setdefault(key, []).append(str(person))
    return found


def assert_audit_tells_the_story(
    audit: list[dict[str, Any]], requester: str, approvers: dict[str, str]
) -> None:
    """One `requested`, one `approved` per gate naming its approver, every step done once,
    and each disruptive step's record naming the person whose approval let it run."""
    assert [e["actor"] for e in audit if e["event"] == "requested"] == [requester]
    approved = [(e["detail"]["gate"], e["actor"]) for e in audit if e["event"] == "approved"]
    assert sorted(approved) == sorted(approvers.items()), approved
    done = step_done_counts(audit)
    assert done == Counter(STEPS), done
    order = [e["detail"].get("step") for e in audit if e["event"] == "step_done"]
    assert order == STEPS  # the step after each gate exists, after the gate
    for gate, approver in approvers.items():
        approval_at = next(
            i for i, e in enumerate(audit) if e["event"] == "approved" and e["actor"] == approver
        )
        gate_done_at = next(
            i
            for i, e in enumerate(audit)
            if e["event"] == "step_done" and e["detail"].get("step") == gate
        )
        assert approval_at < gate_done_at, (gate, approver)
    caused = {
        e["detail"]["step"]: e["detail"].get("caused_by")
        for e in audit
        if e["event"] == "step_done" and e["detail"].get("step") in BEHIND_GATE
    }
    assert caused == {step: approvers[gate] for step, gate in BEHIND_GATE.items()}, caused


# --- 1. three processes, one changeover --------------------------------------------------


def test_three_bot_processes_run_one_changeover_with_every_disruptive_call_made_once(
    redis_url: str, make_cluster: MakeCluster
) -> None:
    cluster = make_cluster(redis_url, processes=3)
    stack = cluster.stack
    old = source_addon_id(stack)

    assert cluster.slash(0, ALICE, "start shop --to standard-2").status == 200
    migration_id = migration_id_from(stack)

    # Commands and clicks reach different processes, as behind Heroku's router.
    cluster.slash(1, BOB, f"status {migration_id}")
    status = wait_for("status", lambda: [e for e in stack.workspace.ephemerals(BOB) if e.blocks])
    assert migration_id in json.dumps(status[-1].blocks) or migration_id in status[-1].text
    cluster.approve(1, BOB, "approve_maintenance")
    cluster.approve(2, CAROL, "approve_promote")
    cluster.approve(0, DAVE, "approve_destroy")
    final = cluster.wait_finished(migration_id)
    assert final["status"] == "completed", (final["status"], final.get("error"), cluster.logs())

    assert disruptive_calls(stack, old) == ONCE_EACH
    new = next(a for a in stack.heroku_state()["addons"] if a["name"].startswith(migration_id))
    assert platform_changes(stack) == [
        "POST /apps/shop/addons",
        "PATCH /apps/shop",
        "PATCH /apps/shop/formation",
        f"PUT /client/v11/databases/{new['id']}/unfollow",
        "POST /addon-attachments",
        "POST /addon-attachments",
        "POST /addon-attachments",
        "PATCH /apps/shop/formation",
        "PATCH /apps/shop",
        f"DELETE /apps/shop/addons/{old}",
    ]
    shop = next(a for a in stack.heroku_state()["apps"] if a["name"] == "shop")
    assert shop["formation"] == {"web": 2, "worker": 1} and shop["maintenance"] is False

    # One thread, one request per gate, and an audit that names who caused each call.
    assert len(thread_parents(stack)) == 1
    for gate in GATES:
        assert len(approval_requests(stack, gate)) == 1, gate
    audit = cluster.audit(migration_id)
    assert_audit_tells_the_story(
        audit,
        ALICE,
        {"approve_maintenance": BOB, "approve_promote": CAROL, "approve_destroy": DAVE},
    )
    assert caused_by(audit) == {
        "POST /apps/shop/addons": [ALICE],
        "PATCH /apps/shop": [BOB, CAROL],  # maintenance on, then off after the promote
        "PATCH /apps/shop/formation": [BOB, CAROL],
        f"PUT /client/v11/databases/{new['id']}/unfollow": [CAROL],
        "POST /addon-attachments": [CAROL, CAROL, CAROL],
        f"DELETE /apps/shop/addons/{old}": [DAVE],
    }
    assert stack.heroku_violations() == []
    assert stack.workspace.violations == []
    spread = {n.name: len(n.relay.requests()) for n in cluster.nodes}
    print(f"\nthree processes: Heroku requests per process {spread}")


# --- 2. one button clicked 20 times at once ------------------------------------------------


CLICKS_PER_BURST = 20
# What each approval lets the bot do to the platform.
GATED = {
    "approve_maintenance": ("maintenance on", "scale down"),
    "approve_promote": ("unfollow", "attach DATABASE"),
    "approve_destroy": ("destroy old",),
}


def click_burst(
    cluster: Cluster, migration_id: str, gate: str, clicks: list[tuple[int, str]], old: str
) -> str:
    """Send every click on `gate`'s button at once; check one approval won; return who."""
    stack = cluster.stack
    message, button = cluster.button(gate)
    assert not any(disruptive_calls(stack, old)[c] for c in GATED[gate])
    before = len(stack.workspace.ephemerals())
    responses = cluster.burst(clicks, message, button)
    assert [r.status for r in responses] == [200] * len(clicks)

    def approvals() -> list[dict[str, Any]]:
        return [
            e
            for e in cluster.audit(migration_id)
            if e["event"] == "approved" and e["detail"]["gate"] == gate
        ]

    def answered() -> tuple[list[dict[str, Any]], list[Any]] | None:
        """Every click either recorded an approval or got a refusal."""
        found = approvals(), stack.workspace.ephemerals()[before:]
        return found if len(found[0]) + len(found[1]) >= len(clicks) else None

    approved, refused = wait_for(f"{len(clicks)} clicks answered", answered, stack=stack)
    assert len(approved) == 1, ([e["actor"] for e in approved], [e.text for e in refused])
    winner: str = approved[0]["actor"]
    assert winner in APPROVERS
    assert len(refused) == len(clicks) - 1, [e.text for e in refused]
    for refusal in refused:
        assert refusal.user in APPROVERS
        already = f"Already approved by <@{winner}>" in refusal.text
        # The destroy runs at once, so a late click may find the migration finished.
        finished = gate == "approve_destroy" and "already completed" in refusal.text
        assert already or finished, refusal.text
    if gate != "approve_destroy":
        wait_for(
            f"the steps after {gate}",
            lambda: all(disruptive_calls(stack, old)[c] for c in GATED[gate]),
            stack=stack,
        )

    def closed() -> Message | None:
        """The request, updated in place (soon after, by whichever process delivers)."""
        now = stack.workspace.find_message(CHANNEL, message.ts)
        if now is None or any(b["type"] == "actions" for b in now.blocks):
            return None
        return now

    shown = wait_for(f"the {gate} request to close", closed, stack=stack)
    assert f"<@{winner}>" in shown.text + json.dumps(shown.blocks)
    return winner


def test_an_approval_clicked_20_times_at_once_by_three_approvers_is_recorded_once(
    redis_url: str, make_cluster: MakeCluster
) -> None:
    cluster = make_cluster(redis_url, processes=3)
    stack = cluster.stack
    old = source_addon_id(stack)
    cluster.slash(0, ALICE, "start shop --to standard-2")
    migration_id = migration_id_from(stack)

    # Every (process, approver) pair appears; each gate's burst starts with someone else.
    clicks = [(i // 3 % 3, APPROVERS[i % 3]) for i in range(CLICKS_PER_BURST)]
    winners = {}
    for turn, gate in enumerate(GATES):
        rotated = clicks[turn * 7 :] + clicks[: turn * 7]
        winners[gate] = click_burst(cluster, migration_id, gate, rotated, old)

    final = cluster.wait_finished(migration_id)
    assert final["status"] == "completed", (final["status"], final.get("error"), cluster.logs())
    assert disruptive_calls(stack, old) == ONCE_EACH
    audit = cluster.audit(migration_id)
    assert_audit_tells_the_story(audit, ALICE, winners)
    executed = sum(1 for e in audit if e["event"] == "approved")
    for gate in GATES:
        assert len(approval_requests(stack, gate)) == 1, gate
    assert stack.workspace.violations == []
    sent = CLICKS_PER_BURST * len(GATES)
    print(f"\nconcurrent clicks: {sent} sent, {executed} approvals executed ({winners})")


# --- 3. simultaneous /migrate start on one app ---------------------------------------------


def test_simultaneous_starts_on_one_app_make_one_migration_and_tell_the_others_who_holds_it(
    redis_url: str, make_cluster: MakeCluster
) -> None:
    cluster = make_cluster(redis_url, processes=3)
    stack = cluster.stack
    # A second app with the same shape, so two rounds share the processes: 2 starts at once
    # on shop, then 10 at once on cart.
    stack.heroku.call(
        lambda: stack.world.seed_app(
            "cart", formation={"web": 1, "worker": 1}, database_plan="standard-0"
        )
    )
    people = (ALICE, BOB, CAROL, DAVE)
    winners: dict[str, str] = {}
    for app, starts in (("shop", 2), ("cart", 10)):
        sent = [(i % 3, people[(i + len(winners)) % len(people)]) for i in range(starts)]
        before = len(stack.workspace.ephemerals())

        async def all_at_once(app: str = app, sent: list[tuple[int, str]] = sent) -> list[Any]:
            return await asyncio.gather(
                *(
                    cluster.nodes[node].driver.slash(user, f"start {app} --to standard-2", CHANNEL)
                    for node, user in sent
                )
            )

        assert [r.status for r in asyncio.run(all_at_once())] == [200] * starts

        def replies(before: int = before, starts: int = starts) -> list[tuple[str, str]] | None:
            found = [
                (e.user, e.text)
                for e in stack.workspace.ephemerals()[before:]
                if "Started *mig-" in e.text or "already being migrated" in e.text
            ]
            return found if len(found) >= starts else None

        answers = wait_for(f"{starts} replies about {app}", replies, stack=stack)
        assert len(answers) == starts, answers
        started = [(user, text) for user, text in answers if "Started *mig-" in text]
        assert len(started) == 1, answers
        holder = started[0][0]
        migration_id = re.search(r"mig-[a-z0-9]{6}", started[0][1]).group(0)  # type: ignore[union-attr]
        winners[migration_id] = holder
        refused = [text for _, text in answers if "already being migrated" in text]
        assert len(refused) == starts - 1
        for text in refused:
            assert f"{app} is already being migrated by {migration_id}" in text, text
            assert f"<@{holder}>" in text, text
        assert cluster.migration(migration_id)["requested_by"] == holder
        assert cluster.migration(migration_id)["app"] == app
        with cluster.r as r:
            assert r.get(keys.app_lock(app)) == migration_id

    with cluster.r as r:
        assert r.smembers(keys.active()) == set(winners)
        assert set(r.zrange(keys.index(), 0, -1)) == set(winners)
        requested = [f for _, f in r.xrange(keys.audit()) if f["event"] == "requested"]
    assert sorted((f["migration"], f["actor"]) for f in requested) == sorted(winners.items())

    # Each of the two migrations runs on normally: one thread each, one follower each.
    wait_for(
        "both maintenance approval requests",
        lambda: len(approval_requests(stack, "approve_maintenance", stack.channel_messages())) == 2,
        timeout=60,
        stack=stack,
    )
    assert len(thread_parents(stack)) == 2
    assert sorted(platform_changes(stack)) == ["POST /apps/cart/addons", "POST /apps/shop/addons"]
    print(f"\nsimultaneous starts: 2 then 10 sent, 1 migration each ({winners})")


# --- 4. Redis restarted mid-migration ------------------------------------------------------


def restart_redis(
    cluster: Cluster, server: RestartableRedis, *, kill: bool, down_seconds: float = 0.0
) -> None:
    if down_seconds:
        server.restart_after(down_seconds, kill=kill)
    else:
        server.restart(kill=kill)
    for node in cluster.nodes:
        bot = node.bot
        wait_for(f"{node.name} to reach Redis again", lambda: healthy(bot))  # noqa: B023


def wait_in_flight(cluster: Cluster, request: str) -> Node:
    """The node whose process is in the middle of `request` (method and path prefix)."""
    return wait_for(
        f"{request} in flight",
        lambda: next(
            (n for n in cluster.nodes if any(r.startswith(request) for r in n.relay.in_flight())),
            None,
        ),
        stack=cluster.stack,
    )


@pytest.mark.parametrize("kill", [False, True], ids=["SIGTERM", "SIGKILL"])
def test_redis_restarted_at_a_gate_and_mid_call_the_migration_completes_with_no_side_effect_twice(
    persistent_redis: RestartableRedis, make_cluster: MakeCluster, kill: bool
) -> None:
    cluster = make_cluster(persistent_redis.url, processes=2)
    stack = cluster.stack
    old = source_addon_id(stack)
    # Two calls answer slowly, so that Redis goes away while a process is inside them.
    slow = [
        Fault(path_regex=r"^/apps/shop/formation$", method="PATCH", delay_seconds=0.6, times=1),
        Fault(path_regex=r"/unfollow$", method="PUT", delay_seconds=0.6, times=1),
    ]
    stack.heroku.call(lambda: stack.world.faults.extend(slow))
    cluster.slash(0, ALICE, "start shop --to standard-2")
    migration_id = migration_id_from(stack)

    restarts = []
    cluster.button("approve_maintenance")
    restart_redis(cluster, persistent_redis, kill=kill)  # waiting at a gate
    restarts.append("at approve_maintenance")
    cluster.approve(1, BOB, "approve_maintenance")
    wait_in_flight(cluster, "PATCH /apps/shop/formation")
    restart_redis(cluster, persistent_redis, kill=kill)  # while scaling down
    restarts.append("during scale_down")
    cluster.approve(0, CAROL, "approve_promote")
    wait_in_flight(cluster, "PUT /client/v11/databases/")
    # After a crash, Redis stays away longer than a lease (3 s): whoever advances next must
    # take it afresh, and the process that was inside the unfollow must not write over it.
    down = LEASE_SECONDS + 1.0 if kill else 0.0
    restart_redis(cluster, persistent_redis, kill=kill, down_seconds=down)  # while unfollowing
    restarts.append(f"during unfollow (down {down:.0f} s)" if down else "during unfollow")
    cluster.approve(1, DAVE, "approve_destroy")

    final = cluster.wait_finished(migration_id)
    assert final["status"] == "completed", (final["status"], final.get("error"), cluster.logs())
    assert all(n.bot.alive for n in cluster.nodes)
    assert disruptive_calls(stack, old) == ONCE_EACH
    shop = next(a for a in stack.heroku_state()["apps"] if a["name"] == "shop")
    assert shop["formation"] == {"web": 2, "worker": 1} and shop["maintenance"] is False
    followers = [a for a in stack.heroku_state()["addons"] if a["name"].startswith(migration_id)]
    assert len(followers) == 1
    assert_audit_tells_the_story(
        cluster.audit(migration_id),
        ALICE,
        {"approve_maintenance": BOB, "approve_promote": CAROL, "approve_destroy": DAVE},
    )
    assert len(thread_parents(stack)) == 1
    for gate in GATES:
        assert len(approval_requests(stack, gate)) == 1, gate
    print(f"\nredis restarts ({'SIGKILL' if kill else 'SIGTERM'}): {restarts}")


# --- 5. a process killed mid-call while another runs -----------------------------------------


@pytest.mark.parametrize(
    ("request_line", "path_regex", "method", "next_step_call"),
    [
        # wait_available asks for the follower's wait_status
        ("POST /apps/shop/addons", r"^/apps/shop/addons$", "POST", "GET /client/v11/databases/"),
        # promote attaches the new database
        ("PUT /client/v11/databases/", r"/unfollow$", "PUT", "POST /addon-attachments"),
    ],
    ids=["create-follower", "unfollow"],
)
def test_a_process_killed_mid_call_is_taken_over_by_the_survivor_which_finishes_once(
    redis_url: str,
    make_cluster: MakeCluster,
    request_line: str,
    path_regex: str,
    method: str,
    next_step_call: str,
) -> None:
    cluster = make_cluster(redis_url, processes=2)
    stack = cluster.stack
    old = source_addon_id(stack)
    # The call answers after 1 s: long enough to kill its caller inside it, shorter than the
    # lease (3 s), so it has landed on Heroku before anyone may take over.
    stack.heroku.call(
        lambda: stack.world.faults.append(
            Fault(path_regex=path_regex, method=method, delay_seconds=1.0, times=1)
        )
    )
    cluster.slash(0, ALICE, "start shop --to standard-2")
    migration_id = migration_id_from(stack)
    if method == "PUT":
        cluster.approve(0, BOB, "approve_maintenance")
        cluster.approve(1, CAROL, "approve_promote")

    victim = wait_in_flight(cluster, request_line)
    victim.bot.kill()
    survivor = next(i for i, n in enumerate(cluster.nodes) if n is not victim)
    assert cluster.nodes[survivor].bot.alive
    survivor_before = len(cluster.nodes[survivor].relay.requests())

    if method == "POST":
        cluster.approve(survivor, BOB, "approve_maintenance")
        cluster.approve(survivor, CAROL, "approve_promote")
    cluster.approve(survivor, DAVE, "approve_destroy")
    final = cluster.wait_finished(migration_id)
    assert final["status"] == "completed", (final["status"], final.get("error"), cluster.logs())

    assert not victim.bot.alive
    assert disruptive_calls(stack, old) == ONCE_EACH
    followers = [a for a in stack.heroku_state()["addons"] if a["name"].startswith(migration_id)]
    assert len(followers) == 1
    shop = next(a for a in stack.heroku_state()["apps"] if a["name"] == "shop")
    assert shop["formation"] == {"web": 2, "worker": 1} and shop["maintenance"] is False
    assert_audit_tells_the_story(
        cluster.audit(migration_id),
        ALICE,
        {"approve_maintenance": BOB, "approve_promote": CAROL, "approve_destroy": DAVE},
    )
    # The survivor carried on from the interrupted step, without repeating its call.
    after_kill = cluster.nodes[survivor].relay.requests()[survivor_before:]
    assert any(r.startswith(next_step_call) for r in after_kill), after_kill
    assert not any(r.startswith(request_line) for r in after_kill), after_kill
    print(f"\nkilled {victim.name} inside {request_line}; the survivor finished")
