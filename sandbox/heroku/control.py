"""The `/_standin/` control API: seed apps, followers, shared databases, credentials and
collaborators; read state and recordings; tune rates and delays; arm faults and failing releases.

Unauthenticated and outside both Heroku APIs; only tests and the sandbox call it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.heroku import wire
from sandbox.heroku.faults import Fault
from sandbox.heroku.world import ApiError, World

PREFIX = "/_standin/"

Route = Callable[[World, Any], Any]


def register(app: web.Application, world: World) -> None:
    """Add the control routes, each bound to `world`."""

    def bind(route: Route, status: int = 200) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else {}
                return web.json_response(route(world, body), status=status)
            except ApiError as error:
                return web.json_response(error.body(), status=error.status)
            except (ValueError, TypeError, KeyError) as error:
                body = {"id": "invalid_params", "message": f"{type(error).__name__}: {error}"}
                return web.json_response(body, status=422)

        return handler

    def cleared(items: list[Any]) -> list[Any]:
        items.clear()
        return []

    app.router.add_post(PREFIX + "apps", bind(_seed_app, 201))
    app.router.add_get(PREFIX + "state", bind(lambda w, _: w.state()))
    app.router.add_get(PREFIX + "calls", bind(lambda w, _: [c.to_json() for c in w.calls]))
    app.router.add_delete(PREFIX + "calls", bind(lambda w, _: cleared(w.calls)))
    app.router.add_get(
        PREFIX + "violations", bind(lambda w, _: [v.to_json() for v in w.violations])
    )
    app.router.add_delete(PREFIX + "violations", bind(lambda w, _: cleared(w.violations)))
    app.router.add_post(PREFIX + "settings", bind(_settings))
    app.router.add_post(PREFIX + "dynos", bind(_add_dyno, 201))
    app.router.add_post(PREFIX + "followers", bind(_seed_follower, 201))
    app.router.add_post(PREFIX + "attachments", bind(_attach_to, 201))
    app.router.add_post(PREFIX + "credentials", bind(_add_credential, 201))
    app.router.add_post(PREFIX + "collaborators", bind(_add_collaborator, 201))
    app.router.add_get(PREFIX + "release-failures", bind(_release_failures))
    app.router.add_post(PREFIX + "release-failures", bind(_add_release_failure, 201))
    app.router.add_delete(PREFIX + "release-failures", bind(_clear_release_failures))
    app.router.add_get(PREFIX + "faults", bind(lambda w, _: [f.to_json() for f in w.faults]))
    app.router.add_post(PREFIX + "faults", bind(_arm_faults, 201))
    app.router.add_delete(PREFIX + "faults", bind(lambda w, _: cleared(w.faults)))


def _seed_app(world: World, body: dict[str, Any]) -> dict[str, Any]:
    app = world.seed_app(
        body["name"],
        formation=body.get("formation"),
        database_plan=body.get("database_plan", "standard-0"),
        pooler=bool(body.get("pooler", False)),
        extra_attachments=body.get("extra_attachments", ()),
        maintenance=bool(body.get("maintenance", False)),
        credentials=body.get("credentials", ()),
        database_bytes=body.get("database_bytes"),
        database_version=body.get("database_version"),
    )
    return world.app_state(app)


def _seed_follower(world: World, body: dict[str, Any]) -> dict[str, Any]:
    addon = world.seed_follower(
        body["of"],
        body["app"],
        plan=body.get("plan", "standard-0"),
        attachment_name=body.get("attachment_name"),
    )
    return wire.addon(world, addon)


def _attach_to(world: World, body: dict[str, Any]) -> dict[str, Any]:
    att = world.attach_to(
        body["addon"], body["app"], body.get("name", "DATABASE"), body.get("namespace")
    )
    return wire.attachment(world, att, include=frozenset())


def _add_credential(world: World, body: dict[str, Any]) -> dict[str, Any]:
    addon = world.add_credential(body["addon"], body["name"])
    return {"addon": addon.name, "credentials": list(addon.credentials)}


def _add_collaborator(world: World, body: dict[str, Any]) -> dict[str, Any]:
    found = world.add_collaborator(
        body["app"],
        body["email"],
        role=body.get("role", "collaborator"),
        permissions=body.get("permissions", ()),
    )
    return wire.collaborator(world, found)


def _release_failures(world: World, _: Any) -> dict[str, list[str]]:
    """Armed patterns by app name."""
    return {world.app(app_id).name: found for app_id, found in world.releases.failures().items()}


def _add_release_failure(world: World, body: dict[str, Any]) -> dict[str, list[str]]:
    world.add_release_failure(body["app"], body["pattern"])
    return _release_failures(world, body)


def _clear_release_failures(world: World, body: dict[str, Any]) -> dict[str, list[str]]:
    world.clear_release_failures(body.get("app"))
    return _release_failures(world, body)


def _settings(world: World, body: dict[str, Any]) -> dict[str, Any]:
    world.configure(**body)
    return world.state()


def _add_dyno(world: World, body: dict[str, Any]) -> dict[str, Any]:
    app = world.app(body["app"])
    dyno = world.add_dyno(app, type=body.get("type", "run"), command=body.get("command", "bash"))
    return {"id": dyno.id, "name": dyno.name, "type": dyno.type}


def _arm_faults(world: World, body: Any) -> list[dict[str, Any]]:
    raw = body if isinstance(body, list) else [body]
    faults = [Fault.from_json(item) for item in raw]
    world.faults.extend(faults)
    return [f.to_json() for f in world.faults]
