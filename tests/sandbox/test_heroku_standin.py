"""The Heroku stand-in speaks the real wire formats and keeps Heroku's rules.

Every answer a test receives through `api` is checked against the published contracts, and
each test ends with no contract violation recorded unless it consumed the ones it provoked.
Time is a fake clock, so lag and rate-limit behaviour are exact and instant.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox import contracts
from sandbox.heroku import Contract, World, create_app
from sandbox.server import ThreadedServer

CONTRACTS = contracts.directory()
KEY = "test-api-key-0f1e2d3c"
V3 = "application/vnd.heroku+json; version=3"
APP = "example-app"
DATA_API_UNKNOWN = 0.5  # seconds a new add-on is unknown to the Data API, by default


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """An httpx client for the stand-in that checks every answer against the contracts."""

    def __init__(self, server: ThreadedServer, contract: Contract, clock: FakeClock) -> None:
        self.server = server
        self.contract = contract
        self.clock = clock
        self.http = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}", "Accept": V3}
        )

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        if response.content:
            errors = self.contract.validate_response(
                method, path, response.status_code, response.json()
            )
            assert errors == [], f"{method} {path} answered off-contract: {errors}"
        return response

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(method, f"{self.server.url}/_standin/{path}", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def control_refused(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A control call that must be refused with a 4xx Heroku-shaped error body."""
        response = httpx.request(method, f"{self.server.url}/_standin/{path}", json=body)
        assert 400 <= response.status_code < 500, response.text
        return dict(response.json())

    def advance(self, seconds: float) -> None:
        def move() -> None:
            self.clock.now += seconds

        self.server.call(move)

    def database(self, addon_id: str) -> dict[str, Any]:
        response = self("GET", f"/client/v11/databases/{addon_id}")
        assert response.status_code == 200
        return dict(response.json())

    def info(self, addon_id: str) -> dict[str, list[Any]]:
        return {row["name"]: row["values"] for row in self.database(addon_id)["info"]}

    def behind_by(self, addon_id: str) -> int | None:
        rows = self.info(addon_id)
        if "Behind By" not in rows:
            return None
        return int(str(rows["Behind By"][0]).split()[0])

    def attachment(self, name: str, app: str = APP) -> dict[str, Any]:
        response = self(
            "POST",
            "/actions/addon-attachments/resolve",
            json={"addon_attachment": name, "app": app},
        )
        assert response.status_code == 200, response.text
        return dict(response.json()[0])

    def follow(self, leader: str, plan: str = "heroku-postgresql:standard-2") -> dict[str, Any]:
        response = self(
            "POST", f"/apps/{APP}/addons", json={"plan": plan, "config": {"follow": leader}}
        )
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(CONTRACTS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(clock: FakeClock) -> World:
    world = World(seed=7, clock=clock)
    world.configure(
        provision_seconds=60,
        initial_lag=1000,
        apply_rate=100,
        web_rate=5,
        worker_rate=2,
        replication_delay=1,
    )
    return world


@pytest.fixture
def api(world: World, contract: Contract, clock: FakeClock) -> Iterator[Api]:
    server = ThreadedServer(
        create_app(world, api_key=KEY, contracts_dir=CONTRACTS, check_responses=True)
    ).start()
    client = Api(server, contract, clock)
    client.control("POST", "apps", {"name": APP, "formation": {"web": 2, "worker": 1}})
    try:
        yield client
        assert client.control("GET", "violations") == []
    finally:
        client.http.close()
        server.stop()


def take_violations(api: Api) -> list[dict[str, str]]:
    found: list[dict[str, str]] = api.control("GET", "violations")
    api.control("DELETE", "violations")
    return found


def provisioned_follower(api: Api) -> dict[str, Any]:
    leader = api.attachment("DATABASE")["addon"]
    follower = api.follow(leader["name"])
    api.advance(60)
    return follower


# -- auth, headers, contract ---------------------------------------------------------------


def test_a_request_without_the_right_bearer_token_is_refused_with_401(api: Api) -> None:
    for headers in ({"Accept": V3}, {"Accept": V3, "Authorization": "Bearer wrong"}):
        response = httpx.get(f"{api.server.url}/apps/{APP}", headers=headers)
        assert response.status_code == 401
        assert response.json()["id"] == "unauthorized"
        assert KEY not in response.text


def test_a_request_without_the_version_3_accept_header_is_refused_with_400(api: Api) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    for accept in (None, "application/json", "application/vnd.heroku+json; version=2"):
        headers = auth | ({"Accept": accept} if accept else {})
        response = httpx.get(f"{api.server.url}/apps/{APP}", headers=headers)
        assert response.status_code == 400
        assert response.json()["id"] == "bad_request"
    assert [v["kind"] for v in take_violations(api)] == ["bad_accept"] * 3
    sdk = api("GET", f"/apps/{APP}", headers={"Accept": V3 + ".sdk"})
    assert sdk.status_code == 200


def test_every_answer_carries_rate_limit_remaining_and_a_request_id(api: Api) -> None:
    for path in (f"/apps/{APP}", "/apps/missing-app", f"/apps/{APP}/config-vars"):
        response = api("GET", path)
        assert int(response.headers["RateLimit-Remaining"]) > 0
        assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["Request-Id"])
    missing = api("GET", "/apps/missing-app")
    assert (missing.status_code, missing.json()["id"]) == (404, "not_found")


def test_every_served_endpoint_answers_with_a_schema_valid_body(api: Api, world: World) -> None:
    leader = api.attachment("DATABASE")["addon"]
    follower = api.follow(leader["name"])
    api.advance(60)
    api.control("POST", "dynos", {"app": APP})
    release = api("GET", f"/apps/{APP}/releases").json()[-1]
    created = api(
        "POST",
        "/addon-attachments",
        json={"addon": follower["name"], "app": APP, "name": "REPORTING"},
    ).json()
    calls = [
        ("GET", f"/apps/{APP}", None),
        ("PATCH", f"/apps/{APP}", {"maintenance": True}),
        ("GET", f"/apps/{APP}/formation", None),
        ("PATCH", f"/apps/{APP}/formation", {"updates": [{"type": "web", "quantity": 1}]}),
        ("GET", f"/apps/{APP}/dynos", None),
        ("POST", f"/apps/{APP}/dynos/web.1/actions/stop", None),
        ("POST", "/actions/addon-attachments/resolve", {"addon_attachment": "DATABASE"}),
        ("GET", f"/apps/{APP}/addons", None),
        ("GET", f"/apps/{APP}/addons/{follower['name']}", None),
        ("GET", f"/addons/{follower['id']}", None),
        ("GET", f"/apps/{APP}/addon-attachments", None),
        ("GET", f"/addons/{follower['id']}/addon-attachments", None),
        ("DELETE", f"/addon-attachments/{created['id']}", None),
        ("GET", f"/apps/{APP}/releases", None),
        ("GET", f"/apps/{APP}/releases/{release['version']}", None),
        ("GET", f"/apps/{APP}/releases/{release['id']}", None),
        ("GET", f"/apps/{APP}/config-vars", None),
        ("GET", f"/apps/{APP}/collaborators", None),
        ("GET", "/addon-services/heroku-postgresql/plans/standard-2", None),
        ("GET", "/account/rate-limits", None),
        ("GET", f"/client/v11/databases/{follower['id']}", None),
        ("GET", f"/client/v11/databases/{leader['id']}", None),
        ("GET", f"/client/v11/databases/{follower['id']}/wait_status", None),
        ("GET", f"/client/v11/databases/{leader['id']}/followers", None),
        ("PUT", f"/client/v11/databases/{follower['id']}/unfollow", None),
        ("DELETE", f"/apps/{APP}/addons/{follower['id']}", {"force": True}),
    ]
    for method, path, body in calls:
        response = api(method, path, json=body) if body is not None else api(method, path)
        assert 200 <= response.status_code < 300, (method, path, response.text)
    # Every route the stand-in serves was exercised with a success above (or in the set-up).
    served = {
        (route.method, route.resource.canonical)
        for route in create_app(World(), api_key="k", contracts_dir=None).router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not route.resource.canonical.startswith("/_standin/")
    }
    succeeded = [(c.method, c.path) for c in world.calls if c.status and c.status < 300]
    for method, template in served:
        pattern = re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$")
        assert any(m == method and pattern.match(p) for m, p in succeeded), (method, template)


