"""Every error migrate-bot raises on purpose, in one tree.

    MigrateError
     ├── StateError                 (state/) the store said no
     │    ├── MigrationNotFound
     │    ├── AppLocked             another migration holds the app (names it, and how to free it)
     │    ├── LeaseLost             this process no longer owns the migration; it stops touching it
     │    └── TransitionRefused     the change was refused; `reason` is shown to the user
     ├── Refused                    (bot/errors.py) the request cannot be done as asked
     │    └── AccessDenied          the approver may not operate the app on Heroku
     └── HerokuError                (bot/heroku/errors.py, where its own branches are drawn)

A message never carries a secret: names, ids and Heroku's own (masked) words only.
"""

from __future__ import annotations


class MigrateError(Exception):
    """Base of every error the bot raises on purpose."""


class StateError(MigrateError):
    """Base of the errors of the Redis store."""


class MigrationNotFound(StateError):
    def __init__(self, migration_id: str) -> None:
        super().__init__(f"No migration {migration_id}. `/migrate list` shows the recent ones.")
        self.migration_id = migration_id


class AppLocked(StateError):
    """Another migration holds the app; says which, who asked, and the command that frees it."""

    def __init__(
        self, app: str, holder_id: str, *, requested_by: str | None = None, stuck: bool = False
    ) -> None:
        who = f", started by <@{requested_by}>" if requested_by else ""
        state = " It stopped on a failure and still holds the app." if stuck else ""
        super().__init__(
            f"{app} is already being migrated by {holder_id}{who}.{state} One migration per app "
            f"at a time: `/migrate status {holder_id}` shows where it is, and "
            f"`/migrate cancel {holder_id}` ends it and frees {app} (before promote it puts the "
            "app back as it was)."
        )
        self.app = app
        self.holder_id = holder_id


class LeaseLost(StateError):
    def __init__(self, migration_id: str) -> None:
        super().__init__(f"this process no longer holds the lease on {migration_id}")


class TransitionRefused(StateError):
    """A change function refused the transition; the reason is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
