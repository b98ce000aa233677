"""Drift: what changed on the platform outside the bot, that a migration cannot ignore (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.methods.changeover.names import StepName
from bot.slack.mrkdwn import escape
from state.models import Migration

S = StepName
# Where each expectation holds: strictly between the steps that establish and undo it, so a
# crash in the middle of either step is never mistaken for drift.
_IN_MAINTENANCE = {
    S.SCALE_DOWN,
    S.WAIT_ZERO_LAG,
    S.APPROVE_PROMOTE,
    S.UNFOLLOW,
    S.PROMOTE,
    S.MOVE_ATTACHMENTS,
    S.SCALE_UP,
}
_SCALED_DOWN = {S.WAIT_ZERO_LAG, S.APPROVE_PROMOTE, S.UNFOLLOW, S.PROMOTE}
_FOLLOWER_EXISTS = {
    S.WAIT_CAUGHT_UP, S.APPROVE_MAINTENANCE, S.MAINTENANCE_ON, S.SCALE_DOWN, S.WAIT_ZERO_LAG,
    S.APPROVE_PROMOTE, S.UNFOLLOW, S.PROMOTE, S.MOVE_ATTACHMENTS, S.SCALE_UP, S.MAINTENANCE_OFF,
    S.VERIFY, S.RECREATE_FOLLOWERS, S.APPROVE_DESTROY, S.DESTROY_OLD,
}  # fmt: skip
_FOLLOWING = {
    S.WAIT_CAUGHT_UP,
    S.APPROVE_MAINTENANCE,
    S.MAINTENANCE_ON,
    S.SCALE_DOWN,
    S.WAIT_ZERO_LAG,
    S.APPROVE_PROMOTE,
}
_ON_SOURCE = {
    S.WAIT_CAUGHT_UP,
    S.APPROVE_MAINTENANCE,
    S.MAINTENANCE_ON,
    S.SCALE_DOWN,
    S.WAIT_ZERO_LAG,
    S.APPROVE_PROMOTE,
    S.UNFOLLOW,
}
# Checked every poll interval while the app is down (and once whenever a process resumes).
WATCHED = frozenset(_IN_MAINTENANCE)
_ON_FOLLOWER = {
    S.MOVE_ATTACHMENTS,
    S.SCALE_UP,
    S.MAINTENANCE_OFF,
    S.VERIFY,
    S.RECREATE_FOLLOWERS,
    S.APPROVE_DESTROY,
}


@dataclass(frozen=True)
class Snapshot:
    """What the platform looks like now, as far as a migration cares."""

    maintenance: dict[str, bool]
    running: dict[str, dict[str, int]]
    follower_exists: bool
    follower_following: bool | None
    database_addon: str | None


def drift(m: Migration, now: Snapshot) -> list[str]:
    """What changed outside the bot that the migration cannot safely ignore (pure)."""
    found = []
    step = m.step
    if step in _IN_MAINTENANCE:
        found += [
            f"{app} was taken out of maintenance" for app, on in now.maintenance.items() if not on
        ]
    if step in _SCALED_DOWN:
        for app, types in now.running.items():
            found += [f"{app} was scaled to {t}={q}" for t, q in types.items()]
    if step in _FOLLOWER_EXISTS and m.new.addon_id and not now.follower_exists:
        found.append(f"the new database {m.new.name} was removed")
    elif step in _FOLLOWING and now.follower_following is False:
        found.append(f"{m.new.name} stopped following before the bot unfollowed it")
    same_app = m.promote_app == m.app
    old_id = m.old.addon_id if m.old else None
    if same_app and step in _ON_SOURCE and old_id and now.database_addon != old_id:
        found.append(f"DATABASE on {m.app} was changed to another database")
    if step in _ON_FOLLOWER and m.new.addon_id and now.database_addon != m.new.addon_id:
        found.append(f"DATABASE on {m.promote_app} no longer points at {m.new.name}")
    return [escape(f) for f in found]
