"""Can a follower changeover move this database to that plan? Pure checks over the platform's
own numbers, shared by `/migrate plan`, `/migrate start` and the preflight step."""

from __future__ import annotations

from bot.methods.common.plans import (
    FULL_WARNING,
    Facts,
    Verdict,
    can_have_followers,
    size,
    slug,
    storage_bytes,
    tier,
)


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
