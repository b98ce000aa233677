"""The official API descriptions the stand-ins check traffic against (provenance in README.md).

They ship inside the package, so a clone or an installed copy checks its traffic with nothing
beside it.
"""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).resolve().parent
FILES = (
    "heroku-platform-api.schema.json",
    "heroku-data-api.shogun-schemas.json",
    "slack-web-api.openapi.json",
)


def directory() -> Path:
    """The folder holding every contract file; raises if the installation lost one."""
    missing = [name for name in FILES if not (DIR / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"contract files missing from {DIR}: {', '.join(missing)}; reinstall migrate-bot"
        )
    return DIR
