"""The `/migrate` slash command: parse, authorize, call one service function, render."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.logs import Scrubber
from bot.service import MigrationService
from handlers import render
from handlers.middleware import ROLES
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
from state.repository import StateError

log = logging.getLogger("migrate_bot.handlers")

# Answer inside the ack when the work is quick; past this, ack now and answer via response_url.
FAST_REPLY_SECONDS = 2.0

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


def _blocks(text: str, blocks: list[render.Block]) -> Reply:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def _scrubbed(reply: Reply, scrub: Scrubber) -> Reply:
    """No secret in a reply, whatever a platform error message echoed."""
    return json.loads(scrub(json.dumps(reply)))  # type: ignore[no-any-return]


def register(app: AsyncApp, service: MigrationService, scrub: Scrubber) -> None:
    async def run(cmd: Any, user: str, channel: str) -> Reply:
        try:
            if isinstance(cmd, StartCommand):
                m = await service.start(cmd, user=user, channel=channel)
                return {
                    "response_type": "ephemeral",
                    "text": f"Started *{m.id}*: {render.title(m)}. Progress and approvals "
                    f"follow in its thread in <#{m.channel}>.",
                }
            if isinstance(cmd, PlanCommand):
                report = await service.plan(cmd)
                return _blocks(f"Plan for {cmd.app}", render.plan(report))
            if isinstance(cmd, StatusCommand):
                if cmd.migration_id is None:
                    active = [m for m in await service.recent(20) if not m.status.terminal]
                    return _blocks("Active migrations", render.listing(active))
                m = await service.get(cmd.migration_id)
                return _blocks(f"{m.id}: {m.status.value}", render.status(m))
            if isinstance(cmd, ListCommand):
                return _blocks("Recent migrations", render.listing(await service.recent(10)))
            if isinstance(cmd, CancelCommand):
                m = await service.cancel(cmd.migration_id, user=user)
                return {"response_type": "ephemeral", "text": f"{m.id}: {render.status_line(m)}"}
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
        ack: Any, command: dict[str, Any], respond: Any, context: dict[str, Any]
    ) -> None:
        try:
            cmd = parse_command(command.get("text") or "")
        except CommandError as exc:
            await ack(**_error(exc.message, exc.usage))
            return
        if isinstance(cmd, HelpCommand):
            await ack(**_help())
            return
        roles = context.get(ROLES)
        if isinstance(cmd, StartCommand | CancelCommand) and roles and roles.operator_error:
            await ack(**_error(roles.operator_error))
            return
        if isinstance(cmd, StartCommand | CancelCommand) and not (roles and roles.operator):
            await ack(
                **_error(
                    "You are not one of the operators allowed to start or cancel migrations "
                    "(MIGRATE_OPERATORS)."
                )
            )
            return
        await _answer(ack, respond, run(cmd, command["user_id"], command["channel_id"]), scrub)


async def _answer(ack: Any, respond: Any, work: Awaitable[Reply], scrub: Scrubber) -> None:
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=FAST_REPLY_SECONDS)
    if done:
        await ack(**_scrubbed(task.result(), scrub))
        return
    await ack(response_type="ephemeral", text=":hourglass_flowing_sand: Working on it…")
    reply = _scrubbed(await task, scrub)
    try:
        await respond(**reply, replace_original=False)
    except Exception:
        log.exception("could not deliver the reply through response_url")
