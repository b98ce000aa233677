"""The fault matrix: every Heroku-calling runbook step x every kind of outside-world fault.

One bot process runs the cells many at a time, each on its own app (`shop-<n>`), so a fault
aimed at one app's calls cannot hit another's. Only what the outside world sees is observed:
the Heroku stand-in's recorded calls and platform state, the Slack thread, the migration's
status in Redis.

How a fault reaches exactly the step it is aimed at:
- app-scoped calls (`/apps/shop-<n>/...`) that the target step is the first to make are armed
  before the migration starts;
- calls the runbook also makes earlier, or that carry the follower's id (Data API), are armed
  on the stand-in's own thread the moment the platform reaches the state that precedes the
  step (follower created, maintenance on, scaled to zero, DATABASE promoted): a World observer
  sees it while the changing request is still being answered, so no call can slip between;
- promote's `POST /addon-attachments` names no app in its path: a promote cell gets the promote
  step to itself (its "lane"), and what it leaves of its fault is disarmed when the lane ends.
Afterwards each cell checks that the injected answers it was given are on its own app's calls.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

from bot.methods.changeover import StepName
from sandbox.heroku.faults import Fault
from sandbox.heroku.world import Call, World
from sandbox.slack.workspace import Message
from sandbox.stack import ALICE, BOB, CHANNEL, Stack
from state import keys
from state.models import Status

FORMATION = {"web": 2, "worker": 1}
PLAN = "standard-2"
POOLER = ("DATABASE_CONNECTION_POOL", "connection-pooling:default")


# -- what goes wrong ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of fault the Heroku stand-in can inject."""

    name: str  # test id
    label: str  # for people
    status: int | None = None
    # Retry-After values, cycled over the steps (so both 0 and 1 are covered).
    retry_after: tuple[int, ...] = ()
    drop: bool = False
    after: bool = False  # the request is executed first; only its answer is replaced or lost
    delay: float = 0.0


KINDS: tuple[Kind, ...] = (
    Kind("429-retry-after", "429 with Retry-After: 0 or 1", status=429, retry_after=(0, 1)),
    Kind("429-no-retry-after", "429 without Retry-After", status=429),
    Kind("500", "500, request not executed", status=500),
    Kind("503", "503, request not executed", status=503),
    Kind("connection-lost", "connection lost, request not executed", drop=True),
    Kind("executed-answer-lost", "request executed, connection lost", drop=True, after=True),
    Kind("executed-then-500", "request executed, answered 500", status=500, after=True),
    Kind("slow-1.5s", "answer delayed 1.5 s", delay=1.5),
)


# -- where it goes wrong -----------------------------------------------------------------------


class Trigger(StrEnum):
    """When a cell's fault is armed (see the module docstring)."""

    START = "before the migration starts"
    FOLLOWER = "when the follower add-on is created"
    MAINTENANCE = "when the app enters maintenance"
    SCALED_DOWN = "when every process type is at 0"
    PROMOTED = "when DATABASE points at the follower"
    LANE = "when the cell has the promote step to itself"


@dataclass(frozen=True)
class Target:
    """The Heroku call of one runbook step that a cell's fault answers.

    `path` is a regex template: {app} (the cell's app), {fid} (the follower's add-on id),
    {old} (the original database's add-on id).
    """

    step: StepName
    method: str
    path: str
    trigger: Trigger


