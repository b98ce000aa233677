"""What the stand-in knows about Heroku's catalogue: Postgres plans, dyno sizes and the words
Heroku builds add-on and attachment names from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

SERVICE = "heroku-postgresql"
# Stable ids, so a plan or a dyno size keeps its id across stand-in restarts.
_NAMESPACE = uuid.UUID("5f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
SERVICE_ID = str(uuid.uuid5(_NAMESPACE, SERVICE))

_TIERS: dict[str, tuple[range, int]] = {
    "essential": (range(3), 500),
    "standard": (range(10), 5000),
    "premium": (range(10), 20000),
    "private": (range(10), 30000),
    "shield": (range(10), 40000),
}

COLOURS = (
    "AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "CHARTREUSE", "CHESTNUT",
    "COBALT", "COPPER", "CORAL", "CRIMSON", "CYAN", "GOLD", "GRAY", "GREEN", "IVORY", "JADE",
    "LAVENDER", "LIME", "MAGENTA", "MAROON", "MAUVE", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK",
    "PUCE", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "TOPAZ", "VIOLET", "WHITE", "YELLOW",
)  # fmt: skip

ADJECTIVES = (
    "acute", "amorphous", "animated", "aerodynamic", "angular", "asymmetrical", "clean",
    "concave", "contoured", "convex", "cubed", "curved", "cylindrical", "deep", "defined",
    "elliptical", "encircled", "flat", "fluffy", "graceful", "horizontal", "infinite", "lively",
    "metallic", "opaque", "parallel", "polished", "reticulated", "rigid", "round", "shallow",
    "silky", "slippery", "sinuous", "solid", "spherical", "symmetrical", "tapered", "triangular",
    "vertical",
)  # fmt: skip

DYNO_SIZES = ("Basic", "Standard-1X", "Standard-2X", "Performance-M", "Performance-L")


@dataclass(frozen=True, slots=True)
class Plan:
    """One Heroku Postgres plan, e.g. `heroku-postgresql:standard-2`."""

    tier: str
    level: int
    cents: int

    @property
    def slug(self) -> str:
        return f"{self.tier}-{self.level}"

    @property
    def name(self) -> str:
        return f"{SERVICE}:{self.slug}"

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.name))

    @property
    def human_name(self) -> str:
        return f"{self.tier.capitalize()} {self.level}"

    @property
    def in_private_space(self) -> bool:
        return self.tier in ("private", "shield")

    @property
    def can_follow(self) -> bool:
        return self.tier != "essential"


PLANS: dict[str, Plan] = {
    plan.slug: plan
    for tier, (levels, base_cents) in _TIERS.items()
    for plan in (Plan(tier, level, base_cents * (level + 1)) for level in levels)
}


def find_plan(ident: str) -> Plan | None:
    """A plan by id, `heroku-postgresql:<slug>` or `<slug>`; the bare service means its default."""
    if ident == SERVICE:
        return PLANS["essential-0"]
    for plan in PLANS.values():
        if ident in (plan.id, plan.name, plan.slug):
            return plan
    return None


def dyno_size_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"dyno-size:{name}"))
