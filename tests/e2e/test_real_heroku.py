"""The changeover against the platform's awkward moments, as the real Heroku has them.

Each stand-in behaviour here is one the real platform shows (see sandbox/heroku); each test
fails on a bot that ignores it.
"""

from __future__ import annotations

import re

import redis

from sandbox.heroku.faults import Fault
from sandbox.slack import User
from sandbox.stack import ALICE, BOB, Stack, wait_for
from state import keys
from tests.e2e.conftest import MakeStack, seed_shop
from tests.e2e.runs import (
    approve,
    audit,
    migration,
    mutations,
    run_to_end,
    section_text,
    start,
    thread_text,
    until,
)

GB = 1024**3


def shop_database(stack: Stack) -> dict[str, str]:
    return next(a for a in stack.heroku_state()["addons"] if a["app"] == "shop")


def app_state(stack: Stack, name: str) -> dict[str, object]:
    return next(a for a in stack.heroku_state()["apps"] if a["name"] == name)


def attached(stack: Stack, app: str) -> dict[tuple[str, str | None], str]:
    return {
        (a["name"], a["namespace"]): a["addon"]
        for a in app_state(stack, app)["attachments"]  # type: ignore[attr-defined]
    }


def test_a_new_follower_unknown_to_the_data_api_at_first_is_waited_for(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    stack.heroku.call(lambda: stack.world.configure(data_api_unknown_seconds=2.0))
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    wait_for(
        "the maintenance approval",
        lambda: stack.gate_button("approve_maintenance"),
        timeout=30,
        stack=stack,
    )
    m = migration(stack, migration_id)
    assert m.status.value == "awaiting_approval", m.error
    unknown = [
        c
        for c in stack.heroku_calls()
        if c["path"] == f"/client/v11/databases/{m.new.addon_id}/wait_status" and c["status"] == 404
    ]
    assert unknown, "the Data API never answered 404 for the new follower"
    history = [section_text(e.blocks) for e in stack.thread()[0].edits]
    assert any("not known to its Postgres API yet" in v for v in history)


def with_release_phase(stack: Stack) -> None:
    seed_shop(stack)
    stack.world.seed_app("store", formation={"web": 1, "worker": 1, "release": 0}, pooler=True)
    stack.world.configure(release_seconds=0.3)


def test_promote_follows_the_attach_database_release_not_the_poolers(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(seed=with_release_phase)
    # The pooler's release comes last and contains "Attach DATABASE": it is not the one.
    stack.heroku.call(
        lambda: stack.world.add_release_failure("store", r"^Attach DATABASE_CONNECTION_POOL ")
    )
    migration_id = run_to_end(stack, ALICE, "start store --to standard-2")
    polled = [
        c for c in stack.heroku_calls() if re.fullmatch(r"/apps/store/releases/[^/]+", c["path"])
    ]
    assert polled, "the Attach DATABASE release was never followed"
    assert migration(stack, migration_id).status.value == "completed"


def test_a_failed_attach_release_stops_before_maintenance_off_and_before_any_destroy(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(seed=with_release_phase)
    old = next(a for a in stack.heroku_state()["addons"] if a["app"] == "store")
    stack.heroku.call(lambda: stack.world.add_release_failure("store", r"^Attach DATABASE "))
    migration_id = start(stack, ALICE, "start store --to standard-2")
    approve(stack, "approve_maintenance")
    approve(stack, "approve_promote")
    m = until(stack, migration_id, "failed")
    assert m.step == "promote"
    store = app_state(stack, "store")
    assert store["maintenance"] is True
    assert store["formation"] == {"web": 0, "worker": 0, "release": 0}
    assert old["id"] in {a["id"] for a in stack.heroku_state()["addons"]}
    assert not any(c.startswith("DELETE") for c in mutations(stack))
    said = wait_for(
        "the failure in the thread",
        lambda: [t for t in [thread_text(stack)] if "stopped at Promote" in t],
        stack=stack,
    )[0]
    assert "Attach DATABASE" in said and "stay in maintenance with every process at 0" in said
    assert "heroku releases:output" in said and "heroku ps:scale " in said
    assert "web=1" in said and "worker=1" in said


def with_a_read_replica(stack: Stack) -> None:
    seed_shop(stack)
    leader = next(a for a in stack.world.addons.values() if a.name != "")
    stack.world.seed_follower(
        leader.name, "shop", plan="standard-0", attachment_name="READ_REPLICA"
    )


def test_followers_of_the_old_database_are_recreated_on_the_new_one_before_the_destroy(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(seed=with_a_read_replica)
    before = stack.heroku_state()
    replica = next(a for a in before["addons"] if "shop::READ_REPLICA" in a["attachments"])
    plan = stack.slash_reply(ALICE, "plan shop --to standard-2")
    assert replica["name"] in plan and "Followers of the database" in plan
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    approve(stack, "approve_maintenance")
    approve(stack, "approve_promote")
    message, button = wait_for(
        "the destroy request", lambda: stack.gate_button("approve_destroy"), stack=stack
    )
    gate = section_text(message.blocks)
    assert replica["name"] in gate and "old followers" in gate
    stack.click(BOB, message, button)
    until(stack, migration_id, "completed")
    after = stack.heroku_state()
    m = migration(stack, migration_id)
    replacement = next(a for a in after["addons"] if a["name"] == f"{migration_id}-r1-standard-0")
    assert replacement["plan"] == "heroku-postgresql:standard-0"
    assert attached(stack, "shop")[("READ_REPLICA", None)] == replacement["name"]
    following = {d["name"]: d["following"] for d in after["databases"]}
    assert following[replacement["name"]] == m.new.name
    assert replica["id"] not in {a["id"] for a in after["addons"]}
    assert not any(f == replica["name"] for f in following.values())


def with_a_second_app(stack: Stack) -> None:
    seed_shop(stack)
    stack.world.seed_app("shop-admin", formation={"web": 1, "worker": 1}, database_plan=None)
    database = next(a for a in stack.world.addons.values())
    stack.world.attach_to(database.name, "shop-admin", "DATABASE")


def test_another_app_attached_to_the_database_joins_the_window(make_stack: MakeStack) -> None:
    stack = make_stack(seed=with_a_second_app)
    plan = stack.slash_reply(ALICE, "plan shop --to standard-2")
    assert "shared with *shop-admin*" in plan
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    refused = stack.slash_reply(BOB, "start shop-admin --to standard-4")
    assert f"shop-admin is already being migrated by {migration_id}" in refused
    for gate in ("approve_maintenance", "approve_promote", "approve_destroy"):
        approve(stack, gate)
    until(stack, migration_id, "completed")
    m = migration(stack, migration_id)
    calls = mutations(stack)
    unfollow = calls.index(f"PUT /client/v11/databases/{m.new.addon_id}/unfollow")
    # A writer in another app is a forgotten worker: down and at 0 before the unfollow.
    assert calls.index("PATCH /apps/shop-admin") < unfollow
    assert calls.index("PATCH /apps/shop-admin/formation") < unfollow
    admin = app_state(stack, "shop-admin")
    assert admin["maintenance"] is False
    assert admin["formation"] == {"web": 1, "worker": 1}
    assert attached(stack, "shop-admin")[("DATABASE", None)] == m.new.name
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        assert r.get(keys.app_lock("shop-admin")) is None


def with_named_attachments(stack: Stack) -> None:
    stack.world.configure(
        provision_seconds=0.5, initial_lag=3000, apply_rate=2500, web_rate=5, worker_rate=2
    )
    stack.world.seed_app(
        "shop",
        formation={"web": 2, "worker": 1},
        pooler=True,
        credentials=["analyst"],
        extra_attachments=[
            {"name": "REPORTING_POOL", "namespace": "connection-pooling:default"},
            {"name": "ANALYST_DB", "namespace": "credential:analyst"},
        ],
    )


def test_named_poolers_move_and_a_credential_the_api_refuses_is_a_manual_step(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(seed=with_named_attachments)
    plan = stack.slash_reply(ALICE, "plan shop --to standard-2")
    assert "shop::REPORTING_POOL" in plan and "shop::ANALYST_DB" in plan
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    approve(stack, "approve_maintenance")
    approve(stack, "approve_promote")
    message, _ = wait_for(
        "the destroy request", lambda: stack.gate_button("approve_destroy"), stack=stack
    )
    m = migration(stack, migration_id)
    now = attached(stack, "shop")
    assert now[("REPORTING_POOL", "connection-pooling:default")] == m.new.name
    assert now[("ANALYST_DB", "credential:analyst")] != m.new.name
    manual = [
        t for t in (x.text + section_text(x.blocks) for x in stack.thread()) if "Manual step" in t
    ]
    assert len(manual) == 1 and "`shop::ANALYST_DB`" in manual[0]
    assert "--credential analyst --as ANALYST_DB" in manual[0]
    assert "Do the manual steps first" in section_text(message.blocks)


def with_a_big_database(stack: Stack) -> None:
    stack.world.seed_app("shop", formation={"web": 1}, database_bytes=80 * GB)


def test_plan_and_start_refuse_what_the_platforms_numbers_rule_out(make_stack: MakeStack) -> None:
    stack = make_stack(seed=with_a_big_database)
    too_small = stack.slash_reply(ALICE, "plan shop --to standard-0")
    assert "holds 80 GB, more than standard-0 stores (64 GB)" in too_small
    for text, reason in (
        ("start shop --to standard-0", "more than standard-0 stores"),
        ("start shop --to essential-1", "Essential plan, which cannot be a follower"),
        ("start shop --to advanced", "--method advanced"),
        ("start shop --to standard-2 --version 17", "--method upgrade --version 17"),
    ):
        reply = stack.slash_reply(ALICE, text)
        assert "Not started; nothing was changed" in reply and reason in reply, reply
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        assert r.get(keys.app_lock("shop")) is None and not r.zrange(keys.index(), 0, -1)
    assert mutations(stack) == []


CAROL = "U0CAROL"


def with_only_alice_and_carol_on_the_team(stack: Stack) -> None:
    stack.workspace.add_user(User(CAROL, "carol", "Carol Engineer", email="carol@example.com"))
    stack.world.team = ["alice@example.com", "carol@example.com"]
    seed_shop(stack)


def test_only_someone_who_may_operate_the_app_on_heroku_may_approve(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(seed=with_only_alice_and_carol_on_the_team)
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    message, button = wait_for(
        "the maintenance approval", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    stack.click(BOB, message, button)
    refusal = wait_for(
        "bob's refusal",
        lambda: [t for t in stack.ephemeral_texts(BOB) if "collaborator" in t],
        stack=stack,
    )[0]
    assert "bob@example.com is not a collaborator of shop on Heroku" in refusal
    refused = [e for e in audit(stack, migration_id) if e["event"] == "approval_refused"]
    assert refused and refused[0]["actor"] == BOB
    assert "not a collaborator" in refused[0]["detail"]["reason"]
    assert not any(c.startswith("PATCH /apps/shop") for c in mutations(stack))
    stack.click(CAROL, message, button)
    until(stack, migration_id, "running", "awaiting_approval")
    wait_for("maintenance on", lambda: app_state(stack, "shop")["maintenance"], stack=stack)


def test_without_the_email_scope_an_approval_is_refused_with_the_reason(
    make_stack: MakeStack,
) -> None:
    stack = make_stack()
    stack.workspace.set_scopes(stack.workspace.scopes - {"users:read.email"})
    start(stack, ALICE, "start shop --to standard-2")
    approve(stack, "approve_maintenance")
    refusal = wait_for(
        "bob's refusal",
        lambda: [t for t in stack.ephemeral_texts(BOB) if "users:read.email" in t],
        stack=stack,
    )
    assert refusal
    assert not any(c.startswith("PATCH /apps/shop") for c in mutations(stack))


def test_a_slow_heroku_access_lookup_never_delays_the_ack(make_stack: MakeStack) -> None:
    stack = make_stack()
    start(stack, ALICE, "start shop --to standard-2")
    slow = Fault(path_regex=r"/collaborators$", method="GET", delay_seconds=4.0, times=1)
    stack.heroku.call(lambda: stack.world.faults.append(slow))
    message, button = wait_for(
        "the maintenance approval", lambda: stack.gate_button("approve_maintenance"), stack=stack
    )
    answer = stack.click(BOB, message, button)
    assert answer.status == 200 and answer.elapsed < 1.0, answer.elapsed
    wait_for("maintenance on", lambda: app_state(stack, "shop")["maintenance"], stack=stack)
    assert stack.workspace.violations == []