TARGETS: tuple[Target, ...] = (
    Target(StepName.PREFLIGHT, "GET", r"^/apps/{app}/formation$", Trigger.START),
    Target(StepName.CREATE_FOLLOWER, "POST", r"^/apps/{app}/addons$", Trigger.START),
    Target(
        StepName.WAIT_AVAILABLE,
        "GET",
        r"^/client/v11/databases/{fid}/wait_status$",
        Trigger.FOLLOWER,
    ),
    Target(StepName.WAIT_CAUGHT_UP, "GET", r"^/client/v11/databases/{fid}$", Trigger.FOLLOWER),
    Target(StepName.MAINTENANCE_ON, "PATCH", r"^/apps/{app}$", Trigger.START),
    Target(StepName.SCALE_DOWN, "PATCH", r"^/apps/{app}/formation$", Trigger.START),
    Target(StepName.WAIT_ZERO_LAG, "GET", r"^/client/v11/databases/{fid}$", Trigger.MAINTENANCE),
    Target(StepName.UNFOLLOW, "PUT", r"^/client/v11/databases/{fid}/unfollow$", Trigger.FOLLOWER),
    Target(StepName.PROMOTE, "POST", r"^/addon-attachments$", Trigger.LANE),
    Target(StepName.SCALE_UP, "PATCH", r"^/apps/{app}/formation$", Trigger.SCALED_DOWN),
    Target(StepName.MAINTENANCE_OFF, "PATCH", r"^/apps/{app}$", Trigger.MAINTENANCE),
    Target(StepName.VERIFY, "GET", r"^/client/v11/databases/{fid}$", Trigger.PROMOTED),
    Target(StepName.DESTROY_OLD, "DELETE", r"^/apps/{app}/addons/{old}$", Trigger.START),
)


@dataclass(frozen=True)
class Cell:
    """One (step, fault kind) pair, run on its own app."""

    target: Target
    kind: Kind
    times: int
    app: str
    retry_after: int | None = None

    @property
    def id(self) -> str:
        return f"{self.target.step}-{self.kind.name}"

    @property
    def label(self) -> str:
        extra = f" (Retry-After: {self.retry_after})" if self.retry_after is not None else ""
        return f"{self.kind.label}{extra} x{self.times} on {self.target.method} {self.target.path}"

    def fault(self, regex: str) -> Fault:
        kind = self.kind
        return Fault(
            path_regex=regex,
            method=self.target.method,
            status=kind.status,
            times=self.times,
            delay_seconds=kind.delay,
            retry_after=self.retry_after,
            drop_connection=kind.drop,
            after=kind.after,
        )


def cells() -> list[Cell]:
    """Every step x every kind; `times` cycles 1..3 so each step and each kind gets all three."""
    return [
        Cell(
            target,
            kind,
            1 + (i + j) % 3,
            f"shop-{i * len(KINDS) + j}",
            kind.retry_after[i % len(kind.retry_after)] if kind.retry_after else None,
        )
        for i, target in enumerate(TARGETS)
        for j, kind in enumerate(KINDS)
    ]


# -- what the platform went through (kept on the stand-in's thread) ---------------------------

# (in maintenance, every process type at 0, DATABASE on the follower)
Phase = tuple[bool, bool, bool]


@dataclass
class Watch:
    """One cell's app as the World observer sees it; only touched on the stand-in's thread."""

    cell: Cell
    app_id: str
    old_id: str
    fid: str | None = None
    fault: Fault | None = None
    addon_ids: set[str] = field(default_factory=set)  # every add-on ever seen on the app
    # Attachments ever made of the follower as DATABASE, and as the pooler.
    database_atts: set[str] = field(default_factory=set)
    pooler_atts: set[str] = field(default_factory=set)
    phases: list[Phase] = field(default_factory=list)

    def regex(self) -> str:
        return self.cell.target.path.format(
            app=re.escape(self.cell.app), fid=re.escape(self.fid or ""), old=re.escape(self.old_id)
        )

    def given(self) -> int:
        """Answers the stand-in gave from this cell's fault so far."""
        return self.cell.times - (self.fault.times or 0) if self.fault is not None else 0


