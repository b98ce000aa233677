"""The simulated Heroku account: apps, add-ons, attachments, releases and the rules between them.

No HTTP here: routes call these methods and render what they return. The rules a follower
changeover depends on live here: promote replaces the DATABASE attachment and refuses to
orphan the last billing attachment, maintenance does not stop dynos, formation changes do,
and the app's DATABASE add-on is written to by its running dynos.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.heroku import catalog
from sandbox.heroku.backend import DatabaseBackend, DatabaseStatus, SimulatedBackend, Writers
from sandbox.heroku.bucket import TokenBucket
from sandbox.heroku.faults import Fault

POOLER_NAMESPACE = "connection-pooling:default"
_ATTACHMENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
_SUPPORTED_CONFIG = frozenset({"follow"})


class ApiError(Exception):
    """A Heroku error answer: HTTP status plus the `{id, message}` body."""

    def __init__(self, status: int, id: str, message: str, *, resource: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.id = id
        self.message = message
        self.resource = resource

    def body(self) -> dict[str, str]:
        body = {"id": self.id, "message": self.message}
        if self.resource is not None:
            body["resource"] = self.resource
        return body


def not_found(resource: str, what: str) -> ApiError:
    return ApiError(404, "not_found", f"Couldn't find that {what}.", resource=resource)


def invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_params", message)


def new_id() -> str:
    return str(uuid.uuid4())


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Formation:
    id: str
    type: str
    quantity: int
    size: str
    command: str
    created_at: str
    updated_at: str


@dataclass(slots=True)
class Dyno:
    id: str
    name: str
    type: str
    command: str
    size: str
    release_id: str
    release_version: int
    created_at: str
    one_off: bool = False
    state: str = "up"


@dataclass(slots=True)
class Release:
    id: str
    version: int
    description: str
    created_at: str
    done_at: float  # monotonic; the release phase is "pending" until then
    addon_plan_names: tuple[str, ...]


@dataclass(slots=True)
class App:
    id: str
    name: str
    created_at: str
    updated_at: str
    maintenance: bool = False
    region: str = "us"
    stack: str = "heroku-24"
    formation: dict[str, Formation] = field(default_factory=dict)
    dynos: list[Dyno] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)


@dataclass(slots=True)
class Addon:
    id: str
    name: str
    app_id: str  # billing app
    plan: catalog.Plan
    created_at: str
    updated_at: str
    provider_id: str
    provision_message: str


@dataclass(slots=True)
class Attachment:
    id: str
    name: str
    addon_id: str
    app_id: str
    namespace: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class Call:
    """One API request as the stand-in saw it; `status` None means the connection was dropped."""

    method: str
    path: str
    body: Any
    status: int | None
    api: str  # "platform" | "data"
    started: float = 0.0  # epoch seconds when the request arrived
    duration: float = 0.0  # seconds the stand-in spent on it (what "inside Heroku" costs)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "body": self.body,
            "status": self.status,
            "api": self.api,
            "started": self.started,
            "duration": self.duration,
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """A request (or, when checked, a response) that broke the published contract."""

    kind: str
    method: str
    path: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "method": self.method, "path": self.path, "detail": self.detail}


class World:
    """All state of one simulated Heroku account, plus the recordings tests read."""

    def __init__(
        self,
        backend: DatabaseBackend | None = None,
        *,
        page_size: int = 200,
        bucket: TokenBucket | None = None,
        release_seconds: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend: DatabaseBackend = backend or SimulatedBackend(clock=clock)
        self.bucket = bucket or TokenBucket(clock=clock)
        self.page_size = page_size
        self.release_seconds = release_seconds
        self.owner_id = new_id()
        self.owner_email = "ops@example.com"
        self.apps: dict[str, App] = {}
        self.addons: dict[str, Addon] = {}
        self.attachments: dict[str, Attachment] = {}
        self.calls: list[Call] = []
        self.violations: list[Violation] = []
        self.faults: list[Fault] = []
        # Called on the world's thread whenever who-writes-where may have changed (formation,
        # maintenance, dynos, attachments): the sandbox's demo app follows the platform this way.
        self.observers: list[Callable[[World], None]] = []
        self._rng = random.Random(seed)  # noqa: S311  (names and colours, not secrets)
        self._clock = clock

    # -- lookups ---------------------------------------------------------------------------

    def app(self, ident: str) -> App:
        for app in self.apps.values():
            if ident in (app.id, app.name):
                return app
        raise not_found("app", "app")

    def addon(self, ident: str) -> Addon:
        for addon in self.addons.values():
            if ident in (addon.id, addon.name):
                return addon
        raise not_found("add_on", "add-on")

    def addons_for_app(self, app: App) -> list[Addon]:
        """Add-ons billed to the app or attached to it."""
        attached = {att.addon_id for att in self.attachments_for_app(app)}
        return [a for a in self.addons.values() if a.app_id == app.id or a.id in attached]

    def addon_for_app(self, app: App, ident: str) -> Addon:
        """An add-on of the app by id, name or one of the app's attachment names."""
        for addon in self.addons_for_app(app):
            if ident in (addon.id, addon.name):
                return addon
        att = self._attachment_named(app, _strip_url(ident), None)
        if att is not None:
            return self.addons[att.addon_id]
        raise not_found("add_on", "add-on")

    def attachments_for_app(self, app: App) -> list[Attachment]:
        return [att for att in self.attachments.values() if att.app_id == app.id]

    def attachments_of(self, addon: Addon) -> list[Attachment]:
        return [att for att in self.attachments.values() if att.addon_id == addon.id]

    def attachment(self, ident: str) -> Attachment:
        if ident in self.attachments:
            return self.attachments[ident]
        raise not_found("add_on attachment", "add on attachment")

    def resolve_attachments(
        self, ident: str, *, app: str | None = None, service: str | None = None
    ) -> list[Attachment]:
        """What `POST /actions/addon-attachments/resolve` answers for `ident` (404 if nothing)."""
        scope = self.app(app) if app is not None else None
        if "::" in ident:
            app_part, ident = ident.split("::", 1)
            scope = self.app(app_part)
        candidates = self.attachments_for_app(scope) if scope else list(self.attachments.values())
        if service not in (None, catalog.SERVICE):
            candidates = []
        found = [att for att in candidates if att.name == ident]
        if not found:
            found = [att for att in candidates if att.name == _strip_url(ident.upper())]
        if not found:
            found = [
                att for att in candidates if ident in (self.addons[att.addon_id].name, att.addon_id)
            ]
        if not found:
            raise not_found("add_on attachment", "add on attachment")
        return found

    def config_vars(self, app: App) -> dict[str, str]:
        return {
            f"{att.name}_URL": self.backend.url(
                att.addon_id, pooled=att.namespace == POOLER_NAMESPACE
            )
            for att in self.attachments_for_app(app)
        }

    def addon_config_var_names(self, addon: Addon) -> list[str]:
        return [
            f"{att.name}_URL" for att in self.attachments_of(addon) if att.app_id == addon.app_id
        ]

    def addon_state(self, addon: Addon) -> str:
        return "provisioned" if self.backend.status(addon.id).available else "provisioning"

    def release(self, app: App, ident: str) -> Release:
        for release in app.releases:
            if ident in (release.id, str(release.version)):
                return release
        raise not_found("release", "release")

    def release_status(self, release: Release) -> str:
        return "succeeded" if self._clock() >= release.done_at else "pending"

    # -- app, formation, dynos -------------------------------------------------------------

    def update_app(self, app: App, *, maintenance: bool | None, name: str | None) -> App:
        if name is not None and name != app.name:
            if any(other.name == name for other in self.apps.values()):
                raise invalid(f"Name {name} is already taken.")
            app.name = name
        if maintenance is not None:
            app.maintenance = maintenance
        app.updated_at = timestamp()
        self._sync_writers()
        return app

    def update_formation(self, app: App, updates: Iterable[Mapping[str, Any]]) -> list[Formation]:
        """Batch update with absolute quantities; validates every update before applying any."""
        planned: list[tuple[Formation, int, str]] = []
        for update in updates:
            formation = self._formation(app, str(update["type"]))
            quantity = int(update.get("quantity", formation.quantity))
            if quantity < 0:
                raise invalid("Quantity must be zero or more.")
            size = self._dyno_size(update.get("dyno_size"), formation.size)
            planned.append((formation, quantity, size))
        changed: dict[str, Formation] = {}
        for formation, quantity, size in planned:
            formation.quantity = quantity
            formation.size = size
            formation.updated_at = timestamp()
            changed[formation.type] = formation
        self._rebuild_dynos(app)
        self._sync_writers()
        return list(changed.values())

    def stop_dyno(self, app: App, ident: str) -> None:
        """Stop a dyno; a formation dyno is restarted by the dyno manager, a one-off is gone."""
        for index, dyno in enumerate(app.dynos):
            if ident in (dyno.id, dyno.name):
                if dyno.one_off:
                    del app.dynos[index]
                else:
                    dyno.id = new_id()
                    dyno.created_at = timestamp()
                self._sync_writers()
                return
        raise not_found("dyno", "dyno")

    def add_dyno(self, app: App, *, type: str = "run", command: str = "bash") -> Dyno:
        """Start a one-off dyno (like `heroku run`); it writes to the database until stopped."""
        taken = {dyno.name for dyno in app.dynos}
        name = f"{type}.{self._rng.randint(1000, 9999)}"
        while name in taken:
            name = f"{type}.{self._rng.randint(1000, 9999)}"
        release = app.releases[-1]
        dyno = Dyno(
            new_id(), name, type, command, "Standard-1X", release.id, release.version,
            timestamp(), one_off=True,
        )  # fmt: skip
        app.dynos.append(dyno)
        self._sync_writers()
        return dyno

    # -- add-ons and attachments -----------------------------------------------------------

    def plan(self, service: str, ident: str) -> catalog.Plan:
        plan = (
            catalog.find_plan(ident) if service in (catalog.SERVICE, catalog.SERVICE_ID) else None
        )
        if plan is None:
            raise not_found("plan", "add-on plan")
        return plan

    def create_addon(
        self,
        app: App,
        *,
        plan: str,
        config: Mapping[str, str],
        name: str | None = None,
        attachment_name: str | None = None,
        confirm: str | None = None,
    ) -> Addon:
        found = catalog.find_plan(plan)
        if found is None:
            raise ApiError(
                404,
                "not_found",
                f'Couldn\'t find either the add-on service or the add-on plan of "{plan}".',
                resource="plan",
            )
        unsupported = sorted(set(config) - _SUPPORTED_CONFIG)
        if unsupported:
            raise invalid(f"Unsupported option(s) for {catalog.SERVICE}: {', '.join(unsupported)}.")
        leader = self._database_ref(app, config["follow"]) if "follow" in config else None
        if leader is not None:
            self._check_can_follow(found, leader)
        if name is not None and any(a.name == name for a in self.addons.values()):
            raise invalid(f"Name {name} is already taken by another add-on.")
        att_name = (
            _checked_attachment_name(attachment_name)
            if attachment_name is not None
            else self._default_attachment_name(app, first_gets_database=True)
        )
        replaced = self._replaced_attachment(app, att_name, None, confirm, addon_id=None)
        addon = self._new_addon(app, found, name, leader)
        if replaced is not None:
            self._remove_attachment(replaced)
        self._add_attachment(addon, app, att_name, None)
        self._sync_writers()
        return addon

    def destroy_addon(self, app: App, ident: str, *, force: bool) -> Addon:
        addon = self.addon_for_app(app, ident)
        if addon.app_id != app.id:
            billing = self.apps[addon.app_id].name
            raise invalid(f"{addon.name} is billed to {billing}; destroy it from there.")
        elsewhere = sorted(
            {self.apps[att.app_id].name for att in self.attachments_of(addon)} - {app.name}
        )
        if elsewhere and not force:
            raise invalid(
                f"{addon.name} is also attached to {', '.join(elsewhere)}; "
                "pass force to destroy it anyway."
            )
        for att in self.attachments_of(addon):
            self._remove_attachment(att)
        del self.addons[addon.id]
        self.backend.destroy(addon.id)
        self._sync_writers()
        return addon

    def attach(
        self,
        *,
        addon: str,
        app: str,
        name: str | None = None,
        namespace: str | None = None,
        confirm: str | None = None,
    ) -> Attachment:
        """Attach an add-on to an app; naming an attachment in use replaces it (promote)."""
        target = self.addon(addon)
        into = self.app(app)
        att_name = (
            _checked_attachment_name(name)
            if name is not None
            else self._default_attachment_name(into, first_gets_database=False)
        )
        replaced = self._replaced_attachment(into, att_name, namespace, confirm, addon_id=target.id)
        if replaced is not None:
            self._remove_attachment(replaced)
        att = self._add_attachment(target, into, att_name, namespace)
        self._sync_writers()
        return att

    def detach(self, ident: str) -> Attachment:
        att = self.attachment(ident)
        self._check_not_last_billing(att, "before detaching it")
        self._remove_attachment(att)
        self._sync_writers()
        return att

    # -- Data API --------------------------------------------------------------------------

    def database(self, ident: str) -> Addon:
        for addon in self.addons.values():
            if ident in (addon.id, addon.name):
                return addon
        raise ApiError(404, "not_found", "Couldn't find that database.")

    def database_status(self, addon: Addon) -> DatabaseStatus:
        return self.backend.status(addon.id)

    def followers(self, addon: Addon) -> list[Addon]:
        return [a for a in self.addons.values() if self.backend.status(a.id).leader_id == addon.id]

    def unfollow(self, addon: Addon) -> str:
        status = self.backend.status(addon.id)
        if status.leader_id is None:
            raise invalid(f"{addon.name} is not a follower.")
        if not status.available:
            raise invalid(f"{addon.name} is still provisioning; wait until it is available.")
        leader = self.addons.get(status.leader_id)
        self.backend.unfollow(addon.id)
        leader_name = leader.name if leader else "its leader"
        return f"{addon.name} will stop following {leader_name} and become writable."

    # -- control ---------------------------------------------------------------------------

    def seed_app(
        self,
        name: str,
        *,
        formation: Mapping[str, int] | None = None,
        database_plan: str | None = "standard-0",
        pooler: bool = False,
        extra_attachments: Iterable[str] = (),
        maintenance: bool = False,
    ) -> App:
        """Create an app as if it had been running for a while, with its DATABASE already up."""
        if not _APP_NAME.match(name):
            raise ValueError(f"invalid app name {name!r}")
        if any(app.name == name for app in self.apps.values()):
            raise ValueError(f"app {name!r} already exists")
        now = timestamp()
        app = App(new_id(), name, now, now, maintenance=maintenance)
        for type_, quantity in (formation if formation is not None else {"web": 1}).items():
            app.formation[type_] = Formation(
                new_id(), type_, int(quantity), "Standard-1X", f"bin/{type_}", now, now
            )
        self.apps[app.id] = app
        self._add_release(app, "Initial release")
        if database_plan is not None:
            plan = catalog.find_plan(database_plan)
            if plan is None:
                raise ValueError(f"unknown plan {database_plan!r}")
            addon = self._new_addon(app, plan, None, None, immediate=True)
            self._add_attachment(addon, app, "DATABASE", None)
            if pooler:
                self._add_attachment(addon, app, "DATABASE_CONNECTION_POOL", POOLER_NAMESPACE)
            for extra in extra_attachments:
                self._add_attachment(addon, app, _checked_attachment_name(extra), None)
        self._rebuild_dynos(app)
        self._sync_writers()
        return app

    def configure(self, **settings: float) -> None:
        """Change rates, page size and the token bucket at run time."""
        bucket_keys = {
            "bucket_capacity": "capacity",
            "bucket_refill_per_minute": "refill_per_minute",
            "bucket_tokens": "tokens",
        }
        backend_params = dict(settings)
        if "page_size" in backend_params:
            page_size = int(backend_params.pop("page_size"))
            if page_size < 1:
                raise ValueError("page_size must be at least 1")
            self.page_size = page_size
        if "release_seconds" in backend_params:
            self.release_seconds = float(backend_params.pop("release_seconds"))
        bucket = {
            bucket_keys[k]: backend_params.pop(k) for k in list(backend_params) if k in bucket_keys
        }
        if backend_params:
            self.backend.configure(**backend_params)
        if bucket:
            self.bucket.configure(**bucket)

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.consume()
                return fault
        return None

    def state(self) -> dict[str, Any]:
        """A secret-free summary for tests and the sandbox: names, never config var values."""
        databases = []
        for addon in self.addons.values():
            status = self.backend.status(addon.id)
            leader = self.addons.get(status.leader_id) if status.leader_id else None
            databases.append(
                {
                    "addon_id": addon.id,
                    "name": addon.name,
                    "available": status.available,
                    "following": leader.name if leader else None,
                    "behind_by": status.behind_by,
                    "commits": status.commits,
                }
            )
        return {
            "apps": [self.app_state(app) for app in self.apps.values()],
            "addons": [
                {
                    "id": addon.id,
                    "name": addon.name,
                    "app": self.apps[addon.app_id].name,
                    "plan": addon.plan.name,
                    "state": self.addon_state(addon),
                    "attachments": [
                        f"{self.apps[att.app_id].name}::{att.name}"
                        for att in self.attachments_of(addon)
                    ],
                }
                for addon in self.addons.values()
            ],
            "databases": databases,
            "rate_limit_remaining": self.bucket.remaining,
            "page_size": self.page_size,
        }

    def app_state(self, app: App) -> dict[str, Any]:
        return {
            "id": app.id,
            "name": app.name,
            "maintenance": app.maintenance,
            "formation": {f.type: f.quantity for f in app.formation.values()},
            "dynos": [dyno.name for dyno in app.dynos],
            "config_vars": sorted(f"{att.name}_URL" for att in self.attachments_for_app(app)),
            "attachments": [
                {
                    "id": att.id,
                    "name": att.name,
                    "namespace": att.namespace,
                    "addon": self.addons[att.addon_id].name,
                }
                for att in self.attachments_for_app(app)
            ],
            "releases": [
                {
                    "version": r.version,
                    "description": r.description,
                    "status": self.release_status(r),
                }
                for r in app.releases
            ],
        }

    # -- rules -----------------------------------------------------------------------------

    def _formation(self, app: App, ident: str) -> Formation:
        for formation in app.formation.values():
            if ident in (formation.id, formation.type):
                return formation
        raise ApiError(
            404, "not_found", f"Couldn't find that process type ({ident}).", resource="formation"
        )

    @staticmethod
    def _dyno_size(raw: Any, current: str) -> str:
        if raw is None:
            return current
        wanted = {raw.get("id"), raw.get("name")} - {None}
        for size in catalog.DYNO_SIZES:
            if wanted & {size, catalog.dyno_size_id(size)}:
                return size
        raise invalid("Couldn't find that dyno size.")

    def _rebuild_dynos(self, app: App) -> None:
        """One dyno per formation quantity (keeping running ones), plus the one-off dynos."""
        release = app.releases[-1]
        running = {dyno.name: dyno for dyno in app.dynos if not dyno.one_off}
        dynos: list[Dyno] = []
        for formation in app.formation.values():
            if formation.type == "release":
                continue  # the release phase runs only while a release is made
            for index in range(1, formation.quantity + 1):
                name = f"{formation.type}.{index}"
                dyno = running.get(name)
                if dyno is None or dyno.size != formation.size:
                    dyno = Dyno(
                        new_id(), name, formation.type, formation.command, formation.size,
                        release.id, release.version, timestamp(),
                    )  # fmt: skip
                dynos.append(dyno)
        app.dynos = dynos + [dyno for dyno in app.dynos if dyno.one_off]

    def _sync_writers(self) -> None:
        """Tell the backend who writes where: the dynos of each app write to its DATABASE."""
        writers: dict[str, Writers] = {}
        for app in self.apps.values():
            att = self._attachment_named(app, "DATABASE", None)
            if att is None:
                continue
            web = 0 if app.maintenance else sum(d.type == "web" for d in app.dynos)
            other = sum(d.type != "web" for d in app.dynos)
            before = writers.get(att.addon_id, Writers())
            writers[att.addon_id] = Writers(before.web + web, before.other + other)
        self.backend.set_writers(writers)
        for observer in self.observers:
            observer(self)

    def _attachment_named(self, app: App, name: str, namespace: str | None) -> Attachment | None:
        for att in self.attachments_for_app(app):
            if att.name == name and att.namespace == namespace:
                return att
        return None

    def _replaced_attachment(
        self,
        app: App,
        name: str,
        namespace: str | None,
        confirm: str | None,
        *,
        addon_id: str | None,
    ) -> Attachment | None:
        """The attachment a new one named `name` would replace, after checking it may be."""
        existing = self._attachment_named(app, name, namespace)
        if existing is None:
            return None
        if existing.addon_id == addon_id:
            addon = self.addons[existing.addon_id]
            raise invalid(f"{addon.name} is already attached to {app.name} as {name}.")
        if confirm != app.name:
            raise ApiError(
                400,
                "confirmation_required",
                f"{name} on {app.name} is in use and would be replaced. "
                f'To proceed, send "confirm": "{app.name}".',
            )
        self._check_not_last_billing(existing, "before replacing its config vars")
        return existing

    def _check_not_last_billing(self, att: Attachment, tail: str) -> None:
        addon = self.addons[att.addon_id]
        if att.app_id != addon.app_id or att.namespace is not None:
            return
        others = [
            other
            for other in self.attachments_of(addon)
            if other.id != att.id and other.app_id == addon.app_id and other.namespace is None
        ]
        if not others:
            app = self.apps[att.app_id]
            raise invalid(
                f"{att.name} on {app.name} is the last billing attachment to {addon.name}; "
                f"either remove the add-on entirely or add a new attachment to it {tail}."
            )

    def _default_attachment_name(self, app: App, *, first_gets_database: bool) -> str:
        if first_gets_database and self._attachment_named(app, "DATABASE", None) is None:
            return "DATABASE"
        taken = {att.name for att in self.attachments_for_app(app)}
        free = [c for c in catalog.COLOURS if f"HEROKU_POSTGRESQL_{c}" not in taken]
        if not free:
            raise invalid(f"{app.name} has no free HEROKU_POSTGRESQL_<COLOR> name left.")
        return f"HEROKU_POSTGRESQL_{self._rng.choice(free)}"

    def _database_ref(self, app: App, ref: str) -> Addon:
        """The add-on `follow` names: add-on name or id, attachment, or `app::ATTACHMENT`."""
        try:
            return self.addon(ref)
        except ApiError:
            pass
        try:
            attachments = self.resolve_attachments(ref, app=app.name)
        except ApiError:
            raise invalid(f"Couldn't find a database to follow named {ref}.") from None
        return self.addons[attachments[0].addon_id]

    def _check_can_follow(self, plan: catalog.Plan, leader: Addon) -> None:
        if not (plan.can_follow and leader.plan.can_follow):
            raise invalid("Followers are not supported on Essential-tier databases.")
        if not self.backend.status(leader.id).available:
            raise invalid(f"{leader.name} is not available yet; it cannot be followed.")

    def _new_addon(
        self,
        app: App,
        plan: catalog.Plan,
        name: str | None,
        leader: Addon | None,
        *,
        immediate: bool = False,
    ) -> Addon:
        now = timestamp()
        message = (
            "Follower will become available for read-only queries when up-to-date."
            if leader
            else "Database has been created and will be available shortly."
        )
        addon = Addon(
            new_id(), name or self._generate_addon_name(), app.id, plan, now, now,
            f"resource{self._rng.randint(10**8, 10**9 - 1)}@heroku.com", message,
        )  # fmt: skip
        self.backend.create(addon.id, leader_id=leader.id if leader else None, immediate=immediate)
        self.addons[addon.id] = addon
        return addon

    def _generate_addon_name(self) -> str:
        taken = {addon.name for addon in self.addons.values()}
        while True:
            adjective = self._rng.choice(catalog.ADJECTIVES)
            name = f"postgresql-{adjective}-{self._rng.randint(10000, 99999)}"
            if name not in taken:
                return name

    def _add_attachment(
        self, addon: Addon, app: App, name: str, namespace: str | None
    ) -> Attachment:
        now = timestamp()
        att = Attachment(new_id(), name, addon.id, app.id, namespace, now, now)
        self.attachments[att.id] = att
        self._add_release(app, f"Attach {name} (@ref:{addon.name})")
        return att

    def _remove_attachment(self, att: Attachment) -> None:
        del self.attachments[att.id]
        addon = self.addons[att.addon_id]
        self._add_release(self.apps[att.app_id], f"Detach {att.name} (@ref:{addon.name})")

    def _add_release(self, app: App, description: str) -> Release:
        phase = self.release_seconds if "release" in app.formation else 0.0
        plans = tuple(
            sorted({self.addons[att.addon_id].plan.name for att in self.attachments_for_app(app)})
        )
        release = Release(
            new_id(), len(app.releases) + 1, description, timestamp(), self._clock() + phase, plans
        )
        app.releases.append(release)
        return release


def _strip_url(name: str) -> str:
    return name.removesuffix("_URL")


def _checked_attachment_name(name: str) -> str:
    if not _ATTACHMENT_NAME.match(name) or name.endswith("_URL"):
        raise invalid(
            f"Attachment name {name!r} must start with a letter, use only uppercase letters, "
            "digits and underscores, and not end in _URL."
        )
    return name
