"""The simulated Heroku account: apps, add-ons, attachments, releases and the rules between them.

No HTTP here: routes call these methods and render what they return. The rules a follower
changeover depends on live here: promote replaces the DATABASE attachment and refuses to
orphan the last billing attachment, maintenance does not stop dynos, formation changes do,
the app's DATABASE add-on is written to by its running dynos, and a new add-on is unknown
to the Data API for a while.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sandbox.heroku import catalog, summary
from sandbox.heroku.backend import DatabaseBackend, DatabaseStatus, SimulatedBackend, Writers
from sandbox.heroku.bucket import TokenBucket
from sandbox.heroku.collaborators import Collaborator, Collaborators
from sandbox.heroku.credentials import (
    POOLER_NAMESPACE,
    check_credential,
    check_namespace,
    create_credential,
    credential_of,
)
from sandbox.heroku.faults import Fault
from sandbox.heroku.records import (
    DEFAULT_CREDENTIAL,
    Addon,
    ApiError,
    App,
    Attachment,
    Call,
    Dyno,
    Formation,
    Release,
    Violation,
    invalid,
    new_id,
    not_found,
    timestamp,
)
from sandbox.heroku.releases import ReleasePhase

__all__ = [
    "POOLER_NAMESPACE",
    "Addon",
    "ApiError",
    "App",
    "Attachment",
    "Call",
    "Dyno",
    "Formation",
    "Release",
    "Violation",
    "World",
]

_ATTACHMENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
_SUPPORTED_CONFIG = frozenset({"follow"})
_WORLD_SETTINGS = frozenset({"data_api_unknown_seconds", "follow_after_unfollow_seconds"})


class World:
    """All state of one simulated Heroku account, plus the recordings tests read."""

    def __init__(
        self,
        backend: DatabaseBackend | None = None,
        *,
        page_size: int = 200,
        bucket: TokenBucket | None = None,
        release_seconds: float = 0.0,
        data_api_unknown_seconds: float = 0.5,
        follow_after_unfollow_seconds: float = 0.0,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend: DatabaseBackend = backend or SimulatedBackend(clock=clock)
        self.bucket = bucket or TokenBucket(clock=clock)
        self.page_size = page_size
        self.releases = ReleasePhase(clock, release_seconds)
        # How long the Data API answers 404 for a just-created add-on (the platform knows it).
        self.data_api_unknown_seconds = data_api_unknown_seconds
        # How long a just-unfollowed database refuses new followers; 0 is off.
        self.follow_after_unfollow_seconds = follow_after_unfollow_seconds
        self.collaborators = Collaborators()
        self.owner_id = new_id()
        self.owner_email = "ops@example.com"
        # The account's team: every seeded app is shared with them, as a team's apps are.
        self.team: list[str] = []
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

    @property
    def release_seconds(self) -> float:
        return self.releases.release_seconds

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
            f"{att.name}_URL": self.attachment_url(att) for att in self.attachments_for_app(app)
        }

    def attachment_url(self, att: Attachment) -> str:
        return self.backend.url(
            att.addon_id,
            pooled=att.namespace == POOLER_NAMESPACE,
            credential=credential_of(att.namespace),
        )

    def addon_config_var_names(self, addon: Addon) -> list[str]:
        return [
            f"{att.name}_URL" for att in self.attachments_of(addon) if att.app_id == addon.app_id
        ]

    def addon_state(self, addon: Addon) -> str:
        ready = self.data_api_knows(addon) and self.backend.status(addon.id).available
        return "provisioned" if ready else "provisioning"

    def release(self, app: App, ident: str) -> Release:
        for release in app.releases:
            if ident in (release.id, str(release.version)):
                return release
        raise not_found("release", "release")

    def release_status(self, release: Release) -> str:
        return self.releases.status(release)

    def collaborators_of(self, app: App) -> list[Collaborator]:
        return self.collaborators.of(app)

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
            self._check_plans_follow(found, leader)
            self._check_followable(leader)
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
        check_namespace(namespace, target.credentials, target.name)
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

    def data_api_knows(self, addon: Addon) -> bool:
        """False for a while after the add-on was created: the Data API has not heard of it."""
        if addon.created_clock is None:
            return True
        return self._clock() >= addon.created_clock + self.data_api_unknown_seconds

    def follow_blocked(self, addon: Addon) -> bool:
        """True while a just-unfollowed database cannot get followers."""
        if addon.unfollowed_clock is None:
            return False
        return self._clock() < addon.unfollowed_clock + self.follow_after_unfollow_seconds

    def database(self, ident: str) -> Addon:
        for addon in self.addons.values():
            if ident in (addon.id, addon.name) and self.data_api_knows(addon):
                return addon
        raise ApiError(404, "not_found", "Couldn't find that database.")

    def database_status(self, addon: Addon) -> DatabaseStatus:
        return self.backend.status(addon.id)

    def followers(self, addon: Addon) -> list[Addon]:
        """Followers the Data API knows of."""
        return [
            a
            for a in self.addons.values()
            if self.backend.status(a.id).leader_id == addon.id and self.data_api_knows(a)
        ]

    def unfollow(self, addon: Addon) -> str:
        status = self.backend.status(addon.id)
        if status.leader_id is None:
            raise invalid(f"{addon.name} is not a follower.")
        if not status.available:
            raise invalid(f"{addon.name} is still provisioning; wait until it is available.")
        leader = self.addons.get(status.leader_id)
        self.backend.unfollow(addon.id)
        addon.unfollowed_clock = self._clock()
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
        extra_attachments: Iterable[str | Mapping[str, Any]] = (),
        maintenance: bool = False,
        credentials: Iterable[str] = (),
        database_bytes: int | None = None,
        database_version: str | None = None,
    ) -> App:
        """Create an app as if it had been running for a while, with its DATABASE already up.

        `extra_attachments` are names or `{"name", "namespace"}` mappings on that database.
        """
        if not _APP_NAME.match(name):
            raise ValueError(f"invalid app name {name!r}")
        if any(app.name == name for app in self.apps.values()):
            raise ValueError(f"app {name!r} already exists")
        extras = [_seeded_attachment(extra) for extra in extra_attachments]
        creds = list(credentials)
        wants_database = pooler or extras or creds
        if database_plan is None and (wants_database or database_bytes or database_version):
            raise ValueError("database options need a database_plan")
        plan = catalog.find_plan(database_plan) if database_plan is not None else None
        if database_plan is not None and plan is None:
            raise ValueError(f"unknown plan {database_plan!r}")
        if plan is not None:
            _check_seeded_database(plan, creds, extras, pooler=pooler)
        now = timestamp()
        app = App(new_id(), name, now, now, maintenance=maintenance)
        for type_, quantity in (formation if formation is not None else {"web": 1}).items():
            app.formation[type_] = Formation(
                new_id(), type_, int(quantity), "Standard-1X", f"bin/{type_}", now, now
            )
        self.apps[app.id] = app
        self.collaborators.add(app, self.owner_email, role="owner", user_id=self.owner_id)
        for email in self.team:
            if email != self.owner_email:
                self.collaborators.add(app, email)
        self.releases.new(app, "Initial release", (), immediate=True)
        if plan is not None:
            addon = self._new_addon(app, plan, None, None, immediate=True)
            if database_bytes is not None:
                addon.data_bytes = int(database_bytes)
            if database_version is not None:
                addon.version = str(database_version)
            for credential in creds:
                create_credential(addon, credential)
            self._add_attachment(addon, app, "DATABASE", None, immediate=True)
            if pooler:
                self._add_attachment(
                    addon, app, "DATABASE_CONNECTION_POOL", POOLER_NAMESPACE, immediate=True
                )
            for extra_name, namespace in extras:
                self._seed_attachment(addon, app, extra_name, namespace)
        self._rebuild_dynos(app)
        self._sync_writers()
        return app

    def seed_follower(
        self,
        of: str,
        app: str,
        plan: str = "standard-0",
        attachment_name: str | None = None,
    ) -> Addon:
        """A follower of `of` (add-on name or id), available at once, billed to and attached
        on `app` as `attachment_name` or HEROKU_POSTGRESQL_<COLOUR>."""
        leader = self.addon(of)
        into = self.app(app)
        found = catalog.find_plan(plan)
        if found is None:
            raise ValueError(f"unknown plan {plan!r}")
        self._check_plans_follow(found, leader)
        name = self._free_name(
            into, attachment_name or self._default_attachment_name(into, first_gets_database=False)
        )
        addon = self._new_addon(into, found, None, leader, immediate=True)
        self._add_attachment(addon, into, name, None, immediate=True)
        self._sync_writers()
        return addon

    def attach_to(
        self, addon: str, app: str, name: str = "DATABASE", namespace: str | None = None
    ) -> Attachment:
        """Attach an existing add-on to (another) app, e.g. one database shared by two apps."""
        att = self._seed_attachment(self.addon(addon), self.app(app), name, namespace)
        self._sync_writers()
        return att

    def add_credential(self, addon: str, name: str) -> Addon:
        """Create credential `name` on a database, so `credential:NAME` attachments may use it."""
        found = self.addon(addon)
        create_credential(found, name)
        return found

    def add_collaborator(
        self,
        app: str,
        email: str,
        role: str = "collaborator",
        permissions: Iterable[str] = (),
    ) -> Collaborator:
        return self.collaborators.add(self.app(app), email, role=role, permissions=permissions)

    def add_release_failure(self, app: str, pattern: str) -> None:
        """Releases of `app` (with a release phase) whose description matches `pattern` fail."""
        self.releases.add_failure(self.app(app), pattern)

    def clear_release_failures(self, app: str | None = None) -> None:
        self.releases.clear_failures(self.app(app) if app is not None else None)

    def configure(self, **settings: float) -> None:
        """Change rates, delays, page size and the token bucket at run time."""
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
            self.releases.release_seconds = float(backend_params.pop("release_seconds"))
        for key in _WORLD_SETTINGS & set(backend_params):
            seconds = float(backend_params.pop(key))
            if seconds < 0:
                raise ValueError(f"{key} must not be negative")
            setattr(self, key, seconds)
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
        return summary.world_state(self)

    def app_state(self, app: App) -> dict[str, Any]:
        return summary.app_state(self, app)

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

    @staticmethod
    def _check_plans_follow(plan: catalog.Plan, leader: Addon) -> None:
        for side in (plan, leader.plan):
            if not side.can_follow:
                raise invalid(
                    f"Followers are not supported on {side.tier.capitalize()}-tier databases."
                )

    def _check_followable(self, leader: Addon) -> None:
        if not self.backend.status(leader.id).available:
            raise invalid(f"{leader.name} is not available yet; it cannot be followed.")
        if self.follow_blocked(leader):
            raise invalid(
                f"{leader.name} is not available for following yet: it was recently unfollowed "
                "or forked. Please try again in a few minutes."
            )

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
            created_clock=None if immediate else self._clock(),
        )  # fmt: skip
        if leader is not None:
            # A follower is a physical copy: same data and version; credentials are its own.
            addon.version = leader.version
            addon.data_bytes = leader.data_bytes
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
        self, addon: Addon, app: App, name: str, namespace: str | None, *, immediate: bool = False
    ) -> Attachment:
        now = timestamp()
        att = Attachment(new_id(), name, addon.id, app.id, namespace, now, now)
        self.attachments[att.id] = att
        self._add_release(app, f"Attach {name} (@ref:{addon.name})", immediate=immediate)
        return att

    def _seed_attachment(
        self, addon: Addon, app: App, name: str, namespace: str | None
    ) -> Attachment:
        """Seeding never replaces: the name must be free on the app."""
        checked = self._free_name(app, name)
        check_namespace(namespace, addon.credentials, addon.name)
        return self._add_attachment(addon, app, checked, namespace, immediate=True)

    def _free_name(self, app: App, name: str) -> str:
        checked = _checked_attachment_name(name)
        if any(att.name == checked for att in self.attachments_for_app(app)):
            raise ValueError(f"{app.name} already has an attachment named {checked}")
        return checked

    def _remove_attachment(self, att: Attachment) -> None:
        del self.attachments[att.id]
        addon = self.addons[att.addon_id]
        self._add_release(self.apps[att.app_id], f"Detach {att.name} (@ref:{addon.name})")

    def _add_release(self, app: App, description: str, *, immediate: bool = False) -> Release:
        plans = tuple(
            sorted({self.addons[att.addon_id].plan.name for att in self.attachments_for_app(app)})
        )
        return self.releases.new(app, description, plans, immediate=immediate)


def _strip_url(name: str) -> str:
    return name.removesuffix("_URL")


def _check_seeded_database(
    plan: catalog.Plan,
    creds: list[str],
    extras: list[tuple[str, str | None]],
    *,
    pooler: bool,
) -> None:
    """Refuse a seeded database's options before anything is created, so a refusal leaves
    nothing behind."""
    known = [DEFAULT_CREDENTIAL]
    for credential in creds:
        check_credential(plan, known, credential)
        known.append(credential)
    names = ["DATABASE", *(["DATABASE_CONNECTION_POOL"] if pooler else [])]
    for name, namespace in extras:
        names.append(_checked_attachment_name(name))
        check_namespace(namespace, known, "the seeded database")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"attachment name(s) used twice: {', '.join(duplicated)}")


def _seeded_attachment(extra: str | Mapping[str, Any]) -> tuple[str, str | None]:
    if isinstance(extra, str):
        return extra, None
    unknown = sorted(set(extra) - {"name", "namespace"})
    if unknown or "name" not in extra:
        raise ValueError(f"an extra attachment is a name or {{name, namespace}}, not {extra!r}")
    namespace = extra.get("namespace")
    return str(extra["name"]), None if namespace is None else str(namespace)


def _checked_attachment_name(name: str) -> str:
    if not _ATTACHMENT_NAME.match(name) or name.endswith("_URL"):
        raise invalid(
            f"Attachment name {name!r} must start with a letter, use only uppercase letters, "
            "digits and underscores, and not end in _URL."
        )
    return name
