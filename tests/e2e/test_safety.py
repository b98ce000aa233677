"""Safety seen from outside: void approvals, changes made by hand, cooling-off, Slack outages."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlencode

import redis

from bot.methods import REGISTRY
from bot.methods.changeover import StepName
from sandbox.stack import ALICE, BOB, Stack, wait_for
from state import keys
from state.models import Migration
from tests.e2e.conftest import MakeStack
from tests.e2e.runs import section_text

CHANGEOVER = REGISTRY["changeover"].runbook


def started(stack: Stack) -> str:
    reply = wait_for("the start reply", lambda: stack.ephemeral_texts(ALICE), stack=stack)[-1]
    match = re.search(r"mig-[a-z0-9]{6}", reply)
    assert match, reply
    return match.group(0)


def approve(stack: Stack, gate: str, *, with_promote: bool = False) -> None:
    message, button = wait_for(
        gate, lambda: stack.gate_button(gate, with_next=with_promote), stack=stack
    )
    stack.click(BOB, message, button)


def stale_click(stack: Stack, user: str, message_ts: str, button: dict[str, object]) -> int:
    """A click from a Slack client still showing a button the bot has since removed."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "bob", "name": "bob", "team_id": "T0SANDBOX"},
        "api_app_id": "A0MIGRATEBOT",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0OPS"},
        "channel": {"id": "C0OPS", "name": "ops"},
        "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        "response_url": f"{stack.slack.url}/_responses/none",
        "actions": [{**button, "block_id": "b", "action_ts": "1.2", "type": "button"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **stack.driver.sign(body)}
    return asyncio.run(stack.driver.send_raw(body, headers)).status


def shop(stack: Stack) -> dict[str, object]:
    return next(a for a in stack.heroku_state()["apps"] if a["name"] == "shop")


def mutations(stack: Stack, method: str, path: str) -> int:
    return sum(
        1
        for c in stack.heroku_calls()
        if c["method"] == method
        and c["path"] == path
        and c["status"] is not None
        and c["status"] < 400
    )


def test_a_promote_approval_is_void_when_the_lag_rises_and_a_new_one_is_needed(
    stack: Stack,
) -> None:
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started(stack)
    approve(stack, "approve_maintenance")
    stale, button = wait_for(
        "the promote gate", lambda: stack.gate_button("approve_promote"), stack=stack
    )

    # A one-off dyno (say, `heroku run` by someone) writes during the window: lag rises.
    app = stack.heroku.call(lambda: next(a for a in stack.world.apps.values() if a.name == "shop"))
    dyno = stack.heroku.call(lambda: stack.world.add_dyno(app))
    wait_for(
        "the void notice",
        lambda: any("Void at" in json.dumps(m.blocks) for m in stack.thread()),
        stack=stack,
    )
    assert stale_click(stack, BOB, stale.ts, button) == 200
    refusal = wait_for(
        "the refusal",
        lambda: [e.text for e in stack.workspace.ephemerals() if "void" in e.text],
        stack=stack,
    )
    assert "lag rose" in refusal[-1]
    assert mutations(stack, "POST", "/addon-attachments") == 0  # nothing was promoted

    stack.heroku.call(lambda: stack.world.stop_dyno(app, dyno.name))
    fresh, again = wait_for(
        "a fresh promote request",
        lambda: (
            (found := stack.gate_button("approve_promote")) and found[0].ts != stale.ts and found
        ),
        stack=stack,
    )
    stack.click(BOB, fresh, again)
    approve(stack, "approve_destroy")
    wait_for(
        "completion",
        lambda: any(f"{migration_id} completed" in m.text for m in stack.thread()),
        stack=stack,
    )
    assert mutations(stack, "POST", "/addon-attachments") >= 2  # alias, DATABASE (and pooler)


def test_maintenance_turned_off_by_hand_during_the_window_stops_the_bot_with_an_explanation(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started(stack)
    approve(stack, "approve_maintenance")
    wait_for("the promote gate", lambda: stack.gate_button("approve_promote"), stack=stack)
    app = stack.heroku.call(lambda: next(a for a in stack.world.apps.values() if a.name == "shop"))
    stack.heroku.call(lambda: stack.world.update_app(app, maintenance=False, name=None))

    stopped = wait_for(
        "the stop", lambda: [m for m in stack.thread() if "stopped" in m.text], stack=stack
    )
    text = json.dumps(stopped[-1].blocks)
    assert "Changed outside the bot" in text and "taken out of maintenance" in text
    assert f"/migrate cancel {migration_id}" in text
    assert mutations(stack, "PUT", "/unfollow") == 0
    # The bot did not put maintenance back on by itself: one PATCH on, none since.
    assert mutations(stack, "PATCH", "/apps/shop") == 1


def test_the_destroy_approval_waits_for_the_cooling_off_period(make_stack: MakeStack) -> None:
    stack = make_stack(MIGRATE_DESTROY_COOLING_OFF_SECONDS="2")
    stack.slash(ALICE, "start shop --to standard-2")
    approve(stack, "approve_maintenance", with_promote=True)
    migration_id = started(stack)
    wait_for("the destroy request", lambda: stack.gate_button("approve_destroy"), stack=stack)
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        m = Migration.from_stored(r.get(keys.migration(migration_id)) or "")
    verified = m.completed[StepName.VERIFY]
    asked = m.approvals[StepName.APPROVE_DESTROY].requested_at
    assert (asked - verified).total_seconds() >= 2.0, (verified, asked)
    assert len(stack.heroku_state()["addons"]) == 2  # the old database is still there


def test_notifications_catch_up_after_slack_rate_limits_fails_and_goes_down(stack: Stack) -> None:
    stack.workspace.add_fault("chat.postMessage", "ratelimited", times=3, retry_after=1)
    stack.workspace.add_fault("chat.update", "503", times=3)
    stack.workspace.add_fault("chat.postMessage", "down", times=2)
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started(stack)
    approve(stack, "approve_maintenance", with_promote=True)
    approve(stack, "approve_destroy")
    wait_for(
        "completion",
        lambda: any(f"{migration_id} completed" in m.text for m in stack.thread()),
        timeout=60,
        stack=stack,
    )

    def steps_done() -> list[int]:
        runbook = section_text(stack.thread()[0].blocks)
        return [int(n) for n in re.findall(r"^:white_check_mark: (\d+)\.", runbook, re.M)]

    # The runbook message caught up: every step shown done, once, in order; and no message of
    # the thread (runbook, two approvals, the report) was lost or posted twice.
    wait_for("the runbook to catch up", lambda: len(steps_done()) == len(CHANGEOVER), stack=stack)
    assert steps_done() == list(range(1, len(CHANGEOVER) + 1))
    assert len(stack.thread()) == 4, [m.text for m in stack.thread()]
    assert not stack.workspace.faults or all(f.times <= 0 for f in stack.workspace.faults)
