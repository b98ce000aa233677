"""What a new user meets first: a typo in the plan, a failure before anything changed, a lock."""

from __future__ import annotations

import asyncio
import re

import redis

from bot.methods.changeover import ChangeoverData, StepName
from sandbox.stack import ALICE, BOB, Stack, wait_for
from state import keys
from state.models import AuditEvent, Migration, NewDatabase, Notice
from state.redis import connect
from state.repository import Repository
from tests.e2e.conftest import MakeStack
from tests.e2e.runs import migration, mutations, start, thread_text, until


def locked(stack: Stack, app: str) -> str | None:
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        holder: str | None = r.get(keys.app_lock(app))
        return holder


def test_a_plan_that_does_not_exist_is_refused_before_anything_starts(stack: Stack) -> None:
    reply = stack.slash_reply(ALICE, "start shop --to nonsense-9")
    assert "Not started; nothing was changed" in reply
    assert "Plan heroku-postgresql:nonsense-9 does not exist" in reply
    assert "Started" not in reply and locked(stack, "shop") is None
    assert start(stack, ALICE, "start shop --to standard-2")  # the app was never locked


def write_migration(stack: Stack, m: Migration) -> None:
    """A migration as an earlier bot process stored it (before the platform changed)."""

    async def create() -> None:
        client = connect(stack.redis_url)
        try:
            await Repository(client).create(
                m,
                AuditEvent(migration_id=m.id, event="requested", actor=m.requested_by),
                [Notice(kind="thread")],
            )
        finally:
            await client.aclose()

    asyncio.run(create())


def test_a_migration_that_fails_before_changing_anything_frees_its_app_by_itself(
    stack: Stack,
) -> None:
    # Accepted when it started, refused by the time preflight ran: the plan is gone.
    m = Migration(
        id="mig-gone01",
        app="shop",
        plan="heroku-postgresql:standard-77",
        requested_by=ALICE,
        channel="C0OPS",
        method="changeover",
        step=StepName.PREFLIGHT,
        new=NewDatabase(name="mig-gone01-standard-77"),
        data=ChangeoverData(),
    )
    write_migration(stack, m)
    failed = until(stack, m.id, "failed")
    assert failed.ended and failed.changed_platform_at is None
    assert locked(stack, "shop") is None
    said = wait_for(
        "the failure in the thread",
        lambda: (t := thread_text(stack)) and "nothing was changed, shop is free again" in t and t,
        stack=stack,
    )
    assert "does not exist" in said
    assert mutations(stack) == []
    assert "already ended" in stack.slash_reply(ALICE, f"cancel {m.id}")
    assert start(stack, BOB, "start shop --to standard-2") != m.id


def test_a_lock_refusal_names_the_command_that_frees_the_app(stack: Stack) -> None:
    migration_id = start(stack, ALICE, "start shop --to standard-2")
    refusal = stack.slash_reply(BOB, "start shop --to standard-4")
    assert f"shop is already being migrated by {migration_id}" in refusal
    assert f"`/migrate cancel {migration_id}`" in refusal and "frees shop" in refusal
    assert migration(stack, migration_id).requested_by == ALICE


def test_on_a_dyno_without_its_app_name_the_bot_says_loudly_that_its_own_app_guard_is_off(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(DYNO="web.1")
    wait_for(
        "the startup warning",
        lambda: "guard that stops it migrating its own app is OFF" in stack.bot.logs(),
        stack=stack,
    )
    plan = stack.slash_reply(ALICE, "plan shop --to standard-2")
    assert "HEROKU_APP_NAME is not set" in plan


def test_with_its_app_name_the_bot_refuses_to_migrate_itself(make_stack: MakeStack) -> None:
    stack = make_stack(DYNO="web.1", HEROKU_APP_NAME="shop")
    reply = stack.slash_reply(ALICE, "start shop --to standard-2")
    assert re.search(r"migrate-bot itself runs on shop", reply), reply
    assert "OFF" not in stack.bot.logs()
