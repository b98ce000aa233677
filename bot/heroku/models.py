"""The parts of Heroku's Platform and Data API responses the bot relies on."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

BEHIND_BY = "Behind By"
# "125 commits", "1,234 commits", "125": digits then a word break; "1.5k" is not a count.
_LEADING_COUNT = re.compile(r"\s*(\d[\d,]*)(?=\s|$)")


class _Model(BaseModel):
    # hide_input_in_errors: a validation error must never echo a response body into a log.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class App(_Model):
    """An app (`GET /apps/{app}`)."""

    id: str
    name: str
    maintenance: bool


class Formation(_Model):
    """One process type of an app's formation."""

    id: str
    type: str
    quantity: int
    size: str


class Dyno(_Model):
    """A running dyno; `state` is one of crashed, down, idle, starting, up."""

    id: str
    name: str
    type: str
    state: str


class NamedRef(_Model):
    """A reference to another resource by id and name."""

    id: str
    name: str


class Addon(_Model):
    """An add-on; `state` is provisioning, provisioned, deprovisioning or deprovisioned."""

    id: str
    name: str
    state: str
    plan: NamedRef
    app: NamedRef
    addon_service: NamedRef


class AttachedAddon(_Model):
    """The add-on side of an attachment, with its billing app."""

    id: str
    name: str
    app: NamedRef


class Attachment(_Model):
    """An add-on attachment: `name` (e.g. DATABASE) is the config var prefix on `app`."""

    id: str
    name: str
    namespace: str | None = None
    addon: AttachedAddon
    app: NamedRef


class Plan(_Model):
    """An add-on plan, e.g. heroku-postgresql:standard-2."""

    id: str
    name: str


class Permission(_Model):
    """A team-app permission: view, deploy, operate or manage."""

    name: str


class Collaborator(_Model):
    """Someone with access to an app; team apps list their `permissions`."""

    email: str
    role: str | None = None
    permissions: list[Permission] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("user"), dict):
            return {
                "email": data["user"].get("email"),
                "role": data.get("role"),
                "permissions": data.get("permissions") or [],
            }
        return data


class Release(_Model):
    """A release; `status` is pending, succeeded, failed or expired."""

    id: str
    version: int
    description: str
    status: str


class WaitStatus(_Model):
    """Data API `wait_status`: provisioning progress, not replication lag."""

    message: str
    waiting: bool = Field(validation_alias=AliasChoices("waiting?", "waiting"))
    error: bool = Field(default=False, validation_alias=AliasChoices("error?", "error"))


def _safe_value(value: object) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    # Rows with resolve_db_name carry postgres URLs, password included: keep host and path only.
    return _without_credentials(text) if "://" in text else text


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<redacted url>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


class InfoRow(_Model):
    """One `pg:info` row as the server renders it, e.g. {"name": "Behind By", "values": [...]}."""

    name: str
    values: list[str | int]

    @model_validator(mode="before")
    @classmethod
    def _redact(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("values"), list):
            return {"name": data.get("name"), "values": [_safe_value(v) for v in data["values"]]}
        return data


class Database(_Model):
    """A Heroku Postgres database from the Data API, without any credential."""

    addon_id: str
    name: str
    is_follower: bool
    # The add-on id of the database this one follows, when the API says (`leader`).
    leader_id: str | None = None
    num_bytes: int | None = None
    postgres_version: str | None = None
    # Where it lives, without credentials (scheme://host:port/name), as info rows show leaders.
    location: str | None = None
    info: list[InfoRow] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_credentials(cls, data: Any) -> Any:
        # `following`, `resource_url` and `database_password` carry secrets: keep only what the
        # bot decides on, and of `following` only whether it is set.
        if not isinstance(data, dict) or "is_follower" in data:
            return data
        leader = data.get("leader")
        kept: dict[str, Any] = {
            "addon_id": data.get("addon_id"),
            "name": data.get("name"),
            "is_follower": bool(data.get("following")),
            "leader_id": leader.get("addon_id") if isinstance(leader, dict) else None,
        }
        if isinstance(data.get("num_bytes"), int):
            kept["num_bytes"] = data["num_bytes"]
        if data.get("postgres_version") is not None:
            kept["postgres_version"] = str(data["postgres_version"])
        if isinstance(data.get("resource_url"), str):
            kept["location"] = _without_credentials(data["resource_url"])
        if data.get("info") is not None:
            kept["info"] = data["info"]
        return kept

    @property
    def major_version(self) -> str | None:
        """ "16" of "16.4"; from `postgres_version`, else the "PG Version" row."""
        version = self.postgres_version
        if version is None:
            row = self.info_row("PG Version")
            version = str(row.values[0]) if row and row.values else None
        return version.split(".", 1)[0].strip() if version else None

    @property
    def can_be_followed(self) -> bool | None:
        """The "Fork/Follow" row: None when the API does not say."""
        row = self.info_row("Fork/Follow")
        if row is None or not row.values:
            return None
        return str(row.values[0]).strip().lower().startswith("available")

    def info_row(self, name: str) -> InfoRow | None:
        """The info row called `name`, or None."""
        return next((row for row in self.info if row.name == name), None)

    def behind_by(self) -> int | None:
        """Commits the follower is behind, from the "Behind By" row; None when unknown, never 0."""
        row = self.info_row(BEHIND_BY)
        if row is None or not row.values:
            return None
        first = row.values[0]
        if isinstance(first, int):
            return first if first >= 0 else None
        match = _LEADING_COUNT.match(first)
        return int(match.group(1).replace(",", "")) if match else None
