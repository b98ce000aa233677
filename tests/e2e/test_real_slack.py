"""The bot against the real Slack's rules: escaping, the 3 s ack, errors a retry cannot fix."""

from __future__ import annotations

import json
import time

import redis

from sandbox.heroku.faults import Fault
from sandbox.stack import ALICE, BOB, Stack, wait_for
from state import keys
from tests.e2e.conftest import MakeStack, seed_shop
from tests.e2e.runs import approve, start, until

HOSTILE = "Plan <!channel> is <https://evil.example|gone> & <@U0BOB> knows"


def everything_shown(stack: Stack) -> str:
    messages = [json.dumps(m.to_api()) for m in stack.workspace.messages()]
    ephemerals = [json.dumps(e.to_api()) for e in stack.workspace.ephemerals()]
    return "\n".join(messages + ephemerals)


def test_a_heroku_error_text_that_would_ping_the_channel_is_shown_escaped(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    refusal = Fault(
        path_regex=r"^/apps/shop/addons$", method="POST", status=422, body_message=HOSTILE
    )
    stack.heroku.call(lambda: stack.world.faults.append(refusal))
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    until(stack, migration_id, "failed")

    def failure_shown() -> str | None:
        text = everything_shown(stack)
        return text if "stopped at Create follower" in text else None

    shown = wait_for("the failure in the thread", failure_shown, stack=stack)
    assert "&lt;!channel&gt;" in shown and "&lt;https://evil.example|gone&gt;" in shown
    for raw in ("<!channel>", "<https://evil.example", "<@U0BOB>"):
        assert raw not in shown, raw


def with_groups_unread_at_startup(stack: Stack) -> None:
    seed_shop(stack)
    # The startup check of MIGRATE_APPROVERS fails, so the first click finds no cached members.
    stack.workspace.add_fault("usergroups.users.list", "internal_error", times=1)


def test_a_slow_user_group_lookup_never_delays_an_ack(make_stack: MakeStack) -> None:
    stack = make_stack(seed=with_groups_unread_at_startup, MIGRATE_APPROVERS="S0APPROVERS")
    stack.workspace.add_fault("usergroups.users.list", "slow", times=3, delay_seconds=4.0)
    before = len(stack.ephemeral_texts(ALICE))
    answer = stack.slash(ALICE, "start shop --to standard-2")
    assert answer.status == 200 and answer.elapsed < 1.0, answer.elapsed
    wait_for("the start reply", lambda: stack.ephemeral_texts(ALICE)[before:], stack=stack)
    message, button = wait_for(
        "the maintenance approval", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    answer = stack.click(BOB, message, button)
    assert answer.status == 200 and answer.elapsed < 1.0, answer.elapsed
    wait_for(
        "the approval to take effect", lambda: stack.gate_button("approve_promote"), stack=stack
    )
    assert stack.workspace.violations == []


def test_a_slow_heroku_never_delays_the_ack_of_a_command(make_stack: MakeStack) -> None:
    stack = make_stack()
    slow = Fault(path_regex=r"^/apps/shop$", method="GET", delay_seconds=4.0, times=1)
    stack.heroku.call(lambda: stack.world.faults.append(slow))
    before = len(stack.ephemeral_texts(ALICE))
    answer = stack.slash(ALICE, "plan shop --to standard-2")
    assert answer.status == 200 and answer.elapsed < 1.0, answer.elapsed
    reply = wait_for(
        "the plan", lambda: stack.ephemeral_texts(ALICE)[before:], timeout=20, stack=stack
    )
    assert reply[-1] == "Plan for shop" and stack.workspace.violations == []


def with_a_slow_auth_test(stack: Stack) -> None:
    seed_shop(stack)
    stack.workspace.add_fault("auth.test", "slow", times=5, delay_seconds=5.0)


def test_the_first_request_after_a_start_is_acked_without_waiting_for_auth_test(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(seed=with_a_slow_auth_test)
    answer = stack.slash(ALICE, "list")
    assert answer.status == 200 and answer.elapsed < 1.0, answer.elapsed
    assert stack.workspace.violations == []


def test_the_bot_joins_a_public_channel_it_is_not_in_and_posts_there(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    stack.workspace.set_scopes(stack.workspace.scopes - {"chat:write.public"})
    stack.workspace.add_channel("C0DEPLOY", "deploys", bot_member=False)
    before = len(stack.ephemeral_texts(ALICE))
    stack.slash(ALICE, "start shop --to standard-2", "C0DEPLOY")
    wait_for("the start reply", lambda: stack.ephemeral_texts(ALICE)[before:], stack=stack)
    wait_for(
        "the thread in #deploys",
        lambda: [m for m in stack.workspace.messages("C0DEPLOY") if m.thread_ts is None],
        stack=stack,
    )
    assert "conversations.join" in stack.workspace.calls


def test_a_private_channel_without_the_bot_refuses_the_start_with_how_to_invite_it(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    stack.workspace.add_channel("G0SECRET", "secret", private=True, bot_member=False)
    before = len(stack.ephemeral_texts(ALICE))
    stack.slash(ALICE, "start shop --to standard-2", "G0SECRET")
    reply = wait_for("the refusal", lambda: stack.ephemeral_texts(ALICE)[before:], stack=stack)
    assert "/invite @migrate-bot" in reply[-1] and "Nothing was started" in reply[-1]
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        assert not r.zrange(keys.index(), 0, -1) and r.get(keys.app_lock("shop")) is None


def test_a_channel_that_refuses_for_good_stops_the_retries_and_the_requester_is_told(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    wait_for("the thread", stack.thread, stack=stack)
    stack.workspace.archive_channel("C0OPS")
    told = wait_for(
        "the requester to be told",
        lambda: [
            m for m in stack.workspace.messages(f"D{ALICE}") if "cannot post the thread" in m.text
        ],
        timeout=30,
        stack=stack,
    )
    assert "`is_archived`" in told[0].text and "/invite @migrate-bot" in told[0].text
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        wait_for(
            "the outbox to drain",
            lambda: migration_id not in r.smembers(keys.outbox_pending()),
            stack=stack,
        )
    posted = stack.workspace.calls.count("chat.postMessage")
    time.sleep(2.0)
    # Nothing is retried: at most the messages of the steps that ran meanwhile were tried once.
    assert stack.workspace.calls.count("chat.postMessage") - posted <= 2


def test_a_refusal_shown_through_chat_post_ephemeral_lands_in_the_thread(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    start(stack, ALICE, "start shop --to standard-2")
    message, button = wait_for(
        "the maintenance approval", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    stack.workspace.add_fault("response_url", "used_url", times=5)
    stack.click(ALICE, message, button)
    refusal = wait_for(
        "alice's refusal",
        lambda: [
            e
            for e in stack.workspace.ephemerals(ALICE)
            if "two-person rule" in e.text and e.source == "chat.postEphemeral"
        ],
        stack=stack,
    )[0]
    assert refusal.thread_ts == stack.thread()[0].ts
    approve(stack, "approve_maintenance")