def test_a_body_that_breaks_the_schema_is_refused_with_422_and_recorded(
    api: Api, world: World
) -> None:
    before = len(world.addons)
    # The CLI's object form; the published schema only accepts a plan id or name string.
    response = api(
        "POST", f"/apps/{APP}/addons", json={"plan": {"name": "heroku-postgresql:standard-2"}}
    )
    assert response.status_code == 422
    assert response.json()["id"] == "invalid_params"
    assert len(world.addons) == before
    [violation] = take_violations(api)
    assert violation["kind"] == "invalid_body"
    assert violation["path"] == f"/apps/{APP}/addons"


def test_a_request_matching_no_schema_link_is_refused_with_400_and_recorded(api: Api) -> None:
    response = api("GET", f"/apps/{APP}/no-such-collection")
    assert (response.status_code, response.json()["id"]) == (400, "bad_request")
    assert [v["kind"] for v in take_violations(api)] == ["no_link"]


def test_a_schema_link_the_stand_in_does_not_serve_answers_404_and_is_recorded(
    api: Api,
) -> None:
    response = api("GET", "/apps")
    assert (response.status_code, response.json()["id"]) == (404, "not_found")
    assert [v["kind"] for v in take_violations(api)] == ["unserved"]


def test_the_response_check_rejects_missing_and_unlisted_properties(
    api: Api, contract: Contract
) -> None:
    app = api("GET", f"/apps/{APP}").json()
    assert contract.validate_response("GET", f"/apps/{APP}", 200, app) == []
    without = {k: v for k, v in app.items() if k != "maintenance"}
    assert any(
        "maintenance" in e for e in contract.validate_response("GET", "/apps/x", 200, without)
    )
    extra = app | {"surprise": 1}
    assert any("surprise" in e for e in contract.validate_response("GET", "/apps/x", 200, extra))
    bad_id = app | {"id": "not-a-uuid"}
    assert contract.validate_response("GET", "/apps/x", 200, bad_id) != []


def test_data_api_answers_fit_the_shogun_captures(api: Api, contract: Contract) -> None:
    follower = provisioned_follower(api)
    path = f"/client/v11/databases/{follower['id']}"
    body = api.database(follower["id"])
    assert contract.validate_response("GET", path, 200, body) == []
    assert body["leader"]["name"] == api.attachment("DATABASE")["addon"]["name"]
    assert body["following"].startswith("postgres://")
    status = api("GET", f"{path}/wait_status").json()
    assert status == {"message": "available", "waiting?": False, "error?": False}
    broken = {"waiting?": False}
    assert contract.validate_response("GET", f"{path}/wait_status", 200, broken) != []


# -- paging --------------------------------------------------------------------------------


def test_paging_with_page_size_2_answers_206_with_next_range_and_the_pages_join(
    api: Api, world: World
) -> None:
    api.control(
        "POST",
        "apps",
        {"name": "paged-app", "extra_attachments": ["ALPHA", "BETA", "GAMMA"], "pooler": True},
    )
    api.control("POST", "settings", {"page_size": 2})
    seen: list[str] = []
    headers: dict[str, str] = {}
    statuses = []
    while True:
        response = api("GET", "/apps/paged-app/addon-attachments", headers=headers)
        statuses.append(response.status_code)
        seen += [att["id"] for att in response.json()]
        if "Next-Range" not in response.headers:
            break
        assert response.headers["Content-Range"].startswith("id ")
        headers = {"Range": response.headers["Next-Range"]}
    assert statuses == [206, 206, 200]
    expected = {att.id for att in world.attachments_for_app(world.app("paged-app"))}
    assert len(seen) == len(expected) == 5
    assert set(seen) == expected


def test_releases_ranged_by_version_descending_come_newest_first(api: Api) -> None:
    api(
        "POST",
        "/addon-attachments",
        json={"addon": api.attachment("DATABASE")["addon"]["id"], "app": APP},
    )
    response = api(
        "GET", f"/apps/{APP}/releases", headers={"Range": "version ..; max=2, order=desc"}
    )
    assert response.status_code == 206
    versions = [r["version"] for r in response.json()]
    assert versions == [3, 2]
    assert response.headers["Next-Range"] == "version ]2..; max=2, order=desc"
    rest = api("GET", f"/apps/{APP}/releases", headers={"Range": response.headers["Next-Range"]})
    assert (rest.status_code, [r["version"] for r in rest.json()]) == (200, [1])


def test_an_unknown_range_field_is_refused_with_400(api: Api) -> None:
    response = api("GET", f"/apps/{APP}/releases", headers={"Range": "colour ..; max=2"})
    assert (response.status_code, response.json()["id"]) == (400, "bad_request")


# -- add-ons, attachments, promote ---------------------------------------------------------


def test_a_follower_is_attached_as_a_heroku_postgresql_colour_with_a_generated_name(
    api: Api,
) -> None:
    leader = api.attachment("DATABASE")["addon"]
    follower = api.follow("DATABASE_URL")
    assert re.fullmatch(r"postgresql-[a-z]+-\d{5}", follower["name"])
    assert follower["state"] == "provisioning"
    [config_var] = follower["config_vars"]
    assert re.fullmatch(r"HEROKU_POSTGRESQL_[A-Z]+_URL", config_var)
    api.advance(DATA_API_UNKNOWN)
    assert api.database(follower["id"])["leader"]["addon_id"] == leader["id"]
    assert config_var in api("GET", f"/apps/{APP}/config-vars").json()


def test_a_taken_addon_name_is_refused_with_422(api: Api) -> None:
    taken = api.attachment("DATABASE")["addon"]["name"]
    response = api(
        "POST",
        f"/apps/{APP}/addons",
        json={"plan": "heroku-postgresql:standard-0", "name": taken},
    )
    assert (response.status_code, response.json()["id"]) == (422, "invalid_params")


def test_an_essential_plan_cannot_follow(api: Api) -> None:
    response = api(
        "POST",
        f"/apps/{APP}/addons",
        json={"plan": "heroku-postgresql:essential-0", "config": {"follow": "DATABASE"}},
    )
    assert response.status_code == 422


