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
    info: list[InfoRow] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _drop_credentials(cls, data: Any) -> Any:
        # `following` is the leader's URL with its password; keep only whether it is set.
        if not isinstance(data, dict):
            return data
        is_follower = data["is_follower"] if "is_follower" in data else bool(data.get("following"))
        kept = {"addon_id": data.get("addon_id"), "name": data.get("name")}
        if data.get("info") is not None:
            kept["info"] = data["info"]
        return {**kept, "is_follower": is_follower}

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
