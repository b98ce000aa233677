"""Driving a migration from the channel, as people do, for the end-to-end tests."""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from sandbox.stack import BOB, Stack, wait_for
from state import keys
from state.models import Migration

MUTATING = ("POST", "PATCH", "PUT", "DELETE")


def start(stack: Stack, user: str, text: str) -> str:
    """`user` types `/migrate start ...`; the new migration's id (fails if it did not start)."""
    reply = stack.slash_reply(user, text)
    found = re.search(r"Started \*(mig-[a-z0-9]{6})\*", reply)
    assert found, reply
    return found.group(1)


def approve(stack: Stack, gate: str, user: str = BOB, *, with_promote: bool = False) -> None:
    message, button = wait_for(
        f"the {gate} approval request",
        lambda: stack.gate_button(gate, with_next=with_promote),
        stack=stack,
    )
    stack.click(user, message, button)


def migration(stack: Stack, migration_id: str) -> Migration:
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        raw = r.get(keys.migration(migration_id))
    assert raw is not None, migration_id
    return Migration.from_stored(raw)


def until(stack: Stack, migration_id: str, *statuses: str, timeout: float = 60) -> Migration:
    """Wait until the migration's status is one of `statuses`."""
    return wait_for(
        f"{migration_id} to be {' or '.join(statuses)}",
        lambda: (m := migration(stack, migration_id)).status.value in statuses and m,
        timeout=timeout,
        stack=stack,
    )


def run_to_end(stack: Stack, user: str, text: str, approver: str = BOB) -> str:
    """Start, approve every gate as `approver`, wait until it completed."""
    migration_id = start(stack, user, text)
    for gate in ("approve_maintenance", "approve_promote", "approve_destroy"):
        approve(stack, gate, approver)
    until(stack, migration_id, "completed")
    return migration_id


def mutations(stack: Stack) -> list[str]:
    """The platform-changing calls in order (resolution is a POST that changes nothing)."""
    return [
        f"{c['method']} {c['path']}"
        for c in stack.heroku_calls()
        if c["method"] in MUTATING and not c["path"].startswith("/actions/")
    ]


def section_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")


def thread_text(stack: Stack) -> str:
    """Everything the migration's thread shows, as text (blocks included)."""
    return "\n".join(m.text + "\n" + section_text(m.blocks) for m in stack.thread())


def audit(stack: Stack, migration_id: str) -> list[dict[str, Any]]:
    with redis.Redis.from_url(stack.redis_url, decode_responses=True) as r:
        entries = r.xrange(keys.audit_of(migration_id))
    return [fields | {"detail": json.loads(fields["detail"])} for _, fields in entries]
