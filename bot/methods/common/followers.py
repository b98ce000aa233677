"""Followers of the old database (read replicas), recreated on the new one; then the destroy.

Nothing may be left following a database that is about to go: each follower gets a
replacement that follows the new database, on the same plan, billed to the same app; once it
has caught up, the names apps know the old follower by move to it. The destroy removes the old
followers with the old database, and looks once more for a follower made meanwhile.
"""

from __future__ import annotations

from bot.heroku import HerokuClient
from bot.heroku.errors import Unprocessable
from bot.methods.base import Back, Done, Ensure, Fail, Outcome, StepContext, Wait
from bot.methods.common import provisioning, surroundings
from bot.slack.mrkdwn import escape
from state.models import FollowerMove, Migration

# Heroku lets a just-unfollowed database have followers only after a while (minutes to hours).
FOLLOW_REFUSED_LIMIT_SECONDS = 6 * 3600.0


def replacement_name(m: Migration, index: int, plan: str) -> str:
    """A name of ours, so that a replacement is found again after a crash (never made twice)."""
    return f"{m.id}-r{index + 1}-{plan.split(':', 1)[-1]}"


def as_moves(m: Migration, found: list[surroundings.Follower], start: int) -> list[FollowerMove]:
    return [
        FollowerMove(
            addon_id=f.addon_id,
            name=f.name,
            app=f.app,
            plan=f.plan,
            attachments=f.attachments,
            new_name=replacement_name(m, start + i, f.plan),
        )
        for i, f in enumerate(found)
    ]


async def _unknown_followers(ctx: StepContext) -> list[surroundings.Follower]:
    """Followers of the old database that this migration does not know of yet."""
    m, heroku = ctx.m, ctx.heroku
    assert m.old is not None
    addon = await heroku.get_addon(m.old.app, m.old.addon_id)
    if addon is None:
        return []
    known = {f.addon_id for f in m.followers} | {
        f.new_addon_id for f in m.followers if f.new_addon_id
    }
    known.add(m.new.addon_id or "")
    around = await surroundings.read(heroku, addon, exclude=frozenset(known))
    return around.followers


async def recreate_followers(ctx: StepContext) -> Outcome:
    found = await _unknown_followers(ctx)
    if found:
        start = len(ctx.m.followers)
        added = as_moves(ctx.m, found, start)
        await ctx.checkpoint(lambda m: m.followers.extend(added))
    waiting: list[str] = []
    for index, follower in enumerate(ctx.m.followers):
        if follower.moved:
            continue
        outcome = await _recreate(ctx, index)
        if isinstance(outcome, Fail):
            return outcome
        if isinstance(outcome, Wait):
            waiting.append(outcome.note)
    if waiting:
        return Wait("; ".join(waiting))
    done = [
        f"{escape(f.name)} → {escape(f.new_name)} ({escape(', '.join(f.attachments) or '-')})"
        for f in ctx.m.followers
    ]
    return Done("recreated " + ", ".join(done) if done else "the old database has no followers")


