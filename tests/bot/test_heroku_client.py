"""The Heroku client against a scripted Heroku on 127.0.0.1: wire, retries, errors, secrets."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from pydantic import SecretStr

from bot.heroku import (
    Addon,
    CallRecord,
    CreateOutcomeUnknown,
    Database,
    Forbidden,
    HerokuAPIError,
    HerokuClient,
    HerokuTimeout,
    HerokuTransportError,
    NotFound,
    RateLimited,
    ServerError,
    TwoFactorRequired,
    Unauthorized,
    Unprocessable,
    WaitStatus,
)
from tests.bot.heroku_fake import HerokuFake, drop, error, reply

KEY = "HRKU-sekrit-0123456789abcdef"
APP = "acme-web"
FOLLOWER = "acme-db-follower"
DB_ID = "6f0e2a0c-5b1b-4c7e-9d55-2f0a1f0e9b10"


class Sleeps:
    """A `sleep` that records and returns at once, so retries cost no wall time."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def app_json(maintenance: bool = False) -> dict[str, Any]:
    return {"id": "app-1", "name": APP, "maintenance": maintenance, "stack": {"name": "heroku-24"}}


def addon_json(name: str = FOLLOWER, state: str = "provisioning") -> dict[str, Any]:
    return {
        "id": f"id-{name}",
        "name": name,
        "state": state,
        "plan": {"id": "plan-1", "name": "heroku-postgresql:standard-2"},
        "app": {"id": "app-1", "name": APP},
        "addon_service": {"id": "svc-1", "name": "heroku-postgresql"},
        "config_vars": ["HEROKU_POSTGRESQL_RED_URL"],
    }


def attachment_json(
    name: str, addon: str, ident: str, namespace: str | None = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "namespace": namespace,
        "addon": {"id": f"id-{addon}", "name": addon, "app": {"id": "app-1", "name": APP}},
        "app": {"id": "app-1", "name": APP},
    }


def formation_json(kind: str, quantity: int) -> dict[str, Any]:
    return {"id": f"f-{kind}", "type": kind, "quantity": quantity, "size": "standard-1X"}


def release_json(version: int) -> dict[str, Any]:
    return {
        "id": f"r-{version}",
        "version": version,
        "description": f"Attach DATABASE v{version}",
        "status": "succeeded",
    }


@pytest.fixture
def fake() -> Iterator[HerokuFake]:
    server = HerokuFake().start()
    yield server
    server.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(fake: HerokuFake, sleeps: Sleeps) -> AsyncIterator[HerokuClient]:
    async with HerokuClient(
        SecretStr(KEY), api_url=fake.url, data_api_url=fake.url, timeout=2.0, sleep=sleeps
    ) as heroku:
        yield heroku


# Headers and paging


async def test_every_request_carries_heroku_headers_and_a_fresh_request_id(
    fake: HerokuFake, sleeps: Sleeps
) -> None:
    data = HerokuFake().start()
    try:
        fake.route("GET", f"/apps/{APP}", reply(200, app_json()))
        fake.route("PATCH", f"/apps/{APP}", reply(200, app_json(True)))
        data.route(
            "GET",
            f"/client/v11/databases/{DB_ID}/wait_status",
            reply(200, {"message": "available", "waiting?": False}),
        )
        async with HerokuClient(
            SecretStr(KEY), api_url=fake.url, data_api_url=data.url, sleep=sleeps
        ) as heroku:
            await heroku.get_app(APP)
            await heroku.set_maintenance(APP, True)
            await heroku.get_wait_status(DB_ID)
    finally:
        data.stop()

    seen = fake.seen + data.seen
    assert [s.method for s in seen] == ["GET", "PATCH", "GET"]
    assert data.seen[0].path == f"/client/v11/databases/{DB_ID}/wait_status"
    for request in seen:
        assert request.headers["Accept"] == "application/vnd.heroku+json; version=3"
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["User-Agent"] == f"migrate-bot/{metadata.version('migrate-bot')}"
        assert uuid.UUID(request.headers["Request-Id"]).version == 4
        assert "Range" not in request.headers
    assert len({s.headers["Request-Id"] for s in seen}) == 3
    patch = fake.seen[1]
    assert patch.headers["Content-Type"] == "application/json"
    assert patch.body == {"maintenance": True}
    assert fake.seen[0].raw == b""


