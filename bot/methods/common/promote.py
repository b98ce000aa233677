"""Promote, as `pg:promote` does it, in every app that writes to the old database.

In each app whose DATABASE is the old database: an alternate alias first where Heroku would
otherwise refuse ("the last billing attachment"), then DATABASE, then the pooler if the old
database had one there, then, with a release phase, both the Detach and the Attach DATABASE
releases followed to their end.
"""

from __future__ import annotations

from bot.heroku import HerokuClient
from bot.methods.base import Done, Fail, Outcome, StepContext, Wait
from bot.methods.common import releases
from bot.methods.common.surroundings import POOLER, POOLER_NAMESPACE, find
from bot.methods.common.window import ONE_OFF_TYPES
from bot.slack.mrkdwn import escape
from state.models import Migration


def _has_release_phase(m: Migration, app: str) -> bool:
    return "release" in m.window.formation.get(app, {})


async def _newest_release(heroku: HerokuClient, app: str) -> int:
    newest = await heroku.list_releases(app, limit=1)
    return newest[0].version if newest else 0


async def promote(ctx: StepContext) -> Outcome:
    m = ctx.m
    assert m.new.addon_id
    done: list[str] = []
    for app in [m.promote_app, *m.shared_apps]:
        outcome = await _promote_in(ctx, app)
        if isinstance(outcome, Wait):
            return outcome
        if outcome is not None:
            done.append(escape(app))
    if ctx.m.window.promoted_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m.window, "promoted_at", now))
    notes: list[str] = []
    for app in [m.promote_app, *m.shared_apps]:
        if app in ctx.m.window.release_baseline:
            verdict = await _release_phase(ctx, app)
            if not isinstance(verdict, Done):
                return verdict
            notes += [verdict.note] if verdict.note else []
    name = escape(m.new.name)
    note = f"DATABASE is now {name} in {', '.join(done) or escape(m.promote_app)}"
    pooled = [escape(a) for a in ctx.m.window.poolers]
    if pooled:
        note += f"; pooler re-attached in {', '.join(pooled)}"
    return Done("; ".join([note, *notes]))


async def _promote_in(ctx: StepContext, app: str) -> Outcome | None:
    """DATABASE of `app` on the new database; None when `app` is not one to re-point."""
    m, heroku = ctx.m, ctx.heroku
    new_id = m.new.addon_id
    assert new_id
    attachments = await heroku.list_attachments(app)
    current = find(attachments, "DATABASE")
    old_id = m.old.addon_id if m.old else None
    if app != m.promote_app and (current is None or current.addon.id not in (old_id, new_id)):
        return None
    if current is None or current.addon.id != new_id:
        if app not in m.window.promote_sent:
            status = await heroku.get_wait_status(new_id)
            if status.waiting:
                return Wait(f"new database is {escape(status.message)}; promote waits")
            billing = current is not None and current.addon.app.name == app
            if (
                billing
                and current is not None
                and not any(
                    a.addon.id == current.addon.id
                    and a.name != "DATABASE"
                    and a.namespace == current.namespace
                    for a in attachments
                )
            ):
                # Without a second alias Heroku refuses: "DATABASE is the last billing attachment".
                await heroku.create_attachment(app, current.addon.name, namespace=current.namespace)
            pooler = current is not None and any(
                a.addon.id == current.addon.id
                and a.name == POOLER
                and a.namespace == POOLER_NAMESPACE
                for a in attachments
            )
            baseline = await _newest_release(heroku, app) if _has_release_phase(m, app) else None
            now = ctx.clock()

            def mark(m: Migration) -> None:
                # Past this, the bot never rolls back: the attach may land even if unanswered.
                m.committed_at = m.committed_at or now
                m.window.promote_sent[app] = now.isoformat()
                if pooler and app not in m.window.poolers:
                    m.window.poolers.append(app)
                if baseline is not None:
                    m.window.release_baseline[app] = baseline

            await ctx.checkpoint(mark)
        await heroku.create_attachment(app, m.new.name, name="DATABASE")
        attachments = await heroku.list_attachments(app)
    pool = find(attachments, POOLER, POOLER_NAMESPACE)
    if app in ctx.m.window.poolers and (pool is None or pool.addon.id != new_id):
        await heroku.create_attachment(app, m.new.name, name=POOLER, namespace=POOLER_NAMESPACE)
    return Done("")


async def _release_phase(ctx: StepContext, app: str) -> Done | Wait | Fail:
    """Like `pg:promote`: the Attach DATABASE release must succeed (a failed detach is harmless)."""
    m, heroku = ctx.m, ctx.heroku
    baseline = m.window.release_baseline.get(app, 0)
    pair = releases.find(await heroku.list_releases(app, limit=10), baseline)
    for release in (pair.detach, pair.attach):
        if release is not None and release.status not in releases.ENDED:
            refreshed = await heroku.get_release(app, release.id)
            pair = (
                releases.Pair(refreshed, pair.attach)
                if release is pair.detach
                else releases.Pair(pair.detach, refreshed)
            )
    promoted = m.window.promoted_at or ctx.clock()
    verdict = releases.judge(escape(app), pair, (ctx.clock() - promoted).total_seconds())
    if verdict.done:
        return Done(verdict.note)
    if verdict.wait:
        return Wait(verdict.wait, after=min(5.0, ctx.settings.migrate_poll_seconds))
    down = ", ".join(escape(a) for a in m.apps_down)
    version = pair.attach.version if pair.attach else "?"
    failure = verdict.failure[:1].upper() + verdict.failure[1:]
    return Fail(
        f"{failure}. The bot stopped before maintenance off and before any destroy: {down} "
        "stay in maintenance with every process at 0, and DATABASE names the new database "
        f"{escape(m.new.name)}.",
        f"Read `heroku releases:output {version} -a {escape(app)}`, fix the release command and "
        f"run it again (`heroku releases:retry -a {escape(app)}`). Then finish by hand: restore "
        f"the formation ({_formation(m, app)}) and `heroku maintenance:off -a {escape(app)}`. "
        f"The old database {escape(m.old.name if m.old else '')} is untouched.",
    )


def _formation(m: Migration, app: str) -> str:
    types = m.window.formation.get(app, {})
    scale = " ".join(f"{escape(t)}={q}" for t, q in types.items() if t not in ONE_OFF_TYPES)
    return f"`heroku ps:scale {scale} -a {escape(app)}`" if scale else "nothing to scale"
