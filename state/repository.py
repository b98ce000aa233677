"""Migrations in Redis: atomic transitions, per-app locks, leases and the audit stream.

Its errors are in `state.errors` (the one error tree).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from state import keys
from state.errors import AppLocked, LeaseLost, MigrationNotFound, StateError, TransitionRefused
from state.models import AuditEvent, Migration, Notice, Status

log = logging.getLogger("migrate_bot.audit")

# Redis is small (Heroku's mini Key-Value Store has 25 MB): the audit streams keep their newest
# entries only, every entry also goes to the logs, and an ended migration's keys expire.
AUDIT_MAXLEN = 5_000
AUDIT_PER_MIGRATION = 1_000
RETENTION_SECONDS = 30 * 24 * 3600

__all__ = [
    "AppLocked",
    "LeaseLost",
    "MigrationNotFound",
    "Repository",
    "StateError",
    "TransitionRefused",
]


# Takes every lock or none: KEYS = lock keys..., migration, active, index, outbox, pending;
# ARGV = id, json, score, notices... Returns "" on success or the id already holding a lock.
_CREATE = """
local n = #KEYS - 5
for i = 1, n do
  local holder = redis.call('GET', KEYS[i])
  if holder then return holder end
end
for i = 1, n do redis.call('SET', KEYS[i], ARGV[1]) end
redis.call('SET', KEYS[n + 1], ARGV[2])
redis.call('SADD', KEYS[n + 2], ARGV[1])
redis.call('ZADD', KEYS[n + 3], ARGV[3], ARGV[1])
for i = 4, #ARGV do redis.call('RPUSH', KEYS[n + 4], ARGV[i]) end
if #ARGV >= 4 then redis.call('SADD', KEYS[n + 5], ARGV[1]) end
return ''
"""

# Leaves the pending set only when nothing is left to deliver (a concurrent push re-adds).
_SETTLE = """
if redis.call('LLEN', KEYS[1]) == 0 then return redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _log(events: Sequence[AuditEvent]) -> None:
    """Every audit entry in the logs too (a log drain keeps what Redis trims)."""
    for event in events:
        log.info(
            "audit",
            extra={
                "migration": event.migration_id,
                "event": event.event,
                "actor": event.actor,
                "detail": event.detail,
            },
        )


def _audit_fields(event: AuditEvent) -> dict[str, str]:
    return {
        "migration": event.migration_id,
        "event": event.event,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "detail": json.dumps(event.detail, sort_keys=True),
    }


