"""Small builders of domain objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.methods.changeover import ChangeoverData, StepName
from state.models import Approval, Migration, NewDatabase, OldDatabase, Status

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def migration(
    *, new_addon_id: str | None = None, old_addon_id: str | None = None, **overrides: object
) -> Migration:
    """A changeover at preflight; `new_addon_id`/`old_addon_id` fill in its databases."""
    values: dict[str, object] = {
        "id": "mig-abc123",
        "method": "changeover",
        "app": "shop",
        "plan": "heroku-postgresql:standard-2",
        "requested_by": "U0ALICE",
        "channel": "C0OPS",
        "step": StepName.PREFLIGHT,
        "new": NewDatabase(name="mig-abc123-standard-2"),
        "data": ChangeoverData(),
        "created_at": T0,
    }
    if new_addon_id is not None:
        values["new"] = NewDatabase(name="mig-abc123-standard-2", addon_id=new_addon_id)
    if old_addon_id is not None:
        values["old"] = OldDatabase(
            addon_id=old_addon_id,
            name="postgresql-old-1234",
            app="shop",
            plan="heroku-postgresql:standard-0",
        )
    unknown = set(overrides) - set(Migration.model_fields)
    if unknown:  # the model ignores unknown keys; a test must not
        raise TypeError(f"Migration has no field {', '.join(sorted(unknown))}")
    values.update(overrides)
    return Migration.model_validate(values)


def at_gate(
    gate: str, *, nonce: str = "nonce-1", ttl: float = 3600, **overrides: object
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
