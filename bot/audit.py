"""Heroku calls made on behalf of a migration, held until the engine's next state write.

The client reports every HTTP attempt; the engine drains them into the same Redis
transaction as the step's outcome, so the audit stream says which calls changed something or
failed. Successful reads (most calls: a poll every few seconds) go to the debug log only, so
that a migration waiting for days keeps a small footprint in Redis.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from bot.heroku import CallRecord
from bot.logs import current_migration
from state.models import AuditEvent

log = logging.getLogger("migrate_bot.heroku")


class CallLog:
    """Collects CallRecords per migration (the one in the logging context)."""

    def __init__(self, limit: int = 500) -> None:
        self._pending: dict[str, list[AuditEvent]] = defaultdict(list)
        self._limit = limit

    def __call__(self, record: CallRecord) -> None:
        migration_id = current_migration()
        if migration_id is None:
            return
        detail: dict[str, str | int | float | bool | None] = {
            "method": record.method,
            "path": record.path,
            "status": record.status,
            "error": record.error_id,
            "request_id": record.request_id,
            "attempt": record.attempt,
            "ms": round(record.duration_ms, 1),
        }
        if record.method == "GET" and record.status is not None and record.status < 400:
            log.debug("heroku call", extra=detail)
            return
        pending = self._pending[migration_id]
        if len(pending) < self._limit:
            pending.append(
                AuditEvent(migration_id=migration_id, event="heroku_call", detail=detail)
            )

    def drain(self, migration_id: str) -> list[AuditEvent]:
        return self._pending.pop(migration_id, [])