class Repository:
    """The only code that reads or writes migration state in Redis."""

    def __init__(self, redis: Redis) -> None:
        # Typed as Any: the client decodes responses to str, which redis-py's stubs cannot express.
        self._redis: Any = redis

    async def create(
        self, migration: Migration, event: AuditEvent, notices: Sequence[Notice] = ()
    ) -> Migration:
        """Store a new migration and take its apps' locks, atomically; AppLocked if taken."""
        apps = migration.apps_down
        lock_keys = [keys.app_lock(app) for app in apps]
        holder = await self._redis.eval(
            _CREATE,
            len(lock_keys) + 5,
            *lock_keys,
            keys.migration(migration.id),
            keys.active(),
            keys.index(),
            keys.outbox(migration.id),
            keys.outbox_pending(),
            migration.id,
            migration.model_dump_json(),
            migration.created_at.timestamp(),
            *(n.model_dump_json() for n in notices),
        )
        if holder:
            # Name the app that was asked for when it is the one held (it comes first).
            locked_app = apps[0]
            for app in apps:
                if await self._redis.get(keys.app_lock(app)) == holder:
                    locked_app = app
                    break
            held = await self.find(holder)
            raise AppLocked(
                locked_app,
                holder,
                requested_by=held.requested_by if held else None,
                stuck=held is not None and held.status is Status.FAILED,
            )
        await self.record(event)
        return migration

    async def find(self, migration_id: str) -> Migration | None:
        raw = await self._redis.get(keys.migration(migration_id))
        return None if raw is None else Migration.from_stored(raw)

    async def get(self, migration_id: str) -> Migration:
        found = await self.find(migration_id)
        if found is None:
            raise MigrationNotFound(migration_id)
        return found

    async def recent(self, limit: int = 10) -> list[Migration]:
        ids = await self._redis.zrevrange(keys.index(), 0, limit - 1)
        if not ids:
            return []
        raws = await self._redis.mget([keys.migration(i) for i in ids])
        expired = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if expired:
            await self._redis.zrem(keys.index(), *expired)
        return [Migration.from_stored(raw) for raw in raws if raw is not None]

    async def active_ids(self) -> list[str]:
        return sorted(await self._redis.smembers(keys.active()))

    async def update(
        self,
        migration_id: str,
        change: Callable[[Migration], Migration],
        *,
        lease: str | None = None,
        audit: Sequence[AuditEvent] = (),
        notices: Sequence[Notice] | Callable[[Migration], Sequence[Notice]] = (),
        pop_notice: bool = False,
    ) -> Migration:
        """Apply `change` atomically (WATCH/MULTI/EXEC, retried on conflict).

        With `lease`, the write happens only while this holder still owns the migration, so a
        process that lost its lease can never overwrite the one that took over. `notices` (or a
        function of the new state returning them) join the outbox in the same transaction;
        `pop_notice` removes the delivered head with it.
        """
        key = keys.migration(migration_id)
        while True:
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    watched = [key] + ([keys.lease(migration_id)] if lease else [])
                    await pipe.watch(*watched)
                    raw = await pipe.get(key)
                    if raw is None:
                        raise MigrationNotFound(migration_id)
                    if lease is not None and await pipe.get(keys.lease(migration_id)) != lease:
                        raise LeaseLost(migration_id)
                    current = Migration.from_stored(raw)
                    changed = change(current.model_copy(deep=True))
                    new = changed.model_copy(
                        update={"version": current.version + 1, "updated_at": datetime.now(UTC)}
                    )
                    release = []
                    if new.ended and not current.ended:
                        for app in new.apps_down:
                            lock = keys.app_lock(app)
                            await pipe.watch(lock)
                            if await pipe.get(lock) == migration_id:
                                release.append(lock)
                    pipe.multi()
                    pipe.set(key, new.model_dump_json())
                    if release:
                        pipe.delete(*release)
                        pipe.srem(keys.active(), migration_id)
                    if new.ended:
                        # The thread and the logs keep the story; Redis forgets it in time.
                        pipe.expire(key, RETENTION_SECONDS)
                        pipe.expire(keys.audit_of(migration_id), RETENTION_SECONDS)
                    for event in audit:
                        self._queue_audit(pipe, event)
                    told = notices(new) if callable(notices) else notices
                    if told:
                        pipe.rpush(keys.outbox(migration_id), *(n.model_dump_json() for n in told))
                        pipe.sadd(keys.outbox_pending(), migration_id)
                    if pop_notice:
                        pipe.lpop(keys.outbox(migration_id))
                    await pipe.execute()
                    _log(audit)
                    return new
                except WatchError:
                    continue

    async def outbox_head(self, migration_id: str) -> Notice | None:
        raw = await self._redis.lindex(keys.outbox(migration_id), 0)
        return None if raw is None else Notice.model_validate_json(raw)

    async def pending_deliveries(self) -> list[str]:
        return sorted(await self._redis.smembers(keys.outbox_pending()))

    async def settle_deliveries(self, migration_id: str) -> None:
        """Forget a migration's outbox once it is empty."""
        await self._redis.eval(
            _SETTLE, 2, keys.outbox(migration_id), keys.outbox_pending(), migration_id
        )

    async def acquire_delivery(self, migration_id: str, holder: str, ttl_ms: int) -> bool:
        """The right to deliver a migration's outbox (separate from advancing it)."""
        key = keys.delivery_lease(migration_id)
        if await self._redis.set(key, holder, nx=True, px=ttl_ms):
            return True
        return bool(await self._redis.eval(_RENEW, 1, key, holder, ttl_ms))

    async def release_delivery(self, migration_id: str, holder: str) -> None:
        await self._redis.eval(_RELEASE, 1, keys.delivery_lease(migration_id), holder)

    async def acquire_lease(self, migration_id: str, holder: str, ttl_ms: int) -> bool:
        """Take (or keep) the right to advance a migration; False if another process has it."""
        key = keys.lease(migration_id)
        if await self._redis.set(key, holder, nx=True, px=ttl_ms):
            return True
        return bool(await self._redis.eval(_RENEW, 1, key, holder, ttl_ms))

    async def renew_lease(self, migration_id: str, holder: str, ttl_ms: int) -> bool:
        key = keys.lease(migration_id)
        return bool(await self._redis.eval(_RENEW, 1, key, holder, ttl_ms))

    async def release_lease(self, migration_id: str, holder: str) -> None:
        await self._redis.eval(_RELEASE, 1, keys.lease(migration_id), holder)

    async def lease_holder(self, migration_id: str) -> str | None:
        holder: str | None = await self._redis.get(keys.lease(migration_id))
        return holder

    async def record(self, *events: AuditEvent) -> None:
        """Append to the audit stream outside of a transition."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for event in events:
                self._queue_audit(pipe, event)
            await pipe.execute()
        _log(events)

    async def audit_trail(self, migration_id: str, count: int = 1000) -> list[AuditEvent]:
        entries = await self._redis.xrange(keys.audit_of(migration_id), count=count)
        return [
            AuditEvent(
                migration_id=fields["migration"],
                event=fields["event"],
                actor=fields["actor"],
                at=datetime.fromisoformat(fields["at"]),
                detail=json.loads(fields["detail"]),
            )
            for _id, fields in entries
        ]

    @staticmethod
    def _queue_audit(pipe: Any, event: AuditEvent) -> None:
        fields = _audit_fields(event)
        # Both writes ride in the caller's MULTI, so a state change and its record commit together.
        pipe.xadd(keys.audit(), fields, maxlen=AUDIT_MAXLEN, approximate=True)
        pipe.xadd(
            keys.audit_of(event.migration_id),
            fields,
            maxlen=AUDIT_PER_MIGRATION,
            approximate=True,
        )