class Observer:
    """A World observer: records each watched app's phases and arms faults on their trigger.

    World calls its observers, on its own thread, after every change of formation,
    maintenance, dynos, add-ons or attachments, before the changing request is answered.
    """

    def __init__(self) -> None:
        self.by_app_id: dict[str, Watch] = {}

    def arm(self, world: World, watch: Watch) -> None:
        watch.fault = watch.cell.fault(watch.regex())
        world.faults.append(watch.fault)

    def __call__(self, world: World) -> None:
        for addon in world.addons.values():
            watch = self.by_app_id.get(addon.app_id)
            if watch is not None:
                watch.addon_ids.add(addon.id)
                if addon.id != watch.old_id and watch.fid is None:
                    watch.fid = addon.id
        database: dict[str, str] = {}
        for att in world.attachments.values():
            watch = self.by_app_id.get(att.app_id)
            if watch is None:
                continue
            if att.name == "DATABASE" and att.namespace is None:
                database[att.app_id] = att.addon_id
            if att.addon_id == watch.fid:
                if att.name == "DATABASE" and att.namespace is None:
                    watch.database_atts.add(att.id)
                elif (att.name, att.namespace) == POOLER:
                    watch.pooler_atts.add(att.id)
        for app_id, watch in self.by_app_id.items():
            app = world.apps[app_id]
            zero = all(f.quantity == 0 for f in app.formation.values())
            promoted = watch.fid is not None and database.get(app_id) == watch.fid
            phase = (app.maintenance, zero, promoted)
            if not watch.phases or watch.phases[-1] != phase:
                watch.phases.append(phase)
            if watch.fault is None and {
                Trigger.FOLLOWER: watch.fid is not None,
                Trigger.MAINTENANCE: phase[0],
                Trigger.SCALED_DOWN: phase[1],
                Trigger.PROMOTED: phase[2],
            }.get(watch.cell.target.trigger, False):
                self.arm(world, watch)


# -- the run -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one cell ended in, as seen from outside."""

    cell: Cell
    migration_id: str
    status: str  # a Status value, or "stuck" if it had not stopped when the run ended
    step: str
    error: str | None  # the migration's error, or what a stuck one was waiting for
    faults_given: int  # answers the stand-in gave from this cell's fault
    calls: list[dict[str, Any]]  # the Heroku calls about this cell's app
    app_state: dict[str, Any]
    databases: dict[str, dict[str, Any]]  # the app's databases that still exist, by add-on id
    old_id: str
    fid: str | None
    addon_ids: set[str]
    database_atts: set[str]
    pooler_atts: set[str]
    phases: list[Phase]
    cancelled: bool = False  # a safe stop before promote that the test then cancelled
    seconds: float = 0.0  # from the start of the run until it stopped
    thread: list[str] = field(default_factory=list)

    def injected(self) -> int:
        """This app's calls to the cell's target that carry the cell's fault."""
        target, kind = self.cell.target, self.cell.kind
        regex = target.path.format(
            app=re.escape(self.cell.app), fid=re.escape(self.fid or ""), old=re.escape(self.old_id)
        )
        hits = [
            c for c in self.calls if c["method"] == target.method and re.search(regex, c["path"])
        ]
        if kind.delay:  # (a call may also be slow on its own: at least these)
            return sum(1 for c in hits if c["duration"] >= kind.delay)
        return sum(1 for c in hits if c["status"] == (None if kind.drop else kind.status))

    def succeeded(self, method: str, path: str, **body: str) -> int:
        """2xx answers to `method` on exactly `path` whose JSON body has these fields."""
        return sum(
            1
            for c in self.calls
            if c["method"] == method
            and c["path"] == path
            and c["status"] is not None
            and 200 <= c["status"] < 300
            and all(isinstance(c["body"], dict) and c["body"].get(k) == v for k, v in body.items())
        )


