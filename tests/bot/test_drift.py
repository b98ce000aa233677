"""Contracts of the drift check and of stepping back (pure)."""

from __future__ import annotations

from bot import decisions
from bot.methods import REGISTRY
from bot.methods.changeover import StepName
from bot.methods.changeover.drift import Snapshot, drift
from state.models import Decision, Migration, Status
from tests.factories import T0, at_gate, migration

METHOD = REGISTRY["changeover"]


def snapshot(**overrides: object) -> Snapshot:
    values: dict[str, object] = {
        "maintenance": {"shop": True},
        "running": {"shop": {}},
        "follower_exists": True,
        "follower_following": True,
        "database_addon": "old-id",
    }
    values.update(overrides)
    return Snapshot(**values)  # type: ignore[arg-type]


def waiting_for_zero_lag() -> Migration:
    return migration(step=StepName.WAIT_ZERO_LAG, new_addon_id="new-id", old_addon_id="old-id")


def test_nothing_changed_by_hand_is_no_drift() -> None:
    assert drift(waiting_for_zero_lag(), snapshot()) == []


def test_maintenance_turned_off_by_hand_while_the_app_should_be_down_is_drift() -> None:
    found = drift(waiting_for_zero_lag(), snapshot(maintenance={"shop": False}))
    assert found == ["shop was taken out of maintenance"]


def test_a_dyno_scaled_up_by_hand_while_scaled_down_is_drift() -> None:
    found = drift(waiting_for_zero_lag(), snapshot(running={"shop": {"worker": 1}}))
    assert found == ["shop was scaled to worker=1"]


def test_a_follower_removed_or_unfollowed_by_hand_is_drift() -> None:
    m = waiting_for_zero_lag()
    assert "was removed" in drift(m, snapshot(follower_exists=False))[0]
    assert "stopped following" in drift(m, snapshot(follower_following=False))[0]


def test_a_promote_done_by_hand_before_the_bot_is_drift() -> None:
    found = drift(waiting_for_zero_lag(), snapshot(database_addon="someone-else"))
    assert found == ["DATABASE on shop was changed to another database"]


def test_a_crash_in_the_middle_of_scale_up_is_not_mistaken_for_drift() -> None:
    m = migration(step=StepName.SCALE_UP, new_addon_id="new-id", old_addon_id="old-id")
    assert drift(m, snapshot(running={"shop": {"web": 2}}, database_addon="new-id")) == []


def test_a_crash_in_the_middle_of_maintenance_off_is_not_mistaken_for_drift() -> None:
    m = migration(step=StepName.MAINTENANCE_OFF, new_addon_id="new-id", old_addon_id="old-id")
    assert drift(m, snapshot(maintenance={"shop": False}, database_addon="new-id")) == []


def test_stepping_back_voids_the_promote_approval_and_its_pre_approval() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE, pre_approved=[StepName.APPROVE_PROMOTE])
    voided = decisions.step_back(
        METHOD, m, StepName.WAIT_ZERO_LAG, "the follower's lag rose to 12 commits", T0
    )
    assert [a.gate for a in voided] == [StepName.APPROVE_PROMOTE]
    assert m.approvals[StepName.APPROVE_PROMOTE].decision is Decision.VOID
    assert m.step == StepName.WAIT_ZERO_LAG and m.status is Status.RUNNING
    assert m.pre_approved == []


def test_a_click_on_a_void_approval_is_refused_with_the_reason() -> None:
    m = at_gate(StepName.APPROVE_PROMOTE)
    decisions.step_back(
        METHOD, m, StepName.WAIT_ZERO_LAG, "the follower's lag rose to 12 commits", T0
    )
    click = decisions.Click("mig-abc123", StepName.APPROVE_PROMOTE, "nonce-1", "U0BOB", True)
    reason = decisions.refuse_click(m, click, T0, is_approver=True)
    assert reason is not None and "void" in reason and "12 commits" in reason


def test_the_gate_before_a_disruptive_step_is_the_one_that_approved_it() -> None:
    assert decisions.gate_before(METHOD, StepName.MAINTENANCE_ON) == StepName.APPROVE_MAINTENANCE
    assert decisions.gate_before(METHOD, StepName.PROMOTE) == StepName.APPROVE_PROMOTE
    assert decisions.gate_before(METHOD, StepName.DESTROY_OLD) == StepName.APPROVE_DESTROY
    assert decisions.gate_before(METHOD, StepName.PREFLIGHT) is None
