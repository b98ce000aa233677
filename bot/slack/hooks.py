"""The engine's hooks, as Slack messages in the migration's outbox (rendering only, no I/O).

The thread's first message is the runbook; it is re-rendered from the state whenever
`parent_rev` is ahead of what Slack shows, so most changes need no message of their own.
"""

from __future__ import annotations

from bot.slack import render
from bot.slack.deliver import Deliverer
from bot.slack.mrkdwn import escape
from state.models import Approval, Migration, Notice


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


class SlackHooks:
    """`bot.hooks.Hooks` for Slack: notices rendered now, delivered by the `Deliverer`."""

    def __init__(self, deliverer: Deliverer | None = None) -> None:
        self.deliverer = deliverer

    def opened(self, m: Migration) -> list[Notice]:
        # Its text is rendered from the state when delivered.
        return [Notice(kind="thread")]

    def changed(self, m: Migration) -> None:
        m.parent_rev += 1

    def told(self, m: Migration, text: str) -> list[Notice]:
        return [post(text)]

    def gate_opened(
        self, m: Migration, request: Approval, expired: Approval | None
    ) -> list[Notice]:
        closed = [approval_closed(m, expired)] if expired is not None else []
        return [*closed, approval(m, request)]

    def gate_closed(self, m: Migration, approval: Approval) -> list[Notice]:
        return [approval_closed(m, approval)]

    def stepped_back(
        self, m: Migration, to: str, reason: str, voided: list[Approval]
    ) -> list[Notice]:
        title = render.step_title(m, to)
        return [
            post(
                f":warning: Back to *{escape(title)}*: {reason}. "
                "Any approval given for what follows is void."
            ),
            *(approval_closed(m, a) for a in voided),
        ]

    def failed(self, m: Migration, error: str, hint: str) -> list[Notice]:
        return [post(*render.failed(m, error, hint))]

    def finished(self, m: Migration) -> list[Notice]:
        return [post(*render.finished(m))]

    def wake(self, migration_id: str) -> None:
        if self.deliverer is not None:
            self.deliverer.kick(migration_id)