def test_promote_over_the_last_billing_attachment_is_refused_with_422_and_changes_nothing(
    api: Api, world: World
) -> None:
    old = api.attachment("DATABASE")["addon"]
    follower = provisioned_follower(api)
    before = api("GET", f"/apps/{APP}/config-vars").json()
    response = api(
        "POST",
        "/addon-attachments",
        json={"addon": follower["name"], "app": APP, "confirm": APP, "name": "DATABASE"},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith(
        f"DATABASE on {APP} is the last billing attachment to {old['name']}"
    )
    assert api("GET", f"/apps/{APP}/config-vars").json() == before
    assert api.attachment("DATABASE")["addon"]["id"] == old["id"]


def test_replacing_an_attachment_without_confirm_is_refused(api: Api) -> None:
    follower = provisioned_follower(api)
    response = api(
        "POST", "/addon-attachments", json={"addon": follower["id"], "app": APP, "name": "DATABASE"}
    )
    assert (response.status_code, response.json()["id"]) == (400, "confirmation_required")


def test_promote_repoints_database_url_keeps_an_alias_and_records_both_releases(
    api: Api, world: World
) -> None:
    api.control("POST", "apps", {"name": "pooled-app", "pooler": True})
    old = api.attachment("DATABASE", "pooled-app")["addon"]
    created = api(
        "POST",
        "/apps/pooled-app/addons",
        json={"plan": "heroku-postgresql:standard-2", "config": {"follow": old["name"]}},
    ).json()
    api.advance(60)
    alias = api("POST", "/addon-attachments", json={"addon": old["name"], "app": "pooled-app"})
    assert alias.status_code == 201
    assert re.fullmatch(r"HEROKU_POSTGRESQL_[A-Z]+", alias.json()["name"])
    promote = api(
        "POST",
        "/addon-attachments",
        json={
            "addon": created["name"],
            "app": "pooled-app",
            "confirm": "pooled-app",
            "name": "DATABASE",
            "namespace": None,
        },
    )
    assert promote.status_code == 201
    pool = api(
        "POST",
        "/addon-attachments",
        json={
            "addon": created["name"],
            "app": "pooled-app",
            "confirm": "pooled-app",
            "name": "DATABASE_CONNECTION_POOL",
            "namespace": "connection-pooling:default",
        },
    )
    assert pool.status_code == 201
    config = api("GET", "/apps/pooled-app/config-vars").json()
    assert config["DATABASE_URL"] == world.backend.url(created["id"])
    assert config[f"{alias.json()['name']}_URL"] == world.backend.url(old["id"])
    assert config["DATABASE_CONNECTION_POOL_URL"] == world.backend.url(created["id"], pooled=True)
    releases = api(
        "GET", "/apps/pooled-app/releases", headers={"Range": "version ..; max=5, order=desc"}
    ).json()
    descriptions = [r["description"] for r in releases]
    assert f"Detach DATABASE (@ref:{old['name']})" in descriptions
    assert f"Attach DATABASE (@ref:{created['name']})" in descriptions
    assert {r["status"] for r in releases} == {"succeeded"}
    assert releases[0]["current"] is True


def test_with_a_release_phase_promote_releases_stay_pending_for_release_seconds(
    api: Api,
) -> None:
    api.control("POST", "apps", {"name": "phased-app", "formation": {"web": 1, "release": 0}})
    api.control("POST", "settings", {"release_seconds": 30})
    old = api.attachment("DATABASE", "phased-app")["addon"]
    api("POST", "/addon-attachments", json={"addon": old["id"], "app": "phased-app"})

    def latest() -> dict[str, Any]:
        newest = {"Range": "version ..; max=1, order=desc"}
        return dict(api("GET", "/apps/phased-app/releases", headers=newest).json()[0])

    assert latest()["status"] == "pending"
    api.advance(30)
    assert latest()["status"] == "succeeded"
    assert "release" not in {d["type"] for d in api("GET", "/apps/phased-app/dynos").json()}


def test_destroy_removes_the_addon_its_attachments_and_config_vars(api: Api) -> None:
    follower = provisioned_follower(api)
    [config_var] = follower["config_vars"]
    response = api("DELETE", f"/apps/{APP}/addons/{follower['id']}", json={"force": False})
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["config_vars"]) == ("deprovisioned", [])
    assert api("GET", f"/apps/{APP}/addons/{follower['name']}").status_code == 404
    assert config_var not in api("GET", f"/apps/{APP}/config-vars").json()
    assert api("GET", f"/client/v11/databases/{follower['id']}").status_code == 404


def test_destroying_an_addon_attached_to_another_app_needs_force(api: Api) -> None:
    api.control("POST", "apps", {"name": "other-app", "database_plan": None})
    follower = provisioned_follower(api)
    api("POST", "/addon-attachments", json={"addon": follower["id"], "app": "other-app"})
    refused = api("DELETE", f"/apps/{APP}/addons/{follower['id']}", json={"force": False})
    assert refused.status_code == 422
    forced = api("DELETE", f"/apps/{APP}/addons/{follower['id']}", json={"force": True})
    assert forced.status_code == 200
    assert api("GET", "/apps/other-app/addon-attachments").json() == []


def test_resolve_404s_an_unknown_attachment(api: Api) -> None:
    response = api(
        "POST", "/actions/addon-attachments/resolve", json={"addon_attachment": "NOPE", "app": APP}
    )
    assert (response.status_code, response.json()["id"]) == (404, "not_found")


def test_plan_info_knows_postgres_plans_and_404s_unknown_ones(api: Api) -> None:
    for plan in ("essential-0", "standard-9", "premium-0", "private-4", "shield-9"):
        response = api("GET", f"/addon-services/heroku-postgresql/plans/{plan}")
        assert response.status_code == 200
        assert response.json()["name"] == f"heroku-postgresql:{plan}"
    assert api("GET", "/addon-services/heroku-postgresql/plans/gigantic-99").status_code == 404


# -- dynos, maintenance, lag ---------------------------------------------------------------


def test_maintenance_does_not_stop_dynos_but_a_formation_change_does(api: Api) -> None:
    def names() -> list[str]:
        return sorted(d["name"] for d in api("GET", f"/apps/{APP}/dynos").json())

    assert names() == ["web.1", "web.2", "worker.1"]
    api("PATCH", f"/apps/{APP}", json={"maintenance": True})
    assert names() == ["web.1", "web.2", "worker.1"]
    updated = api(
        "PATCH",
        f"/apps/{APP}/formation",
        json={"updates": [{"type": "web", "quantity": 0}, {"type": "worker", "quantity": 3}]},
    )
    assert sorted((f["type"], f["quantity"]) for f in updated.json()) == [("web", 0), ("worker", 3)]
    assert names() == ["worker.1", "worker.2", "worker.3"]


def test_scaling_an_unknown_process_type_is_refused_with_404(api: Api) -> None:
    response = api(
        "PATCH", f"/apps/{APP}/formation", json={"updates": [{"type": "clock", "quantity": 0}]}
    )
    assert (response.status_code, response.json()["id"]) == (404, "not_found")