class FaultMatrix:
    """Runs the cells in one bot process: seeds each cell's app just before starting its
    migration, approves every gate as bob, cancels (as alice) what stops before promote, and
    records each cell's outcome the moment it stops.

    Once recorded, a cell's add-ons are removed from the stand-in: the simulated databases are
    all advanced on every Data API call, so finished ones would only slow the others down.
    """

    START_BATCH = 8  # migrations started per round of the loop (acks stay well under 3 s)
    MAX_RUNNING = 16  # migrations running at once (one waiting at a gate still costs polls)

    def __init__(self, stack: Stack, matrix: list[Cell]) -> None:
        self.stack = stack
        self.cells = matrix
        self.redis = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        self.observer = Observer()
        self.watches: dict[str, Watch] = {}  # app -> watch
        self.cell_of: dict[str, Cell] = {}  # migration id -> cell
        self.outcomes: dict[str, Outcome] = {}  # cell id -> outcome
        self.started_at = 0.0
        self.cancelled: set[str] = set()
        self.stuck: dict[str, tuple[str, str]] = {}  # not stopped: (step, what it waited for)
        self.lane_faults: dict[str, Fault] = {}
        self.lane_given: dict[str, int] = {}
        self.events: list[tuple[float, str]] = []  # what the run did when, for diagnosis

    def _note(self, what: str) -> None:
        self.events.append((time.monotonic() - self.started_at, what))

    # the stand-ins

    def prepare(self) -> None:
        """The account's settings and the observer; no app yet."""

        def prepare(world: World) -> None:
            # Every cell's calls count against one account: the bucket is big enough that
            # the only 429s are the injected ones. Short provisioning and a small initial lag
            # keep the wait steps to a few polls each (every cell still polls them).
            world.configure(
                bucket_capacity=1_000_000,
                bucket_tokens=1_000_000,
                provision_seconds=0.3,
                initial_lag=600,
                replication_delay=0.3,
            )
            world.observers.append(self.observer)

        world = self.stack.world
        self.stack.heroku.call(lambda: prepare(world))

    def _seed(self, batch: list[Cell]) -> None:
        """Each cell's app with web=2, worker=1 and a pooler; app-scoped faults armed now."""

        def seed(world: World) -> list[Watch]:
            watches = []
            for cell in batch:
                app = world.seed_app(cell.app, formation=FORMATION, pooler=True)
                old = next(a for a in world.addons.values() if a.app_id == app.id)
                watch = Watch(cell, app.id, old.id, addon_ids={old.id})
                self.observer.by_app_id[app.id] = watch
                if cell.target.trigger is Trigger.START:
                    self.observer.arm(world, watch)
                watches.append(watch)
            return watches

        world = self.stack.world
        for watch in self.stack.heroku.call(lambda: seed(world)):
            self.watches[watch.cell.app] = watch

    def _record(self, migration_id: str, m: dict[str, Any]) -> None:
        """The cell's outcome from the stand-in's state now; then its add-ons are removed."""
        cell = self.cell_of[migration_id]
        watch = self.watches[cell.app]

        def snapshot(world: World) -> dict[str, Any]:
            del self.observer.by_app_id[watch.app_id]
            app = world.apps[watch.app_id]
            ids = set(watch.addon_ids)
            taken = {
                "app_state": world.app_state(app),
                "databases": _databases(world, ids),
                "calls": [c.to_json() for c in world.calls if _belongs(c, cell.app, ids)],
                "fid": watch.fid,
                "addon_ids": ids,
                "database_atts": set(watch.database_atts),
                "pooler_atts": set(watch.pooler_atts),
                "phases": list(watch.phases),
                "given": watch.given(),
            }
            for addon in [a for a in world.addons.values() if a.app_id == app.id]:
                world.destroy_addon(app, addon.id, force=True)
            return taken

        world = self.stack.world
        taken = self.stack.heroku.call(lambda: snapshot(world))
        status, step, error = m["status"], m["step"], m.get("error")
        if migration_id in self.stuck:
            status = "stuck"
            step, error = self.stuck[migration_id]
        self.outcomes[cell.id] = Outcome(
            cell=cell,
            migration_id=migration_id,
            status=status,
            step=step,
            error=error,
            faults_given=self.lane_given.get(migration_id, taken["given"]),
            calls=taken["calls"],
            app_state=taken["app_state"],
            databases=taken["databases"],
            old_id=watch.old_id,
            fid=taken["fid"],
            addon_ids=taken["addon_ids"],
            database_atts=taken["database_atts"],
            pooler_atts=taken["pooler_atts"],
            phases=taken["phases"],
            cancelled=migration_id in self.cancelled,
            seconds=time.monotonic() - self.started_at,
        )

    # the migrations, as stored (plain JSON: the loop reads them often)

    def _states(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        raw = self.redis.mget([keys.migration(i) for i in ids]) if ids else []
        return {i: json.loads(r) for i, r in zip(ids, raw, strict=True) if r}

    @staticmethod
    def _may_promote(m: dict[str, Any]) -> bool:
        """Could this migration still send promote's requests (its attachments)?"""
        return (
            m["status"] in (Status.RUNNING, Status.AWAITING_APPROVAL)
            and StepName.PROMOTE.value not in m["completed"]
            and not m["step"].startswith("abort")
        )

    @staticmethod
    def _past_promote(m: dict[str, Any]) -> bool:
        """Promote done, or it may have been sent: from then on the bot never rolls back."""
        return (
            m["status"] in (Status.COMPLETED, Status.CANCELLED)
            or StepName.PROMOTE.value in m["completed"]
            or m.get("committed_at") is not None
        )

    # acting as alice and bob

    def _start(self, batch: list[Cell]) -> None:
        """`/migrate start shop-<n> --to standard-2` as alice."""
        self._seed(batch)

        async def start_all() -> list[Any]:
            return await asyncio.gather(
                *(
                    self.stack.driver.slash(ALICE, f"start {c.app} --to {PLAN}", CHANNEL)
                    for c in batch
                )
            )

        replies = asyncio.run(start_all())
        assert all(r.status == 200 for r in replies), [r.status for r in replies]
        # Under load the bot acks first ("Working on it…") and creates the migration after.
        by_app = {c.app: c for c in batch}
        deadline = time.monotonic() + 30
        while by_app and time.monotonic() < deadline:
            known = set(self.cell_of)
            new = [str(i) for i in self.redis.zrange(keys.index(), 0, -1) if i not in known]
            for mid, m in self._states(new).items():
                if m["app"] in by_app:
                    self.cell_of[mid] = by_app.pop(m["app"])
            if by_app:
                time.sleep(0.05)
        assert not by_app, f"no migration was started for {sorted(by_app)}"

    def _cancel(self, migration_id: str) -> None:
        reply = asyncio.run(self.stack.driver.slash(ALICE, f"cancel {migration_id}", CHANNEL))
        assert reply.status == 200, reply.status

    def _click(self, buttons: list[tuple[Message, dict[str, Any]]]) -> None:
        if not buttons:
            return

        async def click_all() -> list[Any]:
            return await asyncio.gather(
                *(
                    self.stack.driver.click(BOB, CHANNEL, m.ts, e["action_id"], e["value"])
                    for m, e in buttons
                )
            )

        replies = asyncio.run(click_all())
        assert all(r.status == 200 for r in replies), [r.status for r in replies]

    @staticmethod
    def _approval_buttons(
        messages: list[Message],
    ) -> list[tuple[Message, dict[str, Any], dict[str, Any]]]:
        """Approve buttons on these messages, with their decoded values."""
        found = []
        for message in messages:
            for block in message.blocks:
                if block.get("type") != "actions":
                    continue
                for element in block.get("elements", []):
                    if element.get("action_id") == "approve_step":
                        found.append((message, element, json.loads(element["value"])))
        return found

    # the promote lane

    def _arm_lane(self, migration_id: str) -> None:
        cell = self.cell_of[migration_id]
        fault = cell.fault(cell.target.path)
        self.stack.heroku.call(lambda: self.stack.world.faults.append(fault))
        self.lane_faults[migration_id] = fault

    def _disarm_lane(self, migration_id: str) -> None:
        fault = self.lane_faults.pop(migration_id)

        def disarm() -> int:
            given = self.cell_of[migration_id].times - (fault.times or 0)
            fault.times = 0
            return given

        self.lane_given[migration_id] = self.stack.heroku.call(disarm)

    # the loop

    def run(self, timeout: float, *, stall: float, lane_timeout: float) -> dict[str, Outcome]:
        """Start every cell's migration and approve every gate as bob, until every cell has an
        outcome, no migration has moved for `stall` seconds, or `timeout` has passed; what is
        left then is recorded as stuck.

        Bob approves maintenance and promote together ("approve with promote"), except for the
        promote cells: each of those takes the promote step alone (its lane, at most
        `lane_timeout` seconds), its fault armed just before bob approves its promote. While a
        promote cell waits for or has its lane, no other maintenance approval is clicked, and
        the lane opens once no other migration is between its maintenance approval and
        promote. Promote cells are spread over the run; the unfollow cells come after every
        lane, because a migration waiting on its unfollow (the bot gives Heroku time before it
        sends the request again) would hold a lane up. A migration that fails before promote
        is cancelled (as alice) as its message says, and recorded once the abort is over.
        """
        self.started_at = time.monotonic()
        deadline = self.started_at + timeout

        def step_of(cell: Cell) -> StepName:
            return cell.target.step

        lanes = [c for c in self.cells if step_of(c) is StepName.PROMOTE]
        last = [c for c in self.cells if step_of(c) is StepName.UNFOLLOW]
        rest = [c for c in self.cells if c not in lanes and c not in last]
        every = max(1, len(rest) // max(1, len(lanes)))
        to_start: list[Cell] = []
        for n, cell in enumerate(rest):
            if n % every == 0 and n // every < len(lanes):
                to_start.append(lanes[n // every])
            to_start.append(cell)
        to_start += [c for c in lanes if c not in to_start] + last
        lanes_left = {c.app for c in lanes}  # promote cells whose lane is not over
        clicked: set[str] = set()
        held: dict[str, tuple[Message, dict[str, Any]]] = {}  # approvals waiting for lanes
        shared: set[str] = set()  # maintenance approved, and may still promote
        lane: str | None = None  # the promote cell that has the promote step to itself
        lane_since = 0.0
        seen = 0  # messages already looked at (the channel only grows)
        where: dict[str, tuple[str, str, int]] = {}
        last_move = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            running = [i for i in self.cell_of if self.cell_of[i].id not in self.outcomes]
            if to_start and len(running) < self.MAX_RUNNING:
                self._start(to_start[: self.START_BATCH])
                del to_start[: self.START_BATCH]
                last_move = now
                running = [i for i in self.cell_of if self.cell_of[i].id not in self.outcomes]
            if not to_start and not running:
                break
            if now - last_move > stall:
                break
            ms = self._states(running)
            for i, m in ms.items():
                if where.get(i) != (m["status"], m["step"], m["attempt"]):
                    where[i] = (m["status"], m["step"], m["attempt"])
                    last_move = now
                if m["status"] in (Status.COMPLETED, Status.CANCELLED) or (
                    m["status"] == Status.FAILED and (i in self.cancelled or self._past_promote(m))
                ):
                    self._record(i, m)
                elif m["status"] == Status.FAILED:
                    self._note(f"{self.cell_of[i].id} failed at {m['step']}: cancelling it")
                    self.cancelled.add(i)
                    self._cancel(i)
            ms = {i: m for i, m in ms.items() if self.cell_of[i].id not in self.outcomes}
            shared = {i for i in shared if i in ms and self._may_promote(ms[i])}
            lanes_left -= {c.app for i, c in self.cell_of.items() if c.id in self.outcomes}
            if lane is not None and (
                lane not in ms or not self._may_promote(ms[lane]) or now - lane_since > lane_timeout
            ):
                self._disarm_lane(lane)
                self._note(f"lane closes for {self.cell_of[lane].id}")
                lanes_left.discard(self.cell_of[lane].app)
                lane = None
            clicks: list[tuple[Message, dict[str, Any]]] = []
            messages = self.stack.channel_messages()
            for message, element, value in self._approval_buttons(messages[max(0, seen - 50) :]):
                mid, gate = value["m"], value["g"]
                if message.ts in clicked or mid not in self.cell_of:
                    continue
                in_lane = step_of(self.cell_of[mid]) is StepName.PROMOTE
                together = gate == StepName.APPROVE_MAINTENANCE.value and not in_lane
                if bool(value.get("p")) != together:
                    continue
                clicked.add(message.ts)
                if together or (in_lane and gate == StepName.APPROVE_PROMOTE.value):
                    held[mid] = (message, element)
                else:
                    clicks.append((message, element))
            seen = len(messages)
            held = {i: b for i, b in held.items() if i in ms}
            waiting = [i for i in held if step_of(self.cell_of[i]) is StepName.PROMOTE]
            # A promote cell on its way to its promote approval: let the others drain now.
            coming = waiting or [
                i
                for i, m in ms.items()
                if step_of(self.cell_of[i]) is StepName.PROMOTE
                and self.cell_of[i].app in lanes_left
                and m["status"] == Status.RUNNING
                and StepName.APPROVE_MAINTENANCE.value in m["completed"]
            ]
            if lane is None and waiting and not shared:
                lane, lane_since = waiting[0], now
                self._note(f"lane opens for {self.cell_of[lane].id}")
                self._arm_lane(lane)
                clicks.append(held.pop(lane))
            elif lane is None and not coming:
                for i in list(held):
                    if step_of(self.cell_of[i]) is not StepName.UNFOLLOW or not lanes_left:
                        clicks.append(held.pop(i))
                        shared.add(i)
            self._click(clicks)
            time.sleep(0.1)
        if lane is not None:
            self._disarm_lane(lane)
        left = [i for i in self.cell_of if self.cell_of[i].id not in self.outcomes]
        for i, m in self._states(left).items():
            self.stuck[i] = (m["step"], m.get("waiting") or m.get("error") or "")
            self._record(i, m)
        return self.outcomes

    def settle(self, timeout: float) -> None:
        """Wait until every thread shows how its migration ended (Slack messages are delivered
        after the state changes), then attach each thread to its outcome."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.stack.channel_messages()
            for o in self.outcomes.values():
                parent = next(
                    (x.ts for x in messages if x.thread_ts is None and o.migration_id in x.text),
                    None,
                )
                o.thread = [
                    _text(x)
                    for x in messages
                    if parent is not None and parent in (x.ts, x.thread_ts)
                ]
            pending = [
                o
                for o in self.outcomes.values()
                if o.status != "stuck" and final_message(o) is None
            ]
            if not pending or time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def close(self) -> None:
        self.redis.close()


def _databases(world: World, ids: set[str]) -> dict[str, dict[str, Any]]:
    """What `World.state()` says of these databases (those that still exist)."""
    found = {}
    for addon_id in ids:
        addon = world.addons.get(addon_id)
        if addon is None:
            continue
        status = world.backend.status(addon_id)
        leader = world.addons.get(status.leader_id) if status.leader_id else None
        found[addon_id] = {
            "addon_id": addon_id,
            "name": addon.name,
            "following": leader.name if leader else None,
        }
    return found


def _belongs(call: Call, app: str, addon_ids: set[str]) -> bool:
    """Is this Heroku call about `app` (by path, by body, or by one of its add-on ids)?"""
    path = call.path
    if path == f"/apps/{app}" or path.startswith(f"/apps/{app}/"):
        return True
    if isinstance(call.body, dict) and call.body.get("app") == app:
        return True
    parts = path.split("/")
    return path.startswith("/client/v11/databases/") and len(parts) > 4 and parts[4] in addon_ids


def _text(message: Message) -> str:
    parts = [message.text]
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
    return "\n".join(parts)


# -- the contract of each cell -----------------------------------------------------------------

COMPLETED_PHASES: list[Phase] = [
    (False, False, False),  # running as before
    (True, False, False),  # maintenance on
    (True, True, False),  # every process type at 0
    (True, True, True),  # DATABASE on the follower, with nothing running that could write
    (True, False, True),  # formation restored
    (False, False, True),  # maintenance off
]


def final_message(o: Outcome) -> str | None:
    """The thread's closing message for this migration, if it was posted."""
    ends = (
        f"{o.migration_id} completed",
        f"{o.migration_id} stopped",
        f"{o.migration_id} cancelled",
    )
    return next((t for t in reversed(o.thread) if any(e in t for e in ends)), None)


def problems(o: Outcome) -> list[str]:
    """Everything wrong with a cell's outcome; empty when it completed or stopped safely."""
    found: list[str] = []
    app = o.cell.app
    if o.faults_given < 1:
        found.append("the fault never hit the step: this cell proves nothing")
    elif o.injected() != o.faults_given and not (
        o.cell.kind.delay and o.injected() > o.faults_given
    ):
        found.append(
            f"{o.faults_given} fault answers given, {o.injected()} of them seen on this app's "
            "target calls: the fault hit another migration"
        )
    # Never a duplicated side effect, whatever the ending: counted on the platform (an answer
    # lost after the request ran leaves no 2xx behind) and in the 2xx answers.
    created = o.addon_ids - {o.old_id}
    duplicates = {
        "follower add-ons created": len(created),
        "creates answered 2xx": o.succeeded("POST", f"/apps/{app}/addons"),
        "DATABASE attachments of the follower": len(o.database_atts),
        "DATABASE promotes answered 2xx": o.succeeded(
            "POST", "/addon-attachments", app=app, name="DATABASE"
        ),
        "pooler attachments of the follower": len(o.pooler_atts),
        "unfollows answered 2xx": o.succeeded("PUT", f"/client/v11/databases/{o.fid}/unfollow"),
        "destroys of the old database answered 2xx": o.succeeded(
            "DELETE", f"/apps/{app}/addons/{o.old_id}"
        ),
    }
    found += [f"{what}: {n} (a side effect done twice)" for what, n in duplicates.items() if n > 1]
    state = o.app_state
    attached = {(a["name"], a["namespace"]): a["addon"] for a in state["attachments"]}
    follower = o.databases.get(o.fid or "")
    moved = next((p for p in o.phases if p[2]), None)
    if moved is not None and moved != (True, True, True):
        found.append(f"DATABASE moved to the follower while writers could run: {o.phases}")
    if o.status == "stuck":
        return [
            *found,
            f"had not stopped when the run ended: still at {o.step}"
            + (f" ({o.error})" if o.error else "")
            + f"; app maintenance={state['maintenance']} formation={state['formation']}",
        ]
    closing = final_message(o)
    if o.status == Status.COMPLETED.value:
        if closing is None or "completed" not in closing:
            found.append("no completion message in the thread")
        skipped = {
            "follower add-ons created": len(created),
            "DATABASE attachments of the follower": len(o.database_atts),
            "pooler attachments of the follower": len(o.pooler_atts),
        }
        found += [f"{what}: {n}, expected 1" for what, n in skipped.items() if n != 1]
        if state["maintenance"] or state["formation"] != FORMATION:
            found.append(
                f"app left with maintenance={state['maintenance']} formation={state['formation']}"
            )
        if follower is None:
            found.append("the follower (the new database) is gone")
        elif (
            attached.get(("DATABASE", None)) != follower["name"]
            or attached.get(POOLER) != (follower["name"])
        ):
            found.append(f"DATABASE and pooler not on the follower: {attached}")
        elif follower["following"] is not None:
            found.append("the new database still follows the old one")
        if o.old_id in o.databases:
            found.append("the old database was not destroyed")
        if o.phases != COMPLETED_PHASES:
            found.append(f"the platform went through {o.phases}, expected {COMPLETED_PHASES}")
        return found
    # A safe stop: the thread says what happened and what to do.
    if closing is None or ("What to do" not in closing and "cancelled" not in closing):
        found.append(f"{o.status} without a thread message saying what happened and what to do")
    if o.cancelled:
        # Stopped before promote, then cancelled as the message says: the app is back as it was.
        if o.status != Status.CANCELLED.value:
            found.append(f"`/migrate cancel` after the stop ended {o.status} at {o.step}")
        if state["maintenance"] or state["formation"] != FORMATION:
            found.append(
                f"cancel left maintenance={state['maintenance']} formation={state['formation']}"
            )
        if created & set(o.databases):
            found.append("cancel left the follower in place")
        old = o.databases.get(o.old_id)
        if old is None or attached.get(("DATABASE", None)) != old["name"]:
            found.append("cancel did not leave DATABASE on the old database")
    elif follower is not None and attached.get(("DATABASE", None)) != follower["name"]:
        found.append("stopped after promote was sent, yet DATABASE is not the new database")
    return found


def table(outcomes: dict[str, Outcome], show: Callable[[Outcome], str]) -> str:
    """Steps down, kinds across."""
    width = max(len(t.step) for t in TARGETS)
    head = " " * width + " | " + " | ".join(k.name for k in KINDS)
    lines = [head, "-" * len(head)]
    for target in TARGETS:
        row = []
        for kind in KINDS:
            o = outcomes.get(f"{target.step}-{kind.name}")
            row.append((show(o) if o else "-").ljust(len(kind.name)))
        lines.append(target.step.ljust(width) + " | " + " | ".join(row))
    return "\n".join(lines)
