"""Pure decisions over a migration and its method's runbook: what comes next, is it still safe to
undo, is this click valid. No I/O and no step names: the method says which steps there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.methods.base import Kind, Method
from state.errors import TransitionRefused
from state.models import Approval, Decision, Migration, Status


def _order(method: Method) -> list[str]:
    return [s.name for s in method.runbook]


def next_step(method: Method, current: str) -> str | None:
    """The step after `current` in its runbook (or abort path), or None when it is done."""
    steps = method.abort if method.aborting(current) else method.runbook
    names = [s.name for s in steps]
    i = names.index(current)
    return names[i + 1] if i + 1 < len(names) else None


def ending_status(method: Method, m: Migration, last: str) -> Status:
    """How a migration that just ran its last step ended."""
    if method.aborting(last):
        return Status.REJECTED if m.rejected_gate is not None else Status.CANCELLED
    return Status.COMPLETED


def step_back(method: Method, m: Migration, to: str, reason: str, now: datetime) -> list[Approval]:
    """Return to an earlier step; every approval of a later gate is void. Returns those."""
    order = _order(method)
    later = {s.name for s in method.runbook[order.index(to) :] if s.kind is Kind.GATE}
    voided = []
    for gate, approval in list(m.approvals.items()):
        if gate in later and approval.decision in (None, Decision.APPROVED):
            void = approval.model_copy(
                update={"decision": Decision.VOID, "decided_at": now, "void_reason": reason}
            )
            m.approvals[gate] = void
            voided.append(void)
    m.pre_approved = [g for g in m.pre_approved if g not in later]
    m.step = to
    m.status = Status.RUNNING
    m.next_run_at = now.timestamp()
    m.attempt = 0
    return voided


def gate_before(method: Method, step: str) -> str | None:
    """The gate a runbook step is behind (the last one before it), if any."""
    order = _order(method)
    if step not in order:
        return None
    gates = [s.name for s in method.runbook[: order.index(step)] if s.kind is Kind.GATE]
    return gates[-1] if gates else None


def past_no_return(method: Method, m: Migration) -> bool:
    """True once the point of no return may have been crossed: from then on, no rollback."""
    if method.aborting(m.step):
        return False
    order = _order(method)
    return order.index(m.step) > order.index(method.no_return) or m.committed_at is not None


def cancel(method: Method, m: Migration, user: str, now: datetime) -> Migration:
    """Ask for an abort: before the point of no return the app is put back; after it, refused."""
    if m.ended:
        raise TransitionRefused(f"{m.id} has already ended ({m.status.value}); nothing to cancel.")
    if m.status is Status.ABORTING:
        raise TransitionRefused(f"{m.id} is already being cancelled.")
    if past_no_return(method, m):
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
    return start_abort(method, m, user, now)


def start_abort(method: Method, m: Migration, user: str, now: datetime) -> Migration:
    for gate, approval in m.approvals.items():
        if approval.decision is None:
            m.approvals[gate] = approval.model_copy(
                update={"decision": Decision.CANCELLED, "decided_by": user, "decided_at": now}
            )
    m.status = Status.ABORTING
    m.step = method.abort[0].name
    m.cancel_requested_by = user
    m.next_run_at = now.timestamp()
    m.attempt = 0
    m.error = None
    return m


@dataclass(frozen=True)
class Click:
    """A button press as the handler parsed it."""

    migration_id: str
    gate: str
    nonce: str
    user: str
    approve: bool
    with_next: bool = False


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
    if m.step != click.gate or m.status is not Status.AWAITING_APPROVAL:
        return f"{m.id} is not waiting for this approval any more (it is at {m.step})."
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


def apply_click(
    method: Method, m: Migration, click: Click, now: datetime, *, is_approver: bool
) -> Migration:
    """The migration after a valid click; TransitionRefused (changing nothing) otherwise."""
    reason = refuse_click(m, click, now, is_approver=is_approver)
    if reason is not None:
        raise TransitionRefused(reason)
    gate = method.step(click.gate)
    together = click.approve and click.with_next and gate.approves_with is not None
    approval = m.approvals[click.gate]
    decision = Decision.APPROVED if click.approve else Decision.REJECTED
    m.approvals[click.gate] = approval.model_copy(
        update={
            "decision": decision,
            "decided_by": click.user,
            "decided_at": now,
            "with_next": together,
        }
    )
    if click.approve:
        if together and gate.approves_with is not None:
            m.pre_approved = [*m.pre_approved, gate.approves_with]
        m.status = Status.RUNNING
        m.next_run_at = now.timestamp()
        return m
    if gate.prompt is not None and gate.prompt.reject == "complete":
        m.status = Status.COMPLETED
        m.finished_at = now
        m.notes.append(f"<@{click.user}> chose to keep the old database; it was not destroyed.")
        return m
    m.rejected_gate = click.gate
    return start_abort(method, m, click.user, now)


def new_approval(
    m: Migration, gate: str, nonce: str, now: datetime, ttl_seconds: float
) -> Approval:
    return Approval(
        gate=gate,
        nonce=nonce,
        requested_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        state_version=m.version,
    )


def retry_delay(attempt: int, poll_seconds: float) -> float:
    """Back-off before retrying a step that failed for a passing reason."""
    return float(min(poll_seconds * (2 ** min(attempt, 6)), 300.0))


MAX_ATTEMPTS = 8