def test_a_follower_waits_while_provisioning_and_reports_no_lag_until_available(
    api: Api,
) -> None:
    leader = api.attachment("DATABASE")["addon"]
    follower = api.follow(leader["name"])
    api.advance(DATA_API_UNKNOWN)
    wait = api("GET", f"/client/v11/databases/{follower['id']}/wait_status").json()
    assert wait["waiting?"] is True
    assert api.database(follower["id"])["waiting?"] is True
    assert api.behind_by(follower["id"]) is None
    api.advance(60 - DATA_API_UNKNOWN)
    assert api("GET", f"/apps/{APP}/addons/{follower['id']}").json()["state"] == "provisioned"
    # Starts initial_lag behind, then replays 100/s while the app writes 2*5 + 1*2 = 12/s.
    assert api.behind_by(follower["id"]) == 1000
    api.advance(5)
    assert api.behind_by(follower["id"]) == 1000 - 5 * 100 + 5 * 12


def test_follower_lag_falls_to_zero_in_maintenance_with_every_process_at_zero(api: Api) -> None:
    follower = provisioned_follower(api)
    api("PATCH", f"/apps/{APP}", json={"maintenance": True})
    api(
        "PATCH",
        f"/apps/{APP}/formation",
        json={"updates": [{"type": "web", "quantity": 0}, {"type": "worker", "quantity": 0}]},
    )
    first = api.behind_by(follower["id"])
    api.advance(5)
    second = api.behind_by(follower["id"])
    assert first is not None and second is not None and second < first
    api.advance(60)
    assert api.behind_by(follower["id"]) == 0


def test_follower_lag_stays_above_zero_while_a_worker_runs_in_maintenance(api: Api) -> None:
    follower = provisioned_follower(api)
    api("PATCH", f"/apps/{APP}", json={"maintenance": True})
    api("PATCH", f"/apps/{APP}/formation", json={"updates": [{"type": "web", "quantity": 0}]})
    api.advance(600)
    assert (api.behind_by(follower["id"]) or 0) > 0
    api("PATCH", f"/apps/{APP}/formation", json={"updates": [{"type": "worker", "quantity": 0}]})
    api.advance(10)
    assert api.behind_by(follower["id"]) == 0


def test_a_one_off_dyno_keeps_writing_until_it_is_stopped(api: Api) -> None:
    follower = provisioned_follower(api)
    api("PATCH", f"/apps/{APP}", json={"maintenance": True})
    api(
        "PATCH",
        f"/apps/{APP}/formation",
        json={"updates": [{"type": "web", "quantity": 0}, {"type": "worker", "quantity": 0}]},
    )
    one_off = api.control("POST", "dynos", {"app": APP})
    assert re.fullmatch(r"run\.\d{4}", one_off["name"])
    api.advance(600)
    assert (api.behind_by(follower["id"]) or 0) > 0
    stopped = api("POST", f"/apps/{APP}/dynos/{one_off['name']}/actions/stop")
    assert stopped.status_code == 202
    api.advance(10)
    assert api.behind_by(follower["id"]) == 0
    assert [d["name"] for d in api("GET", f"/apps/{APP}/dynos").json()] == []


def test_unfollow_stops_following_and_removes_the_behind_by_row(api: Api) -> None:
    follower = provisioned_follower(api)
    leader_id = api.attachment("DATABASE")["addon"]["id"]
    response = api("PUT", f"/client/v11/databases/{follower['id']}/unfollow")
    assert response.status_code == 200
    assert isinstance(response.json()["message"], str)
    body = api.database(follower["id"])
    assert (body["following"], body["leader"]) == (None, None)
    assert api.behind_by(follower["id"]) is None
    assert api("GET", f"/client/v11/databases/{leader_id}/followers").json() == []
    again = api("PUT", f"/client/v11/databases/{follower['id']}/unfollow")
    assert again.status_code == 422


def test_an_unfollowed_database_keeps_following_for_unfollow_seconds(api: Api) -> None:
    follower = provisioned_follower(api)
    api.control("POST", "settings", {"unfollow_seconds": 5})
    assert api("PUT", f"/client/v11/databases/{follower['id']}/unfollow").status_code == 200
    assert api.database(follower["id"])["following"] is not None
    api.advance(5)
    assert api.database(follower["id"])["following"] is None


def test_a_follower_in_another_app_follows_an_app_scoped_attachment(api: Api) -> None:
    api.control("POST", "apps", {"name": "target-app", "database_plan": None})
    response = api(
        "POST",
        "/apps/target-app/addons",
        json={"plan": "heroku-postgresql:private-4", "config": {"follow": f"{APP}::DATABASE"}},
    )
    assert response.status_code == 201
    follower = response.json()
    assert follower["app"]["name"] == "target-app"
    # The first Postgres add-on of an app takes the DATABASE name.
    assert follower["config_vars"] == ["DATABASE_URL"]
    leader = api.attachment("DATABASE")["addon"]
    api.advance(DATA_API_UNKNOWN)
    assert api.database(follower["id"])["leader"] == {
        "addon_id": leader["id"],
        "name": leader["name"],
    }


def test_unknown_databases_answer_404_on_the_data_api(api: Api) -> None:
    response = api("GET", "/client/v11/databases/00000000-0000-4000-8000-000000000000")
    assert (response.status_code, response.json()["id"]) == (404, "not_found")


# -- faults and the token bucket -----------------------------------------------------------


def test_a_429_fault_answers_retry_after_without_executing_the_request(
    api: Api, world: World
) -> None:
    api.control(
        "POST",
        "faults",
        [{"method": "PATCH", "path_regex": "/formation$", "status": 429, "retry_after": 7}],
    )
    update = {"updates": [{"type": "web", "quantity": 0}]}
    refused = api("PATCH", f"/apps/{APP}/formation", json=update)
    assert (refused.status_code, refused.json()["id"]) == (429, "rate_limit")
    assert refused.headers["Retry-After"] == "7"
    assert world.app(APP).formation["web"].quantity == 2
    assert api("PATCH", f"/apps/{APP}/formation", json=update).status_code == 200
    assert world.app(APP).formation["web"].quantity == 0


def test_a_503_fault_answers_a_heroku_error_body_for_the_given_times(api: Api) -> None:
    api.control("POST", "faults", {"path_regex": "^/client/", "status": 503, "times": 2})
    follower = provisioned_follower(api)
    path = f"/client/v11/databases/{follower['id']}"
    assert [api("GET", path).status_code for _ in range(3)] == [503, 503, 200]


def test_a_dropped_connection_fault_closes_the_socket_without_an_answer(
    api: Api, world: World
) -> None:
    api.control(
        "POST", "faults", {"method": "PATCH", "path_regex": "^/apps/", "drop_connection": True}
    )
    with pytest.raises(httpx.RemoteProtocolError):
        api.http.patch(f"/apps/{APP}", json={"maintenance": True})
    assert world.app(APP).maintenance is False
    last = api.control("GET", "calls")[-1]
    assert (last["method"], last["status"], last["api"]) == ("PATCH", None, "platform")


def test_an_after_fault_executes_the_create_and_loses_the_answer(api: Api, world: World) -> None:
    api.control(
        "POST",
        "faults",
        {"method": "POST", "path_regex": "/addons$", "drop_connection": True, "after": True},
    )
    before = len(world.addons)
    with pytest.raises(httpx.RemoteProtocolError):
        api.http.post(
            f"/apps/{APP}/addons",
            json={"plan": "heroku-postgresql:standard-2", "config": {"follow": "DATABASE"}},
        )
    listed = api("GET", f"/apps/{APP}/addons").json()
    assert len(listed) == before + 1


