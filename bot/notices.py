"""The Slack messages a migration produces, as outbox Notices (pure: no I/O)."""

from __future__ import annotations

from handlers import render
from state.models import Approval, Migration, Notice


def thread() -> Notice:
    """Opens the migration's thread; its text is rendered from the state when delivered."""
    return Notice(kind="thread")


def post(text: str, blocks: list[render.Block] | None = None) -> Notice:
    return Notice(kind="post", text=text, blocks=blocks)


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


def refresh(m: Migration) -> None:
    """Mark the runbook message (the thread's first) for re-rendering from the state."""
    m.parent_rev += 1
