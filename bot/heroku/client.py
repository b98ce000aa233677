"""Async client for the Heroku Platform API and Data API, doing what the official CLI does.

Request shapes follow what the official CLI sends and the platform hyper-schema; one
instance is shared by every migration in a process, so its rate pacing is process-wide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.heroku.errors import (
    CreateOutcomeUnknown,
    HerokuError,
    HerokuTransportError,
    NotFound,
    ServerError,
    UnexpectedResponse,
    Unprocessable,
)
from bot.heroku.models import (
    Addon,
    App,
    Attachment,
    Collaborator,
    Database,
    Dyno,
    Formation,
    Plan,
    Release,
    WaitStatus,
)
from bot.heroku.transport import CallRecord, Retry, Transport, backoff

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

POSTGRES = "heroku-postgresql"
# A guard against a server that keeps answering 206 with the same Next-Range.
MAX_PAGES = 1000


def _seg(value: str) -> str:
    """One URL path segment; ':' stays as is for plan names like heroku-postgresql:standard-0."""
    return quote(value, safe=":@")


def _plan_name(plan: str, service: str) -> str:
    """`standard-2` → `heroku-postgresql:standard-2`; a full plan name is kept."""
    return plan if ":" in plan else f"{service}:{plan}"


class HerokuClient:
    """Platform API (`api_url`) and Data API (`data_api_url`) calls the runbooks need."""

    def __init__(
        self,
        api_key: SecretStr,
        *,
        api_url: str = "https://api.heroku.com",
        data_api_url: str = "https://api.data.heroku.com",
        timeout: float = 30.0,
        max_retries: int = 4,
        on_call: Callable[[CallRecord], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pacer: Callable[[float], Awaitable[float]] | None = None,
    ) -> None:
        self._api = api_url.rstrip("/")
        self._data = data_api_url.rstrip("/")
        self._transport = Transport(
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            on_call=on_call,
            sleep=sleep,
            pacer=pacer,
        )

    def __repr__(self) -> str:
        return f"HerokuClient(api_url={self._api!r}, data_api_url={self._data!r})"

    @property
    def rate_limit_remaining(self) -> int | None:
        """The last `RateLimit-Remaining` Heroku reported, or None before the first answer."""
        return self._transport.rate_limit_remaining

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> HerokuClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Platform API: apps, formation, dynos

    async def get_app(self, app: str) -> App:
        path = f"/apps/{_seg(app)}"
        return await self._one(App, "GET", path, retry=Retry.READ)

    async def set_maintenance(self, app: str, on: bool) -> App:
        path = f"/apps/{_seg(app)}"
        body = {"maintenance": on}
        return await self._one(App, "PATCH", path, retry=Retry.IDEMPOTENT, body=body)

    async def list_formation(self, app: str) -> list[Formation]:
        return await self._list(Formation, f"/apps/{_seg(app)}/formation")

    async def scale(self, app: str, quantities: Mapping[str, int]) -> list[Formation]:
        """Set absolute quantities per process type (never relative, so a re-send is harmless)."""
        if not quantities:
            return await self.list_formation(app)
        path = f"/apps/{_seg(app)}/formation"
        body = {"updates": [{"type": t, "quantity": int(n)} for t, n in quantities.items()]}
        data = await self._json("PATCH", self._api, path, retry=Retry.IDEMPOTENT, body=body)
        return self._parse_list(Formation, data, "PATCH", path)

    async def list_dynos(self, app: str) -> list[Dyno]:
        return await self._list(Dyno, f"/apps/{_seg(app)}/dynos")

    async def stop_dyno(self, app: str, dyno: str) -> None:
        """Stop one dyno; a dyno that is already gone counts as stopped."""
        path = f"/apps/{_seg(app)}/dynos/{_seg(dyno)}/actions/stop"
        try:
            await self._json("POST", self._api, path, retry=Retry.IDEMPOTENT)
        except NotFound:
            return

    # Platform API: attachments and add-ons

    async def resolve_attachment(self, app: str, name: str) -> list[Attachment]:
        """Attachments matching `name` (DATABASE, HEROKU_POSTGRESQL_RED, an add-on name) on app."""
        path = "/actions/addon-attachments/resolve"
        body = {"addon_attachment": name, "app": app}
        data = await self._json("POST", self._api, path, retry=Retry.READ, body=body)
        return self._parse_list(Attachment, data, "POST", path)

    async def list_attachments(self, app: str) -> list[Attachment]:
        return await self._list(Attachment, f"/apps/{_seg(app)}/addon-attachments")

    async def create_attachment(
        self, app: str, addon: str, *, name: str | None = None, namespace: str | None = None
    ) -> Attachment:
        """Attach `addon` to `app` (confirm=app like the CLI); found again, not re-sent, after
        an uncertain failure."""
        body: dict[str, Any] = {"addon": addon, "app": app, "confirm": app}
        if name is not None:
            body["name"] = name
        if namespace is not None:
            body["namespace"] = namespace
        known: set[str] = set()
        if name is None:
            # The server picks the name, so "ours" is an attachment that was not there before.
            known = {a.id for a in await self.list_attachments(app) if _of_addon(a, addon)}

        def ours(a: Attachment) -> bool:
            if not _of_addon(a, addon) or (namespace is not None and a.namespace != namespace):
                return False
            return a.name == name if name is not None else a.id not in known

        async def send() -> Attachment:
            path = "/addon-attachments"
            return await self._one(Attachment, "POST", path, retry=Retry.CREATE, body=body)

        async def find() -> Attachment | None:
            return next((a for a in await self.list_attachments(app) if ours(a)), None)

        return await self._create("attachment", name or f"of {addon}", app, send, find)

    async def list_addon_attachments(self, addon_id: str) -> list[Attachment]:
        """Every attachment of one add-on, in every app it is attached to."""
        return await self._list(Attachment, f"/addons/{_seg(addon_id)}/addon-attachments")

    async def list_addons(self, app: str) -> list[Addon]:
        return await self._list(Addon, f"/apps/{_seg(app)}/addons")

    async def get_addon(self, app: str, addon: str) -> Addon | None:
        path = f"/apps/{_seg(app)}/addons/{_seg(addon)}"
        try:
            return await self._one(Addon, "GET", path, retry=Retry.READ)
        except NotFound:
            return None

    async def get_plan(self, plan: str, service: str = POSTGRES) -> Plan:
        """A plan by name; `standard-2` is read as `<service>:standard-2`."""
        path = f"/addon-services/{_seg(service)}/plans/{_seg(_plan_name(plan, service))}"
        return await self._one(Plan, "GET", path, retry=Retry.READ)

    async def create_follower(self, app: str, *, plan: str, follow: str, name: str) -> Addon:
        """Create a Postgres follower of `follow` named `name`; never creates it twice."""
        path = f"/apps/{_seg(app)}/addons"
        body = {
            "plan": _plan_name(plan, POSTGRES),
            "config": {"follow": follow},
            "name": name,
            "confirm": app,
        }

        async def send() -> Addon:
            return await self._one(Addon, "POST", path, retry=Retry.CREATE, body=body)

        async def find() -> Addon | None:
            return next((a for a in await self.list_addons(app) if a.name == name), None)

        return await self._create("add-on", name, app, send, find)

    async def destroy_addon(self, app: str, addon: str) -> Addon | None:
        """Destroy an add-on like `addons:destroy` (force false); None if it is already gone."""
        path = f"/apps/{_seg(app)}/addons/{_seg(addon)}"
        body = {"force": False}
        try:
            return await self._one(Addon, "DELETE", path, retry=Retry.IDEMPOTENT, body=body)
        except NotFound:
            return None

    # Platform API: releases and account

    async def list_releases(self, app: str, *, limit: int = 5) -> list[Release]:
        """The newest `limit` releases, newest first (one page, like pg:promote)."""
        range_ = f"version ..; max={limit}, order=desc"
        return await self._list(Release, f"/apps/{_seg(app)}/releases", range_=range_, pages=1)

    async def get_release(self, app: str, release: str) -> Release:
        path = f"/apps/{_seg(app)}/releases/{_seg(release)}"
        return await self._one(Release, "GET", path, retry=Retry.READ)

    async def list_collaborators(self, app: str) -> list[Collaborator]:
        """Who may operate `app` (team apps: with their permissions)."""
        return await self._list(Collaborator, f"/apps/{_seg(app)}/collaborators")

    async def get_rate_limit(self) -> int:
        """Tokens left in the account's budget (this call does not spend one)."""
        path = "/account/rate-limits"
        data = await self._json("GET", self._api, path, retry=Retry.READ)
        remaining = data.get("remaining") if isinstance(data, dict) else None
        if not isinstance(remaining, int):
            raise UnexpectedResponse("GET", path, "no integer 'remaining'")
        self._transport.rate_limit_remaining = remaining
        return remaining

    # Data API

    async def get_database(self, addon_id: str) -> Database:
        path = f"/client/v11/databases/{_seg(addon_id)}"
        return await self._one(Database, "GET", path, retry=Retry.READ, base=self._data)

    async def get_wait_status(self, addon_id: str) -> WaitStatus:
        path = f"/client/v11/databases/{_seg(addon_id)}/wait_status"
        return await self._one(WaitStatus, "GET", path, retry=Retry.READ, base=self._data)

    async def unfollow(self, addon_id: str) -> None:
        path = f"/client/v11/databases/{_seg(addon_id)}/unfollow"
        await self._json("PUT", self._data, path, retry=Retry.IDEMPOTENT)

    # Plumbing

    async def _create(
        self,
        kind: str,
        label: str,
        app: str,
        send: Callable[[], Awaitable[T]],
        find: Callable[[], Awaitable[T | None]],
    ) -> T:
        """POST at most once per proof that the previous POST did not land.

        Heroku has no idempotency keys: after a timeout, a dropped connection or a 5xx the
        create may have happened, so look it up first and re-send only when it is not there.
        """
        resent = False
        failures = 0
        while True:
            try:
                return await send()
            except Unprocessable:
                # A re-sent create can collide with a first one that landed late (name taken).
                if not resent:
                    raise
                found = await self._lookup(kind, label, app, find)
                if found is None:
                    raise
                return found
            except (HerokuTransportError, ServerError):
                failures += 1
                await self._transport.sleep(backoff(failures))
                found = await self._lookup(kind, label, app, find)
                if found is not None:
                    return found
                if failures > self._transport.max_retries:
                    raise
                resent = True

    async def _lookup(
        self, kind: str, label: str, app: str, find: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        try:
            return await find()
        except HerokuError as exc:
            raise CreateOutcomeUnknown(kind, label, app) from exc

    async def _json(
        self,
        method: str,
        base: str,
        path: str,
        *,
        retry: Retry,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        response = await self._transport.request(
            method, base, path, retry=retry, body=body, headers=headers
        )
        return _decode(response, method, path)

    async def _one(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        retry: Retry,
        body: Mapping[str, Any] | None = None,
        base: str | None = None,
    ) -> M:
        data = await self._json(method, base or self._api, path, retry=retry, body=body)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise UnexpectedResponse(method, path, _problem(exc)) from None

    async def _list(
        self, model: type[M], path: str, *, range_: str | None = None, pages: int = MAX_PAGES
    ) -> list[M]:
        """GET a list, following 206 + Next-Range by re-sending with `Range: <Next-Range>`."""
        items: list[M] = []
        for _ in range(pages):
            headers = {"Range": range_} if range_ else None
            response = await self._transport.request(
                "GET", self._api, path, retry=Retry.READ, headers=headers
            )
            items.extend(self._parse_list(model, _decode(response, "GET", path), "GET", path))
            next_range = response.headers.get("Next-Range")
            if response.status_code != 206 or not next_range or next_range == range_:
                break
            range_ = next_range
        return items

    def _parse_list(self, model: type[M], data: Any, method: str, path: str) -> list[M]:
        if not isinstance(data, list):
            raise UnexpectedResponse(method, path, "expected a JSON array")
        try:
            return [model.model_validate(item) for item in data]
        except ValidationError as exc:
            raise UnexpectedResponse(method, path, _problem(exc)) from None


def _of_addon(attachment: Attachment, addon: str) -> bool:
    return addon in (attachment.addon.id, attachment.addon.name)


def _decode(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise UnexpectedResponse(method, path, "body is not JSON") from None


def _problem(exc: ValidationError) -> str:
    """Where and what, never the values (a body may hold credentials)."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    return "; ".join(parts[:5])
