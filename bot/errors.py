"""Errors the bot answers the person who asked with (ephemerally), changing nothing.

Refused        the request cannot be done as asked; the message says why and what to do
 └── AccessDenied  the clicker may not operate the app on Heroku (MIGRATE_HEROKU_ACCESS_CHECK)
"""

from __future__ import annotations


class Refused(Exception):
    """The request cannot be done as asked; `reason` (mrkdwn) is shown to the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessDenied(Refused):
    """The approver is not someone who may operate the app on Heroku."""
