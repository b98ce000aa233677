"""A method's plan and its preflight step, from one reading of the platform and one judge.

`plan` shows what the method would meet; the preflight step runs the same assessment again
(time has passed since "Started") and records what the shared steps need: the old database,
the formation and maintenance of every app that goes down, its followers and attachments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.methods.base import (
    Done,
    Ensure,
    Fail,
    Outcome,
    PlanContext,
    PlanReport,
    PlanRequest,
    StepContext,
)
from bot.methods.common.assess import Assessment, Judge, assess
from bot.methods.common.followers import as_moves
from bot.methods.common.plans import size, slug
from bot.slack.mrkdwn import escape
from state.models import Migration, OldDatabase


def request_of(m: Migration) -> PlanRequest:
    return PlanRequest(
        app=m.app, plan=m.plan, source=m.source, target_app=m.target_app, version=m.pg_version
    )


def report(found: Assessment, downtime: str) -> PlanReport:
    """The plan as `/migrate plan` shows it."""
    facts = ""
    if found.source is not None:
        parts = [escape(found.source.name), escape(slug(found.source.plan.name))]
        database = found.surroundings.database if found.surroundings else None
        if database is not None and database.major_version:
            parts.append(f"PostgreSQL {escape(database.major_version)}")
        if database is not None and database.num_bytes is not None:
            parts.append(size(database.num_bytes))
        facts = f"({', '.join(parts)})"
    return PlanReport(
        facts, found.formation, found.blockers, found.warnings, downtime, found.shared_apps
    )


def planner(
    judge: Judge, downtime: str
) -> Callable[[PlanContext, PlanRequest], Awaitable[PlanReport]]:
    """A method's `plan`: the shared assessment, judged by the method."""

    async def plan(ctx: PlanContext, req: PlanRequest) -> PlanReport:
        own = ctx.settings.heroku_app_name
        return report(await assess(ctx.heroku, req, own_app=own, judge=judge), downtime)

    return plan


def preflight(judge: Judge) -> Ensure:
    """The first step of a method: the plan again, refused on a blocker, recorded otherwise."""

    async def run(ctx: StepContext) -> Outcome:
        m = ctx.m
        found = await assess(
            ctx.heroku, request_of(m), own_app=ctx.settings.heroku_app_name, judge=judge
        )
        if found.blockers:
            return Fail(
                " ".join(found.blockers),
                "Nothing was changed and the app is free again: fix this, then start again "
                "(`/migrate plan` checks without starting).",
            )
        addon = found.source
        assert addon is not None
        late = sorted(set(found.shared_apps) - set(m.shared_apps))
        if late:
            return Fail(
                f"The database is now also attached to {', '.join(escape(a) for a in late)}, "
                "which was not locked when the migration started.",
                "Nothing was changed: start again, so that every app sharing the database is "
                "locked and stopped with it.",
            )
        database = found.surroundings.database if found.surroundings else None
        followers = found.followers

        def record(m: Migration) -> None:
            m.old = OldDatabase(
                addon_id=addon.id,
                name=addon.name,
                app=addon.app.name,
                plan=addon.plan.name,
                version=database.major_version if database else None,
                num_bytes=database.num_bytes if database else None,
            )
            m.window.formation = found.formation
            m.window.maintenance_before = found.maintenance
            m.followers = as_moves(m, followers, 0)
            m.moves = found.moves

        await ctx.checkpoint(record)
        listed = ", ".join(
            f"{escape(app)} {escape(t)}={q}"
            for app, types in found.formation.items()
            for t, q in types.items()
        )
        extra = []
        if followers:
            extra.append(f"{len(followers)} follower(s) to recreate")
        if m.shared_apps:
            extra.append(f"shared with {', '.join(escape(a) for a in m.shared_apps)}")
        tail = f"; {'; '.join(extra)}" if extra else ""
        return Done(
            f"{escape(addon.name)} ({escape(addon.plan.name)}) on {escape(m.app)}; formation "
            f"{listed or 'empty'}{tail}"
        )

    return run
