"""What surrounds a database on Heroku: every app it is attached to, and its followers.

A follower changeover that forgot them would leave a writer in another app writing to the old
database, or a read replica following a database about to be destroyed. `read` asks the
platform (effects); `moves` decides which attachments must follow the new database (pure).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.heroku import Addon, Attachment, Database, HerokuClient
from bot.heroku.errors import NotFound
from state.models import AttachmentMove

POSTGRES = "heroku-postgresql"
POOLER = "DATABASE_CONNECTION_POOL"
POOLER_NAMESPACE = "connection-pooling:default"


@dataclass(frozen=True)
class Follower:
    """A follower of the database: where it is billed and the names apps know it by."""

    addon_id: str
    name: str
    app: str
    plan: str
    # Plain attachments, as Heroku writes them: "app::NAME".
    attachments: list[str]


@dataclass(frozen=True)
class Surroundings:
    addon: Addon
    database: Database
    attachments: list[Attachment]
    followers: list[Follower]
    # Followers the database reports ("Followers" row) that no scanned app holds.
    unfound_followers: int = 0
    # The add-ons of every scanned app, as listed while looking for followers.
    addons: dict[str, list[Addon]] = field(default_factory=dict)

    def apps(self) -> list[str]:
        """Every app the database is attached to."""
        return sorted({a.app.name for a in self.attachments})

    def shared_apps(self, *, app: str, target_app: str | None) -> list[str]:
        """Apps other than the migrated ones that have the database attached."""
        return [a for a in self.apps() if a not in (app, target_app)]


def is_pooler(a: Attachment) -> bool:
    return a.name == POOLER and a.namespace == POOLER_NAMESPACE


def moves(s: Surroundings, *, app: str, target_app: str | None) -> list[AttachmentMove]:
    """The attachments that must point at the new database, besides DATABASE and its pooler.

    Named poolers and credential attachments move in every app; another app's other names for
    the database move too; the billing app's plain names are the old database's own aliases,
    and stay with it (as `pg:promote` leaves one).
    """
    found: list[AttachmentMove] = []
    for a in s.attachments:
        if (a.name == "DATABASE" and a.namespace is None) or is_pooler(a):
            continue
        if a.app.name == target_app:
            continue
        namespace = a.namespace or ""
        if namespace.startswith("connection-pooling:"):
            found.append(
                AttachmentMove(app=a.app.name, name=a.name, namespace=a.namespace, kind="pooler")
            )
        elif namespace:
            found.append(
                AttachmentMove(
                    app=a.app.name, name=a.name, namespace=a.namespace, kind="credential"
                )
            )
        elif a.app.name != s.addon.app.name:
            found.append(AttachmentMove(app=a.app.name, name=a.name, kind="name"))
    return found


async def read(
    heroku: HerokuClient, addon: Addon, *, exclude: frozenset[str] = frozenset()
) -> Surroundings:
    """The database's attachments in every app and its followers (except add-ons in `exclude`)."""
    database = await heroku.get_database(addon.id)
    attachments = await heroku.list_addon_attachments(addon.id)
    listed: dict[str, list[Addon]] = {}
    followers = await find_followers(
        heroku, addon, database, attachments, exclude=exclude, listed=listed
    )
    row = database.info_row("Followers")
    reported = len(row.values) if row is not None else 0
    unfound = max(0, reported - len(followers))
    return Surroundings(addon, database, attachments, followers, unfound, listed)


async def find_followers(
    heroku: HerokuClient,
    addon: Addon,
    database: Database,
    attachments: list[Attachment],
    *,
    exclude: frozenset[str] = frozenset(),
    listed: dict[str, list[Addon]] | None = None,
) -> list[Follower]:
    """Followers of `addon` among the Postgres add-ons of every app it is attached to.

    `listed`, when given, receives each scanned app's add-ons (so callers need not list again).
    """
    apps = sorted({addon.app.name} | {a.app.name for a in attachments})
    seen = {addon.id, *exclude}
    found: list[Follower] = []
    for app in apps:
        addons = await heroku.list_addons(app)
        if listed is not None:
            listed[app] = addons
        for candidate in addons:
            if candidate.addon_service.name != POSTGRES or candidate.id in seen:
                continue
            seen.add(candidate.id)
            try:
                other = await heroku.get_database(candidate.id)
            except NotFound:
                continue  # still provisioning: not a follower of anything yet
            if not follows(other, addon.id, database):
                continue
            names = [
                f"{a.app.name}::{a.name}"
                for a in await heroku.list_addon_attachments(candidate.id)
                if a.namespace is None
            ]
            found.append(
                Follower(
                    candidate.id, candidate.name, candidate.app.name, candidate.plan.name, names
                )
            )
    return found


def follows(candidate: Database, leader_id: str, leader: Database) -> bool:
    """Whether `candidate` follows the leader: by the API's `leader`, else by its location."""
    if not candidate.is_follower:
        return False
    if candidate.leader_id is not None:
        return candidate.leader_id == leader_id
    following = candidate.info_row("Following")
    return (
        following is not None
        and leader.location is not None
        and leader.location in [str(v) for v in following.values]
    )


def find(
    attachments: list[Attachment], name: str, namespace: str | None = None
) -> Attachment | None:
    for a in attachments:
        if a.name == name and a.namespace == namespace:
            return a
    return None