def test_an_after_fault_with_a_status_executes_the_request_and_answers_the_error(
    api: Api, world: World
) -> None:
    api.control("POST", "faults", {"path_regex": f"^/apps/{APP}$", "status": 500, "after": True})
    response = api("PATCH", f"/apps/{APP}", json={"maintenance": True})
    assert response.status_code == 500
    assert world.app(APP).maintenance is True


def test_a_delay_fault_delays_the_answer(api: Api) -> None:
    api.control("POST", "faults", {"path_regex": "/config-vars$", "delay_seconds": 0.3})
    started = time.monotonic()
    assert api("GET", f"/apps/{APP}/config-vars").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_an_empty_token_bucket_answers_429_until_it_refills(api: Api) -> None:
    api.control(
        "POST",
        "settings",
        {"bucket_capacity": 3, "bucket_refill_per_minute": 60, "bucket_tokens": 3},
    )
    statuses = [api("GET", f"/apps/{APP}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api("GET", f"/apps/{APP}")
    assert (limited.json()["id"], limited.headers["RateLimit-Remaining"]) == ("rate_limit", "0")
    assert api("GET", "/account/rate-limits").json() == {"remaining": 0}
    api.advance(1)
    assert api("GET", f"/apps/{APP}").status_code == 200


# -- control API and secrets ---------------------------------------------------------------


def test_state_and_calls_name_things_but_never_reveal_secrets(api: Api, world: World) -> None:
    follower = provisioned_follower(api)
    api("GET", f"/apps/{APP}/config-vars")
    api.database(follower["id"])
    state = api.control("GET", "state")
    calls = api.control("GET", "calls")
    app_state = next(app for app in state["apps"] if app["name"] == APP)
    assert "DATABASE_URL" in app_state["config_vars"]
    follower_state = next(db for db in state["databases"] if db["addon_id"] == follower["id"])
    assert follower_state["following"] is not None
    assert follower_state["behind_by"] is not None
    text = json.dumps(state) + json.dumps(calls) + repr(vars(world.backend)) + repr(world.apps)
    passwords = [world.backend.url(a)[11:].split("@")[0].split(":")[1] for a in world.addons]
    assert all(p not in text for p in passwords)
    assert "postgres://" not in text
    assert KEY not in text
    assert {c["api"] for c in calls} == {"platform", "data"}


def test_config_var_values_sent_to_the_api_are_never_recorded(api: Api) -> None:
    for value in ("hunter2-secret", 12345):
        api("PATCH", f"/apps/{APP}/config-vars", json={"SECRET_TOKEN": value})
    recorded = json.dumps(api.control("GET", "calls")) + json.dumps(take_violations(api))
    assert "SECRET_TOKEN" in recorded
    assert "hunter2" not in recorded
    assert "12345" not in recorded


def test_the_control_api_refuses_unknown_settings_with_422(api: Api) -> None:
    response = httpx.post(f"{api.server.url}/_standin/settings", json={"warp_speed": 9})
    assert response.status_code == 422


# -- a new add-on is unknown to the Data API for a while -----------------------------------

NOT_FOUND_DATABASE = {"id": "not_found", "message": "Couldn't find that database."}


def test_a_new_database_is_unknown_to_the_data_api_for_a_while(api: Api) -> None:
    leader = api.attachment("DATABASE")["addon"]
    follower = api.follow(leader["name"])
    assert follower["state"] == "provisioning"
    db = f"/client/v11/databases/{follower['id']}"
    for method, path in (
        ("GET", db),
        ("GET", f"/client/v11/databases/{follower['name']}"),
        ("GET", f"{db}/wait_status"),
        ("GET", f"{db}/followers"),
        ("PUT", f"{db}/unfollow"),
    ):
        response = api(method, path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND_DATABASE), path
    # The leader is known, but not yet the follower the platform has just created.
    assert api("GET", f"/client/v11/databases/{leader['id']}/followers").json() == []
    assert "Followers" not in api.info(leader["id"])
    platform = api("GET", f"/apps/{APP}/addons/{follower['id']}").json()
    assert platform["state"] == "provisioning"
    api.advance(DATA_API_UNKNOWN - 0.1)
    assert api("GET", db).status_code == 404
    api.advance(0.1)
    wait = api("GET", f"{db}/wait_status")
    assert (wait.status_code, wait.json()["waiting?"]) == (200, True)
    followers = api("GET", f"/client/v11/databases/{leader['id']}/followers").json()
    assert [f["addon_id"] for f in followers] == [follower["id"]]
    assert api("GET", f"/apps/{APP}/addons/{follower['id']}").json()["state"] == "provisioning"
    api.advance(60)
    assert api("GET", f"{db}/wait_status").json()["waiting?"] is False
    assert api("GET", f"/apps/{APP}/addons/{follower['id']}").json()["state"] == "provisioned"


def test_a_new_leader_database_is_unknown_to_the_data_api_too(api: Api) -> None:
    created = api("POST", f"/apps/{APP}/addons", json={"plan": "heroku-postgresql:standard-0"})
    assert created.status_code == 201
    response = api("GET", f"/client/v11/databases/{created.json()['id']}/wait_status")
    assert (response.status_code, response.json()) == (404, NOT_FOUND_DATABASE)
    api.advance(DATA_API_UNKNOWN)
    assert api("GET", f"/client/v11/databases/{created.json()['id']}").status_code == 200


def test_seeded_databases_are_known_to_the_data_api_at_once(api: Api, world: World) -> None:
    assert world.data_api_unknown_seconds == DATA_API_UNKNOWN
    leader = api.attachment("DATABASE")["addon"]
    assert api.database(leader["id"])["waiting?"] is False
    follower = api.control("POST", "followers", {"of": leader["name"], "app": APP})
    assert api.database(follower["id"])["waiting?"] is False


def test_the_data_api_delay_is_a_run_time_setting_and_zero_turns_it_off(api: Api) -> None:
    api.control("POST", "settings", {"data_api_unknown_seconds": 0})
    at_once = api.follow("DATABASE")
    assert api("GET", f"/client/v11/databases/{at_once['id']}").status_code == 200
    # Longer than provisioning: the add-on stays "provisioning" until the Data API knows it.
    api.control("POST", "settings", {"data_api_unknown_seconds": 90})
    late = api.follow("DATABASE")
    api.advance(60)
    assert api("GET", f"/client/v11/databases/{late['id']}").status_code == 404
    assert api("GET", f"/apps/{APP}/addons/{late['id']}").json()["state"] == "provisioning"
    api.advance(30)
    assert api.database(late["id"])["waiting?"] is False
    assert api("GET", f"/apps/{APP}/addons/{late['id']}").json()["state"] == "provisioned"
    refused = api.control_refused("POST", "settings", {"data_api_unknown_seconds": -1})
    assert refused["id"] == "invalid_params"


# -- release phase -------------------------------------------------------------------------


def newest_releases(api: Api, app: str, count: int = 5) -> list[dict[str, Any]]:
    """What `pg:promote` reads: the newest releases, newest first, in one unpaged request."""
    response = api(
        "GET", f"/apps/{app}/releases", headers={"Range": f"version ..; max={count}, order=desc"}
    )
    assert response.status_code in (200, 206)
    return list(response.json())


def test_a_release_matching_a_failure_pattern_fails_after_its_release_phase(api: Api) -> None:
    for name in ("phased-app", "plain-app"):
        formation = {"web": 1, "release": 0} if name == "phased-app" else {"web": 1}
        api.control("POST", "apps", {"name": name, "formation": formation, "database_plan": None})
        api.control("POST", "release-failures", {"app": name, "pattern": "^Attach DATABASE "})
    assert api.control("GET", "release-failures") == {
        "phased-app": ["^Attach DATABASE "],
        "plain-app": ["^Attach DATABASE "],
    }
    api.control("POST", "settings", {"release_seconds": 30})
    for name in ("phased-app", "plain-app"):
        created = api("POST", f"/apps/{name}/addons", json={"plan": "heroku-postgresql:standard-0"})
        assert created.json()["config_vars"] == ["DATABASE_URL"]
    attach, initial = newest_releases(api, "phased-app", 2)
    assert attach["description"].startswith("Attach DATABASE (@ref:postgresql-")
    assert (attach["status"], attach["current"]) == ("pending", False)
    assert (initial["status"], initial["current"]) == ("succeeded", True)
    api.advance(30)
    for ident in (attach["id"], str(attach["version"])):
        info = api("GET", f"/apps/phased-app/releases/{ident}").json()
        assert (info["id"], info["status"], info["current"]) == (attach["id"], "failed", False)
    assert newest_releases(api, "phased-app")[1]["current"] is True
    # Without a release phase nothing runs, so nothing can fail.
    assert newest_releases(api, "plain-app", 1)[0]["status"] == "succeeded"
    assert api.control("DELETE", "release-failures", {"app": "phased-app"}) == {
        "plain-app": ["^Attach DATABASE "]
    }
    addon = api.attachment("DATABASE", "phased-app")["addon"]["name"]
    alias = {"addon": addon, "app": "phased-app", "name": "DATABASE_ALIAS"}
    assert api("POST", "/addon-attachments", json=alias).status_code == 201
    api.advance(30)
    assert newest_releases(api, "phased-app", 1)[0]["status"] == "succeeded"
    assert api.control("DELETE", "release-failures") == {}


def test_a_release_failure_needs_a_valid_pattern_and_a_known_app(api: Api) -> None:
    bad = api.control_refused("POST", "release-failures", {"app": APP, "pattern": "(unclosed"})
    assert bad["id"] == "invalid_params"
    missing = api.control_refused("POST", "release-failures", {"app": "no-app", "pattern": "x"})
    assert missing["id"] == "not_found"


def test_promote_releases_come_detach_then_attach_and_the_pooler_after_them(api: Api) -> None:
    app = "pooled-app"
    api.control(
        "POST", "apps", {"name": app, "pooler": True, "formation": {"web": 1, "release": 0}}
    )
    api.control("POST", "release-failures", {"app": app, "pattern": "^Attach DATABASE "})
    api.control("POST", "settings", {"release_seconds": 30})
    old = api.attachment("DATABASE", app)["addon"]["name"]
    new = api.control("POST", "followers", {"of": old, "app": app})["name"]
    api.advance(30)
    alias = api("POST", "/addon-attachments", json={"addon": old, "app": app}).json()["name"]
    for name, namespace in (("DATABASE", None), ("DATABASE_CONNECTION_POOL", POOLER)):
        response = api(
            "POST",
            "/addon-attachments",
            json={"addon": new, "app": app, "confirm": app, "name": name, "namespace": namespace},
        )
        assert response.status_code == 201, response.text
    releases = newest_releases(api, app)
    assert [r["description"] for r in releases] == [
        f"Attach DATABASE_CONNECTION_POOL (@ref:{new})",
        f"Detach DATABASE_CONNECTION_POOL (@ref:{old})",
        f"Attach DATABASE (@ref:{new})",
        f"Detach DATABASE (@ref:{old})",
        f"Attach {alias} (@ref:{old})",
    ]
    assert [r["version"] for r in releases] == sorted(
        (r["version"] for r in releases), reverse=True
    )
    assert {r["status"] for r in releases} == {"pending"}
    api.advance(30)
    statuses = {r["description"]: r["status"] for r in newest_releases(api, app)}
    assert statuses[f"Attach DATABASE (@ref:{new})"] == "failed"
    assert statuses[f"Attach DATABASE_CONNECTION_POOL (@ref:{new})"] == "succeeded"
    # The trap: the newest release containing "Attach DATABASE" is the pooler's, which succeeded.
    substring_match = next(r for r in releases if "Attach DATABASE" in r["description"])
    assert substring_match["description"].startswith("Attach DATABASE_CONNECTION_POOL ")


# -- collaborators -------------------------------------------------------------------------


def test_collaborators_list_the_owner_and_added_collaborators_per_the_schema(
    api: Api, world: World
) -> None:
    [owner] = api("GET", f"/apps/{APP}/collaborators").json()
    app = api("GET", f"/apps/{APP}").json()
    assert owner["app"] == {"id": app["id"], "name": APP}
    assert owner["user"] == {"email": world.owner_email, "federated": False, "id": world.owner_id}
    assert (owner["role"], owner["permissions"]) == ("owner", [])
    added = api.control(
        "POST",
        "collaborators",
        {"app": APP, "email": "dev@example.com", "permissions": ["view", "deploy"]},
    )
    assert added["role"] == "collaborator"
    listed = sorted(
        api("GET", f"/apps/{APP}/collaborators").json(), key=lambda c: c["role"] != "owner"
    )
    assert [c["user"]["email"] for c in listed] == [world.owner_email, "dev@example.com"]
    assert set(listed[1]) == {
        "app",
        "created_at",
        "id",
        "permissions",
        "role",
        "updated_at",
        "user",
    }
    assert [p["name"] for p in listed[1]["permissions"]] == ["view", "deploy"]
    assert all(isinstance(p["description"], str) for p in listed[1]["permissions"])
    # One account, one user id, whatever app it collaborates on.
    api.control("POST", "apps", {"name": "second-app", "database_plan": None})
    again = api.control("POST", "collaborators", {"app": "second-app", "email": "dev@example.com"})
    assert again["user"]["id"] == listed[1]["user"]["id"]
    assert again["id"] != listed[1]["id"]
    assert api("GET", "/apps/no-such-app/collaborators").status_code == 404


def test_collaborators_are_paged_by_range(api: Api) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        api.control("POST", "collaborators", {"app": APP, "email": email, "role": "member"})
    first = api("GET", f"/apps/{APP}/collaborators", headers={"Range": "id ..; max=3"})
    assert first.status_code == 206
    rest = api("GET", f"/apps/{APP}/collaborators", headers={"Range": first.headers["Next-Range"]})
    assert rest.status_code == 200
    emails = [c["user"]["email"] for c in first.json() + rest.json()]
    assert sorted(emails) == ["a@example.com", "b@example.com", "c@example.com", "ops@example.com"]


def test_a_collaborator_with_an_unknown_role_or_permission_or_twice_is_refused(
    api: Api,
) -> None:
    for body in (
        {"app": APP, "email": "x@example.com", "role": "boss"},
        {"app": APP, "email": "x@example.com", "permissions": ["view", "admin"]},
        {"app": APP, "email": "not-an-email"},
        {"app": APP, "email": "ops@example.com"},
    ):
        assert api.control_refused("POST", "collaborators", body)["id"] == "invalid_params"


# -- credentials and named poolers ---------------------------------------------------------

POOLER = "connection-pooling:default"


def test_a_credential_attachment_needs_the_credential_on_the_target_database(
    api: Api, world: World
) -> None:
    app = "cred-app"
    api.control(
        "POST",
        "apps",
        {
            "name": app,
            "credentials": ["analyst"],
            "extra_attachments": [{"name": "ANALYST_DB", "namespace": "credential:analyst"}],
        },
    )
    old = api.attachment("DATABASE", app)["addon"]
    config = api("GET", f"/apps/{app}/config-vars").json()
    assert config["ANALYST_DB_URL"].startswith("postgres://analyst:")
    assert config["ANALYST_DB_URL"] != config["DATABASE_URL"]
    assert api.database(old["id"])["credentials"] == 2
    assert api.info(old["id"])["Credentials"] == [2]
    # A new database (a follower too) has only "default": the credential cannot move there.
    standard = {"plan": "heroku-postgresql:standard-0"}
    for body in (standard, standard | {"config": {"follow": old["name"]}}):
        new = api("POST", f"/apps/{app}/addons", json=body).json()
        api.advance(60)
        move = {
            "addon": new["name"],
            "app": app,
            "confirm": app,
            "name": "ANALYST_DB",
            "namespace": "credential:analyst",
        }
        refused = api("POST", "/addon-attachments", json=move)
        assert refused.status_code == 422
        assert refused.json()["id"] == "invalid_params"
        assert "analyst" in refused.json()["message"]
        after = api("GET", f"/apps/{app}/config-vars").json()
        assert after["ANALYST_DB_URL"] == config["ANALYST_DB_URL"]
    api.control("POST", "credentials", {"addon": new["name"], "name": "analyst"})
    moved = api("POST", "/addon-attachments", json=move)
    assert moved.status_code == 201
    assert moved.json()["namespace"] == "credential:analyst"
    url = api("GET", f"/apps/{app}/config-vars").json()["ANALYST_DB_URL"]
    assert url == world.backend.url(new["id"], credential="analyst")
    owner = move | {"name": "OWNER_DB", "namespace": "credential:default"}
    assert api("POST", "/addon-attachments", json=owner).status_code == 201


def test_an_attachment_namespace_heroku_postgres_does_not_know_is_refused(api: Api) -> None:
    addon = api.attachment("DATABASE")["addon"]["name"]
    response = api(
        "POST", "/addon-attachments", json={"addon": addon, "app": APP, "namespace": "colour:red"}
    )
    assert (response.status_code, response.json()["id"]) == (422, "invalid_params")


def test_named_pooler_attachments_get_pooled_urls(api: Api, world: World) -> None:
    app = "pool-app"
    api.control(
        "POST",
        "apps",
        {
            "name": app,
            "extra_attachments": ["PLAIN", {"name": "REPORTING_POOL", "namespace": POOLER}],
        },
    )
    addon = api.attachment("DATABASE", app)["addon"]
    made = api(
        "POST",
        "/addon-attachments",
        json={"addon": addon["name"], "app": app, "name": "ANALYTICS_POOL", "namespace": POOLER},
    )
    assert made.status_code == 201
    config = api("GET", f"/apps/{app}/config-vars").json()
    pooled = world.backend.url(addon["id"], pooled=True)
    assert config["REPORTING_POOL_URL"] == config["ANALYTICS_POOL_URL"] == pooled
    assert config["PLAIN_URL"] == config["DATABASE_URL"] != pooled
    namespaces = {
        a["name"]: a["namespace"] for a in api("GET", f"/apps/{app}/addon-attachments").json()
    }
    assert namespaces == {
        "DATABASE": None,
        "PLAIN": None,
        "REPORTING_POOL": POOLER,
        "ANALYTICS_POOL": POOLER,
    }


def test_seeding_a_credential_attachment_needs_the_credential(api: Api) -> None:
    body = {
        "name": "no-cred-app",
        "extra_attachments": [{"name": "ANALYST_DB", "namespace": "credential:analyst"}],
    }
    assert api.control_refused("POST", "apps", body)["id"] == "invalid_params"
    # A refused seed leaves nothing behind: the same app seeds once the credential is there.
    assert "no-cred-app" not in [a["name"] for a in api.control("GET", "state")["apps"]]
    api.control("POST", "apps", body | {"credentials": ["analyst"]})
    for bad in (
        {"name": "x-app", "database_plan": None, "credentials": ["analyst"]},
        {"name": "y-app", "database_plan": "essential-0", "credentials": ["analyst"]},
        {"name": "z-app", "extra_attachments": [{"label": "X"}]},
        {"name": "w-app", "pooler": True, "extra_attachments": ["DATABASE_CONNECTION_POOL"]},
    ):
        assert api.control_refused("POST", "apps", bad)["id"] == "invalid_params"


# -- followers and shared databases, seeded ------------------------------------------------


def test_a_seeded_follower_is_available_at_once_and_its_leader_lists_it(api: Api) -> None:
    leader = api.attachment("DATABASE")["addon"]
    follower = api.control("POST", "followers", {"of": leader["id"], "app": APP})
    assert follower["state"] == "provisioned"
    assert follower["app"]["name"] == APP
    [config_var] = follower["config_vars"]
    assert re.fullmatch(r"HEROKU_POSTGRESQL_[A-Z]+_URL", config_var)
    body = api.database(follower["id"])
    assert body["leader"] == {"addon_id": leader["id"], "name": leader["name"]}
    assert body["following"].startswith("postgres://")
    assert body["waiting?"] is False
    # It has been following for a while: no initial lag to replay, only what is in flight.
    api.advance(5)
    assert (api.behind_by(follower["id"]) or 0) <= 12
    leader_info = api.info(leader["id"])
    assert leader_info["Followers"] == [api("GET", f"/apps/{APP}/config-vars").json()[config_var]]
    listed = api("GET", f"/client/v11/databases/{leader['id']}/followers").json()
    assert [f["addon_id"] for f in listed] == [follower["id"]]
    named = api.control(
        "POST",
        "followers",
        {"of": leader["name"], "app": APP, "plan": "premium-2", "attachment_name": "REPLICA"},
    )
    assert (named["config_vars"], named["plan"]["name"]) == (
        ["REPLICA_URL"],
        "heroku-postgresql:premium-2",
    )


def test_seeding_a_follower_keeps_the_follow_rules(api: Api) -> None:
    api.control("POST", "apps", {"name": "tiny-app", "database_plan": "essential-0"})
    tiny = api.attachment("DATABASE", "tiny-app")["addon"]["name"]
    leader = api.attachment("DATABASE")["addon"]["name"]
    for body in (
        {"of": tiny, "app": APP},
        {"of": leader, "app": APP, "plan": "essential-1"},
        {"of": leader, "app": APP, "attachment_name": "DATABASE"},
        {"of": leader, "app": APP, "plan": "gigantic-9"},
    ):
        assert api.control_refused("POST", "followers", body)["id"] == "invalid_params"
    assert api.control_refused("POST", "followers", {"of": "nope", "app": APP})["id"] == "not_found"
    assert len(api.control("GET", "state")["addons"]) == 2  # nothing half-made


def test_one_database_shared_by_two_apps_is_listed_and_written_by_both(api: Api) -> None:
    api.control(
        "POST", "apps", {"name": "admin-app", "database_plan": None, "formation": {"web": 1}}
    )
    shared = api.attachment("DATABASE")["addon"]
    attached = api.control("POST", "attachments", {"addon": shared["name"], "app": "admin-app"})
    assert (attached["name"], attached["app"]["name"]) == ("DATABASE", "admin-app")
    assert (
        api("GET", "/apps/admin-app/config-vars").json()["DATABASE_URL"]
        == (api("GET", f"/apps/{APP}/config-vars").json()["DATABASE_URL"])
    )
    listed = api("GET", f"/addons/{shared['id']}/addon-attachments").json()
    assert sorted((a["app"]["name"], a["name"]) for a in listed) == [
        ("admin-app", "DATABASE"),
        (APP, "DATABASE"),
    ]
    assert {a["addon"]["app"]["name"] for a in listed} == {APP}
    assert api("GET", "/apps/admin-app/addons").json()[0]["id"] == shared["id"]
    follower = api.control("POST", "followers", {"of": shared["id"], "app": APP})
    api("PATCH", f"/apps/{APP}", json={"maintenance": True})
    stop_all = {"updates": [{"type": "web", "quantity": 0}, {"type": "worker", "quantity": 0}]}
    api("PATCH", f"/apps/{APP}/formation", json=stop_all)
    api.advance(600)
    assert (api.behind_by(follower["id"]) or 0) > 0  # admin-app's web dyno still writes
    api("PATCH", "/apps/admin-app/formation", json={"updates": [{"type": "web", "quantity": 0}]})
    api.advance(10)
    assert api.behind_by(follower["id"]) == 0
    taken = {"addon": shared["name"], "app": "admin-app"}
    assert api.control_refused("POST", "attachments", taken)["id"] == "invalid_params"


# -- sizes, versions, plans ----------------------------------------------------------------


def test_a_seeded_size_and_version_show_in_the_data_api_and_followers_copy_the_version(
    api: Api,
) -> None:
    api.control(
        "POST",
        "apps",
        {
            "name": "big-app",
            "formation": {"web": 0},
            "database_bytes": 80 * 1024**3,
            "database_version": "15.7",
        },
    )
    leader = api.attachment("DATABASE", "big-app")["addon"]
    body = api.database(leader["id"])
    assert (body["num_bytes"], body["postgres_version"]) == (80 * 1024**3, "15.7")
    info = api.info(leader["id"])
    assert (info["Data Size"], info["PG Version"]) == (["80.0 GB"], ["15.7"])
    seeded = api.control("POST", "followers", {"of": leader["name"], "app": "big-app"})
    created = api(
        "POST",
        "/apps/big-app/addons",
        json={"plan": "heroku-postgresql:standard-0", "config": {"follow": leader["name"]}},
    ).json()
    fresh = api("POST", "/apps/big-app/addons", json={"plan": "heroku-postgresql:standard-0"})
    api.advance(60)
    for follower in (seeded, created):
        assert api.database(follower["id"])["postgres_version"] == "15.7"
        assert api.info(follower["id"])["PG Version"] == ["15.7"]
    assert api.database(fresh.json()["id"])["postgres_version"] == "16.4"
    default = api.database(api.attachment("DATABASE")["addon"]["id"])
    assert api.info(default["addon_id"])["Data Size"] == ["8.0 MB"]


def test_fork_follow_says_unsupported_for_essential_and_advanced_plans(api: Api) -> None:
    expected = {
        "essential-0": "Unsupported",
        "advanced": "Unsupported",
        "advanced-private": "Unsupported",
        "advanced-shield": "Unsupported",
        "standard-0": "Available",
        "premium-4": "Available",
    }
    for index, plan in enumerate(expected):
        app = f"plan-app-{index}"
        api.control("POST", "apps", {"name": app, "database_plan": plan})
        addon = api.attachment("DATABASE", app)["addon"]
        assert api.info(addon["id"])["Fork/Follow"] == [expected[plan]], plan


def test_advanced_plans_are_in_the_catalogue_and_cannot_have_or_be_classic_followers(
    api: Api,
) -> None:
    for slug, private, compliance in (
        ("advanced", False, None),
        ("advanced-private", True, None),
        ("advanced-shield", True, ["HIPAA", "PCI"]),
    ):
        plan = api("GET", f"/addon-services/heroku-postgresql/plans/{slug}").json()
        assert (plan["name"], plan["human_name"]) == (
            f"heroku-postgresql:{slug}",
            slug.replace("-", " ").title(),
        )
        assert (plan["installable_inside_private_network"], plan["compliance"]) == (
            private,
            compliance,
        )
    refused = api(
        "POST",
        f"/apps/{APP}/addons",
        json={"plan": "heroku-postgresql:advanced", "config": {"follow": "DATABASE"}},
    )
    assert (refused.status_code, refused.json()["id"]) == (422, "invalid_params")
    assert "Advanced" in refused.json()["message"]
    api.control("POST", "apps", {"name": "adv-app", "database_plan": "advanced"})
    of_advanced = api(
        "POST",
        f"/apps/{APP}/addons",
        json={"plan": "heroku-postgresql:standard-0", "config": {"follow": "adv-app::DATABASE"}},
    )
    assert (of_advanced.status_code, of_advanced.json()["id"]) == (422, "invalid_params")


# -- follow after unfollow -----------------------------------------------------------------


def test_a_just_unfollowed_database_cannot_be_followed_until_follow_after_unfollow_seconds(
    api: Api,
) -> None:
    api.control("POST", "settings", {"follow_after_unfollow_seconds": 600})
    follower = provisioned_follower(api)
    assert api.info(follower["id"])["Fork/Follow"] == ["Available"]
    assert api("PUT", f"/client/v11/databases/{follower['id']}/unfollow").status_code == 200
    follow = {"plan": "heroku-postgresql:standard-0", "config": {"follow": follower["name"]}}
    refused = api("POST", f"/apps/{APP}/addons", json=follow)
    assert (refused.status_code, refused.json()["id"]) == (422, "invalid_params")
    assert f"{follower['name']} is not available for following yet" in refused.json()["message"]
    assert api.info(follower["id"])["Fork/Follow"] == ["Temporarily Unavailable"]
    # The old leader was not unfollowed: it can still be followed.
    assert api.follow("DATABASE")["state"] == "provisioning"
    api.advance(599)
    assert api("POST", f"/apps/{APP}/addons", json=follow).status_code == 422
    api.advance(1)
    assert api("POST", f"/apps/{APP}/addons", json=follow).status_code == 201
    assert api.info(follower["id"])["Fork/Follow"] == ["Available"]


def test_follow_after_unfollow_is_off_by_default(api: Api, world: World) -> None:
    assert world.follow_after_unfollow_seconds == 0
    follower = provisioned_follower(api)
    assert api("PUT", f"/client/v11/databases/{follower['id']}/unfollow").status_code == 200
    assert api.follow(follower["name"], plan="heroku-postgresql:standard-0")["name"]
