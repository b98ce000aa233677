"""The old database's other attachments, moved to the new one in the window.

Named poolers, credential attachments and other apps' names for the database must name the
new database before the old one is destroyed. What Heroku refuses to move (a credential the new
database does not have) is posted as a manual step and named again at the destroy gate.
"""

from __future__ import annotations

from bot.heroku.errors import Unprocessable
from bot.methods.base import Done, Outcome, StepContext
from bot.methods.common.surroundings import find
from bot.slack.mrkdwn import escape
from state.models import Migration


async def move_attachments(ctx: StepContext) -> Outcome:
    """Named poolers, credentials and other apps' names: onto the new database where allowed."""
    m, heroku = ctx.m, ctx.heroku
    new_id = m.new.addon_id
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
                    move.app, m.new.name, name=move.name, namespace=move.namespace
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
    new = escape(m.new.name)
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
