"""The stand-in's records (apps, add-ons, attachments, dynos, recordings) and its error answer.

Plain data: the rules that change these records live in `World` and its rule modules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.heroku import catalog

DEFAULT_CREDENTIAL = "default"
DEFAULT_VERSION = "16.4"
DEFAULT_BYTES = 8 * 1024 * 1024


class ApiError(Exception):
    """A Heroku error answer: HTTP status plus the `{id, message}` body."""

    def __init__(self, status: int, id: str, message: str, *, resource: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.id = id
        self.message = message
        self.resource = resource

    def body(self) -> dict[str, str]:
        body = {"id": self.id, "message": self.message}
        if self.resource is not None:
            body["resource"] = self.resource
        return body


def not_found(resource: str, what: str) -> ApiError:
    return ApiError(404, "not_found", f"Couldn't find that {what}.", resource=resource)


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_params", message)


def new_id() -> str:
    return str(uuid.uuid4())


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Formation:
    id: str
    type: str
    quantity: int
    size: str
    command: str
    created_at: str
    updated_at: str


@dataclass(slots=True)
class Dyno:
    id: str
    name: str
    type: str
    command: str
    size: str
    release_id: str
    release_version: int
    created_at: str
    one_off: bool = False
    state: str = "up"


@dataclass(slots=True)
class Release:
    id: str
    version: int
    description: str
    created_at: str
    done_at: float  # monotonic; the release phase is "pending" until then
    addon_plan_names: tuple[str, ...]
    fails: bool = False  # its release phase ends "failed" instead of "succeeded"


@dataclass(slots=True)
class App:
    id: str
    name: str
    created_at: str
    updated_at: str
    maintenance: bool = False
    region: str = "us"
    stack: str = "heroku-24"
    formation: dict[str, Formation] = field(default_factory=dict)
    dynos: list[Dyno] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)


@dataclass(slots=True)
class Addon:
    id: str
    name: str
    app_id: str  # billing app
    plan: catalog.Plan
    created_at: str
    updated_at: str
    provider_id: str
    provision_message: str
    # Monotonic time of the create call; None for seeded databases, known from the start.
    created_clock: float | None = None
    unfollowed_clock: float | None = None  # when it was last unfollowed (monotonic)
    credentials: list[str] = field(default_factory=lambda: [DEFAULT_CREDENTIAL])
    data_bytes: int = DEFAULT_BYTES  # size before the simulated writes add to it
    version: str = DEFAULT_VERSION


@dataclass(slots=True)
class Attachment:
    id: str
    name: str
    addon_id: str
    app_id: str
    namespace: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Call:
    """One API request as the stand-in saw it; `status` None means the connection was dropped."""

    method: str
    path: str
    body: Any
    status: int | None
    api: str  # "platform" | "data"
    started: float = 0.0  # epoch seconds when the request arrived
    duration: float = 0.0  # seconds the stand-in spent on it (what "inside Heroku" costs)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "status": self.status,
            "api": self.api,
            "started": self.started,
            "duration": self.duration,
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """A request (or, when checked, a response) that broke the published contract."""

    kind: str
    method: str
    path: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "method": self.method, "path": self.path, "detail": self.detail}
