"""The /migrate interface as people use it: input, plan, status, list, cancel, locks, approvers."""

from __future__ import annotations

import json
import re
import time
import urllib.parse

import httpx

from sandbox.slack import User
from sandbox.stack import ALICE, BOB, Stack, wait_for
from tests.e2e.conftest import MakeStack
from tests.e2e.runs import thread_text

MUTATING = ("POST", "PATCH", "PUT", "DELETE")


def platform_changes(stack: Stack) -> list[str]:
    return [
        f"{c['method']} {c['path']}"
        for c in stack.heroku_calls()
        if c["method"] in MUTATING and not c["path"].startswith("/actions/")
    ]


def last_reply(stack: Stack, user: str) -> str:
    return wait_for(f"a reply to {user}", lambda: stack.ephemeral_texts(user), stack=stack)[-1]


def started_id(stack: Stack, user: str = ALICE) -> str:
    match = re.search(r"mig-[a-z0-9]{6}", last_reply(stack, user))
    assert match, last_reply(stack, user)
    return match.group(0)


def test_bad_input_gets_an_ephemeral_error_with_the_usage_and_changes_nothing(stack: Stack) -> None:
    for text in [
        "start",
        "start shop",
        "start shop --to",
        "start Shop! --to standard-2",
        "launch shop",
        "cancel 42",
    ]:
        response = stack.slash(ALICE, text)
        assert response.status == 200
        reply = last_reply(stack, ALICE)
        assert reply.startswith(":warning:"), (text, reply)
        assert "Traceback" not in reply
    assert "/migrate start" in last_reply(stack, ALICE) or "/migrate cancel" in last_reply(
        stack, ALICE
    )
    assert platform_changes(stack) == []
    assert [m for m in stack.channel_messages()] == []


def test_help_lists_every_subcommand(stack: Stack) -> None:
    stack.slash(ALICE, "help")
    reply = last_reply(stack, ALICE)
    for sub in ("help", "plan", "start", "status", "list", "cancel"):
        assert f"/migrate {sub}" in reply


def test_an_unsigned_or_wrongly_signed_request_is_refused_with_401(stack: Stack) -> None:
    body = urllib.parse.urlencode(
        {"command": "/migrate", "text": "list", "user_id": ALICE}
    ).encode()
    assert httpx.post(stack.driver.bot_url, content=body).status_code == 401
    headers = stack.driver.sign(body) | {"X-Slack-Signature": "v0=" + "0" * 64}
    assert httpx.post(stack.driver.bot_url, content=body, headers=headers).status_code == 401
    stale = stack.driver.sign(body, timestamp=int(time.time()) - 600)
    assert httpx.post(stack.driver.bot_url, content=body, headers=stale).status_code == 401


def test_plan_shows_steps_gates_and_warnings_and_changes_nothing(stack: Stack) -> None:
    stack.slash(ALICE, "plan shop --to standard-2")
    reply = wait_for(
        "the plan", lambda: [e for e in stack.workspace.ephemerals(ALICE) if e.blocks], stack=stack
    )[-1]
    text = json.dumps(reply.blocks)
    assert "Approve promote" in text and "Expected downtime" in text
    assert "worker=1" in text  # the non-web dynos that keep writing in maintenance
    assert platform_changes(stack) == []


def test_plan_reports_a_missing_app_as_a_blocker(stack: Stack) -> None:
    stack.slash(ALICE, "plan nosuchapp --to standard-2")
    reply = wait_for(
        "the plan", lambda: [e for e in stack.workspace.ephemerals(ALICE) if e.blocks], stack=stack
    )
    assert "Blockers" in json.dumps(reply[-1].blocks)


def test_a_second_start_on_the_same_app_is_refused_and_names_who_holds_it(stack: Stack) -> None:
    stack.slash(ALICE, "start shop --to standard-2")
    first = started_id(stack)
    stack.slash(BOB, "start shop --to standard-4")
    reply = last_reply(stack, BOB)
    assert first in reply and "<@U0ALICE>" in reply
    assert platform_changes(stack).count("POST /apps/shop/addons") <= 1


def test_status_and_list_show_the_migration(stack: Stack) -> None:
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started_id(stack)
    wait_for("the maintenance gate", lambda: stack.gate_button("approve_maintenance"), stack=stack)
    stack.slash(BOB, f"status {migration_id}")
    status = wait_for(
        "status", lambda: [e for e in stack.workspace.ephemerals(BOB) if e.blocks], stack=stack
    )
    assert "awaiting approval" in json.dumps(status[-1].blocks)
    stack.slash(BOB, "list")
    listing = wait_for(
        "list",
        lambda: [
            e
            for e in stack.workspace.ephemerals(BOB)
            if "Recent migrations" in json.dumps(e.blocks)
        ],
    )
    assert migration_id in json.dumps(listing[-1].blocks)


