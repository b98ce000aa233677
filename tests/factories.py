"""Small builders of domain objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from state.models import Approval, Migration, Status, StepName

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def migration(**overrides: object) -> Migration:
    values: dict[str, object] = {
        "id": "mig-abc123",
        "app": "shop",
        "plan": "heroku-postgresql:standard-2",
        "requested_by": "U0ALICE",
        "channel": "C0OPS",
        "follower_name": "mig-abc123-standard-2",
        "created_at": T0,
    }
    values.update(overrides)
    return Migration.model_validate(values)


def at_gate(
    gate: StepName, *, nonce: str = "nonce-1", ttl: float = 3600, **overrides: object
) -> Migration:
    m = migration(step=gate, status=Status.AWAITING_APPROVAL, **overrides)
    m.approvals[gate] = Approval(
        gate=gate,
        nonce=nonce,
        requested_at=T0,
        expires_at=T0 + timedelta(seconds=ttl),
        state_version=m.version,
        message_ts="1700000000.000100",
    )
    return m