async def _recreate(ctx: StepContext, index: int) -> Outcome:
    m, heroku = ctx.m, ctx.heroku
    follower = m.followers[index]
    now = ctx.clock()
    if follower.new_addon_id is None:
        existing = await heroku.get_addon(follower.app, follower.new_name)
        if existing is None:
            if follower.requested_at is None:
                await ctx.checkpoint(lambda m: _update(m, index, requested_at=now))
            try:
                existing = await heroku.create_follower(
                    follower.app, plan=follower.plan, follow=m.new.name, name=follower.new_name
                )
            except Unprocessable as exc:
                # Heroku refuses followers of a database unfollowed moments ago; that passes.
                since = m.window.off_at or now
                if (now - since).total_seconds() > FOLLOW_REFUSED_LIMIT_SECONDS:
                    return Fail(
                        f"Heroku keeps refusing a follower of {escape(m.new.name)} for "
                        f"{escape(follower.name)}: {escape(exc.message)}",
                        "Create the replacement by hand (`heroku addons:create "
                        f"{escape(follower.plan)} --follow {escape(m.new.name)} -a "
                        f"{escape(follower.app)}`), move its names, then approve the destroy.",
                    )
                refused = escape(exc.message)
                return Wait(f"Heroku does not let the new database have followers yet ({refused})")
        new_id = existing.id
        await ctx.checkpoint(lambda m: _update(m, index, new_addon_id=new_id))
        follower = ctx.m.followers[index]
    assert follower.new_addon_id
    ready = await provisioning.readiness(
        heroku, follower.app, follower.new_addon_id, since=follower.requested_at or now, now=now
    )
    if ready.error is not None:
        return Fail(
            f"The replacement of follower {escape(follower.name)}: {ready.error}.",
            "Check `heroku addons` on that app; the old database stays until this is resolved.",
        )
    if not ready.ready:
        return Wait(ready.note)
    lag = (await heroku.get_database(follower.new_addon_id)).behind_by()
    threshold = ctx.settings.migrate_caught_up_commits
    if lag is None or lag > threshold:
        shown = "not reported yet" if lag is None else f"{lag} commits"
        return Wait(f"{escape(follower.new_name)} is catching up (behind by {shown})")
    await _move_names(heroku, follower)
    await ctx.checkpoint(lambda m: _update(m, index, moved=True))
    return Done("")


async def _move_names(heroku: HerokuClient, follower: FollowerMove) -> None:
    """Every name of the old follower now names its replacement (an ensure: re-run is safe)."""
    assert follower.new_addon_id
    for entry in follower.attachments:
        app, _, name = entry.partition("::")
        attachments = await heroku.list_attachments(app)
        current = surroundings.find(attachments, name)
        if current is not None and current.addon.id == follower.new_addon_id:
            continue
        if current is not None and current.addon.id == follower.addon_id and app == follower.app:
            others = [
                a
                for a in attachments
                if a.addon.id == follower.addon_id and a.namespace is None and a.name != name
            ]
            if not others:
                # Its last billing attachment cannot be replaced: give it an alias to keep.
                await heroku.create_attachment(app, follower.name)
        await heroku.create_attachment(app, follower.new_name, name=name)


def _update(m: Migration, index: int, **changes: object) -> None:
    m.followers[index] = m.followers[index].model_copy(update=changes)


def destroy_old(recreate: str) -> Ensure:
    """The last step: the old database and its old followers go. A follower that appeared
    since the gate sends the runbook back to `recreate` (the method's recreate_followers)."""

    async def run(ctx: StepContext) -> Outcome:
        m, heroku = ctx.m, ctx.heroku
        assert m.old is not None
        if m.window.destroy_sent_at is None:
            appeared = await _unknown_followers(ctx)
            if appeared:
                names = ", ".join(escape(f.name) for f in appeared)
                return Back(
                    recreate,
                    f"{names} started following the old database after the destroy was approved",
                )
            sent = ctx.clock()
            await ctx.checkpoint(lambda m: setattr(m.window, "destroy_sent_at", sent))
        gone: list[str] = []
        for follower in m.followers:
            if await heroku.destroy_addon(follower.app, follower.addon_id) is not None:
                gone.append(escape(follower.name))
        old = await heroku.destroy_addon(m.old.app, m.old.addon_id)
        name = escape(m.old.name)
        note = f"old database {name} destroyed" + ("" if old else " (was already gone)")
        if gone:
            note += f", with its old followers {', '.join(gone)}"
        return Done(note)

    return run


def doomed(m: Migration) -> str:
    """Everything the destroy removes, by name, for the destroy gate (mrkdwn)."""
    names = [f"the old database `{escape(m.old.name if m.old else '?')}`"]
    if m.followers:
        names.append("its old followers " + ", ".join(f"`{escape(f.name)}`" for f in m.followers))
    return " and ".join(names)