async def test_a_206_with_next_range_is_followed_until_the_last_page(
    fake: HerokuFake, client: HerokuClient
) -> None:
    path = f"/apps/{APP}/addons"
    fake.route(
        "GET",
        path,
        reply(206, [addon_json("a1"), addon_json("a2")], headers={"Next-Range": "]id-a2..; max=2"}),
        reply(206, [addon_json("a3"), addon_json("a4")], headers={"Next-Range": "]id-a4..; max=2"}),
        reply(200, [addon_json("a5")]),
    )

    addons = await client.list_addons(APP)

    assert [a.name for a in addons] == ["a1", "a2", "a3", "a4", "a5"]
    ranges = [s.headers.get("Range") for s in fake.requests("GET", path)]
    assert ranges == [None, "]id-a2..; max=2", "]id-a4..; max=2"]


async def test_releases_ask_for_the_newest_five_in_one_page_like_pg_promote(
    fake: HerokuFake, client: HerokuClient
) -> None:
    path = f"/apps/{APP}/releases"
    page = [release_json(v) for v in (9, 8, 7, 6, 5)]
    fake.route("GET", path, reply(206, page, headers={"Next-Range": "version ]5..; max=5"}))

    releases = await client.list_releases(APP)

    assert [r.version for r in releases] == [9, 8, 7, 6, 5]
    assert [s.headers["Range"] for s in fake.seen] == ["version ..; max=5, order=desc"]


# Errors


@pytest.mark.parametrize(
    ("status", "error_id", "cls"),
    [
        (400, "bad_request", Unprocessable),
        (401, "unauthorized", Unauthorized),
        (403, "forbidden", Forbidden),
        (404, "not_found", NotFound),
        (409, "conflict", Unprocessable),
        (422, "invalid_params", Unprocessable),
        (423, "confirmation_required", Unprocessable),
        (429, "rate_limit", RateLimited),
        (500, "internal_server_error", ServerError),
        (418, "teapot", HerokuAPIError),
    ],
)
async def test_an_error_status_raises_its_class_with_herokus_id_and_message(
    fake: HerokuFake, sleeps: Sleeps, status: int, error_id: str, cls: type[HerokuAPIError]
) -> None:
    fake.route("GET", f"/apps/{APP}", error(status, error_id, "Heroku says no."))
    async with HerokuClient(SecretStr(KEY), api_url=fake.url, max_retries=0, sleep=sleeps) as h:
        with pytest.raises(HerokuAPIError) as caught:
            await h.get_app(APP)

    exc = caught.value
    assert type(exc) is cls
    assert (exc.status, exc.id, exc.message) == (status, error_id, "Heroku says no.")
    assert exc.url == "https://devcenter.heroku.com/x"
    assert exc.request_id == fake.seen[0].headers["Request-Id"]
    assert f"GET /apps/{APP}" in str(exc)
    assert len(fake.seen) == 1


async def test_unauthorized_names_the_fix(fake: HerokuFake, client: HerokuClient) -> None:
    fake.route("GET", f"/apps/{APP}", error(401, "unauthorized", "Invalid credentials provided."))
    with pytest.raises(Unauthorized, match="HEROKU_API_KEY"):
        await client.get_app(APP)


