"""Promote, as `pg:promote` does it, in every app that writes to the old database; then the
attachments that must follow; then verification.

In each app whose DATABASE is the old database: an alternate alias first where Heroku would
otherwise refuse ("the last billing attachment"), then DATABASE, then the pooler if the old
database had one there, then, with a release phase, both the Detach and the Attach DATABASE
releases followed to their end.
"""

from __future__ import annotations

from bot import releases
from bot.heroku import Attachment, HerokuClient
from bot.heroku.errors import Unprocessable
from bot.mrkdwn import escape
from bot.outcomes import Done, Fail, Outcome, StepContext, Wait
from bot.surroundings import POOLER, POOLER_NAMESPACE
from bot.window import ONE_OFF_TYPES
from state.models import Migration


def find(
    attachments: list[Attachment], name: str, namespace: str | None = None
) -> Attachment | None:
    for a in attachments:
        if a.name == name and a.namespace == namespace:
            return a
    return None


def _has_release_phase(m: Migration, app: str) -> bool:
    return "release" in m.formation.get(app, {})


async def _newest_release(heroku: HerokuClient, app: str) -> int:
    newest = await heroku.list_releases(app, limit=1)
    return newest[0].version if newest else 0


async def promote(ctx: StepContext) -> Outcome:
    m = ctx.m
    assert m.follower_addon_id
    done: list[str] = []
    for app in [m.promote_app, *m.shared_apps]:
        outcome = await _promote_in(ctx, app)
        if isinstance(outcome, Wait):
            return outcome
        if outcome is not None:
            done.append(escape(app))
    if ctx.m.promoted_at is None:
        now = ctx.clock()
        await ctx.checkpoint(lambda m: setattr(m, "promoted_at", now))
    notes: list[str] = []
    for app in [m.promote_app, *m.shared_apps]:
        if app in ctx.m.release_baseline:
            verdict = await _release_phase(ctx, app)
            if not isinstance(verdict, Done):
                return verdict
            notes += [verdict.note] if verdict.note else []
    name = escape(m.follower_name)
    note = f"DATABASE is now {name} in {', '.join(done) or escape(m.promote_app)}"
    pooled = [a for a in done if ctx.m.marks.get(f"pooler:{a}")]
    if pooled:
        note += f"; pooler re-attached in {', '.join(pooled)}"
    return Done("; ".join([note, *notes]))


async def _promote_in(ctx: StepContext, app: str) -> Outcome | None:
    """DATABASE of `app` on the new database; None when `app` is not one to re-point."""
    m, heroku = ctx.m, ctx.heroku
    new_id = m.follower_addon_id
    assert new_id
    attachments = await heroku.list_attachments(app)
    current = find(attachments, "DATABASE")
    old_id = m.source_addon_id
    if app != m.promote_app and (current is None or current.addon.id not in (old_id, new_id)):
        return None
    if current is None or current.addon.id != new_id:
        sent = f"promote_sent:{app}"
        if sent not in m.marks:
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
            sent_at = ctx.clock().isoformat()

            def mark(m: Migration) -> None:
                m.marks.setdefault("promote_sent_at", sent_at)
                m.marks[sent] = sent_at
                if pooler:
                    m.marks[f"pooler:{app}"] = "1"
                if baseline is not None:
                    m.release_baseline[app] = baseline

            await ctx.checkpoint(mark)
        await heroku.create_attachment(app, m.follower_name, name="DATABASE")
        attachments = await heroku.list_attachments(app)
    pool = find(attachments, POOLER, POOLER_NAMESPACE)
    if ctx.m.marks.get(f"pooler:{app}") and (pool is None or pool.addon.id != new_id):
        await heroku.create_attachment(
            app, m.follower_name, name=POOLER, namespace=POOLER_NAMESPACE
        )
    return Done("")


async def _release_phase(ctx: StepContext, app: str) -> Done | Wait | Fail:
    """Like `pg:promote`: the Attach DATABASE release must succeed (a failed detach is harmless)."""
    m, heroku = ctx.m, ctx.heroku
    baseline = m.release_baseline.get(app, 0)
    pair = releases.find(await heroku.list_releases(app, limit=10), baseline)
    for release in (pair.detach, pair.attach):
        if release is not None and release.status not in releases.ENDED:
            refreshed = await heroku.get_release(app, release.id)
            pair = (
                releases.Pair(refreshed, pair.attach)
                if release is pair.detach
                else releases.Pair(pair.detach, refreshed)
            )
    promoted = m.promoted_at or ctx.clock()
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
        f"{escape(m.follower_name)}.",
        f"Read `heroku releases:output {version} -a {escape(app)}`, fix the release command and "
        f"run it again (`heroku releases:retry -a {escape(app)}`). Then finish by hand: restore "
        f"the formation ({_formation(m, app)}) and `heroku maintenance:off -a {escape(app)}`. "
        f"The old database {escape(m.source_addon_name or '')} is untouched.",
    )


