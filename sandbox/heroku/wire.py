"""JSON bodies exactly as the Platform API (schema definitions) and the Data API render them."""

from __future__ import annotations

import hashlib
from typing import Any

from sandbox.heroku import catalog
from sandbox.heroku.collaborators import PERMISSIONS, Collaborator
from sandbox.heroku.world import Addon, App, Attachment, Dyno, Formation, Release, World

_STACK_IDS = {"heroku-24": "ee582d3c-717d-4a57-ba5f-8b3a39f3a817"}
_REGION_IDS = {"us": "59accabd-516d-4f0e-83e6-6e3757701145"}
_CEDAR_ID = "6d8f5d6e-0bf5-4f2e-8f8a-9a7f33d4f4a1"
_BUILD_DATE = "2024-01-01T00:00:00Z"
_MEGABYTE = 1024 * 1024


def app_ref(app: App) -> dict[str, str]:
    return {"id": app.id, "name": app.name}


def app(world: World, app: App) -> dict[str, Any]:
    # web_url carries a hash suffix like Heroku's current app URLs, within the schema's pattern.
    suffix = hashlib.sha256(app.id.encode()).hexdigest()[:12]
    stack = {"id": _STACK_IDS[app.stack], "name": app.stack}
    return {
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": "Python",
        "build_stack": stack,
        "created_at": app.created_at,
        "generation": {"id": _CEDAR_ID, "name": "cedar"},
        "git_url": f"https://git.heroku.com/{app.name}.git",
        "id": app.id,
        "internal_routing": None,
        "maintenance": app.maintenance,
        "name": app.name,
        "owner": {"email": world.owner_email, "id": world.owner_id},
        "organization": None,
        "team": None,
        "region": {"id": _REGION_IDS[app.region], "name": app.region},
        "released_at": app.releases[-1].created_at if app.releases else None,
        "repo_size": None,
        "slug_size": 52_428_800,
        "space": None,
        "stack": stack,
        "updated_at": app.updated_at,
        "web_url": f"https://{app.name}-{suffix}.herokuapp.com/",
    }


def formation(app: App, formation: Formation) -> dict[str, Any]:
    return {
        "app": app_ref(app),
        "command": formation.command,
        "created_at": formation.created_at,
        "dyno_size": {"id": catalog.dyno_size_id(formation.size), "name": formation.size},
        "id": formation.id,
        "quantity": formation.quantity,
        "size": formation.size,
        "type": formation.type,
        "updated_at": formation.updated_at,
    }


def dyno(app: App, dyno: Dyno) -> dict[str, Any]:
    return {
        "attach_url": None,
        "command": dyno.command,
        "created_at": dyno.created_at,
        "id": dyno.id,
        "name": dyno.name,
        "release": {"id": dyno.release_id, "version": dyno.release_version},
        "app": app_ref(app),
        "size": dyno.size,
        "state": dyno.state,
        "type": dyno.type,
        "updated_at": dyno.created_at,
    }


def release(world: World, app: App, release: Release) -> dict[str, Any]:
    current = world.releases.current(app)
    status = world.release_status(release)
    return {
        "addon_plan_names": list(release.addon_plan_names),
        "artifacts": [],
        "app": app_ref(app),
        "created_at": release.created_at,
        "description": release.description,
        "id": release.id,
        "updated_at": release.created_at,
        "slug": None,
        "status": status,
        "user": {"id": world.owner_id, "email": world.owner_email},
        "version": release.version,
        # The app runs its newest succeeded release; a pending or failed one is not current.
        "current": release is current,
        "output_stream_url": None,
        "eligible_for_rollback": status == "succeeded" and release is not current,
    }


def collaborator(world: World, found: Collaborator) -> dict[str, Any]:
    return {
        "app": app_ref(world.apps[found.app_id]),
        "created_at": found.created_at,
        "id": found.id,
        "permissions": [
            {"name": name, "description": PERMISSIONS[name]} for name in found.permissions
        ],
        "role": found.role,
        "updated_at": found.updated_at,
        "user": {"email": found.email, "federated": found.federated, "id": found.user_id},
    }


def plan(plan: catalog.Plan) -> dict[str, Any]:
    return {
        "addon_service": {"id": catalog.SERVICE_ID, "name": catalog.SERVICE},
        "created_at": _BUILD_DATE,
        "compliance": ["HIPAA", "PCI"] if plan.shield else None,
        "default": plan.slug == "essential-0",
        "description": f"Heroku Postgres {plan.human_name}",
        "human_name": plan.human_name,
        "id": plan.id,
        "installable_inside_private_network": plan.in_private_space,
        "installable_outside_private_network": not plan.in_private_space,
        "name": plan.name,
        "price": {"cents": plan.cents, "contract": False, "unit": "month"},
        "space_default": False,
        "state": "public",
        "updated_at": _BUILD_DATE,
        "visible": True,
    }


