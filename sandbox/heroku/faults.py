"""Faults a test arms against matching API requests (error answers, delays, lost connections)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_DEFAULT_IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "invalid_params",
    423: "confirmation_required",
    429: "rate_limit",
}


@dataclass(slots=True)
class Fault:
    """One armed fault; `times=None` keeps it armed forever.

    Without `after` the request is not executed: the fault answers `status` (a Heroku error
    body, plus `Retry-After` if given) or drops the connection. With `after` the request is
    executed first and only its answer is replaced or lost.
    """

    path_regex: str
    method: str | None = None
    status: int | None = None
    times: int | None = 1
    delay_seconds: float = 0.0
    body_id: str | None = None
    # Heroku's error text, e.g. one that carries `<!channel>` (default: a neutral one).
    body_message: str | None = None
    retry_after: int | None = None
    drop_connection: bool = False
    after: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)
        if self.status is None and not self.drop_connection and not self.delay_seconds:
            raise ValueError("a fault needs a status, drop_connection or delay_seconds")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        allowed = {
            "path_regex", "method", "status", "times", "delay_seconds", "body_id",
            "body_message", "retry_after", "drop_connection", "after",
        }  # fmt: skip
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        return cls(**raw)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern.search(path) is not None

    def consume(self) -> None:
        if self.times is not None:
            self.times -= 1

    def error_body(self) -> dict[str, str]:
        status = self.status or 500
        ident = self.body_id or _DEFAULT_IDS.get(status, "service_unavailable")
        return {"id": ident, "message": self.body_message or f"Injected fault: {status} {ident}."}

    def to_json(self) -> dict[str, Any]:
        return {
            "path_regex": self.path_regex,
            "method": self.method,
            "status": self.status,
            "times": self.times,
            "delay_seconds": self.delay_seconds,
            "body_id": self.body_id,
            "body_message": self.body_message,
            "retry_after": self.retry_after,
            "drop_connection": self.drop_connection,
            "after": self.after,
        }
