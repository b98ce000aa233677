"""The stand-in's HTTP face: Platform API and Data API routes on one aiohttp application.

Every API request passes, in order: armed faults, bearer auth, the Accept check, the token
bucket, the contract check, then its route. Every answer carries `RateLimit-Remaining` and
`Request-Id`, and every request is recorded in `world.calls`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from sandbox.heroku import control, wire
from sandbox.heroku.contract import Contract
from sandbox.heroku.faults import Fault
from sandbox.heroku.paging import Key, paginate, parse_range
from sandbox.heroku.world import ApiError, Call, Violation, World

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

WORLD = web.AppKey("world", World)
_BODY = web.RequestKey("standin.body", object)
_INCLUDE = web.RequestKey("standin.include", frozenset[str])
_MEDIA_TYPE = "application/vnd.heroku+json"
_VERSIONS = frozenset({"3", "3.sdk"})
_FREE_PATHS = frozenset({"/account/rate-limits"})  # documented not to cost a token


def create_app(
    world: World,
    *,
    api_key: str,
    contracts_dir: Path | None,
    check_responses: bool = False,
) -> web.Application:
    """Serve both APIs (the path decides which) plus the `/_standin/` control API.

    With `contracts_dir`, requests are checked against the published contracts; with
    `check_responses` too, every answer is, and misfits land in `world.violations`.
    """
    contract = Contract(contracts_dir) if contracts_dir is not None else None
    app = web.Application(
        middlewares=[_api_middleware(world, api_key, contract, check_responses=check_responses)]
    )
    app[WORLD] = world
    app.add_routes(_PLATFORM_ROUTES + _DATA_ROUTES)
    control.register(app, world)
    return app


# -- middleware ----------------------------------------------------------------------------


def _api_middleware(
    world: World, api_key: str, contract: Contract | None, *, check_responses: bool
) -> Any:
    expected = f"Bearer {api_key}".encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(control.PREFIX):
            return await handler(request)
        api = "data" if Contract.is_data_path(request.path) else "platform"
        started, clock = time.time(), time.perf_counter()
        body, body_error = await _read_body(request)
        request[_BODY] = body
        fault = world.take_fault(request.method, request.path)
        if fault is not None and fault.delay_seconds:
            await asyncio.sleep(fault.delay_seconds)
        answers_instead = (
            fault is not None
            and not fault.after
            and (fault.status is not None or fault.drop_connection)
        )
        if fault is not None and answers_instead:
            response: web.StreamResponse = _fault_response(fault)
        else:
            response = await serve(request, handler, body_error)
            if fault is not None and fault.after and fault.status is not None:
                response = _fault_response(fault)
        dropped = fault is not None and fault.drop_connection
        status = None if dropped else response.status
        world.calls.append(
            Call(
                request.method,
                request.path,
                _recordable(request, body),
                status,
                api,
                started,
                time.perf_counter() - clock,
            )
        )
        if dropped and request.transport is not None:
            request.transport.close()
        response.headers["RateLimit-Remaining"] = str(world.bucket.remaining)
        response.headers["Request-Id"] = str(uuid.uuid4())
        if check_responses and contract is not None and not dropped:
            _check_response(world, contract, request, response)
        return response

    async def serve(
        request: web.Request, handler: Handler, body_error: str | None
    ) -> web.StreamResponse:
        try:
            _authenticate(request, expected)
            _check_accept(world, request)
            if request.path not in _FREE_PATHS and not world.bucket.take():
                raise ApiError(
                    429,
                    "rate_limit",
                    "Your account reached the API rate limit. "
                    "Please wait a few minutes before making new requests.",
                )
            if body_error is not None:
                _violate(world, request, "invalid_json", body_error)
                raise ApiError(400, "bad_request", body_error)
            if contract is not None:
                problem = contract.check_request(request.method, request.path, request[_BODY])
                if problem is not None:
                    _violate(world, request, problem.kind, problem.message)
                    raise ApiError(problem.status, problem.id, problem.message)
            return await handler(request)
        except ApiError as error:
            return _error(error)
        except web.HTTPException as exc:
            detail = f"The stand-in does not serve {request.method} {request.path}."
            _violate(world, request, "unserved", f"{detail} ({exc.status})")
            return _error(ApiError(404, "not_found", detail))

    return middleware


async def _read_body(request: web.Request) -> tuple[Any, str | None]:
    raw = await request.read()
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, "The request body is not valid JSON."


def _authenticate(request: web.Request, expected: bytes) -> None:
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, expected):
        raise ApiError(401, "unauthorized", "Invalid credentials provided.")


def _check_accept(world: World, request: web.Request) -> None:
    accept = request.headers.get("Accept", "")
    media, *raw_params = (part.strip() for part in accept.split(";"))
    params = dict(p.partition("=")[::2] for p in raw_params)
    version = params.get("version", "").strip()
    if media != _MEDIA_TYPE or version not in _VERSIONS:
        message = (
            "Please specify a version along with Heroku's API MIME type. "
            f"For example, `Accept: {_MEDIA_TYPE}; version=3`."
        )
        _violate(world, request, "bad_accept", f"Accept: {accept or '<missing>'}")
        raise ApiError(400, "bad_request", message)
    # Inclusions only exist in the 3.sdk variant, so plain version=3 answers stay schema-exact.
    include: frozenset[str] = frozenset()
    if version == "3.sdk":
        raw = request.headers.get("Accept-Inclusion", "")
        include = frozenset(item.strip() for item in raw.split(",") if item.strip())
    request[_INCLUDE] = include


def _fault_response(fault: Fault) -> web.Response:
    response = web.json_response(fault.error_body(), status=fault.status or 500)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def _error(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def _secret_bearing(request: web.Request) -> bool:
    return request.path.endswith("/config-vars")


def _recordable(request: web.Request, body: Any) -> Any:
    """The body as recorded: config var values are secrets, so only their names are kept."""
    if _secret_bearing(request) and isinstance(body, dict):
        return dict.fromkeys(body, "<redacted>")
    return body


def _violate(world: World, request: web.Request, kind: str, detail: str) -> None:
    if _secret_bearing(request) and kind == "invalid_body":
        detail = "the config vars body does not fit the schema (values withheld)"
    world.violations.append(Violation(kind, request.method, request.path, detail))


def _check_response(
    world: World, contract: Contract, request: web.Request, response: web.StreamResponse
) -> None:
    if request.get(_INCLUDE) or not isinstance(response, web.Response) or response.text is None:
        return
    errors = contract.validate_response(
        request.method, request.path, response.status, json.loads(response.text)
    )
    if errors:
        _violate(world, request, "response", "; ".join(errors))


# -- helpers for routes --------------------------------------------------------------------


def _world(request: web.Request) -> World:
    return request.app[WORLD]


def _body(request: web.Request) -> dict[str, Any]:
    body = request[_BODY]
    return body if isinstance(body, dict) else {}


def _required(body: Mapping[str, Any], name: str) -> Any:
    # The contract check normally catches this first; without contracts it is the only guard.
    if name not in body:
        raise ApiError(422, "invalid_params", f"Missing required param: {name}.")
    return body[name]


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)


def _list(
    request: web.Request,
    items: Sequence[T],
    render: Callable[[T], Any],
    fields: Mapping[str, Callable[[T], Key]],
) -> web.Response:
    """A list answer paged by the request's Range header: 206 and Next-Range when truncated."""
    world = _world(request)
    rng = parse_range(request.headers.get("Range"), fields=fields, page_size=world.page_size)
    page = paginate(items, rng, fields[rng.field])
    response = _json([render(item) for item in page.items], 206 if page.partial else 200)
    if page.content_range is not None:
        response.headers["Content-Range"] = page.content_range
    if page.next_range is not None:
        response.headers["Next-Range"] = page.next_range
    return response


