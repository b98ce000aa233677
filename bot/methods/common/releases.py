"""The release phase after promote, followed as `pg:promote` follows it.

Re-pointing DATABASE makes two releases, "Detach DATABASE (@ref:old)" and "Attach DATABASE
(@ref:new)"; with a release phase, the app runs on the new database only once the attach
release succeeded. They are matched on the attachment name exactly: "Attach
DATABASE_CONNECTION_POOL" (the pooler re-attached right after) contains "Attach DATABASE" but
is not it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.heroku import Release

# The CLI's own limit for this wait (`pg:promote` polls every 5 s for up to 15 minutes).
LIMIT_SECONDS = 15 * 60.0
_ATTACHMENT_RELEASE = re.compile(
    r"^(?P<verb>Attach|Detach) (?P<name>[A-Za-z][A-Za-z0-9_]*)(?:\s|$)"
)
ENDED = frozenset({"succeeded", "failed", "expired"})


def of_attachment(release: Release, verb: str, name: str) -> bool:
    """Whether `release` is the "`verb` `name`" release (exactly that attachment name)."""
    match = _ATTACHMENT_RELEASE.match(release.description)
    return match is not None and match["verb"] == verb and match["name"] == name


@dataclass(frozen=True)
class Pair:
    """The newest Detach and Attach DATABASE releases after the baseline version."""

    detach: Release | None
    attach: Release | None


def find(releases: list[Release], baseline: int, name: str = "DATABASE") -> Pair:
    newer = sorted((r for r in releases if r.version > baseline), key=lambda r: -r.version)
    return Pair(
        detach=next((r for r in newer if of_attachment(r, "Detach", name)), None),
        attach=next((r for r in newer if of_attachment(r, "Attach", name)), None),
    )


@dataclass(frozen=True)
class Verdict:
    """`done`, or a `wait` note, or a `failure` to stop on."""

    done: bool
    wait: str = ""
    failure: str = ""
    note: str = ""


def judge(app: str, pair: Pair, waited_seconds: float) -> Verdict:
    """What the two releases mean for `app` (pure)."""
    late = waited_seconds > LIMIT_SECONDS
    attach = pair.attach
    detach_note = ""
    if pair.detach is not None and pair.detach.status == "failed":
        detach_note = f"the Detach DATABASE release v{pair.detach.version} failed (safe to ignore)"
    if attach is None:
        if late:
            return Verdict(False, failure=f"no Attach DATABASE release appeared on {app}")
        return Verdict(False, wait=f"waiting for the Attach DATABASE release of {app}")
    if attach.status == "succeeded":
        return Verdict(True, note=detach_note)
    if attach.status in ("failed", "expired"):
        if pair.detach is not None and pair.detach.status == "succeeded":
            state = f"{app} has no DATABASE_URL: the old one was detached, the new one not attached"
        else:
            state = f"{app} still points at the old database"
        return Verdict(
            False,
            failure=f"the release phase of {app} {attach.status} for Attach DATABASE "
            f"(v{attach.version}): {state}",
        )
    if late:
        return Verdict(
            False,
            failure=f"the Attach DATABASE release v{attach.version} of {app} is still "
            f"{attach.status} after {LIMIT_SECONDS / 60:.0f} minutes",
        )
    return Verdict(False, wait=f"release v{attach.version} of {app} is {attach.status}")
