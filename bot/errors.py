"""Errors the bot answers the person who asked with (ephemerally), changing nothing.

Their place in the one error tree is drawn in `state.errors`.
"""

from __future__ import annotations

from state.errors import MigrateError


class Refused(MigrateError):
    """The request cannot be done as asked; `reason` (mrkdwn) is shown to the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessDenied(Refused):
    """The approver is not someone who may operate the app on Heroku."""
