"""Every Redis key the bot uses, one helper each."""

PREFIX = "migrate"


def migration(migration_id: str) -> str:
    return f"{PREFIX}:migration:{migration_id}"


def app_lock(app: str) -> str:
    return f"{PREFIX}:lock:app:{app}"


def lease(migration_id: str) -> str:
    return f"{PREFIX}:lease:{migration_id}"


def active() -> str:
    """Set of migrations that are not finished (the scheduler's work list)."""
    return f"{PREFIX}:active"


def index() -> str:
    """Sorted set of every migration id by creation time."""
    return f"{PREFIX}:index"


def outbox(migration_id: str) -> str:
    """List of Notices not yet delivered to Slack, oldest first."""
    return f"{PREFIX}:outbox:{migration_id}"


def outbox_pending() -> str:
    """Set of migrations with something to deliver (finished ones included)."""
    return f"{PREFIX}:outbox:pending"


def delivery_lease(migration_id: str) -> str:
    return f"{PREFIX}:lease:outbox:{migration_id}"


def heroku_pace() -> str:
    """When the next Heroku request may start, while the account's budget is low."""
    return f"{PREFIX}:heroku:next_slot"


def audit() -> str:
    """The audit stream of all migrations."""
    return f"{PREFIX}:audit"


def audit_of(migration_id: str) -> str:
    return f"{PREFIX}:audit:{migration_id}"
