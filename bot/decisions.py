"""Pure decisions over a migration: what comes next, is it safe, is this click valid.

Nothing here performs I/O; every function takes the facts it needs and returns a value or a new
migration. The engine and the service apply the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.runbook import ABORT, CHANGEOVER, Kind
from state.models import Approval, Decision, Migration, Status, StepName
from state.repository import TransitionRefused

_ORDER = [s.name for s in CHANGEOVER]
_ABORT_ORDER = [s.name for s in ABORT]


def ending_status(m: Migration, last: StepName) -> Status:
    """How a migration that just ran its last step ended."""
    if last in _ABORT_ORDER:
        return Status.REJECTED if m.rejected_gate is not None else Status.CANCELLED
    return Status.COMPLETED


def next_step(current: StepName) -> StepName | None:
    """The step after `current` in its runbook, or None when the runbook is done."""
    order = _ABORT_ORDER if current in _ABORT_ORDER else _ORDER
    i = order.index(current)
    return order[i + 1] if i + 1 < len(order) else None


def step_back(m: Migration, to: StepName, reason: str, now: datetime) -> list[Approval]:
    """Return to an earlier step; every approval of a later gate is void. Returns those."""
    later = {s.name for s in CHANGEOVER[_ORDER.index(to) :] if s.kind is Kind.GATE}
    voided = []
    for gate, approval in list(m.approvals.items()):
        if gate in later and approval.decision in (None, Decision.APPROVED):
            void = approval.model_copy(
                update={"decision": Decision.VOID, "decided_at": now, "void_reason": reason}
            )
            m.approvals[gate] = void
            voided.append(void)
    if StepName.APPROVE_PROMOTE in later:
        m.promote_approved = False
    m.step = to
    m.status = Status.RUNNING
    m.next_run_at = now.timestamp()
    m.attempt = 0
    return voided


def gate_before(step: StepName) -> StepName | None:
    """The gate a changeover step is behind (the last one before it), if any."""
    if step not in _ORDER:
        return None
    gates = [s.name for s in CHANGEOVER[: _ORDER.index(step)] if s.kind is Kind.GATE]
    return gates[-1] if gates else None


def past_promote(m: Migration) -> bool:
    """True once the promote may have happened: from then on the bot never rolls back."""
    if m.step in _ABORT_ORDER:
        return False
    return _ORDER.index(m.step) > _ORDER.index(StepName.PROMOTE) or "promote_sent_at" in m.marks


def cancel(m: Migration, user: str, now: datetime) -> Migration:
    """Ask for an abort: before promote the app is put back as it was; after it, refused."""
    if m.ended:
        raise TransitionRefused(f"{m.id} has already ended ({m.status.value}); nothing to cancel.")
    if m.status is Status.ABORTING:
        raise TransitionRefused(f"{m.id} is already being cancelled.")
    if past_promote(m):
        if m.status is Status.FAILED:
            m.status = Status.CANCELLED
            m.cancel_requested_by = user
            m.finished_at = now
            m.notes.append(
                f"Abandoned by <@{user}> after promote: nothing was rolled back; "
                f"{m.promote_app} runs on the new database."
            )
            return m
        raise TransitionRefused(
            f"{m.id} is past promote: {m.promote_app} already runs on the new database and the "
            "bot never rolls back on its own. It is finishing the remaining steps; "
            "see `/migrate status`."
        )
    return start_abort(m, user, now)


def start_abort(m: Migration, user: str, now: datetime) -> Migration:
    for gate, approval in m.approvals.items():
        if approval.decision is None:
            m.approvals[gate] = approval.model_copy(
                update={"decision": Decision.CANCELLED, "decided_by": user, "decided_at": now}
            )
    m.status = Status.ABORTING
    m.step = _ABORT_ORDER[0]
    m.cancel_requested_by = user
    m.next_run_at = now.timestamp()
    m.attempt = 0
    m.error = None
    return m


@dataclass(frozen=True)
class Click:
    """A button press as the handler parsed it."""

    migration_id: str
    gate: StepName
    nonce: str
    user: str
    approve: bool
    with_promote: bool = False


def refuse_click(m: Migration, click: Click, now: datetime, *, is_approver: bool) -> str | None:
    """Why this click must change nothing, or None if it is valid."""
    if m.ended:
        return f"{m.id} has already ended ({m.status.value}); this button does nothing now."
    current = m.approvals.get(click.gate)
    if current is None or current.nonce != click.nonce:
        return (
            "This button is stale: a newer approval request replaced it. "
            "Use the latest message in the thread."
        )
    if current.decision is Decision.VOID:
        return (
            f"This approval is void: {current.void_reason}. "
            "A new request will be posted when it is safe again."
        )
    if current.decision is not None:
        by = f" by <@{current.decided_by}>" if current.decided_by else ""
        return f"Already {current.decision.value}{by}; nothing more to do here."
    if m.step is not click.gate or m.status is not Status.AWAITING_APPROVAL:
        return f"{m.id} is not waiting for this approval any more (it is at {m.step.value})."
    if now >= current.expires_at:
        return "This approval request has expired; the bot will post a fresh one."
    if click.approve and click.user == m.requested_by:
        return (
            "You started this migration, so you cannot approve it: a second engineer must "
            "(two-person rule)."
        )
    if not is_approver and not (not click.approve and click.user == m.requested_by):
        return "You are not one of the approvers of migrations (MIGRATE_APPROVERS)."
    return None


def apply_click(m: Migration, click: Click, now: datetime, *, is_approver: bool) -> Migration:
    """The migration after a valid click; TransitionRefused (changing nothing) otherwise."""
    reason = refuse_click(m, click, now, is_approver=is_approver)
    if reason is not None:
        raise TransitionRefused(reason)
    approval = m.approvals[click.gate]
    decision = Decision.APPROVED if click.approve else Decision.REJECTED
    m.approvals[click.gate] = approval.model_copy(
        update={
            "decision": decision,
            "decided_by": click.user,
            "decided_at": now,
            "with_promote": click.approve and click.with_promote,
        }
    )
    if click.approve:
        if click.with_promote and click.gate is StepName.APPROVE_MAINTENANCE:
            m.promote_approved = True
        m.status = Status.RUNNING
        m.next_run_at = now.timestamp()
        return m
    if click.gate is StepName.APPROVE_DESTROY:
        m.status = Status.COMPLETED
        m.finished_at = now
        m.notes.append(f"<@{click.user}> chose to keep the old database; it was not destroyed.")
        return m
    m.rejected_gate = click.gate
    return start_abort(m, click.user, now)


def new_approval(
    m: Migration, gate: StepName, nonce: str, now: datetime, ttl_seconds: float
) -> Approval:
    return Approval(
        gate=gate,
        nonce=nonce,
        requested_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        state_version=m.version,
    )


@dataclass(frozen=True)
class PromoteCheck:
    """The platform facts that decide whether the follower may take over."""

    behind_by: int | None
    is_follower: bool
    maintenance: bool
    running_dynos: int


def promote_blockers(check: PromoteCheck) -> list[str]:
    """Reasons it is not safe to unfollow and promote now; empty means safe."""
    reasons = []
    if check.behind_by is None:
        reasons.append("the follower's lag is unknown (no Behind By reported)")
    elif check.behind_by > 0:
        reasons.append(f"the follower is {check.behind_by} commits behind")
    if not check.maintenance:
        reasons.append("the app is not in maintenance mode")
    if check.running_dynos:
        reasons.append(f"{check.running_dynos} dynos are still running and may write")
    return reasons


def retry_delay(attempt: int, poll_seconds: float) -> float:
    """Back-off before retrying a step that failed for a passing reason."""
    return float(min(poll_seconds * (2 ** min(attempt, 6)), 300.0))


MAX_ATTEMPTS = 8
