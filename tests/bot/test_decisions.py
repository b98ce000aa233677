"""Contracts of the pure decisions: next step, cancel, clicks, safety of promote."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import decisions
from bot.decisions import Click
from bot.methods import REGISTRY
from bot.methods.changeover import StepName
from bot.methods.changeover.steps import PromoteCheck, promote_blockers
from state.errors import TransitionRefused
from state.models import Decision, Status
from tests.factories import T0, at_gate, migration

METHOD = REGISTRY["changeover"]
CHANGEOVER, ABORT, GATES = METHOD.runbook, METHOD.abort, METHOD.gates


def click(
    gate: str, user: str = "U0BOB", *, approve: bool = True, nonce: str = "nonce-1", **kw: bool
) -> Click:
    return Click("mig-abc123", gate, nonce, user, approve, **kw)


def test_the_changeover_runbook_has_the_steps_of_the_design_in_order() -> None:
    # DESIGN.md's sixteen steps, plus the two that leave nothing behind on the old database:
    # its other attachments move (in the window) and its followers are recreated (before destroy).
    assert [s.name for s in CHANGEOVER] == [
        "preflight",
        "create_follower",
        "wait_available",
        "wait_caught_up",
        "approve_maintenance",
        "maintenance_on",
        "scale_down",
        "wait_zero_lag",
        "approve_promote",
        "unfollow",
        "promote",
        "move_attachments",
        "scale_up",
        "maintenance_off",
        "verify",
        "recreate_followers",
        "approve_destroy",
        "destroy_old",
    ]


def test_next_step_walks_each_runbook_and_ends_with_none() -> None:
    walked = [StepName.PREFLIGHT]
    while (nxt := decisions.next_step(METHOD, walked[-1])) is not None:
        walked.append(nxt)
    assert walked == [s.name for s in CHANGEOVER]
    assert decisions.next_step(METHOD, ABORT[0].name) == ABORT[1].name
    assert decisions.next_step(METHOD, ABORT[-1].name) is None


def test_every_disruptive_step_is_preceded_by_a_gate() -> None:
    last_gate = None
    for step in CHANGEOVER:
        if step.name in GATES:
            last_gate = step.name
        if step.name in (StepName.MAINTENANCE_ON, StepName.PROMOTE, StepName.DESTROY_OLD):
            assert last_gate is not None
    order = [s.name for s in CHANGEOVER]
    assert order.index(StepName.APPROVE_PROMOTE) < order.index(StepName.UNFOLLOW)
    assert order.index(StepName.VERIFY) < order.index(StepName.APPROVE_DESTROY)


def test_approval_by_the_requester_is_refused_and_changes_nothing() -> None:
    m = at_gate(StepName.APPROVE_MAINTENANCE)
    before = m.model_copy(deep=True)
    with pytest.raises(TransitionRefused, match="two-person rule"):
        decisions.apply_click(
            METHOD, m, click(StepName.APPROVE_MAINTENANCE, "U0ALICE"), T0, is_approver=True
        )
    assert m == before


def test_approval_by_a_second_engineer_resumes_the_migration() -> None:
    m = at_gate(StepName.APPROVE_MAINTENANCE)
    after = decisions.apply_click(
        METHOD, m, click(StepName.APPROVE_MAINTENANCE), T0, is_approver=True
    )
    assert after.status is Status.RUNNING
    assert after.approvals[StepName.APPROVE_MAINTENANCE].decision is Decision.APPROVED
    assert after.approvals[StepName.APPROVE_MAINTENANCE].decided_by == "U0BOB"
    assert StepName.APPROVE_PROMOTE not in after.pre_approved


def test_approving_maintenance_with_promote_pre_approves_the_promote_gate() -> None:
    m = at_gate(StepName.APPROVE_MAINTENANCE)
    after = decisions.apply_click(
        METHOD, m, click(StepName.APPROVE_MAINTENANCE, with_next=True), T0, is_approver=True
    )
    assert after.pre_approved == [StepName.APPROVE_PROMOTE]


def test_a_user_who_is_not_an_approver_is_refused() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE)
    reason = decisions.refuse_click(
        m, click(StepName.APPROVE_PROMOTE, "U0EVE"), T0, is_approver=False
    )
    assert reason is not None and "MIGRATE_APPROVERS" in reason


def test_an_expired_approval_is_refused() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE, ttl=60)
    reason = decisions.refuse_click(
        m, click(StepName.APPROVE_PROMOTE), T0 + timedelta(seconds=61), is_approver=True
    )
    assert reason is not None and "expired" in reason


def test_a_click_with_an_old_nonce_is_stale() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE, nonce="new-nonce")
    reason = decisions.refuse_click(
        m, click(StepName.APPROVE_PROMOTE, nonce="old-nonce"), T0, is_approver=True
    )
    assert reason is not None and "stale" in reason


def test_a_second_approval_of_the_same_gate_is_refused() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE)
    m = decisions.apply_click(METHOD, m, click(StepName.APPROVE_PROMOTE), T0, is_approver=True)
    with pytest.raises(TransitionRefused, match="Already approved"):
        decisions.apply_click(
            METHOD, m, click(StepName.APPROVE_PROMOTE, "U0CAROL"), T0, is_approver=True
        )


def test_a_click_for_a_gate_the_migration_is_not_at_is_refused() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE)
    m.step = StepName.UNFOLLOW
    m.status = Status.RUNNING
    assert (
        decisions.refuse_click(m, click(StepName.APPROVE_PROMOTE), T0, is_approver=True) is not None
    )


def test_rejecting_before_promote_starts_the_abort_path() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE)
    after = decisions.apply_click(
        METHOD, m, click(StepName.APPROVE_PROMOTE, approve=False), T0, is_approver=True
    )
    assert after.status is Status.ABORTING
    assert after.step == StepName.ABORT_SCALE_UP


def test_the_requester_may_reject_their_own_migration() -> None:
    m = at_gate(StepName.APPROVE_MAINTENANCE)
    after = decisions.apply_click(
        METHOD,
        m,
        click(StepName.APPROVE_MAINTENANCE, "U0ALICE", approve=False),
        T0,
        is_approver=False,
    )
    assert after.status is Status.ABORTING


def test_rejecting_the_destroy_keeps_the_old_database_and_completes() -> None:
    m = at_gate(StepName.APPROVE_DESTROY)
    after = decisions.apply_click(
        METHOD, m, click(StepName.APPROVE_DESTROY, approve=False), T0, is_approver=True
    )
    assert after.status is Status.COMPLETED
    assert any("keep the old database" in n for n in after.notes)


def test_cancel_before_promote_aborts_and_puts_the_app_back() -> None:
    m = migration(step=StepName.WAIT_ZERO_LAG)
    after = decisions.cancel(METHOD, m, "U0ALICE", T0)
    assert after.status is Status.ABORTING and after.step == StepName.ABORT_SCALE_UP


def test_cancel_after_promote_is_refused_while_the_bot_can_finish() -> None:
    m = migration(step=StepName.SCALE_UP)
    with pytest.raises(TransitionRefused, match="never rolls back"):
        decisions.cancel(METHOD, m, "U0ALICE", T0)


def test_cancel_once_the_promote_request_was_sent_is_refused() -> None:
    m = migration(step=StepName.PROMOTE, committed_at=T0)
    with pytest.raises(TransitionRefused):
        decisions.cancel(METHOD, m, "U0ALICE", T0)


def test_cancel_of_a_finished_migration_is_refused() -> None:
    with pytest.raises(TransitionRefused, match=r"already ended \(completed\)"):
        decisions.cancel(METHOD, migration(status=Status.COMPLETED), "U0ALICE", T0)


@pytest.mark.parametrize(
    ("check", "blocked"),
    [
        (PromoteCheck(behind_by=0, maintenance=True, running_dynos=0), False),
        (PromoteCheck(behind_by=3, maintenance=True, running_dynos=0), True),
        (PromoteCheck(behind_by=None, maintenance=True, running_dynos=0), True),
        (PromoteCheck(behind_by=0, maintenance=False, running_dynos=0), True),
        (PromoteCheck(behind_by=0, maintenance=True, running_dynos=1), True),
    ],
)
def test_promote_is_safe_only_at_lag_zero_in_maintenance_with_no_dyno_running(
    check: PromoteCheck, blocked: bool
) -> None:
    assert bool(promote_blockers(check)) is blocked


def test_an_unknown_lag_is_never_taken_as_zero() -> None:
    reasons = promote_blockers(PromoteCheck(None, True, 0))
    assert reasons == ["the follower's lag is unknown (no Behind By reported)"]


def test_retry_delay_backs_off_and_is_capped() -> None:
    delays = [decisions.retry_delay(a, 15) for a in range(1, 10)]
    assert delays == sorted(delays)
    assert delays[-1] == 300.0