# -- Platform API --------------------------------------------------------------------------

routes = web.RouteTableDef()


@routes.get("/apps/{app}")
async def app_info(request: web.Request) -> web.Response:
    world = _world(request)
    return _json(wire.app(world, world.app(request.match_info["app"])))


@routes.patch("/apps/{app}")
async def app_update(request: web.Request) -> web.Response:
    world = _world(request)
    body = _body(request)
    if "build_stack" in body:
        raise ApiError(422, "invalid_params", "The stand-in does not change stacks.")
    app = world.update_app(
        world.app(request.match_info["app"]),
        maintenance=body.get("maintenance"),
        name=body.get("name"),
    )
    return _json(wire.app(world, app))


@routes.get("/apps/{app}/formation")
async def formation_list(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _list(
        request,
        list(app.formation.values()),
        lambda f: wire.formation(app, f),
        {"id": lambda f: f.id, "type": lambda f: f.type},
    )


@routes.patch("/apps/{app}/formation")
async def formation_update(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    changed = world.update_formation(app, _required(_body(request), "updates"))
    return _json([wire.formation(app, f) for f in changed])


@routes.get("/apps/{app}/dynos")
async def dyno_list(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _list(
        request,
        app.dynos,
        lambda d: wire.dyno(app, d),
        {"id": lambda d: d.id, "name": lambda d: d.name},
    )


@routes.post("/apps/{app}/dynos/{dyno}/actions/stop")
async def dyno_stop(request: web.Request) -> web.Response:
    world = _world(request)
    world.stop_dyno(world.app(request.match_info["app"]), request.match_info["dyno"])
    return _json({}, 202)


@routes.post("/actions/addon-attachments/resolve")
async def attachment_resolve(request: web.Request) -> web.Response:
    world = _world(request)
    body = _body(request)
    found = world.resolve_attachments(
        _required(body, "addon_attachment"), app=body.get("app"), service=body.get("addon_service")
    )
    include = request[_INCLUDE]
    return _json([wire.attachment(world, att, include=include) for att in found])


@routes.get("/apps/{app}/addons")
async def addon_list(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _list(
        request,
        world.addons_for_app(app),
        lambda a: wire.addon(world, a),
        {"id": lambda a: a.id, "name": lambda a: a.name},
    )


@routes.get("/apps/{app}/addons/{addon}")
async def addon_info_by_app(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _json(wire.addon(world, world.addon_for_app(app, request.match_info["addon"])))


@routes.get("/addons/{addon}")
async def addon_info(request: web.Request) -> web.Response:
    world = _world(request)
    return _json(wire.addon(world, world.addon(request.match_info["addon"])))


@routes.post("/apps/{app}/addons")
async def addon_create(request: web.Request) -> web.Response:
    world = _world(request)
    body = _body(request)
    addon = world.create_addon(
        world.app(request.match_info["app"]),
        plan=_required(body, "plan"),
        config=body.get("config") or {},
        name=body.get("name"),
        attachment_name=(body.get("attachment") or {}).get("name"),
        confirm=body.get("confirm"),
    )
    return _json(wire.addon(world, addon), 201)


@routes.delete("/apps/{app}/addons/{addon}")
async def addon_destroy(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    force = _body(request).get("force") is True
    addon = world.destroy_addon(app, request.match_info["addon"], force=force)
    return _json(wire.addon(world, addon, state="deprovisioned"))


@routes.get("/apps/{app}/addon-attachments")
async def attachment_list_by_app(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _attachment_list(request, world.attachments_for_app(app))


@routes.get("/addons/{addon}/addon-attachments")
async def attachment_list_by_addon(request: web.Request) -> web.Response:
    world = _world(request)
    addon = world.addon(request.match_info["addon"])
    return _attachment_list(request, world.attachments_of(addon))


def _attachment_list(request: web.Request, attachments: Sequence[Any]) -> web.Response:
    world = _world(request)
    include = request[_INCLUDE]
    return _list(
        request,
        attachments,
        lambda att: wire.attachment(world, att, include=include),
        {"id": lambda att: att.id, "name": lambda att: att.name},
    )


@routes.post("/addon-attachments")
async def attachment_create(request: web.Request) -> web.Response:
    world = _world(request)
    body = _body(request)
    att = world.attach(
        addon=_required(body, "addon"),
        app=_required(body, "app"),
        name=body.get("name"),
        namespace=body.get("namespace"),
        confirm=body.get("confirm"),
    )
    return _json(wire.attachment(world, att, include=frozenset()), 201)


@routes.delete("/addon-attachments/{attachment}")
async def attachment_delete(request: web.Request) -> web.Response:
    world = _world(request)
    # Render before detaching: the answer names the add-on and app it was attached to.
    att = world.attachment(request.match_info["attachment"])
    rendered = wire.attachment(world, att, include=frozenset())
    world.detach(att.id)
    return _json(rendered)


@routes.get("/apps/{app}/releases")
async def release_list(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _list(
        request,
        app.releases,
        lambda r: wire.release(world, app, r),
        {"version": lambda r: r.version, "id": lambda r: r.id},
    )


@routes.get("/apps/{app}/releases/{release}")
async def release_info(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _json(wire.release(world, app, world.release(app, request.match_info["release"])))


@routes.get("/apps/{app}/collaborators")
async def collaborator_list(request: web.Request) -> web.Response:
    world = _world(request)
    app = world.app(request.match_info["app"])
    return _list(
        request,
        world.collaborators_of(app),
        lambda c: wire.collaborator(world, c),
        {"id": lambda c: c.id},
    )


@routes.get("/apps/{app}/config-vars")
async def config_vars(request: web.Request) -> web.Response:
    world = _world(request)
    return _json(world.config_vars(world.app(request.match_info["app"])))


@routes.get("/addon-services/{service}/plans/{plan}")
async def plan_info(request: web.Request) -> web.Response:
    world = _world(request)
    return _json(wire.plan(world.plan(request.match_info["service"], request.match_info["plan"])))


@routes.get("/account/rate-limits")
async def rate_limits(request: web.Request) -> web.Response:
    return _json({"remaining": _world(request).bucket.remaining})


_PLATFORM_ROUTES = list(routes)

# -- Data API ------------------------------------------------------------------------------

data_routes = web.RouteTableDef()


@data_routes.get("/client/v11/databases/{db}")
async def database_info(request: web.Request) -> web.Response:
    world = _world(request)
    return _json(wire.database(world, world.database(request.match_info["db"])))


@data_routes.get("/client/v11/databases/{db}/wait_status")
async def database_wait_status(request: web.Request) -> web.Response:
    world = _world(request)
    return _json(wire.wait_status(world, world.database(request.match_info["db"])))


@data_routes.put("/client/v11/databases/{db}/unfollow")
async def database_unfollow(request: web.Request) -> web.Response:
    world = _world(request)
    return _json({"message": world.unfollow(world.database(request.match_info["db"]))})


@data_routes.get("/client/v11/databases/{db}/followers")
async def database_followers(request: web.Request) -> web.Response:
    world = _world(request)
    leader = world.database(request.match_info["db"])
    return _json([wire.database(world, f) for f in world.followers(leader)])


_DATA_ROUTES = list(data_routes)
