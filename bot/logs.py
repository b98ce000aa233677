"""Structured (JSON) logs that carry the migration id and never a secret."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

_migration: contextvars.ContextVar[str | None] = contextvars.ContextVar("migration", default=None)

# Database URLs carry passwords; tokens have well-known prefixes. Both are masked even when
# nobody registered them as secrets (a URL echoed back in an error message, say).
_PATTERNS = (
    re.compile(r"\b(postgres(?:ql)?|rediss?)://[^\s\"'@/]*:[^\s\"'@/]*@"),
    re.compile(r"\bxox[abpre]-[A-Za-z0-9-]+"),
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),
)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


@contextlib.contextmanager
def migration_context(migration_id: str) -> Iterator[None]:
    """Every log line inside carries this migration id."""
    token = _migration.set(migration_id)
    try:
        yield
    finally:
        _migration.reset(token)


def current_migration() -> str | None:
    return _migration.get()


class Scrubber:
    """Masks known secret values and anything shaped like a credential."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[secret]")
        text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}://[secret]@", text)
        for pattern in _PATTERNS[1:]:
            text = pattern.sub("[secret]", text)
        return text


class JsonFormatter(logging.Formatter):
    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        migration = getattr(record, "migration", None) or _migration.get()
        if migration:
            entry["migration"] = migration
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key != "migration" and not key.startswith("_"):
                plain = isinstance(value, int | float | bool | None | dict | list)
                entry[key] = value if plain else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._scrub(json.dumps(entry, default=str))


def setup(secrets: Iterable[str] = (), level: int = logging.INFO) -> Scrubber:
    """Route every log line through one JSON formatter that scrubs secrets."""
    scrub = Scrubber(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(scrub))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party clients log request URLs and headers at DEBUG; keep them at WARNING.
    for noisy in ("httpx", "httpcore", "slack_sdk", "slack_bolt", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A tick still running when the next is due is skipped by design, not worth a warning.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_unused_token_warning)
    return scrub


def _unused_token_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN itself and warns that it is unused: the bot hands its token to
    # Bolt through `authorize` on purpose (bot/identity.py), so the warning says nothing.
    return "`token` will be unused" not in record.getMessage()
