"""SIGKILL the bot after every step in turn: the migration still finishes, nothing done twice."""

from __future__ import annotations

import time

import redis

from bot.methods import REGISTRY
from sandbox.heroku.faults import Fault
from sandbox.stack import ALICE, BOB, Stack, wait_for
from state import keys
from state.models import Migration, Status

CHANGEOVER = REGISTRY["changeover"].runbook

GATES = ("approve_maintenance", "approve_promote", "approve_destroy")


def test_a_bot_killed_after_every_step_finishes_the_migration_with_no_side_effect_twice(
    stack: Stack,
) -> None:
    # Every Heroku answer takes 150 ms, so each step is still running when the test sees the
    # previous one complete and kills the bot: most kills land in the middle of a call.
    stack.heroku.call(
        lambda: stack.world.faults.append(Fault(path_regex=".*", delay_seconds=0.15, times=None))
    )
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = wait_for("the migration", lambda: r.smembers(keys.active()), stack=stack).pop()

    killed_after: list[str] = []
    clicked: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        m = Migration.from_stored(r.get(keys.migration(migration_id)))
        if m.status.terminal or m.status is Status.FAILED:
            break
        fresh = [s for s in m.completed if s not in killed_after]
        if fresh:
            stack.bot.kill()
            killed_after += fresh
            stack.bot.start()
            continue
        for gate in GATES:
            found = stack.gate_button(gate)
            if found and found[0].ts not in clicked:
                clicked.add(found[0].ts)
                stack.click(BOB, *found)
        time.sleep(0.01)

    m = Migration.from_stored(r.get(keys.migration(migration_id)))
    assert m.status is Status.COMPLETED, (m.status, m.error, stack.bot.logs()[-3000:])
    assert killed_after == [s.name for s in CHANGEOVER][: len(killed_after)]
    assert len(killed_after) >= 15, killed_after  # the last step ends the run: no kill needed

    calls = stack.heroku_calls()

    def count(method: str, path: str, **body: str) -> int:
        return sum(
            1
            for c in calls
            if c["method"] == method
            and c["path"] == path
            and c["status"] is not None
            and c["status"] < 400
            and all((c["body"] or {}).get(k) == v for k, v in body.items())
        )

    state = stack.heroku_state()
    shop = next(a for a in state["apps"] if a["name"] == "shop")
    followers = [a for a in state["addons"] if a["name"].startswith(migration_id)]
    assert len(followers) == 1
    follower = followers[0]
    assert count("POST", "/apps/shop/addons") == 1
    assert count("POST", "/addon-attachments", name="DATABASE") == 1
    assert count("PUT", f"/client/v11/databases/{follower['id']}/unfollow") == 1
    assert (
        count(
            "PATCH",
            "/apps/shop",
        )
        == 2
    )  # maintenance on, then off
    assert count("PATCH", "/apps/shop/formation") == 2  # to zero, then back
    assert shop["formation"] == {"web": 2, "worker": 1}
    assert shop["maintenance"] is False
    assert {(a["name"], a["addon"]) for a in shop["attachments"]} >= {
        ("DATABASE", follower["name"])
    }
    assert stack.bot.starts == len(killed_after) + 1
    print(f"\ncrash test: {len(killed_after)} kills, {len(calls)} Heroku calls")