def test_cancel_before_promote_puts_the_app_back_as_it_was_and_removes_the_follower(
    stack: Stack,
) -> None:
    before = stack.heroku_state()
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started_id(stack)
    message, button = wait_for(
        "the maintenance gate", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    stack.click(BOB, message, button)
    wait_for("the promote gate", lambda: stack.gate_button("approve_promote"), stack=stack)
    shop = next(a for a in stack.heroku_state()["apps"] if a["name"] == "shop")
    assert shop["maintenance"] is True and shop["formation"] == {"web": 0, "worker": 0}

    stack.slash(ALICE, f"cancel {migration_id}")
    wait_for(
        "the cancellation",
        lambda: any(f"{migration_id} cancelled" in m.text for m in stack.thread()),
        stack=stack,
    )
    after = stack.heroku_state()
    shop = next(a for a in after["apps"] if a["name"] == "shop")
    assert shop["maintenance"] is False
    assert shop["formation"] == {"web": 2, "worker": 1}
    assert {a["id"] for a in after["addons"]} == {a["id"] for a in before["addons"]}
    assert not stack.gate_button("approve_promote")  # its buttons are gone
    closed = [m for m in stack.thread() if "Cancelled by <@U0ALICE>" in json.dumps(m.blocks)]
    assert len(closed) == 1
    stack.slash(ALICE, "start shop --to standard-2")  # the app's lock was released
    assert started_id(stack) != migration_id


def test_cancel_after_promote_is_refused(make_stack: MakeStack) -> None:
    stack = make_stack()
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started_id(stack)
    message, button = wait_for(
        "maintenance gate",
        lambda: stack.gate_button("approve_maintenance", with_next=True),
        stack=stack,
    )
    stack.click(BOB, message, button)
    wait_for("the destroy gate", lambda: stack.gate_button("approve_destroy"), stack=stack)
    stack.slash(ALICE, f"cancel {migration_id}")
    assert "never rolls back" in last_reply(stack, ALICE)


def test_rejecting_the_maintenance_window_aborts_and_removes_the_follower(stack: Stack) -> None:
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started_id(stack)
    message, _ = wait_for(
        "the maintenance gate", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    reject = next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "reject_step"
    )
    stack.click(BOB, message, reject)
    wait_for(
        "the rejection report",
        lambda: any(f"{migration_id} rejected" in m.text for m in stack.thread()),
        stack=stack,
    )
    assert not any(a["name"].startswith(migration_id) for a in stack.heroku_state()["addons"])
    listed = stack.slash_reply(ALICE, "list")
    assert f"`{migration_id}` :no_entry_sign: rejected" in listed


def test_only_configured_approvers_may_approve_and_groups_are_resolved(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(MIGRATE_APPROVERS="S0APPROVERS", MIGRATE_OPERATORS=f"{ALICE},U0CAROL")
    stack.workspace.add_user(User("U0CAROL", "carol", "Carol Engineer"))
    stack.slash(BOB, "start shop --to standard-2")
    assert "MIGRATE_OPERATORS" in last_reply(stack, BOB)  # bob is no operator
    stack.slash(ALICE, "start shop --to standard-2")
    message, button = wait_for(
        "the maintenance gate", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    stack.click("U0CAROL", message, button)
    assert (
        "MIGRATE_APPROVERS"
        in wait_for("carol's refusal", lambda: stack.ephemeral_texts("U0CAROL"), stack=stack)[-1]
    )
    stack.click(BOB, message, button)  # bob is in the S0APPROVERS user group
    wait_for("the promote gate", lambda: stack.gate_button("approve_promote"), stack=stack)


def test_an_expired_approval_request_is_closed_and_posted_again(make_stack: MakeStack) -> None:
    stack = make_stack(MIGRATE_APPROVAL_TTL_SECONDS="1")
    stack.slash(ALICE, "start shop --to standard-2")
    first, _ = wait_for(
        "the maintenance gate", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    wait_for(
        "a fresh request",
        lambda: (found := stack.gate_button("approve_maintenance")) and found[0].ts != first.ts,
        stack=stack,
    )
    expired = stack.workspace.find_message("C0OPS", first.ts)
    assert expired is not None and "Expired" in json.dumps(expired.blocks)
    assert not any(b["type"] == "actions" for b in expired.blocks)
    assert platform_changes(stack) == ["POST /apps/shop/addons"]


def test_a_heroku_refusal_stops_the_migration_and_says_what_to_do(stack: Stack) -> None:
    from sandbox.heroku.faults import Fault

    stack.heroku.call(
        lambda: stack.world.faults.append(
            Fault(
                path_regex="^/apps/shop/addons$",
                method="POST",
                status=422,
                body_id="invalid_params",
            )
        )
    )
    stack.slash(ALICE, "start shop --to standard-2")
    migration_id = started_id(stack)
    failure = wait_for(
        "the failure", lambda: [m for m in stack.thread() if "stopped" in m.text], stack=stack
    )
    text = json.dumps(failure[-1].blocks)
    assert "What to do" in text and f"/migrate cancel {migration_id}" in text
    assert "Traceback" not in text


def test_a_move_into_another_app_promotes_there_and_leaves_the_old_app_down(stack: Stack) -> None:
    stack.heroku.call(
        lambda: stack.world.seed_app("shop-private", formation={"web": 1}, database_plan=None)
    )
    stack.slash(ALICE, "start shop --to private-2 --target-app shop-private")
    migration_id = started_id(stack)
    for gate in ("approve_maintenance", "approve_promote", "approve_destroy"):
        message, button = wait_for(gate, lambda g=gate: stack.gate_button(g), stack=stack)
        stack.click(BOB, message, button)
    wait_for(
        "completion",
        lambda: any(f"{migration_id} completed" in m.text for m in stack.thread()),
        stack=stack,
    )
    apps = {a["name"]: a for a in stack.heroku_state()["apps"]}
    target = {(a["name"], a["addon"]) for a in apps["shop-private"]["attachments"]}
    assert ("DATABASE", f"{migration_id}-private-2") in target
    assert (
        apps["shop-private"]["formation"] == {"web": 1} and not apps["shop-private"]["maintenance"]
    )
    # The old app still points at the old database: it stays down until traffic moves.
    assert apps["shop"]["maintenance"] is True
    assert apps["shop"]["formation"] == {"web": 0, "worker": 0}
    # Said in the runbook message, as the note of the maintenance-off step.
    wait_for(
        "the note that the old app stays down",
        lambda: "stays in maintenance" in thread_text(stack),
        stack=stack,
    )
