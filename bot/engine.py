"""The engine: run the next due step of a migration, persist the result, notify, return.

One process at a time advances a migration (a lease in Redis, renewed while a step runs); every
write goes through a leased, atomic transition, so a process that lost its lease cannot
overwrite the one that took over. Crash anywhere and the next process resumes from Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from bot import decisions
from bot.audit import CallLog
from bot.config import Settings
from bot.heroku import HerokuClient
from bot.heroku.errors import (
    CreateOutcomeUnknown,
    HerokuAPIError,
    HerokuError,
    HerokuTransportError,
    RateLimited,
    ServerError,
)
from bot.hooks import Hooks
from bot.logs import Scrubber, migration_context
from bot.methods import REGISTRY
from bot.methods.base import (
    Back,
    Done,
    Ensure,
    Fail,
    Kind,
    Method,
    Outcome,
    Step,
    StepContext,
    Wait,
)
from bot.slack.mrkdwn import cut, escape
from state.errors import LeaseLost
from state.models import Approval, AuditEvent, Decision, Migration, Notice, Status
from state.repository import Repository

log = logging.getLogger("migrate_bot.engine")

_TRANSIENT = (HerokuTransportError, RateLimited, ServerError, CreateOutcomeUnknown)
# A step's note as the runbook message shows it; the audit stream keeps it whole.
NOTE_LIMIT = 300
_MAX_STEPS_PER_ADVANCE = 40
DOWNTIME_POLL_SECONDS = 0.25
HEARTBEAT_STOP_SECONDS = 2.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class Engine:
    """Advances migrations; any number of processes may run one, Redis arbitrates."""

    def __init__(
        self,
        repo: Repository,
        heroku: HerokuClient,
        settings: Settings,
        hooks: Hooks,
        *,
        methods: Mapping[str, Method] = REGISTRY,
        holder: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        calls: CallLog | None = None,
        scrub: Scrubber | None = None,
    ) -> None:
        self.repo = repo
        self.heroku = heroku
        self.settings = settings
        self.hooks = hooks
        self.methods = methods
        self.holder = holder or f"engine-{secrets.token_hex(6)}"
        self.clock = clock
        self.calls = calls or CallLog()
        # Heroku's error texts can echo what was sent (a URL, a key): mask them before they
        # reach the state, the audit stream or Slack.
        self.scrub = scrub or Scrubber()
        self._running: dict[str, asyncio.Task[None]] = {}
        # The lease keeps other processes out; this keeps a tick and a kick in this process
        # from advancing the same migration at once (they share the lease holder).
        self._advancing: set[str] = set()
        self._drift_checked: dict[str, float] = {}

    @property
    def lease_ms(self) -> int:
        """Long enough to survive a slow Heroku call; a heartbeat renews it meanwhile."""
        return int(max(3.0, 3 * self.settings.migrate_poll_seconds) * 1000)

    async def tick(self) -> list[str]:
        """Start advancing every active migration (the scheduler calls this every interval).

        Each runs on its own task, so one migration's slow Heroku answers never hold up
        another's next step or retry.
        """
        ids = await self.repo.active_ids()
        for migration_id in ids:
            self.kick(migration_id)
        return ids

    def kick(self, migration_id: str) -> None:
        """Advance soon, without waiting for the next tick (after a click or a start)."""
        task = self._running.get(migration_id)
        if task is not None and not task.done():
            return
        task = asyncio.get_running_loop().create_task(self.advance(migration_id))
        self._running[migration_id] = task
        task.add_done_callback(
            lambda t: (
                self._running.pop(migration_id) if self._running.get(migration_id) is t else None
            )
        )

    async def advance(self, migration_id: str) -> None:
        if migration_id in self._advancing:
            return
        self._advancing.add(migration_id)
        try:
            with migration_context(migration_id):
                await self._advance_leased(migration_id)
        finally:
            self._advancing.discard(migration_id)

    async def _advance_leased(self, migration_id: str) -> None:
        if not await self.repo.acquire_lease(migration_id, self.holder, self.lease_ms):
            return
        stop = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(migration_id, stop))
        try:
            for _ in range(_MAX_STEPS_PER_ADVANCE):
                if not await self._run_once(migration_id):
                    break
        except LeaseLost:
            log.warning("lease lost; another process took over")
        except Exception:
            log.exception("engine error")
        finally:
            # Stopped by an event, not by cancelling it: on Python < 3.12 a cancellation that
            # lands inside redis-py's timeout handling can be swallowed, and awaiting the
            # cancelled task would then hang this migration for good.
            stop.set()
            await asyncio.wait({heartbeat}, timeout=HEARTBEAT_STOP_SECONDS)
            heartbeat.cancel()
            with contextlib.suppress(Exception):
                await self.repo.release_lease(migration_id, self.holder)
        try:
            await self._wake_when_due(migration_id)
        except Exception:
            log.warning("could not schedule the next run; the next tick will pick it up")

    async def _wake_when_due(self, migration_id: str) -> None:
        """Come back exactly when due if that is sooner than the next scheduler tick."""
        m = await self.repo.find(migration_id)
        if m is None or m.ended or m.status is Status.FAILED:
            return
        delay = m.next_run_at - self.clock().timestamp()
        if delay < self.settings.migrate_poll_seconds:
            asyncio.get_running_loop().call_later(max(delay, 0.0), self.kick, migration_id)

    async def _heartbeat(self, migration_id: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.lease_ms / 3000)
            if stop.is_set():
                return
            if not await self.repo.renew_lease(migration_id, self.holder, self.lease_ms):
                log.warning("lease renewal failed")
                return

    async def _save(
        self,
        migration_id: str,
        change: Callable[[Migration], None],
        *events: AuditEvent,
        notices: Callable[[Migration], list[Notice]] | None = None,
    ) -> Migration:
        """A leased transition; the notices it causes join the outbox in the same transaction."""

        def apply(m: Migration) -> Migration:
            change(m)
            return m

        audit = [*self.calls.drain(migration_id), *events]
        saved = await self.repo.update(
            migration_id, apply, lease=self.holder, audit=audit, notices=notices or ()
        )
        if notices or saved.parent_rev > saved.parent_shown:
            self.hooks.wake(migration_id)
        return saved

    def _event(
        self, m: Migration, event: str, **detail: str | int | float | bool | None
    ) -> AuditEvent:
        return AuditEvent(
            migration_id=m.id, event=event, actor="bot", at=self.clock(), detail=detail
        )

    async def _run_once(self, migration_id: str) -> bool:
        """Run one due step; True if another step may run right away."""
        m = await self.repo.get(migration_id)
        if m.ended or m.status is Status.FAILED:
            return False
        if m.next_run_at > self.clock().timestamp():
            return False
        method = self.methods.get(m.method)
        if method is None:
            # Written by a newer bot (a rollback of a deploy): leave it for one that knows it.
            log.error("unknown method; migration left as it is", extra={"method": m.method})
            return False
        if not method.aborting(m.step) and method.drift is not None and self._drift_due(m, method):
            checked = await self._ensure(m, method, _drift_check(method))
            if checked is None:
                return False
            m, outcome, _ = checked
            if not isinstance(outcome, Done):
                await self._apply(m, method, outcome)
                return False
        step = method.step(m.step)
        if step.kind is Kind.GATE:
            return await self._gate(m, method)
        if m.changed_platform_at is None and (step.changes_platform or step.disruptive):
            # Before the first change: from now on a failure keeps the apps locked for a person.
            now = self.clock()
            m = await self._save(m.id, lambda m: setattr(m, "changed_platform_at", now))
        assert step.run is not None  # only gates have none (Method checks it)
        checked = await self._ensure(m, method, step.run)
        if checked is None:
            return False
        m, outcome, told = checked
        m = await self._apply(m, method, outcome, told)
        return isinstance(outcome, Done | Back) and m.status is Status.RUNNING

    def _drift_due(self, m: Migration, method: Method) -> bool:
        """On resume (first run in this process), and every poll interval while it matters."""
        last = self._drift_checked.get(m.id)
        now = time.monotonic()
        if last is not None and now - last < self.settings.migrate_poll_seconds:
            return False
        if last is not None and m.step not in method.watched:
            return False
        self._drift_checked[m.id] = now
        return True

    async def _ensure(
        self, m: Migration, method: Method, ensure: Ensure
    ) -> tuple[Migration, Outcome, list[str]] | None:
        """Run an ensure with the engine's error handling; None if it will be retried later."""
        step = m.step
        ctx = StepContext(
            migration=m,
            heroku=self.heroku,
            settings=self.settings,
            clock=self.clock,
            save=lambda change: self._save(m.id, change),
        )
        log.info("running step", extra={"step": step, "attempt": m.attempt})
        try:
            outcome: Outcome = await ensure(ctx)
        except LeaseLost:
            raise
        except _TRANSIENT as exc:
            await self._transient(ctx.migration, method, exc)
            return None
        except HerokuAPIError as exc:
            refused = escape(f"{exc.message} ({exc.id or exc.status})")
            outcome = Fail(
                self.scrub(f"Heroku refused {step}: {refused}."), _hint_after(method, ctx.migration)
            )
        except HerokuError as exc:
            await self._transient(ctx.migration, method, exc)
            return None
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("step crashed", extra={"step": step, "ref": ref})
            outcome = Fail(
                f"An internal error stopped {step} (reference {ref} in the bot's logs).",
                _hint_after(method, ctx.migration),
            )
        return ctx.migration, outcome, ctx.notices

    async def _transient(self, m: Migration, method: Method, exc: Exception) -> bool:
        attempt = m.attempt + 1
        text = self.scrub(_describe(exc))
        if attempt >= decisions.MAX_ATTEMPTS:
            await self._apply(
                m,
                method,
                Fail(
                    f"{m.step} kept failing after {attempt} attempts: {text}",
                    _hint_after(method, m),
                ),
            )
            return False
        delay = decisions.retry_delay(attempt, self.settings.migrate_poll_seconds)
        if isinstance(exc, RateLimited) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        now = self.clock()

        def retry(m: Migration) -> None:
            m.attempt = attempt
            m.next_run_at = now.timestamp() + delay
            m.error = f"retrying: {text}"

        await self._save(
            m.id,
            retry,
            self._event(m, "step_retry", step=m.step, attempt=attempt, error=text),
        )
        log.warning("step will be retried", extra={"step": m.step, "error": text, "delay": delay})
        return False

    async def _apply(
        self, m: Migration, method: Method, outcome: Outcome, told: list[str] | None = None
    ) -> Migration:
        step = m.step
        now = self.clock()
        hooks = self.hooks
        said = told or []

        def extra(m: Migration) -> list[Notice]:
            return [n for text in said for n in hooks.told(m, text)]

        if isinstance(outcome, Wait):
            delay = (
                outcome.after if outcome.after is not None else self.settings.migrate_poll_seconds
            )
            if m.down:
                # The app is down: every second counts more than a few extra API calls.
                delay = min(delay, DOWNTIME_POLL_SECONDS)

            def wait(m: Migration) -> None:
                m.next_run_at = now.timestamp() + delay
                m.attempt = 0
                m.error = None
                if outcome.note and outcome.note != m.waiting:
                    m.waiting = outcome.note
                    hooks.changed(m)  # the runbook message shows what the step waits for

            return await self._save(m.id, wait, notices=extra if said else None)
        if isinstance(outcome, Back):
            voided: list[Approval] = []

            def back(m: Migration) -> None:
                voided[:] = decisions.step_back(method, m, outcome.to, outcome.reason, now)
                hooks.changed(m)

            def told_back(m: Migration) -> list[Notice]:
                return [*extra(m), *hooks.stepped_back(m, outcome.to, outcome.reason, voided)]

            return await self._save(
                m.id,
                back,
                self._event(m, "stepped_back", step=step, to=outcome.to, reason=outcome.reason),
                notices=told_back,
            )
        if isinstance(outcome, Fail):

            def fail(m: Migration) -> None:
                m.status = Status.FAILED
                m.error = outcome.error
                m.hint = outcome.hint
                if m.ended:  # nothing was changed: the apps are free again
                    m.finished_at = now
                hooks.changed(m)

            return await self._save(
                m.id,
                fail,
                self._event(m, "step_failed", step=step, error=outcome.error),
                notices=lambda m: [*extra(m), *hooks.failed(m, outcome.error, outcome.hint)],
            )
        nxt = decisions.next_step(method, step)

        def done(m: Migration) -> None:
            m.completed[step] = now
            m.step_notes[step] = cut(outcome.note, NOTE_LIMIT)
            m.attempt = 0
            m.error = None
            m.waiting = None
            hooks.changed(m)
            if nxt is None:
                m.status = decisions.ending_status(method, m, step)
                m.finished_at = now
            else:
                m.step = nxt
                m.next_run_at = now.timestamp()

        def told_done(m: Migration) -> list[Notice]:
            # The runbook message shows the step done; a new message only where people act.
            return [*extra(m), *hooks.finished(m)] if m.ended else extra(m)

        return await self._save(
            m.id,
            done,
            self._event(m, "step_done", step=step, note=outcome.note, **_cause(method, m, step)),
            notices=told_done,
        )

    async def _gate(self, m: Migration, method: Method) -> bool:
        gate = m.step
        check = method.step(gate).check
        if check is not None:
            checked = await self._ensure(m, method, check)
            if checked is None:
                return False
            m, verdict, _ = checked
            if not isinstance(verdict, Done):
                await self._apply(m, method, verdict)
                return isinstance(verdict, Back)
        now = self.clock()
        approval = m.approvals.get(gate)
        if gate in m.pre_approved:
            earlier = _approved_with(method, gate)
            with_what = (
                earlier.title.removeprefix("Approve ").lower() if earlier else "an earlier gate"
            )
            await self._apply(m, method, Done(f"approved together with {with_what}"))
            return True
        if approval is not None and approval.decision is Decision.APPROVED:
            await self._apply(m, method, Done(f"approved by <@{approval.decided_by}>"))
            return True
        expired: Approval | None = None
        if approval is not None and approval.decision is None and now >= approval.expires_at:
            expired = approval.model_copy(update={"decision": Decision.EXPIRED, "decided_at": now})
        replaced = approval is None or approval.decision in (Decision.EXPIRED, Decision.VOID)
        if replaced or expired is not None:
            fresh = decisions.new_approval(
                m, gate, secrets.token_urlsafe(9), now, self.settings.migrate_approval_ttl_seconds
            )
            hooks = self.hooks

            def request(m: Migration) -> None:
                if expired is not None:
                    m.approvals[gate] = expired
                    # One note per gate, however often its requests expire: the record
                    # stays small while a migration waits for days.
                    said = f"{gate} request expired"
                    m.notes = [n for n in m.notes if not n.startswith(said)]
                    m.notes.append(f"{said} (last at {now:%H:%M:%S} UTC)")
                m.approvals[gate] = fresh
                m.status = Status.AWAITING_APPROVAL
                m.next_run_at = fresh.expires_at.timestamp()
                hooks.changed(m)

            events = [self._event(m, "approval_requested", gate=gate)]
            if expired is not None:
                events.insert(0, self._event(m, "approval_expired", gate=gate))
            m = await self._save(
                m.id,
                request,
                *events,
                notices=lambda m: hooks.gate_opened(m, fresh, expired),
            )
        if check is not None:
            # Keep checking while people decide: an approval holds only while its reason does.
            look_again = min(
                self.clock().timestamp() + self.settings.migrate_poll_seconds,
                m.approvals[gate].expires_at.timestamp(),
            )
            await self._save(m.id, lambda m: setattr(m, "next_run_at", look_again))
        return False


