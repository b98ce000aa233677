"""Contracts of the log scrubber: no secret reaches a log line."""

from __future__ import annotations

import io
import json
import logging

from bot import logs


def test_known_secrets_and_credential_shapes_are_masked() -> None:
    scrub = logs.Scrubber(["HRKU-abcdef-123456"])
    text = scrub(
        "key HRKU-abcdef-123456 url postgres://u:pw@host:5432/db "
        "redis rediss://:p4ss@h:1/0 token xoxb-1-2-abc app xapp-1-A-xyz"
    )
    for secret in ("HRKU-abcdef-123456", "pw@", "p4ss", "xoxb-1-2-abc", "xapp-1-A-xyz"):
        assert secret not in text
    assert "postgres://[secret]@host:5432/db" in text


def test_log_lines_are_json_with_the_migration_id_and_no_secret() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter(logs.Scrubber(["s3cr3t-value"])))
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with logs.migration_context("mig-abc123"):
            logger.warning("leaked s3cr3t-value here", extra={"step": "promote"})
            try:
                raise RuntimeError("boom postgres://user:hunter2@db/x")
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["migration"] == "mig-abc123" and lines[0]["step"] == "promote"
    assert "s3cr3t-value" not in stream.getvalue() and "hunter2" not in stream.getvalue()
    assert "exc" in lines[1]
