"""Contracts of what the bot shows: the runbook message, gates and reports (pure)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.methods.changeover import StepName
from bot.slack import render
from state.models import Decision, FollowerMove, Status, Window
from tests.factories import T0, at_gate, migration


def buttons(blocks: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for block in blocks:
        if block["type"] == "actions":
            for element in block["elements"]:  # type: ignore[attr-defined]
                found.setdefault(element["action_id"], element)
    return found


def test_at_the_destroy_gate_destroying_is_red_and_keeping_the_database_is_the_safe_choice() -> (
    None
):
    m = at_gate(StepName.APPROVE_DESTROY, old_addon_id="old-id")
    shown = buttons(render.approval_request(m, m.approvals[StepName.APPROVE_DESTROY])[1])
    assert shown["approve_step"]["style"] == "danger"
    assert shown["approve_step"]["confirm"]["style"] == "danger"  # type: ignore[index]
    assert shown["reject_step"]["style"] == "primary"
    assert shown["reject_step"]["text"]["text"] == "Keep the old database"  # type: ignore[index]


def test_the_confirm_dialog_does_not_tell_the_requester_she_is_the_second_engineer() -> None:
    m = at_gate(StepName.APPROVE_MAINTENANCE)
    blocks = render.approval_request(m, m.approvals[StepName.APPROVE_MAINTENANCE])[1]
    dialog = json.dumps([b for b in blocks if b["type"] == "actions"])
    assert "You are the second engineer" not in dialog
    assert "only an engineer other than the one who started" in dialog


def test_the_destroy_gate_names_every_database_it_removes() -> None:
    m = at_gate(
        StepName.APPROVE_DESTROY,
        old_addon_id="old-id",
        followers=[
            FollowerMove(
                addon_id="f1", name="postgresql-replica-2", app="shop", plan="standard-0",
                new_name="mig-abc123-r1-standard-0",
            )
        ],
    )  # fmt: skip
    text = render.approval_request(m, m.approvals[StepName.APPROVE_DESTROY])[1][0]["text"]["text"]
    assert "`postgresql-old-1234`" in text and "`postgresql-replica-2`" in text


def test_while_maintenance_is_on_the_runbook_message_says_the_app_is_down_and_for_how_long() -> (
    None
):
    m = migration(step=StepName.WAIT_ZERO_LAG, window=Window(on_at=T0))
    text, blocks = render.thread_parent(m, now=T0 + timedelta(seconds=42))
    banner = blocks[2]["text"]["text"]
    assert banner.startswith(":red_circle: *shop* down for maintenance since 12:00:00 UTC")
    assert "(42.0 s so far)" in banner
    assert text.startswith("shop is down for maintenance")
    m.window.off_at = T0 + timedelta(seconds=50)
    assert "down for maintenance" not in json.dumps(render.thread_parent(m, now=T0)[1])


def test_the_runbook_message_shows_every_step_with_its_state() -> None:
    m = migration(step=StepName.WAIT_CAUGHT_UP)
    m.completed[StepName.PREFLIGHT] = T0
    m.step_notes[StepName.PREFLIGHT] = "postgresql-old-1 (standard-0) on shop"
    lines = "\n".join(
        b["text"]["text"] for b in render.thread_parent(m, now=T0)[1][1:] if b["type"] == "section"
    )
    assert ":white_check_mark: 1. *Preflight* — postgresql-old-1 (standard-0) on shop" in lines
    assert ":hourglass_flowing_sand: 4. *Wait until caught up*" in lines
    assert ":white_small_square: 18. *Destroy old database*" in lines


def test_a_rejected_migration_is_reported_as_rejected_not_cancelled() -> None:
    m = at_gate(StepName.APPROVE_MAINTENANCE)
    m.approvals[StepName.APPROVE_MAINTENANCE] = m.approvals[
        StepName.APPROVE_MAINTENANCE
    ].model_copy(update={"decision": Decision.REJECTED, "decided_by": "U0BOB", "decided_at": T0})
    m.status, m.rejected_gate = Status.REJECTED, StepName.APPROVE_MAINTENANCE
    report = render.finished(m)[1][0]["text"]["text"]
    assert report.startswith(
        ":no_entry_sign: *mig-abc123 rejected* by <@U0BOB> at approve maintenance"
    )
    assert "The app was never taken down." in report
    assert "rejected" in render.listing([m])[0]["text"]["text"]


def test_a_migration_that_failed_before_changing_anything_says_so() -> None:
    m = migration(status=Status.FAILED, error="Plan heroku-postgresql:nonsense-9 does not exist.")
    assert m.ended
    head = render.failed(m, m.error or "", "start again")[1][0]["text"]["text"]
    assert "nothing was changed, shop is free again" in head
    assert "failed, nothing was changed" in render.listing([m])[0]["text"]["text"]
