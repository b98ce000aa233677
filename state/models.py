"""The durable shape of a migration, stored in Redis as JSON: an envelope and its method's data.

The envelope holds what every method shares: who asked for what, where the runbook stands,
the approvals, the Slack thread, and what the shared steps (the window, promote, followers,
destroy) record about the platform. `data` is the method's own typed record; its class is
found by its `kind` among the registered ones (`register_data`), so a method is one folder.

Nothing here may hold a secret: database URLs, tokens and passwords never enter these models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator

from state import legacy


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


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # What it approved no longer holds (the follower fell behind again, say).
    VOID = "void"


class Approval(BaseModel):
    """One approval request posted for a gate; a click is valid only against its nonce."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    gate: str
    nonce: str
    requested_at: datetime
    expires_at: datetime
    state_version: int
    message_ts: str | None = None
    decision: Decision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    # Approved together with the gate that comes next (maintenance with promote).
    with_next: bool = Field(default=False, alias="with_promote")
    void_reason: str | None = None


class MethodData(BaseModel):
    """A method's own record of one migration; subclasses set `kind` to their method's name.

    Read by a process that does not know the method (a tool, an older bot), it stays this
    class, its fields kept as they are, so that writing it back loses nothing.
    """

    model_config = ConfigDict(extra="allow")

    kind: str

    # Subclasses by kind, so that a stored record comes back as its method's own class.
    types: ClassVar[dict[str, type[MethodData]]] = {}


def register_data(model: type[MethodData]) -> type[MethodData]:
    """Make `model` the class stored records of its `kind` are read as."""
    kind = model.model_fields["kind"].default
    if not isinstance(kind, str):
        raise TypeError(f"{model.__name__}.kind needs a default: the method's name")
    MethodData.types[kind] = model
    return model


class OldDatabase(BaseModel):
    """The database being moved, as preflight found it."""

    addon_id: str
    name: str
    app: str  # its billing app
    plan: str
    version: str | None = None
    num_bytes: int | None = None


class NewDatabase(BaseModel):
    """The database the app ends on: named by the bot so it is found again after a crash."""

    name: str
    addon_id: str | None = None
    attachment: str | None = None
    requested_at: datetime | None = None


class Window(BaseModel):
    """What the window's shared steps recorded: the app as it was, and what they sent."""

    formation: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Set once the quantities were re-read just before scaling (never re-read after).
    formation_final: bool = False
    maintenance_before: dict[str, bool] = Field(default_factory=dict)
    on_at: datetime | None = None
    off_at: datetime | None = None
    # Per app: when promote sent its DATABASE attach, whether a pooler followed, and the newest
    # release before it (the releases after it are ours).
    promote_sent: dict[str, str] = Field(default_factory=dict)
    poolers: list[str] = Field(default_factory=list)
    release_baseline: dict[str, int] = Field(default_factory=dict)
    promoted_at: datetime | None = None
    destroy_sent_at: datetime | None = None


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

    # What was asked, by whom.
    id: str
    method: str
    app: str
    target_app: str | None = None
    plan: str
    source: str = "DATABASE"
    # `--version N`: the PostgreSQL major version asked for.
    pg_version: str | None = None
    requested_by: str
    channel: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    # Where the runbook stands.
    status: Status = Status.RUNNING
    step: str
    version: int = 0
    next_run_at: float = 0.0
    attempt: int = 0
    error: str | None = None
    hint: str | None = None
    waiting: str | None = None  # what the current step waits for, as it said
    cancel_requested_by: str | None = None
    rejected_gate: str | None = None  # the gate a second engineer rejected
    approvals: dict[str, Approval] = Field(default_factory=dict)
    pre_approved: list[str] = Field(default_factory=list)  # gates approved with an earlier one
    completed: dict[str, datetime] = Field(default_factory=dict)
    step_notes: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    # Set before the first platform change; a migration that ends before it frees its apps.
    changed_platform_at: datetime | None = None
    # Set when the point of no return was crossed (the promote request went out).
    committed_at: datetime | None = None
    finished_at: datetime | None = None

    # The Slack thread: its first message is the runbook, re-rendered when `parent_rev` is
    # ahead of what Slack shows; posted messages' ts by key ("approval:<nonce>").
    thread_ts: str | None = None
    messages: dict[str, str] = Field(default_factory=dict)
    parent_rev: int = 0
    parent_shown: int = 0
    # A Slack error that stops delivery to the channel (not_in_channel, ...), once told.
    delivery_problem: str | None = None

    # The platform, as the shared steps keep it.
    old: OldDatabase | None = None
    new: NewDatabase
    window: Window = Field(default_factory=Window)
    # Other apps the old database is attached to: they join the window with the app.
    shared_apps: list[str] = Field(default_factory=list)
    followers: list[FollowerMove] = Field(default_factory=list)
    moves: list[AttachmentMove] = Field(default_factory=list)

    # The method's own record.
    data: SerializeAsAny[MethodData]

    @classmethod
    def from_stored(cls, raw: str | bytes) -> Migration:
        """A stored record, in today's shape or in the one before methods were plug-ins."""
        return cls.model_validate(legacy.upgrade(raw))

    @field_validator("data", mode="before")
    @classmethod
    def _method_data(cls, value: Any) -> Any:
        if isinstance(value, dict):
            model = MethodData.types.get(str(value.get("kind")), MethodData)
            return model.model_validate(value)
        return value

    @property
    def apps_down(self) -> list[str]:
        """Apps whose writers are stopped for the window."""
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
        return self.window.on_at is not None and self.window.off_at is None

    @property
    def downtime_seconds(self) -> float | None:
        if self.window.on_at is None or self.window.off_at is None:
            return None
        return (self.window.off_at - self.window.on_at).total_seconds()


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
    gate: str | None = None


class AuditEvent(BaseModel):
    """One line of the audit stream: who did what, and what came back."""

    migration_id: str
    event: str
    actor: str = "bot"
    at: datetime = Field(default_factory=utcnow)
    detail: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
