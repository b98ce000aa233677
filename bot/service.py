"""What a `/migrate` command or a button does: the one function each handler calls."""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from bot import decisions
from bot.access import ApproverAccess
from bot.channels import ChannelCheck
from bot.config import Settings
from bot.engine import Engine
from bot.errors import Refused
from bot.heroku import HerokuClient
from bot.hooks import Hooks
from bot.methods import REGISTRY
from bot.methods.base import Method, PlanContext, PlanReport, PlanRequest
from state.errors import TransitionRefused
from state.models import AuditEvent, Decision, Migration, NewDatabase, Notice
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
        hooks: Hooks,
        settings: Settings,
        *,
        methods: Mapping[str, Method] = REGISTRY,
        access: ApproverAccess | None = None,
        channels: ChannelCheck | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repo = repo
        self.heroku = heroku
        self.engine = engine
        self.hooks = hooks
        self.methods = methods
        self.settings = settings
        self.access = access
        self.channels = channels
        self.clock = clock

    async def start(
        self, request: PlanRequest, method: str, *, user: str, channel: str
    ) -> Migration:
        """Check what can be checked, then create the migration (taking every app's lock).

        Refused (nothing created, nothing locked) when the bot could not post the thread, or
        when the method's plan already says the migration cannot run.
        """
        channel = self.settings.migrate_channel or channel
        if self.channels is not None:
            problem = await self.channels.problem(channel)
            if problem is not None:
                raise Refused(problem)
        chosen = self._method(method)
        found = await self.plan(request, method)
        if found.blockers:
            raise Refused(
                "Not started; nothing was changed:\n" + "\n".join(f"• {b}" for b in found.blockers)
            )
        migration_id = new_id()
        m = Migration(
            id=migration_id,
            method=chosen.name,
            app=request.app,
            target_app=request.target_app,
            plan=request.plan,
            source=request.source,
            pg_version=request.version,
            requested_by=user,
            channel=channel,
            step=chosen.runbook[0].name,
            new=NewDatabase(name=f"{migration_id}-{request.plan.split(':', 1)[-1]}"),
            data=chosen.new_data(),
            shared_apps=found.shared_apps,
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
                    "method": m.method,
                    "app": m.app,
                    "plan": m.plan,
                    "source": m.source,
                    "target_app": m.target_app,
                    "shared_apps": ",".join(m.shared_apps),
                },
            ),
            self.hooks.opened(m),
        )
        self.hooks.wake(m.id)
        self.engine.kick(m.id)
        return m

    async def cancel(self, migration_id: str, *, user: str) -> Migration:
        now = self.clock()
        hooks = self.hooks

        def cancel(m: Migration) -> Migration:
            m = decisions.cancel(self._method(m.method), m, user, now)
            hooks.changed(m)
            return m

        def told(m: Migration) -> list[Notice]:
            # The runbook message shows the abort; the closed requests say who cancelled.
            closed = [
                n
                for a in m.approvals.values()
                if a.decision is Decision.CANCELLED and a.decided_at == now
                for n in hooks.gate_closed(m, a)
            ]
            return [*closed, *(hooks.finished(m) if m.ended else [])]

        m = await self.repo.update(
            migration_id,
            cancel,
            audit=[AuditEvent(migration_id=migration_id, event="cancel", actor=user, at=now)],
            notices=told,
        )
        self.hooks.wake(m.id)
        self.engine.kick(m.id)
        return m

    async def decide(self, click: decisions.Click, *, is_approver: bool) -> Migration:
        """Apply an approve/reject click atomically; TransitionRefused changes nothing.

        The checks that need no network come first (a stale button, the requester's own click);
        then, for an approval, whether the clicker may operate the apps on Heroku.
        """
        current = await self.repo.get(click.migration_id)
        reason = decisions.refuse_click(current, click, self.clock(), is_approver=is_approver)
        if reason is not None:
            raise TransitionRefused(reason)
        if click.approve and self.access is not None:
            try:
                await self.access.check(click.user, current.apps_down)
            except Refused as exc:
                await self.repo.record(
                    AuditEvent(
                        migration_id=click.migration_id,
                        event="approval_refused",
                        actor=click.user,
                        at=self.clock(),
                        detail={"gate": click.gate, "reason": exc.reason},
                    )
                )
                raise TransitionRefused(exc.reason) from None
        now = self.clock()
        event = "approved" if click.approve else "rejected"
        hooks = self.hooks

        def decide(m: Migration) -> Migration:
            m = decisions.apply_click(
                self._method(m.method), m, click, now, is_approver=is_approver
            )
            hooks.changed(m)
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
                    detail={"gate": click.gate, "with_next": click.with_next},
                )
            ],
            notices=lambda m: [
                *hooks.gate_closed(m, m.approvals[click.gate]),
                *(hooks.finished(m) if m.ended else []),
            ],
        )
        self.hooks.wake(m.id)
        self.engine.kick(m.id)
        return m

    async def get(self, migration_id: str) -> Migration:
        return await self.repo.get(migration_id)

    async def recent(self, limit: int = 10) -> list[Migration]:
        return await self.repo.recent(limit)

    async def plan(self, request: PlanRequest, method: str) -> PlanReport:
        """Ask the method what `start` would do; changes nothing."""
        chosen = self._method(method)
        found = await chosen.plan(PlanContext(self.heroku, self.settings), request)
        if self.settings.dyno and not self.settings.heroku_app_name:
            found.warnings.append(OWN_APP_UNKNOWN)
        return found

    def _method(self, name: str) -> Method:
        method = self.methods.get(name)
        if method is None:
            raise Refused(
                f"This bot does not know the method `{name}`; it knows {', '.join(self.methods)}."
            )
        return method


OWN_APP_UNKNOWN = (
    "The bot does not know which app it runs on (HEROKU_APP_NAME is not set), so it cannot "
    "refuse to migrate itself: set HEROKU_APP_NAME, or run `heroku labs:enable "
    "runtime-dyno-metadata` on the bot's app."
)
