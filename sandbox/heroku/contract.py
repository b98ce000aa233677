"""Requests and responses checked against Heroku's published contracts.

Platform API: the JSON hyper-schema (draft-04). A request is matched to a link by method and
href template (each `{...}` is one path segment); its body is validated against the link's
`schema`, a response against its `targetSchema`. The interagent keyword `strictProperties`
(every listed property present, no unlisted one) is enforced too, so responses are complete.

Data API: no published schema; `heroku-data-api.shogun-schemas.json` holds response schemas
inferred from Heroku's captured test traffic, keyed "VERB /path". A property those captures
only ever saw as `null` is treated as unconstrained, since the inference cannot know its type.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from referencing import Registry
from referencing.jsonschema import DRAFT4

PLATFORM_FILE = "heroku-platform-api.schema.json"
DATA_FILE = "heroku-data-api.shogun-schemas.json"
DATA_PREFIXES = ("/client/", "/postgres/", "/data/")

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["id", "message"],
    "properties": {
        "id": {"type": "string"},
        "message": {"type": "string"},
        "url": {"type": "string"},
        "resource": {"type": "string"},
    },
}
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

_formats = FormatChecker(formats=())


def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value.lower()


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_DATE_TIME.match(value)) and bool(datetime.fromisoformat(value))


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def _is_email(value: object) -> bool:
    return not isinstance(value, str) or "@" in value


_formats.checks("uuid", raises=ValueError)(_is_uuid)
_formats.checks("date-time", raises=ValueError)(_is_date_time)
_formats.checks("uri")(_is_uri)
_formats.checks("email")(_is_email)


def _strict_properties(
    validator: Any, strict: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not strict or not validator.is_type(instance, "object"):
        return
    listed = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    for name in listed:
        if name not in instance:
            yield ValidationError(f"{name!r} is required (strictProperties)")
    for name in instance:
        if name not in listed and not any(p.search(name) for p in patterns):
            yield ValidationError(f"{name!r} is not allowed (strictProperties)")


_Validator = validators.extend(Draft4Validator, {"strictProperties": _strict_properties})


@dataclass(frozen=True, slots=True)
class Link:
    """One platform-schema link: `pointer` locates it inside the schema document."""

    method: str
    href: str
    pattern: re.Pattern[str]
    literal_length: int  # how much of the href is fixed text; the most specific link wins
    pointer: str
    has_schema: bool
    has_target: bool


@dataclass(frozen=True, slots=True)
class RequestProblem:
    """Why a request breaks the contract: the answer to give and the violation to record."""

    status: int
    id: str
    kind: str
    message: str


def _template_pattern(href: str, placeholder: str) -> tuple[re.Pattern[str], int]:
    literal = re.sub(placeholder, "", href)
    regex = "".join(
        "[^/]+" if re.fullmatch(placeholder, part) else re.escape(part)
        for part in re.split(f"({placeholder})", href)
    )
    return re.compile(f"^{regex}$"), len(literal)


def _widen_nulls(schema: Any) -> Any:
    """Replace `{"type": "null"}` (a type the captures never saw filled) with `{}`."""
    if isinstance(schema, dict):
        if schema.get("type") in ("null", ["null"]):
            return {k: v for k, v in schema.items() if k != "type"}
        return {k: _widen_nulls(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_widen_nulls(item) for item in schema]
    return schema


def _messages(validator: Any, instance: Any) -> list[str]:
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '<body>'}: {error.message}"
        for error in validator.iter_errors(instance)
    )


class Contract:
    """The platform hyper-schema and the Data API captures, ready to check traffic against."""

    def __init__(self, contracts_dir: Path) -> None:
        platform = json.loads((contracts_dir / PLATFORM_FILE).read_text())
        self._base = str(platform["id"]).rstrip("#")
        self._registry: Registry[Any] = Registry().with_resource(
            self._base, DRAFT4.create_resource(platform)
        )
        self._links = list(self._platform_links(platform))
        data = json.loads((contracts_dir / DATA_FILE).read_text())
        self._data: list[tuple[str, re.Pattern[str], int, dict[str, Any]]] = []
        for key, entry in data.items():
            method, _, path = key.partition(" ")
            pattern, literal = _template_pattern(path, r":\w+|\{\w+\}")
            self._data.append((method, pattern, literal, entry))

    def _platform_links(self, platform: dict[str, Any]) -> Iterator[Link]:
        for name, definition in platform["definitions"].items():
            escaped = name.replace("~", "~0").replace("/", "~1")
            for index, link in enumerate(definition.get("links", [])):
                if "method" not in link or not str(link["href"]).startswith("/"):
                    continue
                pattern, literal = _template_pattern(link["href"], r"\{[^}]*\}")
                yield Link(
                    method=link["method"].upper(),
                    href=link["href"],
                    pattern=pattern,
                    literal_length=literal,
                    pointer=f"{self._base}#/definitions/{escaped}/links/{index}",
                    has_schema="schema" in link,
                    has_target="targetSchema" in link,
                )

    @staticmethod
    def is_data_path(path: str) -> bool:
        return path.startswith(DATA_PREFIXES)

    def links(self, method: str, path: str) -> list[Link]:
        """The most specific platform links matching the request (several share an href)."""
        found = [
            link
            for link in self._links
            if link.method == method.upper() and link.pattern.match(path)
        ]
        if not found:
            return []
        best = max(link.literal_length for link in found)
        return [link for link in found if link.literal_length == best]

    def _data_entry(self, method: str, path: str) -> dict[str, Any] | None:
        found = [
            (literal, entry)
            for verb, pattern, literal, entry in self._data
            if verb == method.upper() and pattern.match(path)
        ]
        return max(found, key=lambda item: item[0])[1] if found else None

    def check_request(self, method: str, path: str, body: Any) -> RequestProblem | None:
        """None if the request fits the contract; else the 400/422 answer to give."""
        if self.is_data_path(path):
            if self._data_entry(method, path) is None:
                return RequestProblem(
                    400, "bad_request", "no_link", f"No Data API endpoint {method} {path}."
                )
            return None
        links = self.links(method, path)
        if not links:
            return RequestProblem(
                400, "bad_request", "no_link", f"No Platform API link matches {method} {path}."
            )
        with_schema = [link for link in links if link.has_schema]
        if not with_schema:
            return None
        instance = {} if body is None else body
        errors: list[str] = []
        for link in with_schema:
            found = _messages(self._validator(f"{link.pointer}/schema"), instance)
            if not found:
                return None
            errors.extend(found)
        return RequestProblem(422, "invalid_params", "invalid_body", "; ".join(errors))

    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Every way `body` breaks the contract for this answer; empty when it fits."""
        if status >= 400:
            return _messages(_Validator(_ERROR_SCHEMA), body)
        if self.is_data_path(path):
            entry = self._data_entry(method, path)
            if entry is None:
                return [f"no Data API contract for {method} {path}"]
            schema = (entry.get("responses") or {}).get(str(status))
            if schema is None:
                return [f"the Data API captures hold no {status} answer for {method} {path}"]
            return _messages(_Validator(_widen_nulls(schema), format_checker=_formats), body)
        links = [link for link in self.links(method, path) if link.has_target]
        if not links:
            return [f"no Platform API link with a targetSchema matches {method} {path}"]
        errors: list[str] = []
        for link in links:
            found = _messages(self._validator(f"{link.pointer}/targetSchema"), body)
            if not found:
                return []
            errors.extend(found)
        return errors

    def _validator(self, ref: str) -> Any:
        return _Validator({"$ref": ref}, registry=self._registry, format_checker=_formats)
