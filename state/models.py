"""The durable shape of a migration, stored in Redis as JSON.

Nothing here may hold a secret: database URLs, tokens and passwords never enter these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(StrEnum):
    """Where a migration stands as a whole."""

    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    FAILED = "failed"
    ABORTING = "aborting"
    CANCELLED = "cancelled"
    # A second engineer said no at a gate; the app was put back as it was.
    REJECTED = "rejected"
    COMPLETED = "completed"

    @property
    def terminal(self) -> bool:
        return self in (Status.CANCELLED, Status.REJECTED, Status.COMPLETED)


class StepName(StrEnum):
    """The steps of the follower changeover, then the abort path."""

    PREFLIGHT = "preflight"
    CREATE_FOLLOWER = "create_follower"
    WAIT_AVAILABLE = "wait_available"
    WAIT_CAUGHT_UP = "wait_caught_up"
    APPROVE_MAINTENANCE = "approve_maintenance"
    MAINTENANCE_ON = "maintenance_on"
    SCALE_DOWN = "scale_down"
    WAIT_ZERO_LAG = "wait_zero_lag"
    APPROVE_PROMOTE = "approve_promote"
    UNFOLLOW = "unfollow"
    PROMOTE = "promote"
    MOVE_ATTACHMENTS = "move_attachments"
    SCALE_UP = "scale_up"
    MAINTENANCE_OFF = "maintenance_off"
    VERIFY = "verify"
    RECREATE_FOLLOWERS = "recreate_followers"
    APPROVE_DESTROY = "approve_destroy"
    DESTROY_OLD = "destroy_old"
    ABORT_SCALE_UP = "abort_scale_up"
    ABORT_MAINTENANCE_OFF = "abort_maintenance_off"
    ABORT_REMOVE_FOLLOWER = "abort_remove_follower"


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # What it approved no longer holds (the follower fell behind again, say).
    VOID = "void"


class Approval(BaseModel):
    """One approval request posted for a gate; a click is valid only against its nonce."""

    model_config = ConfigDict(frozen=True)

    gate: StepName
    nonce: str
    requested_at: datetime
    expires_at: datetime
    state_version: int
    message_ts: str | None = None
    decision: Decision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    with_promote: bool = False
    void_reason: str | None = None


class LagPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: float
    behind_by: int


class FollowerMove(BaseModel):
    """A follower of the old database, recreated on the new one before the old one goes."""

    addon_id: str
    name: str
    app: str
    plan: str
    # Its plain attachments as "app::NAME"; they move to the replacement.
    attachments: list[str] = Field(default_factory=list)
    new_name: str
    new_addon_id: str | None = None
    # When the replacement was asked for (the Data API may not know it for a while).
    requested_at: datetime | None = None
    moved: bool = False


class AttachmentMove(BaseModel):
    """An attachment of the old database that must point at the new one before destroy.

    `kind` is "pooler" (a named connection pooler), "credential" (a restricted credential,
    which the API may refuse to move) or "name" (another app's name for the database).
    `manual` says why the bot could not move it: a person must, before the destroy.
    """

    app: str
    name: str
    namespace: str | None = None
    kind: Literal["pooler", "credential", "name"]
    done: bool = False
    manual: str | None = None


class Migration(BaseModel):
    """A migration's whole state; every change goes through one atomic Redis transition."""

    id: str
    app: str
    target_app: str | None = None
    plan: str
    source: str = "DATABASE"
    method: str = "changeover"
    # `--version N`: the major version asked for (a changeover keeps the source's).
    pg_version: str | None = None
    requested_by: str
    channel: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    status: Status = Status.RUNNING
    step: StepName = StepName.PREFLIGHT
    version: int = 0
    next_run_at: float = 0.0
    attempt: int = 0
    error: str | None = None
    cancel_requested_by: str | None = None

    thread_ts: str | None = None
    # Unused since the runbook message shows lag; kept so that older records still load.
    progress_ts: str | None = None
    # Slack ts of posted messages by key ("approval:<nonce>"), written back on delivery.
    messages: dict[str, str] = Field(default_factory=dict)
    # The runbook message (the thread's first) is re-rendered from the state when its revision
    # is ahead of what Slack shows.
    parent_rev: int = 0
    parent_shown: int = 0
    progress_rev: int = 0
    progress_shown: int = 0

    # What the platform looked like, recorded before the bot changed it.
    source_addon_id: str | None = None
    source_addon_name: str | None = None
    source_app: str | None = None
    source_plan: str | None = None
    follower_name: str = ""
    follower_addon_id: str | None = None
    follower_attachment: str | None = None
    formation: dict[str, dict[str, int]] = Field(default_factory=dict)
    maintenance_before: dict[str, bool] = Field(default_factory=dict)
    source_version: str | None = None
    source_bytes: int | None = None
    # Other apps the old database is attached to: a writer there is a forgotten worker, so
    # they join the window (locked, in maintenance and at 0 with the app).
    shared_apps: list[str] = Field(default_factory=list)
    followers: list[FollowerMove] = Field(default_factory=list)
    moves: list[AttachmentMove] = Field(default_factory=list)
    # Per app, the newest release version before promote: the releases after it are ours.
    release_baseline: dict[str, int] = Field(default_factory=dict)
    # Set before the first platform change; a migration that ends before it frees its apps.
    changed_platform_at: datetime | None = None
    # A Slack error that stops delivery to the channel (not_in_channel, ...), once told.
    delivery_problem: str | None = None

    maintenance_on_at: datetime | None = None
    maintenance_off_at: datetime | None = None
    promoted_at: datetime | None = None
    finished_at: datetime | None = None

    lag: list[LagPoint] = Field(default_factory=list)
    promote_approved: bool = False
    approvals: dict[StepName, Approval] = Field(default_factory=dict)
    completed: dict[StepName, datetime] = Field(default_factory=dict)
    # What each finished step reported, as the runbook message shows it.
    step_notes: dict[StepName, str] = Field(default_factory=dict)
    # The gate a second engineer rejected, which ended the migration.
    rejected_gate: StepName | None = None
    # In-step checkpoints ("the promote request was sent at ..."), so a re-run after a crash
    # knows what it may already have done.
    marks: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def apps_down(self) -> list[str]:
        """Apps whose writers are stopped for the changeover."""
        apps = [self.app] + ([self.target_app] if self.target_app else [])
        return apps + [a for a in self.shared_apps if a not in apps]

    @property
    def promote_app(self) -> str:
        """The app whose DATABASE ends up on the new database."""
        return self.target_app or self.app

    @property
    def apps_up(self) -> list[str]:
        """Apps started again after promote (a moved app's old home stays down)."""
        return [self.promote_app] + [a for a in self.shared_apps if a != self.promote_app]

    @property
    def ended(self) -> bool:
        """Over for good: finished, or failed before it changed anything on the platform."""
        return self.status.terminal or (
            self.status is Status.FAILED and self.changed_platform_at is None
        )

    @property
    def down(self) -> bool:
        """The app is in maintenance for this migration right now."""
        return self.maintenance_on_at is not None and self.maintenance_off_at is None

    @property
    def downtime_seconds(self) -> float | None:
        if self.maintenance_on_at is None or self.maintenance_off_at is None:
            return None
        return (self.maintenance_off_at - self.maintenance_on_at).total_seconds()


class Notice(BaseModel):
    """A Slack message waiting in a migration's outbox, delivered in order.

    `thread` opens the migration's thread; `post` adds to it; `approval` posts an approval
    request and remembers its ts by nonce; `approval_closed` replaces that request in place.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["thread", "post", "approval", "approval_closed"]
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    nonce: str | None = None
    gate: StepName | None = None


class AuditEvent(BaseModel):
    """One line of the audit stream: who did what, and what came back."""

    migration_id: str
    event: str
    actor: str = "bot"
    at: datetime = Field(default_factory=utcnow)
    detail: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
