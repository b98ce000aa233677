"""How long is the app down during a changeover, and how much of that is the bot itself?

Runs N rehearsals in one sandbox (real PostgreSQL, demo app writing) and prints, per run:
the maintenance window (maintenance on → off), the time spent inside Heroku stand-in calls,
the time spent waiting for lag 0, and what is left: the bot's own share. Promote is approved
together with maintenance, so no human wait falls inside the window.

    python benchmarks/downtime.py --runs 5 --poll 0.5
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import httpx
import redis

from bot.methods import REGISTRY
from bot.methods.changeover import StepName
from sandbox.main import APP, sandbox
from sandbox.stack import ALICE, BOB, Stack, wait_for
from state import keys
from state.models import Migration, Status


def _click(stack: Stack, message_ts: str, button: dict[str, Any]) -> None:
    body = {
        "user": BOB,
        "message_ts": message_ts,
        "action_id": "approve_step",
        "value": button["value"],
    }
    httpx.post(f"{stack.slack.url}/_page/click", json=body, timeout=30).raise_for_status()


def _covered(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Length of the union of `intervals`, clipped to [start, end]."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, cursor = 0.0, start
    for a, b in clipped:
        begin = max(a, cursor)
        if b > begin:
            total += b - begin
            cursor = b
    return total


def run_once(stack: Stack, r: redis.Redis, plan: str) -> dict[str, float]:
    before = set(r.zrange(keys.index(), 0, -1))
    httpx.post(
        f"{stack.slack.url}/_page/slash",
        json={"user": ALICE, "text": f"/migrate start {APP} --to {plan}"},
        timeout=30,
    ).raise_for_status()
    migration_id = wait_for(
        "the migration", lambda: set(r.zrange(keys.index(), 0, -1)) - before
    ).pop()
    clicked: set[str] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        m = Migration.from_stored(r.get(keys.migration(migration_id)) or "{}")
        if m.ended or m.status is Status.FAILED:
            break
        for gate in REGISTRY["changeover"].gates:
            both = gate == StepName.APPROVE_MAINTENANCE
            found = stack.gate_button(gate, with_next=both)
            if found and found[0].ts not in clicked:
                clicked.add(found[0].ts)
                _click(stack, found[0].ts, found[1])
        time.sleep(0.05)
    if m.status is not Status.COMPLETED or m.window.on_at is None or m.window.off_at is None:
        raise RuntimeError(f"{migration_id} ended {m.status.value}: {m.error}")
    on, off = m.window.on_at.timestamp(), m.window.off_at.timestamp()
    recorded = stack.heroku_calls()
    calls = [(c["started"], c["started"] + c["duration"]) for c in recorded]
    lag_wait = (
        m.completed[StepName.SCALE_DOWN].timestamp(),
        m.completed[StepName.WAIT_ZERO_LAG].timestamp(),
    )
    # Unfollow is asynchronous on Heroku too: from the PUT until the database stops following.
    put = max(c["started"] + c["duration"] for c in recorded if c["path"].endswith("/unfollow"))
    unfollow_wait = (put, m.completed[StepName.UNFOLLOW].timestamp())
    inside = _covered(calls, on, off)
    waiting = _covered([lag_wait], on, off)
    bot = off - on - _covered([*calls, lag_wait], on, off)
    own = off - on - _covered([*calls, lag_wait, unfollow_wait], on, off)
    return {
        "window": off - on,
        "heroku": inside,
        "lag_wait": waiting,
        "unfollow_wait": _covered([unfollow_wait], on, off),
        "bot": bot,
        "own": own,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.5, help="MIGRATE_POLL_SECONDS")
    parser.add_argument("--to", default="standard-2")
    args = parser.parse_args()
    results = []
    with sandbox(poll=args.poll, echo_reports=False) as (stack, _demo, reporter):
        r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
        print(
            f"{'run':>3}  {'window s':>9}  {'heroku s':>9}  {'lag wait s':>10}  {'bot s':>7}  "
            f"{'bot/window':>10}  {'unfollow wait s':>15}  {'bot w/o it s':>12}"
        )
        for i in range(1, args.runs + 1):
            result = run_once(stack, r, args.to)
            results.append(result)
            print(
                f"{i:>3}  {result['window']:>9.3f}  {result['heroku']:>9.3f}  "
                f"{result['lag_wait']:>10.3f}  {result['bot']:>7.3f}  "
                f"{result['bot'] / result['window']:>10.1%}  {result['unfollow_wait']:>15.3f}  "
                f"{result['own']:>12.3f}",
                flush=True,
            )
        lost = sum(len(report.missing) for report in reporter.reports.values())
    window = statistics.median(x["window"] for x in results)
    bot = statistics.median(x["bot"] for x in results)
    own = statistics.median(x["own"] for x in results)
    print(
        f"\nmedian maintenance window {window:.3f} s; median bot share {bot:.3f} s "
        f"({bot / window:.1%} of the window), {own:.3f} s ({own / window:.1%}) without the wait "
        f"for the unfollow to take effect; poll interval {args.poll} s; rows lost {lost}"
    )


if __name__ == "__main__":
    main()
