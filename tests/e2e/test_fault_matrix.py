"""The fault matrix: each outside-world fault at each Heroku-calling runbook step.

13 steps x 8 fault kinds (tests/e2e/faults.py), each cell on its own app, many at once in one
bot process. Per cell, two contracts: the fault ends in a completed migration or a safe stop
and never in a duplicated or skipped side effect (the issue's contract); and, stronger, since
every injected fault is transient, the migration completes. The module-scoped fixture runs
the whole matrix once; each cell is then reported on its own.

With `-s` the last test prints the figures: cells, fault answers given, outcomes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from sandbox.redis_server import RedisServer
from sandbox.stack import start_stack, stop_stack
from state.models import Status
from tests.e2e.conftest import seed_shop
from tests.e2e.faults import (
    KINDS,
    TARGETS,
    Cell,
    FaultMatrix,
    Outcome,
    cells,
    final_message,
    problems,
    table,
)

CELLS = cells()
# Liveness bounds, not speed assertions: what has not stopped by then is reported "stuck".
RUN_SECONDS = 300.0  # the whole run, at most
STALL_SECONDS = 25.0  # no migration changed status, step or attempt for this long
LANE_SECONDS = 60.0  # one promote cell's turn
SETTLE_SECONDS = 30.0  # closing Slack messages, after the last state change

# Cells the bot does not pass yet, per test: (step, kind) -> why. strict: a fix shows as XPASS.
STOPS_OR_DUPLICATES: dict[tuple[str, str], str] = {}
NOT_SURVIVED: dict[tuple[str, str], str] = {}


@dataclass
class MatrixRun:
    outcomes: dict[str, Outcome]
    heroku_violations: list[str]
    slack_violations: list[str]
    seconds: float
    events: list[tuple[float, str]]  # lanes opened and closed, stops cancelled


@pytest.fixture(scope="module")
def matrix(
    redis_server: RedisServer, contracts_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MatrixRun]:
    """Every cell, run once. The stack is `make_stack`'s (stand-ins, `shop`, a bot process),
    built here because that fixture is per test and this one serves all the cells."""
    with redis.Redis.from_url(redis_server.url) as r:
        r.flushall()
    stack = start_stack(redis_server.url, contracts_dir, tmp_path_factory.mktemp("matrix"))
    run = FaultMatrix(stack, CELLS)
    try:
        stack.heroku.call(lambda: seed_shop(stack))
        run.prepare()
        stack.bot.start()
        outcomes = run.run(RUN_SECONDS, stall=STALL_SECONDS, lane_timeout=LANE_SECONDS)
        run.settle(SETTLE_SECONDS)
        yield MatrixRun(
            outcomes,
            [
                f"{v['kind']} {v['method']} {v['path']}: {v['detail']}"
                for v in stack.heroku_violations()
            ],
            [f"{v.method}: {v.detail}" for v in stack.workspace.violations],
            max((o.seconds for o in outcomes.values()), default=0.0),
            run.events,
        )
    finally:
        run.close()
        stop_stack(stack)


def _params(known: dict[tuple[str, str], str]) -> list[Any]:
    params = []
    for cell in CELLS:
        reason = known.get((cell.target.step, cell.kind.name))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(cell, id=cell.id, marks=marks))
    return params


def _describe(o: Outcome) -> str:
    closing = final_message(o)
    return (
        f"{o.cell.id} on {o.cell.app} ({o.migration_id}): {o.cell.label}\n"
        f"ended {o.status} at {o.step}" + (f": {o.error}" if o.error else "") + "\n"
        f"fault answers given: {o.faults_given}; platform phases: {o.phases}\n"
        f"closing message: {closing.replace(chr(10), ' ')[:300] if closing else None}"
    )


@pytest.mark.parametrize("cell", _params(STOPS_OR_DUPLICATES))
def test_a_fault_at_a_step_ends_completed_or_in_a_safe_stop_with_no_side_effect_twice(
    matrix: MatrixRun, cell: Cell
) -> None:
    o = matrix.outcomes[cell.id]
    found = problems(o)
    assert not found, _describe(o) + "\n- " + "\n- ".join(found)


@pytest.mark.parametrize("cell", _params(NOT_SURVIVED))
def test_a_transient_fault_at_a_step_is_survived_and_the_migration_completes(
    matrix: MatrixRun, cell: Cell
) -> None:
    # Every injected fault is transient (at most 3 answers) and leaves the platform readable:
    # the bot can always find out what happened, so no cell needs a person to step in.
    o = matrix.outcomes[cell.id]
    assert o.status == Status.COMPLETED.value, _describe(o)


def test_the_matrix_covers_every_step_and_kind_and_the_stand_ins_saw_no_contract_breach(
    matrix: MatrixRun,
) -> None:
    outcomes = matrix.outcomes
    steps = {o.cell.target.step for o in outcomes.values()}
    kinds = {o.cell.kind.name for o in outcomes.values()}
    ends = Counter(
        o.status + (" (after a stop, by /migrate cancel)" if o.cancelled else "")
        for o in outcomes.values()
    )
    given = sum(o.faults_given for o in outcomes.values())
    armed = sum(o.cell.times for o in outcomes.values())
    slow_acks = [v for v in matrix.slack_violations if "acked after" in v]
    mutations: Counter[str] = Counter()
    for o in outcomes.values():
        app, fid = o.cell.app, o.fid
        mutations["follower creates"] += o.succeeded("POST", f"/apps/{app}/addons")
        mutations["DATABASE promotes"] += o.succeeded(
            "POST", "/addon-attachments", app=app, name="DATABASE"
        )
        mutations["unfollows"] += o.succeeded("PUT", f"/client/v11/databases/{fid}/unfollow")
        mutations["maintenance PATCHes"] += o.succeeded("PATCH", f"/apps/{app}")
        mutations["formation PATCHes"] += o.succeeded("PATCH", f"/apps/{app}/formation")
        mutations["old database DELETEs"] += o.succeeded("DELETE", f"/apps/{app}/addons/{o.old_id}")
    print(
        f"\nfault matrix: {len(outcomes)} cells ({len(steps)} steps x {len(kinds)} kinds), "
        f"{given} fault answers given by the Heroku stand-in (of {armed} armed), "
        f"outcomes {dict(ends)}, last cell stopped after {matrix.seconds:.0f} s, "
        f"{len(slow_acks)} Slack acks over 3 s\n"
        f"2xx mutating calls: {dict(mutations)} (an answer lost after the request ran is no 2xx)\n"
        "cell: outcome, fault answers given/armed\n"
        + table(outcomes, lambda o: f"{o.status[:9]} {o.faults_given}/{o.cell.times}")
        + "\n"
        + "\n".join(f"{t:6.1f} s {what}" for t, what in matrix.events)
    )
    assert steps == {t.step for t in TARGETS} and len(steps) == 13
    assert kinds == {k.name for k in KINDS}
    assert len(outcomes) == len(TARGETS) * len(KINDS) == len(CELLS)
    assert given >= len(outcomes)
    assert matrix.heroku_violations == []
    # A late ack depends on how loaded the machine is (speed is the benchmarks' business);
    # any other Slack contract breach is the bot's.
    assert [v for v in matrix.slack_violations if v not in slow_acks] == []