def _approved_with(method: Method, gate: str) -> Step | None:
    """The earlier gate that may approve `gate` together with itself."""
    return next((s for s in method.runbook if s.approves_with == gate), None)


def _cause(method: Method, m: Migration, step: str) -> dict[str, str]:
    """Who caused a disruptive step: whoever cancelled, or approved the gate before it."""
    if method.aborting(step):
        return {"caused_by": m.cancel_requested_by or ""}
    gate = decisions.gate_before(method, step)
    if not method.step(step).disruptive or gate is None:
        return {}
    approval = m.approvals.get(gate)
    earlier = _approved_with(method, gate)
    if (approval is None or approval.decided_by is None) and earlier is not None:
        approval = m.approvals.get(earlier.name)  # approved together with the earlier gate
    return {"caused_by": approval.decided_by} if approval and approval.decided_by else {}


def _drift_check(method: Method) -> Ensure:
    """The method's drift as a step: Done when nothing changed, a Fail naming what did."""

    async def check(ctx: StepContext) -> Outcome:
        assert method.drift is not None
        found = await method.drift(ctx)
        if not found:
            return Done("")
        return Fail(
            "Changed outside the bot: " + "; ".join(found) + ". The bot stopped rather than guess.",
            "Put it back as it was, or decide what you want: "
            + _hint_after(method, ctx.m)
            + " Check `heroku pg:info` and `heroku ps` first.",
        )

    return check


def _hint_after(method: Method, m: Migration) -> str:
    if decisions.past_no_return(method, m):
        return (
            f"The app already runs on the new database; the bot does not roll back. Fix the cause, "
            f"check `heroku pg:info -a {m.promote_app}`, and finish the remaining steps by hand."
        )
    undo = ", ".join(s.title.lower() for s in method.abort)
    return f"`/migrate cancel {m.id}` puts the app back as it was ({undo})."


def _describe(exc: Exception) -> str:
    """What went wrong, as mrkdwn: Heroku's own words are escaped (they may hold `<!channel>`)."""
    if isinstance(exc, HerokuAPIError):
        return escape(f"Heroku answered {exc.status} {exc.id or ''}: {exc.message}".strip())
    return escape(f"{type(exc).__name__}: {exc}")
