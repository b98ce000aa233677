"""Secret-free summaries of the world for tests and the sandbox: names, never URL values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.heroku.records import App
    from sandbox.heroku.world import World


def world_state(world: World) -> dict[str, Any]:
    databases = []
    for addon in world.addons.values():
        status = world.backend.status(addon.id)
        leader = world.addons.get(status.leader_id) if status.leader_id else None
        databases.append(
            {
                "addon_id": addon.id,
                "name": addon.name,
                "available": status.available,
                "following": leader.name if leader else None,
                "behind_by": status.behind_by,
                "commits": status.commits,
                "credentials": list(addon.credentials),
                "postgres_version": addon.version,
            }
        )
    return {
        "apps": [app_state(world, app) for app in world.apps.values()],
        "addons": [
            {
                "id": addon.id,
                "name": addon.name,
                "app": world.apps[addon.app_id].name,
                "plan": addon.plan.name,
                "state": world.addon_state(addon),
                "attachments": [
                    f"{world.apps[att.app_id].name}::{att.name}"
                    for att in world.attachments_of(addon)
                ],
            }
            for addon in world.addons.values()
        ],
        "databases": databases,
        "rate_limit_remaining": world.bucket.remaining,
        "page_size": world.page_size,
    }


def app_state(world: World, app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "maintenance": app.maintenance,
        "formation": {f.type: f.quantity for f in app.formation.values()},
        "dynos": [dyno.name for dyno in app.dynos],
        "config_vars": sorted(f"{att.name}_URL" for att in world.attachments_for_app(app)),
        "attachments": [
            {
                "id": att.id,
                "name": att.name,
                "namespace": att.namespace,
                "addon": world.addons[att.addon_id].name,
            }
            for att in world.attachments_for_app(app)
        ],
        "collaborators": [c.email for c in world.collaborators_of(app)],
        "releases": [
            {
                "version": r.version,
                "description": r.description,
                "status": world.release_status(r),
            }
            for r in app.releases
        ],
    }
