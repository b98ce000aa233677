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
    """One Heroku Postgres plan, e.g. `heroku-postgresql:standard-2` or `...:advanced`."""

    slug: str
    cents: int

    @property
    def tier(self) -> str:
        return self.slug.split("-", 1)[0]

    @property
    def name(self) -> str:
        return f"{SERVICE}:{self.slug}"

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.name))

    @property
    def human_name(self) -> str:
        return " ".join(part.capitalize() for part in self.slug.split("-"))

    @property
    def in_private_space(self) -> bool:
        return bool({"private", "shield"} & set(self.slug.split("-")))

    @property
    def shield(self) -> bool:
        return "shield" in self.slug.split("-")

    @property
    def can_follow(self) -> bool:
        # Advanced databases scale with read replicas of their own, not classic followers.
        return self.tier not in ("essential", "advanced")


_ADVANCED = (("advanced", 30000), ("advanced-private", 40000), ("advanced-shield", 50000))

PLANS: dict[str, Plan] = {
    plan.slug: plan
    for plan in [
        *(
            Plan(f"{tier}-{level}", base_cents * (level + 1))
            for tier, (levels, base_cents) in _TIERS.items()
            for level in levels
        ),
        *(Plan(slug, cents) for slug, cents in _ADVANCED),
    ]
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
