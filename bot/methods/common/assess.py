"""What moving one app's database would meet: the platform read once, judged by the method.

A method's `plan` shows it, `/migrate start` refuses on its blockers before saying "Started",
and the method's preflight runs it again (time has passed) and records what it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.heroku import Addon, Attachment, HerokuClient
from bot.heroku.errors import HerokuAPIError, HerokuError, NotFound
from bot.methods.base import PlanRequest
from bot.methods.common.plans import Facts, Verdict, slug
from bot.methods.common.surroundings import (
    POSTGRES,
    Follower,
    Surroundings,
    is_pooler,
    moves,
    read,
)
from bot.slack.mrkdwn import escape
from state.models import AttachmentMove

Judge = Callable[[Facts], Verdict]


@dataclass
class Assessment:
    """What the platform looks like for this request, and what stands in the way."""

    request: PlanRequest
    blockers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: Addon | None = None
    surroundings: Surroundings | None = None
    # Per app that goes down (the migrated ones and every app sharing the database).
    formation: dict[str, dict[str, int]] = field(default_factory=dict)
    maintenance: dict[str, bool] = field(default_factory=dict)
    release_phase: list[str] = field(default_factory=list)

    @property
    def shared_apps(self) -> list[str]:
        if self.surroundings is None:
            return []
        r = self.request
        return self.surroundings.shared_apps(app=r.app, target_app=r.target_app)

    @property
    def followers(self) -> list[Follower]:
        return self.surroundings.followers if self.surroundings else []

    @property
    def moves(self) -> list[AttachmentMove]:
        if self.surroundings is None:
            return []
        r = self.request
        return moves(self.surroundings, app=r.app, target_app=r.target_app)

    @property
    def shared_attachments(self) -> list[Attachment]:
        """DATABASE and pooler attachments of the database in the other apps."""
        if self.surroundings is None:
            return []
        apps = set(self.shared_apps)
        return [
            a
            for a in self.surroundings.attachments
            if a.app.name in apps
            and ((a.name == "DATABASE" and a.namespace is None) or is_pooler(a))
        ]


async def assess(
    heroku: HerokuClient, req: PlanRequest, *, own_app: str | None, judge: Judge
) -> Assessment:
    """Read the platform for `req` and judge it; never raises for what Heroku answers."""
    result = Assessment(req)
    try:
        await _read(heroku, req, own_app, judge, result)
    except NotFound as exc:
        result.blockers.append(f"Not found on Heroku: {escape(exc.message)}")
    except HerokuAPIError as exc:
        result.blockers.append(f"Heroku refused a read: {escape(exc.message)} ({exc.status})")
    except HerokuError as exc:
        result.blockers.append(f"Could not read the platform: {escape(exc)}")
    return result


async def _read(
    heroku: HerokuClient, req: PlanRequest, own_app: str | None, judge: Judge, out: Assessment
) -> None:
    apps = [req.app] + ([req.target_app] if req.target_app else [])
    if own_app and own_app in apps:
        out.blockers.append(
            f"migrate-bot itself runs on {escape(own_app)}: migrating that app would stop the "
            "bot mid-run. Run it from a bot deployed on another app."
        )
    maintenance: dict[str, bool] = {}
    for app in apps:
        try:
            maintenance[app] = (await heroku.get_app(app)).maintenance
        except NotFound:
            out.blockers.append(
                f"App {escape(app)} was not found, or HEROKU_API_KEY has no access to it "
                "(check the name with `heroku apps`)."
            )
    if out.blockers:
        return
    try:
        await heroku.get_plan(slug(req.plan))
    except NotFound:
        out.blockers.append(
            f"Plan {escape(req.plan)} does not exist "
            "(`heroku addons:plans heroku-postgresql` lists them)."
        )
    source = await _source(heroku, req, out)
    if source is None:
        return
    out.source = source
    surroundings = await read(heroku, source)
    out.surroundings = surroundings
    database = surroundings.database
    verdict = judge(
        Facts(
            source_name=escape(source.name),
            source_plan=source.plan.name,
            target_plan=req.plan,
            num_bytes=database.num_bytes,
            major_version=database.major_version,
            can_be_followed=database.can_be_followed,
            is_follower=database.is_follower,
            wanted_version=req.version,
        )
    )
    out.blockers += verdict.blockers
    out.warnings += verdict.warnings
    for app in [*apps, *out.shared_apps]:
        out.formation[app] = {f.type: f.quantity for f in await heroku.list_formation(app)}
        if app not in maintenance:
            maintenance[app] = (await heroku.get_app(app)).maintenance
    out.maintenance = maintenance
    out.release_phase = [app for app, types in out.formation.items() if "release" in types]
    await _warnings(heroku, out)


async def _source(heroku: HerokuClient, req: PlanRequest, out: Assessment) -> Addon | None:
    try:
        found = await heroku.resolve_attachment(req.app, req.source)
    except NotFound:
        found = []
    candidates = [a for a in found if a.namespace is None] or found
    if not candidates:
        out.blockers.append(
            f"No database {escape(req.source)} on {escape(req.app)} "
            f"(`heroku pg:info -a {escape(req.app)}` lists them)."
        )
        return None
    attachment = candidates[0]
    addon = await heroku.get_addon(attachment.addon.app.name, attachment.addon.id)
    if addon is None or addon.addon_service.name != POSTGRES:
        out.blockers.append(
            f"{escape(req.source)} on {escape(req.app)} is not a Heroku Postgres database; "
            "pass one with --from (e.g. --from HEROKU_POSTGRESQL_GREEN)."
        )
        return None
    return addon


async def _warnings(heroku: HerokuClient, out: Assessment) -> None:
    r = out.request
    listed_addons = out.surroundings.addons if out.surroundings else {}
    for app in out.formation:
        addons = listed_addons.get(app)
        if addons is None:
            addons = await heroku.list_addons(app)
        if any(a.addon_service.name == "scheduler" for a in addons):
            out.warnings.append(
                f"Heroku Scheduler is installed on {escape(app)}: its jobs still run in "
                "maintenance mode. Disable them for the window."
            )
    for app, types in out.formation.items():
        others = {t: q for t, q in types.items() if t not in ("web", "release") and q > 0}
        if others:
            listed = ", ".join(f"{escape(t)}={q}" for t, q in others.items())
            out.warnings.append(
                f"Non-web dynos on {escape(app)} ({listed}) keep writing in maintenance mode: "
                "the bot scales every process type to 0 and restores them afterwards."
            )
    for app in out.release_phase:
        out.warnings.append(
            f"{escape(app)} has a release phase: promote waits for its Attach DATABASE release, "
            "and stops with the app still down if that release fails."
        )
    if out.shared_apps:
        out.warnings.append(
            "The database is shared with "
            + ", ".join(f"*{escape(a)}*" for a in out.shared_apps)
            + ": those apps join the window (maintenance on, every process at 0), their "
            "DATABASE is re-pointed, and they are restored with the app."
        )
    if out.followers:
        listed = ", ".join(
            f"{escape(f.name)} ({escape(slug(f.plan))}, {escape(', '.join(f.attachments))})"
            for f in out.followers
        )
        out.warnings.append(
            f"Followers of the database: {listed}. Each is recreated as a follower of the new "
            "database on the same plan and under the same names before the old ones are "
            "destroyed; until then they serve data from before the window."
        )
    if out.surroundings is not None and out.surroundings.unfound_followers:
        out.warnings.append(
            f"The database reports {out.surroundings.unfound_followers} more follower(s) in "
            "apps it is not attached to; the bot cannot see them. Find them with `heroku "
            "pg:info` and recreate them by hand, or they die with the old database."
        )
    for move in out.moves:
        where = f"{escape(move.app)}::{escape(move.name)}"
        if move.kind == "credential":
            out.warnings.append(
                f"{where} uses credential `{escape(move.namespace or '')}`: the bot moves it if "
                "Heroku allows, otherwise it is a manual step before the destroy."
            )
        elif move.kind == "pooler":
            out.warnings.append(f"Named pooler {where} is re-attached to the new database.")
        else:
            out.warnings.append(f"{where} is re-pointed to the new database.")
    if r.target_app:
        out.warnings.append(
            f"{escape(r.app)} stays in maintenance with 0 dynos after promote (it still points "
            f"at the old database); move traffic to {escape(r.target_app)}."
        )
