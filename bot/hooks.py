"""What the engine and the service tell whoever shows migrations to people (the Slack side).

The engine calls these and knows nothing of Slack: each returns the messages to write to the
migration's outbox, in the same Redis transaction as the state change that caused them, and
`wake` asks for delivery soon. `bot/slack/hooks.py` implements them.
"""

from __future__ import annotations

from typing import Protocol

from state.models import Approval, Migration, Notice


class Hooks(Protocol):
    def opened(self, m: Migration) -> list[Notice]:
        """The migration was created: open its thread."""

    def changed(self, m: Migration) -> None:
        """The state people see changed (a step done, progress): show it (mutates `m`)."""

    def told(self, m: Migration, text: str) -> list[Notice]:
        """A step has something a person must read (a manual step, a warning)."""

    def gate_opened(
        self, m: Migration, request: Approval, expired: Approval | None
    ) -> list[Notice]:
        """A gate asks for a decision (and replaces the request that expired, if any)."""

    def gate_closed(self, m: Migration, approval: Approval) -> list[Notice]:
        """A request was decided, cancelled, expired or voided."""

    def stepped_back(
        self, m: Migration, to: str, reason: str, voided: list[Approval]
    ) -> list[Notice]:
        """What an approval was given for no longer holds: the runbook went back to `to`."""

    def failed(self, m: Migration, error: str, hint: str) -> list[Notice]:
        """The migration stopped; `error` says what happened, `hint` what to do (mrkdwn)."""

    def finished(self, m: Migration) -> list[Notice]:
        """The migration ended: the final report."""

    def wake(self, migration_id: str) -> None:
        """Deliver what is waiting, soon, in the background."""