def addon(world: World, addon: Addon, *, state: str | None = None) -> dict[str, Any]:
    billing = world.apps[addon.app_id]
    return {
        "actions": [],
        "addon_service": {"id": catalog.SERVICE_ID, "name": catalog.SERVICE},
        "billing_entity": {"id": billing.id, "name": billing.name, "type": "app"},
        "app": app_ref(billing),
        "billed_price": {"cents": addon.plan.cents, "contract": False, "unit": "month"},
        "config_vars": world.addon_config_var_names(addon),
        "created_at": addon.created_at,
        "id": addon.id,
        "name": addon.name,
        "plan": {"id": addon.plan.id, "name": addon.plan.name},
        "provider_id": addon.provider_id,
        "provision_message": addon.provision_message,
        "state": state or world.addon_state(addon),
        "updated_at": addon.updated_at,
        "web_url": f"https://data.heroku.com/datastores/{addon.id}",
    }


def attachment(world: World, att: Attachment, *, include: frozenset[str]) -> dict[str, Any]:
    """An attachment; `include` holds `Accept-Inclusion` items (`addon:plan`, `config_vars`)."""
    target = world.addons[att.addon_id]
    body: dict[str, Any] = {
        "addon": {
            "id": target.id,
            "name": target.name,
            "app": app_ref(world.apps[target.app_id]),
        },
        "app": app_ref(world.apps[att.app_id]),
        "created_at": att.created_at,
        "id": att.id,
        "name": att.name,
        "namespace": att.namespace,
        "updated_at": att.updated_at,
        "web_url": f"https://data.heroku.com/datastores/{target.id}",
        "log_input_url": None,
    }
    if "addon:plan" in include:
        body["addon"]["plan"] = {"id": target.plan.id, "name": target.plan.name}
    if "config_vars" in include:
        body["config_vars"] = [f"{att.name}_URL"]
    return body


def database(world: World, addon: Addon) -> dict[str, Any]:
    """`GET /client/v11/databases/{id}`: the Data API's view of one Heroku Postgres database."""
    status = world.database_status(addon)
    leader = world.addons.get(status.leader_id) if status.leader_id else None
    url = world.backend.url(addon.id)
    following = world.backend.url(leader.id) if leader else None
    user, _, rest = url.removeprefix("postgres://").partition(":")
    password, _, location = rest.partition("@")
    host, _, db_name = location.partition("/")
    # Simulated writes grow the database by a megabyte per thousand commits.
    num_bytes = addon.data_bytes + (status.commits // 1000) * _MEGABYTE
    info: list[dict[str, Any]] = [
        {"name": "Plan", "values": [addon.plan.human_name]},
        {"name": "Status", "values": ["available" if status.available else "preparing"]},
        {"name": "Data Size", "values": [_size(num_bytes)]},
        {"name": "Tables", "values": [3]},
        {"name": "PG Version", "values": [addon.version]},
        {"name": "Connections", "values": ["3/500"]},
        {"name": "Connection Pooling", "values": ["Available"]},
        {"name": "Credentials", "values": [len(addon.credentials)]},
        {"name": "Fork/Follow", "values": [_fork_follow(world, addon)]},
        {"name": "Created", "values": [addon.created_at.replace("T", " ").replace("Z", " UTC")]},
    ]
    if following is not None:
        info.append({"name": "Following", "values": [following], "resolve_db_name": True})
        if status.behind_by is not None:
            info.append({"name": "Behind By", "values": [f"{status.behind_by} commits"]})
    followers = [world.backend.url(f.id) for f in world.followers(addon)]
    if followers:
        info.append({"name": "Followers", "values": followers, "resolve_db_name": True})
    info.append({"name": "Maintenance", "values": ["not required"]})
    return {
        "addon_id": addon.id,
        "name": addon.name,
        "heroku_resource_id": addon.provider_id,
        "created_at": addon.created_at,
        "formation": {"id": addon.id, "primary": addon.id},
        "metaas_source": "shogun",
        "metaas_server_source": "shogun",
        "plan": addon.plan.slug,
        "port": int(host.rpartition(":")[2]),
        "database_name": db_name,
        "database_user": user,
        "database_password": password,
        "resource_url": url,
        "waiting?": not status.available,
        "credentials": len(addon.credentials),
        "leader": {"addon_id": leader.id, "name": leader.name} if leader else None,
        "following": following,
        "info": info,
        "num_bytes": num_bytes,
        "num_connections": 3,
        "num_connections_waiting": 0,
        "num_tables": 3,
        "postgres_version": addon.version,
        "available_for_ingress": status.available,
        "hot_standby?": leader is not None,
        "is_in_recovery": leader is not None,
        "standalone?": leader is None,
        "current_transaction": None,
        "target_transaction": None,
        "status_updated_at": addon.updated_at,
        "valid": "valid",
    }


def _fork_follow(world: World, addon: Addon) -> str:
    if not addon.plan.can_follow:
        return "Unsupported"
    return "Temporarily Unavailable" if world.follow_blocked(addon) else "Available"


def _size(num_bytes: int) -> str:
    """Bytes as pg:info shows them, e.g. "8.0 MB" or "80.0 GB"."""
    value, units = num_bytes / 1024, ["kB", "MB", "GB", "TB"]
    unit = units.pop(0)
    while value >= 1024 and units:
        value, unit = value / 1024, units.pop(0)
    return f"{value:.1f} {unit}"


def wait_status(world: World, addon: Addon) -> dict[str, Any]:
    available = world.database_status(addon).available
    return {
        "message": "available" if available else "pending",
        "waiting?": not available,
        "error?": False,
    }
