"""Every way a database can move, by its `--method` name. Adding a method is adding its folder
and one line here."""

from __future__ import annotations

from bot.methods import changeover
from bot.methods.base import Method
from state.models import Migration

REGISTRY: dict[str, Method] = {
    "changeover": changeover.METHOD,
}


def method_of(m: Migration, registry: dict[str, Method] | None = None) -> Method:
    """The method a stored migration runs."""
    return (registry or REGISTRY)[m.method]


def all_gates(registry: dict[str, Method] | None = None) -> frozenset[str]:
    """Every gate of every method (which buttons the bot may have posted)."""
    return frozenset(g for method in (registry or REGISTRY).values() for g in method.gates)