def _formation(m: Migration, app: str) -> str:
    types = m.formation.get(app, {})
    scale = " ".join(f"{escape(t)}={q}" for t, q in types.items() if t not in ONE_OFF_TYPES)
    return f"`heroku ps:scale {scale} -a {escape(app)}`" if scale else "nothing to scale"


async def move_attachments(ctx: StepContext) -> Outcome:
    """Named poolers, credentials and other apps' names: onto the new database where allowed."""
    m, heroku = ctx.m, ctx.heroku
    new_id = m.follower_addon_id
    assert new_id
    moved: list[str] = []
    for index, move in enumerate(m.moves):
        if move.done or move.manual is not None:
            continue
        where = f"{escape(move.app)}::{escape(move.name)}"
        current = find(await heroku.list_attachments(move.app), move.name, move.namespace)
        manual: str | None = None
        if current is None or current.addon.id != new_id:
            try:
                await heroku.create_attachment(
                    move.app, m.follower_name, name=move.name, namespace=move.namespace
                )
            except Unprocessable as exc:
                manual = escape(exc.message)
        moved += [where] if manual is None else []

        def record(m: Migration, index: int = index, manual: str | None = manual) -> None:
            m.moves[index] = m.moves[index].model_copy(
                update={"done": manual is None, "manual": manual}
            )

        await ctx.checkpoint(record)
        if manual is not None:
            ctx.notice(manual_step(ctx.m, index))
    manuals = [mv for mv in ctx.m.moves if mv.manual is not None]
    parts = [f"moved {', '.join(moved)}"] if moved else []
    parts += [f"{len(manuals)} left for a person (see the thread)"] if manuals else []
    return Done("; ".join(parts) or "nothing else was attached to the old database")


def manual_step(m: Migration, index: int) -> str:
    """The thread message for an attachment the API would not move."""
    move = m.moves[index]
    where = f"`{escape(move.app)}::{escape(move.name)}`"
    credential = (move.namespace or "").removeprefix("credential:")
    new = escape(m.follower_name)
    home = escape(m.promote_app)
    how = (
        f"`heroku pg:credentials:create {new} --name {escape(credential)} -a {home}`"
        f" then `heroku addons:attach {new} --credential {escape(credential)} --as "
        f"{escape(move.name)} -a {escape(move.app)}`"
        if move.kind == "credential"
        else f"`heroku addons:attach {new} --as {escape(move.name)} -a {escape(move.app)}`"
    )
    return (
        f":warning: *Manual step before the destroy:* Heroku would not move {where} to the new "
        f"database ({move.manual}). Recreate it on {new}: {how}. The old database keeps it "
        "until it is destroyed."
    )


async def verify(ctx: StepContext) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    assert m.follower_addon_id
    name = escape(m.follower_name)
    for app in m.apps_up:
        current = find(await heroku.list_attachments(app), "DATABASE")
        if app == m.promote_app and (current is None or current.addon.id != m.follower_addon_id):
            return Fail(
                f"DATABASE on {escape(app)} is not the new database any more.",
                f"Someone changed attachments by hand: check `heroku pg:info -a {escape(app)}`.",
            )
    if (await heroku.get_database(m.follower_addon_id)).is_follower:
        return Fail(
            "The new database is still a follower (read-only).",
            f"Run `heroku pg:unfollow {name} -a {escape(m.promote_app)}`.",
        )
    missing: list[str] = []
    for app in m.apps_up:
        expected = {
            t for t, q in m.formation.get(app, {}).items() if q > 0 and t not in ONE_OFF_TYPES
        }
        up = {d.type for d in await heroku.list_dynos(app) if d.state == "up"}
        missing += [f"{escape(app)} {escape(t)}" for t in sorted(expected - up)]
    if missing:
        return Wait(f"waiting for {', '.join(missing)} dynos to be up")
    serving = ", ".join(escape(a) for a in m.apps_up)
    return Done(f"DATABASE is {name}, writable, and {serving} serving")
