"""The Slack messages a migration produces, as outbox Notices (pure: no I/O)."""

from __future__ import annotations

from handlers import render
from state.models import Approval, Migration, Notice, StepName


def thread() -> Notice:
    """Opens the migration's thread; its text is rendered from the state when delivered."""
    return Notice(kind="thread")


def post(text: str, blocks: list[render.Block] | None = None) -> Notice:
    return Notice(kind="post", text=text, blocks=blocks)


def step_done(m: Migration, step: StepName, note: str) -> list[Notice]:
    notices = [post(render.step_done(m, step, note))]
    if step is StepName.WAIT_CAUGHT_UP:
        notices.append(
            post(
                f":large_green_circle: The follower has caught up ({note}). "
                "Next: a second engineer approves the maintenance window."
            )
        )
    return notices


def approval(m: Migration, request: Approval) -> Notice:
    text, blocks = render.approval_request(m, request)
    return Notice(kind="approval", text=text, blocks=blocks, nonce=request.nonce, gate=request.gate)


def approval_closed(m: Migration, request: Approval) -> Notice:
    text, blocks = render.approval_closed(m, request)
    return Notice(
        kind="approval_closed", text=text, blocks=blocks, nonce=request.nonce, gate=request.gate
    )


def failed(m: Migration, error: str, hint: str) -> Notice:
    return post(*render.failed(m, error, hint))


def finished(m: Migration) -> Notice:
    return post(*render.finished(m))


def refresh(m: Migration, *, progress: bool = False) -> None:
    """Mark the live messages for re-rendering (the thread's first message, the lag message)."""
    m.parent_rev += 1
    if progress:
        m.progress_rev += 1
