"""Heroku Postgres plans as the platform publishes them: tiers, storage, followers (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

GB = 1024**3
TB = 1024 * GB
# Storage of each plan level as Heroku publishes it ("Choosing the Right Heroku Postgres Plan",
# Dev Center): the same per level for the Standard, Premium, Private and Shield tiers.
_CLASSIC_STORAGE = {
    0: 64 * GB,
    2: 256 * GB,
    3: 512 * GB,
    4: 768 * GB,
    5: 1 * TB,
    6: 1536 * GB,
    7: 2 * TB,
    8: 3 * TB,
    9: 4 * TB,
}
_ESSENTIAL_STORAGE = {0: 1 * GB, 1: 10 * GB, 2: 32 * GB}
_CLASSIC_TIERS = ("standard", "premium", "private", "shield")
_PLAN = re.compile(r"^(?P<tier>[a-z]+)(?:-(?P<level>\d+))?(?:-(?P<network>private|shield))?$")
# Warn when the data would fill more of the new plan than this.
FULL_WARNING = 0.8


def slug(plan: str) -> str:
    """`standard-2` of `heroku-postgresql:standard-2`."""
    return plan.split(":", 1)[-1]


def tier(plan: str) -> str | None:
    """essential, standard, premium, private, shield or advanced; None if unknown."""
    match = _PLAN.match(slug(plan))
    if match is None:
        return None
    name = match["tier"]
    return name if name in (*_CLASSIC_TIERS, "essential", "advanced") else None


def can_have_followers(plan: str) -> bool:
    """Followers exist only on the classic tiers: Standard, Premium, Private, Shield."""
    return tier(plan) in _CLASSIC_TIERS


def storage_bytes(plan: str) -> int | None:
    """The plan's published storage, or None when the bot does not know it (Advanced grows)."""
    match = _PLAN.match(slug(plan))
    if match is None or match["level"] is None:
        return None
    level = int(match["level"])
    if match["tier"] in _CLASSIC_TIERS:
        return _CLASSIC_STORAGE.get(level)
    if match["tier"] == "essential":
        return _ESSENTIAL_STORAGE.get(level)
    return None


def size(num_bytes: int) -> str:
    """1.5 GB, 80 GB, 1.5 TB."""
    if num_bytes >= TB:
        return f"{num_bytes / TB:.1f} TB".replace(".0 ", " ")
    if num_bytes >= GB:
        return f"{num_bytes / GB:.1f} GB".replace(".0 ", " ")
    return f"{max(num_bytes, 0) / 1024**2:.0f} MB"


@dataclass(frozen=True)
class Facts:
    """What the platform says about the source database and the plan asked for."""

    source_name: str
    source_plan: str
    target_plan: str
    num_bytes: int | None = None
    major_version: str | None = None
    can_be_followed: bool | None = None
    is_follower: bool = False
    wanted_version: str | None = None


@dataclass(frozen=True)
class Verdict:
    blockers: list[str]
    warnings: list[str]
