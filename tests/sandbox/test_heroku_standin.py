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

    def advance(self, seconds: float) -> None:
        def move() -> None:
            self.clock.now += seconds

        self.server.call(move)

    def database(self, addon_id: str) -> dict[str, Any]:
        response = self("GET", f"/client/v11/databases/{addon_id}")
        assert response.status_code == 200
        return dict(response.json())

    def behind_by(self, addon_id: str) -> int | None:
        rows = {row["name"]: row["values"] for row in self.database(addon_id)["info"]}
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
    wait = api("GET", f"/client/v11/databases/{follower['id']}/wait_status").json()
    assert wait["waiting?"] is True
    assert api.database(follower["id"])["waiting?"] is True
    assert api.behind_by(follower["id"]) is None
    api.advance(60)
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
