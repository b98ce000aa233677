"""Can a follower changeover move this database to that plan? Pure checks over the platform's
own numbers, shared by `/migrate plan`, `/migrate start` and the preflight step."""

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


def changeover(f: Facts) -> Verdict:
    """Why a changeover of `f.source_name` to `f.target_plan` cannot run, and what to watch."""
    blockers: list[str] = []
    warnings: list[str] = []
    target_tier = tier(f.target_plan)
    if target_tier == "essential":
        blockers.append(
            f"{slug(f.target_plan)} is an Essential plan, which cannot be a follower. A "
            "changeover needs a Standard, Premium, Private or Shield plan; to reach Essential, "
            "use a dump and restore (`heroku pg:copy`)."
        )
    elif target_tier == "advanced":
        blockers.append(
            f"{slug(f.target_plan)} is on the Advanced tier, which cannot follow a classic "
            "database. Use the Advanced migration (`--method advanced`, Heroku's "
            "`data:pg:migrate`)."
        )
    if f.is_follower:
        blockers.append(
            f"{f.source_name} is itself a follower; migrate its leader instead (--from)."
        )
    followable = f.can_be_followed
    if followable is None:
        followable = can_have_followers(f.source_plan)
    if not followable:
        blockers.append(
            f"{f.source_name} ({slug(f.source_plan)}) cannot have followers (Fork/Follow: "
            "unsupported). Use `heroku addons:upgrade` or a dump and restore (`heroku pg:copy`)."
        )
    if (
        f.wanted_version is not None
        and f.major_version is not None
        and f.wanted_version != f.major_version
    ):
        blockers.append(
            f"{f.source_name} runs PostgreSQL {f.major_version}; a follower has its leader's "
            f"major version, so a changeover cannot reach {f.wanted_version}. Use the upgrade "
            f"method (`--method upgrade --version {f.wanted_version}`, Heroku's `pg:upgrade`)."
        )
    capacity = storage_bytes(f.target_plan)
    if f.num_bytes is not None and capacity is not None:
        if f.num_bytes > capacity:
            blockers.append(
                f"{f.source_name} holds {size(f.num_bytes)}, more than {slug(f.target_plan)} "
                f"stores ({size(capacity)}). Pick a bigger plan."
            )
        elif f.num_bytes > FULL_WARNING * capacity:
            warnings.append(
                f"{f.source_name} holds {size(f.num_bytes)}: {f.num_bytes / capacity:.0%} of "
                f"{slug(f.target_plan)}'s {size(capacity)}, little room to grow."
            )
    elif f.num_bytes is not None and capacity is None and target_tier != "advanced":
        warnings.append(
            f"The bot does not know {slug(f.target_plan)}'s storage; check it holds "
            f"{size(f.num_bytes)}."
        )
    return Verdict(blockers, warnings)