async def test_two_factor_is_a_forbidden_that_says_a_bot_cannot_answer_it_and_is_not_retried(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("PATCH", f"/apps/{APP}", error(403, "two_factor", "A second factor is required."))

    with pytest.raises(Forbidden) as caught:
        await client.set_maintenance(APP, True)

    assert isinstance(caught.value, TwoFactorRequired)
    assert caught.value.id == "two_factor"
    assert "bot token cannot answer two-factor" in str(caught.value)
    assert len(fake.seen) == 1


async def test_an_html_error_page_still_raises_a_typed_error(
    fake: HerokuFake, sleeps: Sleeps
) -> None:
    async def html(_: Any) -> Any:
        return web.Response(status=502, text="<html>bad gateway</html>", content_type="text/html")

    fake.route("GET", f"/apps/{APP}", html)
    async with HerokuClient(SecretStr(KEY), api_url=fake.url, max_retries=0, sleep=sleeps) as h:
        with pytest.raises(ServerError) as caught:
            await h.get_app(APP)
    assert (caught.value.status, caught.value.id) == (502, "server_error")


# Retries


async def test_a_429_with_retry_after_waits_that_long_then_retries(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route(
        "GET",
        f"/apps/{APP}",
        error(429, "rate_limit", "Your account reached the API rate limit", Retry_After="7"),
        reply(200, app_json()),
    )

    app = await client.get_app(APP)

    assert app.name == APP
    assert sleeps.calls == [7.0]
    assert len(fake.seen) == 2


async def test_a_429_without_retry_after_is_retried_after_backoff(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route(
        "GET",
        f"/apps/{APP}",
        error(429, "rate_limit", "Your account reached the API rate limit"),
        error(429, "rate_limit", "Your account reached the API rate limit"),
        reply(200, app_json()),
    )

    await client.get_app(APP)

    assert len(fake.seen) == 3
    assert len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 1.0
    assert 1.0 <= sleeps.calls[1] <= 2.0


async def test_a_429_that_never_clears_raises_rate_limited_after_max_retries(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route("GET", f"/apps/{APP}", error(429, "rate_limit", "slow down", Retry_After="1"))

    with pytest.raises(RateLimited) as caught:
        await client.get_app(APP)

    assert caught.value.retry_after == 1.0
    assert len(fake.seen) == 5
    assert sleeps.calls == [1.0] * 4


async def test_a_429_asking_for_a_very_long_wait_is_handed_back_not_slept_through(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route("GET", f"/apps/{APP}", error(429, "rate_limit", "slow down", Retry_After="3600"))

    with pytest.raises(RateLimited) as caught:
        await client.get_app(APP)

    assert caught.value.retry_after == 3600.0
    assert sleeps.calls == []
    assert len(fake.seen) == 1


async def test_a_503_on_a_get_is_retried_until_it_succeeds(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route(
        "GET",
        f"/apps/{APP}/formation",
        error(503, "unavailable", "try again"),
        error(503, "unavailable", "try again"),
        reply(200, [formation_json("web", 2)]),
    )

    formation = await client.list_formation(APP)

    assert [(f.type, f.quantity) for f in formation] == [("web", 2)]
    assert len(fake.seen) == 3
    assert len(sleeps.calls) == 2


async def test_a_dropped_connection_on_a_get_is_retried(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("GET", f"/apps/{APP}/dynos", drop(), reply(200, []))

    assert await client.list_dynos(APP) == []
    assert len(fake.seen) == 2


async def test_a_500_on_a_patch_is_not_retried_but_a_503_is(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("PATCH", f"/apps/{APP}", error(500, "internal_server_error", "oops"))
    with pytest.raises(ServerError):
        await client.set_maintenance(APP, True)
    assert len(fake.requests("PATCH")) == 1

    fake.route(
        "PATCH", f"/apps/{APP}", error(503, "unavailable", "later"), reply(200, app_json(True))
    )
    app = await client.set_maintenance(APP, True)
    assert app.maintenance is True
    assert len(fake.requests("PATCH")) == 3


async def test_a_422_is_never_retried(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route("PATCH", f"/apps/{APP}/formation", error(422, "invalid_params", "No such type"))

    with pytest.raises(Unprocessable):
        await client.scale(APP, {"wrker": 0})

    assert len(fake.seen) == 1
    assert sleeps.calls == []


async def test_scale_sends_absolute_integer_quantities(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route(
        "PATCH",
        f"/apps/{APP}/formation",
        reply(200, [formation_json("web", 0), formation_json("worker", 0)]),
    )

    result = await client.scale(APP, {"web": 0, "worker": 0})

    assert [f.quantity for f in result] == [0, 0]
    assert fake.seen[0].body == {
        "updates": [{"type": "web", "quantity": 0}, {"type": "worker", "quantity": 0}]
    }


async def test_unfollow_is_a_bodiless_put_on_the_data_api_retried_on_503(
    fake: HerokuFake, client: HerokuClient
) -> None:
    path = f"/client/v11/databases/{DB_ID}/unfollow"
    fake.route("PUT", path, error(503, "unavailable", "later"), reply(200, {"message": "ok"}))

    await client.unfollow(DB_ID)

    assert [(s.method, s.raw) for s in fake.seen] == [("PUT", b""), ("PUT", b"")]


async def test_destroy_sends_force_false_and_a_404_after_a_retry_means_already_gone(
    fake: HerokuFake, client: HerokuClient
) -> None:
    path = f"/apps/{APP}/addons/old-db"
    fake.route("DELETE", path, drop(), error(404, "not_found", "Couldn't find that add-on."))

    assert await client.destroy_addon(APP, "old-db") is None
    assert [s.body for s in fake.seen] == [{"force": False}, {"force": False}]


async def test_get_addon_answers_none_for_a_missing_add_on(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route(
        "GET", f"/apps/{APP}/addons/nope", error(404, "not_found", "Couldn't find that add-on.")
    )
    assert await client.get_addon(APP, "nope") is None


# Creates are never re-sent blindly


def _follower_request() -> dict[str, Any]:
    return {"plan": "standard-2", "follow": "DATABASE", "name": FOLLOWER}


async def test_a_create_after_a_503_is_not_re_sent_when_the_add_on_exists(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("POST", f"/apps/{APP}/addons", error(503, "unavailable", "Service Unavailable"))
    fake.route(
        "GET", f"/apps/{APP}/addons", reply(200, [addon_json("other"), addon_json(FOLLOWER)])
    )

    addon = await client.create_follower(APP, **_follower_request())

    assert addon.name == FOLLOWER
    assert len(fake.requests("POST")) == 1


async def test_a_create_that_timed_out_after_the_server_created_it_is_found_by_name(
    fake: HerokuFake, sleeps: Sleeps
) -> None:
    created: list[dict[str, Any]] = []
    fake.route(
        "POST",
        f"/apps/{APP}/addons",
        reply(201, addon_json(), effect=lambda: created.append(addon_json()), stall=0.6),
    )
    fake.route("GET", f"/apps/{APP}/addons", reply(200, lambda: list(created)))
    async with HerokuClient(SecretStr(KEY), api_url=fake.url, timeout=0.2, sleep=sleeps) as h:
        addon = await h.create_follower(APP, **_follower_request())

    assert addon == Addon.model_validate(addon_json())
    assert len(fake.requests("POST")) == 1


async def test_a_create_that_did_not_land_is_sent_once_more(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route(
        "POST",
        f"/apps/{APP}/addons",
        error(503, "unavailable", "Service Unavailable"),
        reply(201, addon_json()),
    )
    fake.route("GET", f"/apps/{APP}/addons", reply(200, [addon_json("other")]))

    addon = await client.create_follower(APP, **_follower_request())

    assert addon.name == FOLLOWER
    assert len(fake.requests("POST")) == 2
    assert len(fake.requests("GET")) == 1


async def test_a_re_sent_create_refused_as_a_duplicate_returns_the_first_one(
    fake: HerokuFake, client: HerokuClient
) -> None:
    listings = [[], [addon_json()]]
    fake.route(
        "POST",
        f"/apps/{APP}/addons",
        error(503, "unavailable", "Service Unavailable"),
        error(422, "invalid_params", "Name is already taken"),
    )
    fake.route("GET", f"/apps/{APP}/addons", reply(200, lambda: listings.pop(0)))

    addon = await client.create_follower(APP, **_follower_request())

    assert addon.name == FOLLOWER
    assert len(fake.requests("POST")) == 2


async def test_a_create_whose_outcome_cannot_be_looked_up_raises_create_outcome_unknown(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("POST", f"/apps/{APP}/addons", error(503, "unavailable", "Service Unavailable"))
    fake.route("GET", f"/apps/{APP}/addons", error(403, "forbidden", "no"))

    with pytest.raises(CreateOutcomeUnknown) as caught:
        await client.create_follower(APP, **_follower_request())

    assert FOLLOWER in str(caught.value)
    assert APP in str(caught.value)
    assert len(fake.requests("POST")) == 1


async def test_a_create_that_keeps_failing_is_sent_at_most_max_retries_plus_one_times(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("POST", f"/apps/{APP}/addons", error(503, "unavailable", "Service Unavailable"))
    fake.route("GET", f"/apps/{APP}/addons", reply(200, []))

    with pytest.raises(ServerError):
        await client.create_follower(APP, **_follower_request())

    assert len(fake.requests("POST")) == 5


async def test_a_create_refused_with_429_is_re_sent_without_a_lookup(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route(
        "POST",
        f"/apps/{APP}/addons",
        error(429, "rate_limit", "slow down", Retry_After="2"),
        reply(201, addon_json()),
    )

    await client.create_follower(APP, **_follower_request())

    assert [s.method for s in fake.seen] == ["POST", "POST"]
    assert sleeps.calls == [2.0]


async def test_a_named_attachment_that_timed_out_is_found_by_add_on_and_name(
    fake: HerokuFake, sleeps: Sleeps
) -> None:
    created = attachment_json("DATABASE", FOLLOWER, "att-new")
    landed: list[dict[str, Any]] = [attachment_json("DATABASE", "old-db", "att-old")]

    def promote() -> None:
        landed[0] = created

    fake.route("POST", "/addon-attachments", reply(201, created, effect=promote, stall=0.6))
    fake.route("GET", f"/apps/{APP}/addon-attachments", reply(200, lambda: list(landed)))
    async with HerokuClient(SecretStr(KEY), api_url=fake.url, timeout=0.2, sleep=sleeps) as h:
        attachment = await h.create_attachment(APP, FOLLOWER, name="DATABASE")

    assert attachment.id == "att-new"
    assert len(fake.requests("POST")) == 1


async def test_an_unnamed_attachment_is_recognised_as_the_one_that_was_not_there_before(
    fake: HerokuFake, client: HerokuClient
) -> None:
    before = [
        attachment_json("DATABASE", "old-db", "att-db"),
        attachment_json("HEROKU_POSTGRESQL_BLUE", "old-db", "att-blue"),
    ]
    after = [*before, attachment_json("HEROKU_POSTGRESQL_RED", "old-db", "att-red")]
    listings = [before, after]
    fake.route("POST", "/addon-attachments", error(504, "gateway_timeout", "timeout"))
    fake.route("GET", f"/apps/{APP}/addon-attachments", reply(200, lambda: listings.pop(0)))

    attachment = await client.create_attachment(APP, "old-db")

    assert attachment.name == "HEROKU_POSTGRESQL_RED"
    assert len(fake.requests("POST")) == 1


# Data API models


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["125 commits"], 125),
        ([125], 125),
        (["0 commits"], 0),
        ([0], 0),
        (["1,234 commits"], 1234),
        (["  42"], 42),
        (["7 commits", "extra"], 7),
        (["unknown"], None),
        (["1.5k commits"], None),
        (["commits: 12"], None),
        ([], None),
    ],
)
def test_behind_by_reads_the_leading_count_of_the_first_value(
    values: list[str | int], expected: int | None
) -> None:
    database = Database.model_validate(
        {"addon_id": DB_ID, "name": FOLLOWER, "info": [{"name": "Behind By", "values": values}]}
    )
    assert database.behind_by() == expected


def test_a_missing_behind_by_row_is_unknown_never_zero() -> None:
    database = Database.model_validate(
        {"addon_id": DB_ID, "name": FOLLOWER, "info": [{"name": "Status", "values": ["Available"]}]}
    )
    assert database.behind_by() is None


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["", " commits", " behind"]))
def test_behind_by_round_trips_any_count(count: int, suffix: str) -> None:
    row = {"name": "Behind By", "values": [f"{count}{suffix}"]}
    database = Database.model_validate({"addon_id": DB_ID, "name": FOLLOWER, "info": [row]})
    assert database.behind_by() == count


@given(st.text().filter(lambda s: not s.strip()[:1].isdigit()))
def test_behind_by_without_a_leading_count_is_unknown(text: str) -> None:
    row = {"name": "Behind By", "values": [text]}
    database = Database.model_validate({"addon_id": DB_ID, "name": FOLLOWER, "info": [row]})
    assert database.behind_by() is None


async def test_a_database_keeps_no_credential_only_whether_it_follows(
    fake: HerokuFake, client: HerokuClient
) -> None:
    leader_url = "postgres://u1:leaderpass@ec2-1.compute.amazonaws.com:5432/d1"
    fake.route(
        "GET",
        f"/client/v11/databases/{DB_ID}",
        reply(
            200,
            {
                "addon_id": DB_ID,
                "name": FOLLOWER,
                "following": leader_url,
                "database_password": "dbpass-xyz",
                "resource_url": "postgres://u2:ownpass@ec2-2:5432/d2",
                "waiting?": False,
                "info": [
                    {"name": "Following", "values": [leader_url], "resolve_db_name": True},
                    {"name": "Behind By", "values": ["12 commits"]},
                ],
            },
        ),
    )

    database = await client.get_database(DB_ID)

    assert database.is_follower is True
    assert database.behind_by() == 12
    dumped = repr(database) + json.dumps(database.model_dump())
    for secret in ("leaderpass", "dbpass-xyz", "ownpass", "u1:"):
        assert secret not in dumped
    assert not hasattr(database, "following")


def test_a_database_without_following_is_not_a_follower() -> None:
    database = Database.model_validate({"addon_id": DB_ID, "name": "leader", "following": None})
    assert database.is_follower is False
    assert database.behind_by() is None


async def test_wait_status_reads_the_question_mark_keys(
    fake: HerokuFake, client: HerokuClient
) -> None:
    path = f"/client/v11/databases/{DB_ID}/wait_status"
    fake.route(
        "GET",
        path,
        reply(200, {"message": "pending", "waiting?": True}),
        reply(200, {"message": "failed", "waiting?": False, "error?": True}),
    )

    assert await client.get_wait_status(DB_ID) == WaitStatus(message="pending", waiting=True)
    assert await client.get_wait_status(DB_ID) == WaitStatus(
        message="failed", waiting=False, error=True
    )


# Secrets, audit and rate budget


async def test_the_api_key_never_appears_in_errors_records_or_logs(
    fake: HerokuFake, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    records: list[CallRecord] = []
    fake.route("GET", f"/apps/{APP}", error(401, "unauthorized", f"Bad token {KEY}"))
    fake.route("GET", f"/apps/{APP}/dynos", drop())
    fake.route("POST", f"/apps/{APP}/addons", error(503, "unavailable", "down"))
    fake.route("GET", f"/apps/{APP}/addons", drop())
    caught: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        heroku = HerokuClient(
            SecretStr(KEY), api_url=fake.url, max_retries=1, sleep=sleeps, on_call=records.append
        )
        async with heroku:
            for call in (
                heroku.get_app(APP),
                heroku.list_dynos(APP),
                heroku.create_follower(APP, **_follower_request()),
            ):
                with pytest.raises(Exception) as info:
                    await call
                caught.append(info.value)

    assert [type(e) for e in caught] == [Unauthorized, HerokuTransportError, CreateOutcomeUnknown]
    assert records
    texts = [str(e) for e in caught] + [repr(e) for e in caught]
    texts += [str(e.__cause__) for e in caught if e.__cause__ is not None]
    texts += [caplog.text, repr(heroku), repr(records)]
    assert caplog.text
    for text in texts:
        assert KEY not in text
    assert "[redacted]" in str(caught[0])


async def test_on_call_is_told_about_every_attempt_with_the_path_only(
    fake: HerokuFake, sleeps: Sleeps
) -> None:
    records: list[CallRecord] = []
    fake.route("GET", f"/apps/{APP}", error(503, "unavailable", "later"), reply(200, app_json()))
    async with HerokuClient(
        SecretStr(KEY), api_url=fake.url, sleep=sleeps, on_call=records.append
    ) as heroku:
        await heroku.get_app(APP)

    assert [(r.method, r.path, r.status, r.error_id, r.attempt) for r in records] == [
        ("GET", f"/apps/{APP}", 503, "unavailable", 1),
        ("GET", f"/apps/{APP}", 200, None, 2),
    ]
    assert [r.request_id for r in records] == [s.headers["Request-Id"] for s in fake.seen]
    assert all(r.duration_ms >= 0 for r in records)


async def test_a_read_timeout_is_reported_as_heroku_timeout_after_retries(
    fake: HerokuFake, sleeps: Sleeps
) -> None:
    records: list[CallRecord] = []
    fake.route("GET", f"/apps/{APP}", reply(200, app_json(), stall=0.5))
    async with HerokuClient(
        SecretStr(KEY),
        api_url=fake.url,
        timeout=0.1,
        max_retries=1,
        sleep=sleeps,
        on_call=records.append,
    ) as heroku:
        with pytest.raises(HerokuTimeout):
            await heroku.get_app(APP)

    assert [(r.status, r.error_id) for r in records] == [(None, "timeout"), (None, "timeout")]


async def test_a_low_rate_budget_spaces_requests_out_and_a_high_one_does_not(
    fake: HerokuFake, client: HerokuClient, sleeps: Sleeps
) -> None:
    fake.route(
        "GET", f"/apps/{APP}", reply(200, app_json(), headers={"RateLimit-Remaining": "4000"})
    )
    await client.get_app(APP)
    await client.get_app(APP)
    assert client.rate_limit_remaining == 4000
    assert sleeps.calls == []

    fake.route("GET", f"/apps/{APP}", reply(200, app_json(), headers={"RateLimit-Remaining": "50"}))
    for _ in range(3):
        await client.get_app(APP)

    assert client.rate_limit_remaining == 50
    # At 50 of 100 left: 1.5x the refill interval (0.8 s) between request starts; slots are
    # reserved back to back, and the recording sleep does not let time pass.
    assert len(sleeps.calls) == 2
    assert sleeps.calls[0] == pytest.approx(1.2, abs=0.1)
    assert sleeps.calls[1] == pytest.approx(2.4, abs=0.1)


async def test_get_rate_limit_reads_the_account_budget(
    fake: HerokuFake, client: HerokuClient
) -> None:
    fake.route("GET", "/account/rate-limits", reply(200, {"remaining": 2345}))
    assert await client.get_rate_limit() == 2345
    assert client.rate_limit_remaining == 2345


# Contract: every request matches the official Platform API schema


def _platform_links(
    contracts_dir: Path,
) -> list[tuple[str, re.Pattern[str], dict[str, Any] | None]]:
    root = json.loads((contracts_dir / "heroku-platform-api.schema.json").read_text())
    links = []
    for definition in root["definitions"].values():
        for link in definition.get("links", []):
            pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(link["href"]))
            schema = link.get("schema")
            full = {"definitions": root["definitions"], **schema} if schema else None
            links.append((link["method"], re.compile(f"^{pattern}$"), full))
    return links


def _data_api_routes(contracts_dir: Path) -> list[tuple[str, re.Pattern[str]]]:
    shogun = json.loads((contracts_dir / "heroku-data-api.shogun-schemas.json").read_text())
    routes = []
    for key in shogun:
        method, path = key.split(" ", 1)
        pattern = re.sub(r"(\\\{[^}]*\\\}|:\w+)", "[^/]+", re.escape(path).replace("\\:", ":"))
        routes.append((method, re.compile(f"^{pattern}$")))
    return routes


# The CLI's `addons:destroy` sends this body although the schema's Delete link declares none.
_BODY_WITHOUT_SCHEMA = {("DELETE", f"/apps/{APP}/addons/old-db"): {"force": False}}


async def test_every_request_body_validates_against_the_platform_schema(
    fake: HerokuFake, client: HerokuClient, contracts_dir: Path
) -> None:
    plan = "/addon-services/heroku-postgresql/plans/heroku-postgresql:standard-2"
    fake.route("GET", f"/apps/{APP}", reply(200, app_json()))
    fake.route("PATCH", f"/apps/{APP}", reply(200, app_json(True)))
    fake.route("GET", f"/apps/{APP}/formation", reply(200, [formation_json("web", 1)]))
    fake.route("PATCH", f"/apps/{APP}/formation", reply(200, [formation_json("web", 0)]))
    fake.route("GET", f"/apps/{APP}/dynos", reply(200, []))
    fake.route("POST", f"/apps/{APP}/dynos/web.1/actions/stop", reply(202, {}))
    fake.route(
        "POST",
        "/actions/addon-attachments/resolve",
        reply(200, [attachment_json("DATABASE", "old-db", "a1")]),
    )
    fake.route("GET", f"/apps/{APP}/addon-attachments", reply(200, []))
    fake.route(
        "POST", "/addon-attachments", reply(201, attachment_json("DATABASE", FOLLOWER, "a2"))
    )
    fake.route("GET", f"/apps/{APP}/addons", reply(200, []))
    fake.route("GET", f"/apps/{APP}/addons/{FOLLOWER}", reply(200, addon_json()))
    fake.route("GET", plan, reply(200, {"id": "plan-1", "name": "heroku-postgresql:standard-2"}))
    fake.route("POST", f"/apps/{APP}/addons", reply(201, addon_json()))
    fake.route(
        "DELETE", f"/apps/{APP}/addons/old-db", reply(200, addon_json("old-db", "deprovisioned"))
    )
    fake.route("GET", f"/apps/{APP}/releases", reply(200, [release_json(3)]))
    fake.route("GET", f"/apps/{APP}/releases/r-3", reply(200, release_json(3)))
    fake.route("GET", "/account/rate-limits", reply(200, {"remaining": 4500}))
    fake.route(
        "GET",
        f"/client/v11/databases/{DB_ID}",
        reply(200, {"addon_id": DB_ID, "name": FOLLOWER, "info": []}),
    )
    fake.route(
        "GET",
        f"/client/v11/databases/{DB_ID}/wait_status",
        reply(200, {"message": "available", "waiting?": False}),
    )
    fake.route("PUT", f"/client/v11/databases/{DB_ID}/unfollow", reply(200, {"message": "ok"}))

    await client.get_app(APP)
    await client.set_maintenance(APP, True)
    await client.list_formation(APP)
    await client.scale(APP, {"web": 0})
    await client.list_dynos(APP)
    await client.stop_dyno(APP, "web.1")
    await client.resolve_attachment(APP, "DATABASE")
    await client.list_attachments(APP)
    await client.create_attachment(APP, FOLLOWER, name="DATABASE", namespace=None)
    await client.create_attachment(
        APP, FOLLOWER, name="DATABASE_CONNECTION_POOL", namespace="connection-pooling:default"
    )
    await client.list_addons(APP)
    await client.get_addon(APP, FOLLOWER)
    await client.get_plan("standard-2")
    await client.create_follower(APP, plan="standard-2", follow="DATABASE", name=FOLLOWER)
    await client.destroy_addon(APP, "old-db")
    await client.list_releases(APP)
    await client.get_release(APP, "r-3")
    await client.get_rate_limit()
    await client.get_database(DB_ID)
    await client.get_wait_status(DB_ID)
    await client.unfollow(DB_ID)

    links = _platform_links(contracts_dir)
    data_routes = _data_api_routes(contracts_dir)
    data = [s for s in fake.seen if s.path.startswith("/client/v11/")]
    platform = [s for s in fake.seen if s not in data]
    assert len(platform) == 18
    assert len(data) == 3
    for seen in platform:
        matching = [(p, s) for m, p, s in links if m == seen.method and p.match(seen.path)]
        assert matching, f"no schema link for {seen.method} {seen.path}"
        if seen.body is None:
            continue
        schemas = [s for _, s in matching if s is not None]
        if not schemas:
            assert _BODY_WITHOUT_SCHEMA[(seen.method, seen.path)] == seen.body
            continue
        problems = [list(Draft4Validator(s).iter_errors(seen.body)) for s in schemas]
        assert any(not p for p in problems), f"{seen.method} {seen.path}: {problems}"
    for seen in data:
        assert any(m == seen.method and p.match(seen.path) for m, p in data_routes), seen.path
        assert seen.raw == b""

    follower_body = fake.requests("POST", f"/apps/{APP}/addons")[0].body
    assert follower_body == {
        "plan": "heroku-postgresql:standard-2",
        "config": {"follow": "DATABASE"},
        "name": FOLLOWER,
        "confirm": APP,
    }
    assert fake.requests("POST", "/addon-attachments")[0].body == {
        "addon": FOLLOWER,
        "app": APP,
        "confirm": APP,
        "name": "DATABASE",
    }
