"""A full changeover driven only by signed HTTP requests to the running bot, as Slack sends them."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import redis

from bot.methods import REGISTRY
from sandbox.stack import ALICE, API_KEY, BOB, BOT_TOKEN, SIGNING_SECRET, Stack, wait_for
from state import keys

CHANGEOVER = REGISTRY["changeover"].runbook

MUTATING = ("POST", "PATCH", "PUT", "DELETE")


def mutations(stack: Stack) -> list[str]:
    """The platform-changing calls in order (resolution is a POST that changes nothing)."""
    return [
        f"{c['method']} {c['path']}"
        for c in stack.heroku_calls()
        if c["method"] in MUTATING and not c["path"].startswith("/actions/")
    ]


def section_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")


def approve(stack: Stack, gate: str, user: str = BOB, *, with_promote: bool = False) -> None:
    message, button = wait_for(
        f"the {gate} approval request",
        lambda: stack.gate_button(gate, with_next=with_promote),
        stack=stack,
    )
    stack.click(user, message, button)


def test_a_follower_changeover_runs_end_to_end_with_a_second_engineer(stack: Stack) -> None:
    started_at = time.monotonic()
    before = stack.heroku_state()
    old = next(a for a in before["addons"] if a["app"] == "shop")

    reply = stack.slash_reply(ALICE, "start shop --to standard-2")
    migration_id = re.search(r"mig-[a-z0-9]{6}", reply).group(0)

    # The requester cannot approve their own migration, and the refusal changes nothing.
    message, button = wait_for(
        "the maintenance approval", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    stack.click(ALICE, message, button)
    refusal = wait_for(
        "the refusal shown to the requester",
        lambda: [t for t in stack.ephemeral_texts(ALICE) if "two-person rule" in t],
        stack=stack,
    )
    assert "second engineer" in refusal[0]
    assert not any(m.startswith("PATCH /apps/shop") for m in mutations(stack))

    stack.click(BOB, message, button)
    approve(stack, "approve_promote")
    approve(stack, "approve_destroy")
    wait_for(
        "the completion message",
        lambda: any(f"{migration_id} completed" in m.text for m in stack.thread()),
        timeout=60,
        stack=stack,
    )
    elapsed = time.monotonic() - started_at

    after = stack.heroku_state()
    new = next(a for a in after["addons"] if a["name"] == f"{migration_id}-standard-2")
    assert mutations(stack) == [
        "POST /apps/shop/addons",
        "PATCH /apps/shop",
        "PATCH /apps/shop/formation",
        f"PUT /client/v11/databases/{new['id']}/unfollow",
        "POST /addon-attachments",
        "POST /addon-attachments",
        "POST /addon-attachments",
        "PATCH /apps/shop/formation",
        "PATCH /apps/shop",
        f"DELETE /apps/shop/addons/{old['id']}",
    ]

    # Final platform state: the app runs on the new database, exactly as it ran before.
    shop = next(a for a in after["apps"] if a["name"] == "shop")
    assert shop["maintenance"] is False
    assert shop["formation"] == {"web": 2, "worker": 1}
    assert old["id"] not in {a["id"] for a in after["addons"]}
    attached = {(a["name"], a["namespace"]): a["addon"] for a in shop["attachments"]}
    assert attached[("DATABASE", None)] == new["name"]
    assert attached[("DATABASE_CONNECTION_POOL", "connection-pooling:default")] == new["name"]
    database = next(d for d in after["databases"] if d["addon_id"] == new["id"])
    assert database["following"] is None

    # What people saw: one runbook message edited in place (lag falling to 0 in it), a message
    # only for each approval and for the final report, and no contract breach.
    done = len(CHANGEOVER) + 1  # every step, and the status line
    wait_for(
        "the runbook message to show every step done",
        lambda: section_text(stack.thread()[0].blocks).count(":white_check_mark:") == done,
        stack=stack,
    )
    thread = stack.thread()
    runbook = thread[0]
    assert len(thread) == 5, [m.text for m in thread]  # runbook, 3 approvals, the report
    versions = [section_text(e.blocks) for e in runbook.edits] + [section_text(runbook.blocks)]
    shown = [
        int(n.replace(",", "")) for v in versions for n in re.findall(r"Behind by ([\d,]+)", v)
    ]
    assert max(shown) > 200, shown  # it started above the caught-up threshold
    final = versions[-1]
    assert ":white_check_mark: 8. *Wait for lag 0* — follower is 0 commits behind" in final
    assert ":red_circle:" not in final  # the app is no longer shown as down
    assert any(":red_circle:" in v and "down for maintenance" in v for v in versions)
    assert "Maintenance window" in section_text(thread[-1].blocks)
    closed = [m for m in thread if m.text.startswith("Approval") or "Approved by" in m.text]
    assert closed and all(not any(b["type"] == "actions" for b in m.blocks) for m in closed)
    assert stack.heroku_violations() == []
    assert stack.workspace.violations == []

    # The audit stream says who asked, who approved, and which Heroku calls each step made.
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        audit = [fields for _, fields in r.xrange(keys.audit_of(migration_id))]
    actors = {(e["event"], e["actor"]) for e in audit}
    assert ("requested", ALICE) in actors and ("approved", BOB) in actors
    assert ("approved", ALICE) not in actors
    audited = [json.loads(e["detail"]) for e in audit if e["event"] == "heroku_call"]
    creates = [d for d in audited if d["method"] == "POST" and d["path"] == "/apps/shop/addons"]
    assert len(creates) == 1 and creates[0]["status"] == 201
    assert sum(1 for d in audited if d["method"] == "DELETE") == 1

    # No secret in anything the bot wrote: its logs, Slack, Redis.
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        read = {
            "string": r.get,
            "set": r.smembers,
            "zset": lambda k: r.zrange(k, 0, -1),
            "stream": r.xrange,
        }
        stored = [f"{k} {read[r.type(k)](k)}" for k in r.keys("*")]
    assert len(stored) >= 4
    slack = [json.dumps(m.to_api()) for m in stack.workspace.messages()] + [
        e.text for e in stack.workspace.ephemerals()
    ]
    for where, text in [
        ("logs", stack.bot.logs()),
        ("slack", "\n".join(slack)),
        ("redis", "\n".join(stored)),
    ]:
        for secret in (API_KEY, BOT_TOKEN, SIGNING_SECRET):
            assert secret not in text, f"{secret[:6]}... leaked into {where}"
        assert not re.search(r"postgres(ql)?://[^\s:@/]+:[^\s@/]+@", text), (
            f"a database URL leaked into {where}"
        )

    calls = stack.heroku_calls()
    polls = [
        c
        for c in calls
        if c["method"] == "GET" and c["path"] == f"/client/v11/databases/{new['id']}"
    ]
    print(f"\nscenario: {len(calls)} Heroku calls, {len(polls)} lag polls, {elapsed:.1f} s")
