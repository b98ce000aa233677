"""A migration stored the old way (one flat record with follower fields and `marks`), found
mid-window by a redeployed bot, is read and carried on to the end.

The record is `tests/state/records/changeover-v1-promote-gate.json`, captured from the bot
before methods were plug-ins at the promote gate: maintenance on, dynos at 0. Its ids are
swapped for the ones of the live stand-in, so the new bot meets a real mid-window platform.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import redis

from sandbox.stack import ALICE, Stack
from state import keys
from tests.e2e.runs import approve, migration, start, thread_text, until

RECORD = Path(__file__).parent.parent / "state" / "records" / "changeover-v1-promote-gate.json"


def shop(stack: Stack) -> dict[str, Any]:
    return next(a for a in stack.heroku_state()["apps"] if a["name"] == "shop")


def old_way(live: dict[str, Any]) -> dict[str, Any]:
    """The captured v1 record, with the ids and times of the live migration `live`."""
    record: dict[str, Any] = json.loads(RECORD.read_text())
    for key in ("id", "created_at", "channel", "thread_ts", "messages", "completed", "version"):
        record[key] = live[key]
    record |= {
        "changed_platform_at": live["changed_platform_at"],
        "next_run_at": live["next_run_at"],
        "parent_rev": live["parent_rev"],
        "parent_shown": live["parent_shown"],
        "step_notes": live["step_notes"],
        "follower_name": live["new"]["name"],
        "follower_addon_id": live["new"]["addon_id"],
        "follower_attachment": live["new"]["attachment"],
        "source_addon_id": live["old"]["addon_id"],
        "source_addon_name": live["old"]["name"],
        "source_plan": live["old"]["plan"],
        "formation": live["window"]["formation"],
        "maintenance_before": live["window"]["maintenance_before"],
        "maintenance_on_at": live["window"]["on_at"],
        "lag": live["data"]["lag"],
    }
    record["marks"]["create_sent_at"] = live["data"]["create_sent_at"]
    # v1 called `with_next` `with_promote`; the nonces are the live buttons'.
    record["approvals"] = {
        gate: {("with_promote" if k == "with_next" else k): v for k, v in a.items()}
        for gate, a in live["approvals"].items()
    }
    for gone in ("new", "old", "window", "data", "pre_approved", "committed_at", "waiting"):
        assert gone not in record, gone
    return record


def test_a_record_written_the_old_way_mid_window_is_carried_on_after_a_redeploy(
    stack: Stack,
) -> None:
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    approve(stack, "approve_maintenance")
    at_gate = until(stack, migration_id, "awaiting_approval", timeout=90)
    while at_gate.step != "approve_promote":
        at_gate = until(stack, migration_id, "awaiting_approval", timeout=90)
    assert shop(stack)["maintenance"] is True
    assert all(q == 0 for q in shop(stack)["formation"].values())

    stack.bot.kill()  # the old bot goes away mid-window...
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        live = json.loads(r.get(keys.migration(migration_id)) or "{}")
        r.set(keys.migration(migration_id), json.dumps(old_way(live)))
    stack.bot.start()  # ...and the redeployed one finds its record in the old shape

    read = migration(stack, migration_id)
    assert read.step == "approve_promote" and read.window.on_at is not None
    assert read.window.formation == {"shop": {"web": 2, "worker": 1}}
    assert read.new.addon_id == live["new"]["addon_id"]

    approve(stack, "approve_promote")
    approve(stack, "approve_destroy")
    done = until(stack, migration_id, "completed", timeout=120)

    assert done.downtime_seconds is not None and done.window.off_at is not None
    after = shop(stack)
    assert after["maintenance"] is False
    assert after["formation"] == {"web": 2, "worker": 1}
    database = next(a for a in after["attachments"] if a["name"] == "DATABASE")
    assert database["addon"] == live["new"]["name"]
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        stored = json.loads(r.get(keys.migration(migration_id)) or "{}")
    assert stored["data"]["kind"] == "changeover" and "marks" not in stored  # written anew
    assert f"{migration_id} completed" in thread_text(stack)
