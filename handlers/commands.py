"""The `/migrate` slash command: parse, authorize, call one service function, render."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot.errors import Refused
from bot.logs import Scrubber
from bot.methods import REGISTRY
from bot.methods.base import PlanRequest
from bot.slack import render
from handlers.middleware import RolesLookup, roles_of
from handlers.parse import (
    USAGE,
    CancelCommand,
    CommandError,
    HelpCommand,
    ListCommand,
    PlanCommand,
    StartCommand,
    StatusCommand,
    parse_command,
)
from state.errors import StateError

if TYPE_CHECKING:
    # The service is handed in by `bot.app`; handlers only call it.
    from bot.service import MigrationService

log = logging.getLogger("migrate_bot.handlers")

Reply = dict[str, Any]


def _error(text: str, usage: str | None = None) -> Reply:
    body = f":warning: {text}"
    if usage:
        body += f"\n```{usage}```"
    return {"response_type": "ephemeral", "text": body}


def _help() -> Reply:
    return {
        "response_type": "ephemeral",
        "text": (
            "*migrate-bot* moves a Heroku Postgres database by follower changeover, with a "
            "second engineer approving maintenance, promote and destroy.\n"
            f"```{USAGE}```\nStart with `plan`: it changes nothing."
        ),
    }


def _request(cmd: PlanCommand) -> PlanRequest:
    return PlanRequest(
        app=cmd.app,
        plan=cmd.plan,
        source=cmd.source,
        target_app=cmd.target_app,
        version=cmd.version,
    )


def _blocks(text: str, blocks: list[render.Block]) -> Reply:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def _scrubbed(reply: Reply, scrub: Scrubber) -> Reply:
    """No secret in a reply, whatever a platform error message echoed."""
    return json.loads(scrub(json.dumps(reply)))  # type: ignore[no-any-return]


def register(app: AsyncApp, service: MigrationService, scrub: Scrubber) -> None:
    async def run(cmd: Any, user: str, channel: str, context: dict[str, Any]) -> Reply:
        try:
            if isinstance(cmd, StartCommand | CancelCommand):
                refusal = await _operator_refusal(roles_of(context))
                if refusal is not None:
                    return _error(refusal)
            if isinstance(cmd, StartCommand):
                m = await service.start(_request(cmd), cmd.method, user=user, channel=channel)
                return {
                    "response_type": "ephemeral",
                    "text": f"Started *{m.id}*: {render.title_md(m)}. Progress and approvals "
                    f"follow in its thread in <#{m.channel}>.",
                }
            if isinstance(cmd, PlanCommand):
                request = _request(cmd)
                report = await service.plan(request, cmd.method)
                return _blocks(
                    f"Plan for {cmd.app}", render.plan(REGISTRY[cmd.method], request, report)
                )
            if isinstance(cmd, StatusCommand):
                if cmd.migration_id is None:
                    active = [m for m in await service.recent(20) if not m.ended]
                    return _blocks("Active migrations", render.listing(active))
                m = await service.get(cmd.migration_id)
                return _blocks(f"{m.id}: {m.status.value}", render.status(m))
            if isinstance(cmd, ListCommand):
                return _blocks("Recent migrations", render.listing(await service.recent(10)))
            if isinstance(cmd, CancelCommand):
                m = await service.cancel(cmd.migration_id, user=user)
                return {"response_type": "ephemeral", "text": f"{m.id}: {render.status_line(m)}"}
        except Refused as exc:
            return _error(exc.reason)
        except StateError as exc:
            return _error(str(exc))
        except Exception:
            log.exception("command failed")
            return _error(
                "Something went wrong on our side; nothing was changed. "
                "The bot's logs have the details."
            )
        return _help()

    @app.command("/migrate")
    async def migrate(
        ack: Any, command: dict[str, Any], respond: Any, client: Any, context: dict[str, Any]
    ) -> None:
        try:
            cmd = parse_command(command.get("text") or "")
        except CommandError as exc:
            await ack(**_error(exc.message, exc.usage))
            return
        if isinstance(cmd, HelpCommand):
            await ack(**_help())
            return
        # Nothing that waits on the network (Slack, Heroku, Redis) before this line: Slack
        # shows the person an error after 3 s. The answer follows through response_url.
        await ack()
        reply = _scrubbed(await run(cmd, command["user_id"], command["channel_id"], context), scrub)
        await _answer(respond, client, command, reply)


async def _operator_refusal(roles: RolesLookup | None) -> str | None:
    operator, error = await roles.operator() if roles is not None else (False, None)
    if error:
        return error
    if not operator:
        return (
            "You are not one of the operators allowed to start or cancel migrations "
            "(MIGRATE_OPERATORS)."
        )
    return None


async def _answer(respond: Any, client: Any, command: dict[str, Any], reply: Reply) -> None:
    """To the person only: through response_url, else chat.postEphemeral."""
    try:
        sent = await respond(**reply, replace_original=False)
        if getattr(sent, "status_code", 200) == 200:
            return
    except Exception:
        log.warning("could not answer through response_url; trying chat.postEphemeral")
    try:
        await client.chat_postEphemeral(
            channel=command["channel_id"],
            user=command["user_id"],
            text=reply["text"],
            blocks=reply.get("blocks"),
        )
    except Exception:
        log.exception("could not deliver the reply to the person who typed the command")
