"""What a `/migrate` command or a button does: the one function each handler calls."""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime

from bot import decisions, notices
from bot.changeover import POSTGRES, can_have_followers
from bot.config import Settings
from bot.engine import Engine
from bot.heroku import HerokuClient
from bot.heroku.errors import HerokuError, NotFound
from bot.notify import Deliverer
from handlers.parse import PlanCommand, StartCommand
from handlers.render import PlanReport
from state.models import AuditEvent, Decision, Migration, Notice
from state.repository import Repository

log = logging.getLogger("migrate_bot.service")

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    return "mig-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


def utcnow() -> datetime:
    return datetime.now(UTC)


class MigrationService:
    """Commands and clicks, turned into state transitions and engine kicks."""

    def __init__(
        self,
        repo: Repository,
        heroku: HerokuClient,
        engine: Engine,
        deliverer: Deliverer,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repo = repo
        self.heroku = heroku
        self.engine = engine
        self.deliverer = deliverer
        self.settings = settings
        self.clock = clock

    async def start(self, cmd: StartCommand, *, user: str, channel: str) -> Migration:
        """Create the migration (taking the app's lock) and open its thread."""
        migration_id = new_id()
        m = Migration(
            id=migration_id,
            app=cmd.app,
            target_app=cmd.target_app,
            plan=cmd.plan,
            source=cmd.source,
            method=cmd.method,
            requested_by=user,
            channel=self.settings.migrate_channel or channel,
            follower_name=f"{migration_id}-{cmd.plan.split(':', 1)[-1]}",
            created_at=self.clock(),
        )
        await self.repo.create(
            m,
            AuditEvent(
                migration_id=m.id,
                event="requested",
                actor=user,
                at=self.clock(),
                detail={
                    "app": m.app,
                    "plan": m.plan,
                    "source": m.source,
                    "target_app": m.target_app,
                },
            ),
            [notices.thread()],
        )
        self.deliverer.kick(m.id)
        self.engine.kick(m.id)
        return m

    async def cancel(self, migration_id: str, *, user: str) -> Migration:
        now = self.clock()

        def cancel(m: Migration) -> Migration:
            m = decisions.cancel(m, user, now)
            notices.refresh(m)
            return m

        def told(m: Migration) -> list[Notice]:
            what = (
                "Putting the app back as it was."
                if not m.status.terminal
                else "Nothing is rolled back after promote."
            )
            return [
                notices.post(f":no_entry_sign: <@{user}> cancelled {m.id}. {what}"),
                *(
                    notices.approval_closed(m, a)
                    for a in m.approvals.values()
                    if a.decision is Decision.CANCELLED and a.decided_at == now
                ),
            ]

        m = await self.repo.update(
            migration_id,
            cancel,
            audit=[AuditEvent(migration_id=migration_id, event="cancel", actor=user, at=now)],
            notices=told,
        )
        self.deliverer.kick(m.id)
        self.engine.kick(m.id)
        return m

    async def decide(self, click: decisions.Click, *, is_approver: bool) -> Migration:
        """Apply an approve/reject click atomically; TransitionRefused changes nothing."""
        now = self.clock()
        event = "approved" if click.approve else "rejected"

        def decide(m: Migration) -> Migration:
            m = decisions.apply_click(m, click, now, is_approver=is_approver)
            notices.refresh(m)
            return m

        m = await self.repo.update(
            click.migration_id,
            decide,
            audit=[
                AuditEvent(
                    migration_id=click.migration_id,
                    event=event,
                    actor=click.user,
                    at=now,
                    detail={"gate": click.gate.value, "with_promote": click.with_promote},
                )
            ],
            notices=lambda m: [
                notices.approval_closed(m, m.approvals[click.gate]),
                *([notices.finished(m)] if m.status.terminal else []),
            ],
        )
        self.deliverer.kick(m.id)
        self.engine.kick(m.id)
        return m

    async def get(self, migration_id: str) -> Migration:
        return await self.repo.get(migration_id)

    async def recent(self, limit: int = 10) -> list[Migration]:
        return await self.repo.recent(limit)

    async def plan(self, cmd: PlanCommand) -> PlanReport:
        """Read the platform and say what `start` would do; changes nothing."""
        problems: list[str] = []
        warnings: list[str] = []
        source_addon = source_plan = None
        formation: dict[str, int] = {}
        own = self.settings.heroku_app_name
        apps = [cmd.app] + ([cmd.target_app] if cmd.target_app else [])
        if own and own in apps:
            problems.append(f"migrate-bot runs on {own}; it cannot migrate its own app.")
        try:
            for app in apps:
                await self.heroku.get_app(app)
            formation = {f.type: f.quantity for f in await self.heroku.list_formation(cmd.app)}
            try:
                await self.heroku.get_plan(cmd.plan.split(":", 1)[-1])
            except NotFound:
                problems.append(f"Plan {cmd.plan} does not exist.")
            found = await self.heroku.resolve_attachment(cmd.app, cmd.source)
            attachment = next(
                (a for a in found if a.namespace is None), found[0] if found else None
            )
            if attachment is None:
                problems.append(f"No database {cmd.source} on {cmd.app}.")
            else:
                addon = await self.heroku.get_addon(attachment.addon.app.name, attachment.addon.id)
                if addon is None or addon.addon_service.name != POSTGRES:
                    problems.append(f"{cmd.source} is not a Heroku Postgres database.")
                else:
                    source_addon, source_plan = addon.name, addon.plan.name
                    if not can_have_followers(source_plan):
                        problems.append(f"{source_plan} databases cannot have followers.")
            addons = await self.heroku.list_addons(cmd.app)
            if any(a.addon_service.name == "scheduler" for a in addons):
                warnings.append(
                    "Heroku Scheduler is installed: its jobs still run in maintenance mode. "
                    "Disable them for the window."
                )
        except NotFound as exc:
            problems.append(f"Not found on Heroku: {exc.message}")
        except HerokuError as exc:
            problems.append(f"Could not read the platform: {exc}")
        others = {t: q for t, q in formation.items() if t != "web" and q > 0}
        if others:
            listed = ", ".join(f"{t}={q}" for t, q in others.items())
            warnings.append(
                f"Non-web dynos ({listed}) keep writing in maintenance mode: the bot scales "
                "every process type to 0 and restores these quantities afterwards."
            )
        if "release" in formation:
            warnings.append(
                "The app has a release phase: promote waits for the Attach DATABASE release."
            )
        if cmd.target_app:
            warnings.append(
                f"{cmd.app} stays in maintenance with 0 dynos after promote (it still points at "
                "the "
                f"old database); move traffic to {cmd.target_app}."
            )
        return PlanReport(
            app=cmd.app,
            plan=cmd.plan,
            source=cmd.source,
            target_app=cmd.target_app,
            source_addon=source_addon,
            source_plan=source_plan,
            formation=formation,
            warnings=warnings,
            problems=problems,
        )
