"""Approval buttons (`approve_step`, `reject_step`): ack, check, decide, explain refusals."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot.decisions import Click
from bot.methods import all_gates
from bot.slack.render import APPROVE, REJECT
from handlers.middleware import roles_of, user_of
from state.errors import StateError, TransitionRefused

if TYPE_CHECKING:
    # The service is handed in by `bot.app`; handlers only call it.
    from bot.service import MigrationService

log = logging.getLogger("migrate_bot.handlers")

_ID = re.compile(r"^mig-[a-z0-9]{6}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


class BadClick(ValueError):
    """A button payload we did not produce (forged, truncated or from another app)."""


def parse_click(action_id: str, value: object, user: object) -> Click:
    """The typed click from a block_actions action; BadClick if anything is off."""
    if action_id not in (APPROVE, REJECT) or not isinstance(value, str) or len(value) > 300:
        raise BadClick("unknown button")
    if not isinstance(user, str) or not user:
        raise BadClick("no user")
    try:
        data = json.loads(value)
    except ValueError:
        raise BadClick("unreadable button value") from None
    if not isinstance(data, dict):
        raise BadClick("unreadable button value")
    migration_id, gate, nonce = data.get("m"), data.get("g"), data.get("n")
    if not (isinstance(migration_id, str) and _ID.match(migration_id)):
        raise BadClick("bad migration id")
    if not isinstance(gate, str) or gate not in all_gates():
        raise BadClick("bad gate")
    if not (isinstance(nonce, str) and _NONCE.match(nonce)):
        raise BadClick("bad nonce")
    return Click(
        migration_id=migration_id,
        gate=gate,
        nonce=nonce,
        user=user,
        approve=action_id == APPROVE,
        with_next=data.get("p") == 1,
    )


def thread_of(body: dict[str, Any]) -> str | None:
    """The thread the clicked message is in (approval requests live in the migration's)."""
    container = body.get("container")
    message = body.get("message")
    for source in (container, message):
        if isinstance(source, dict) and isinstance(source.get("thread_ts"), str):
            return str(source["thread_ts"])
    if isinstance(container, dict) and isinstance(container.get("message_ts"), str):
        return str(container["message_ts"])
    return None


def register(app: AsyncApp, service: MigrationService) -> None:
    async def decide(
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Any,
        client: Any,
        context: dict[str, Any],
    ) -> None:
        await ack()
        user = user_of(body)

        async def tell(text: str) -> None:
            """To the clicker only, in the button's thread (response_url, else postEphemeral)."""
            with contextlib.suppress(Exception):
                sent = await respond(response_type="ephemeral", replace_original=False, text=text)
                if getattr(sent, "status_code", 200) == 200:
                    return
            channel = body.get("channel")
            channel = channel.get("id") if isinstance(channel, dict) else None
            if isinstance(channel, str) and user is not None:
                with contextlib.suppress(Exception):
                    await client.chat_postEphemeral(
                        channel=channel, user=user, text=text, thread_ts=thread_of(body)
                    )

        try:
            click = parse_click(action.get("action_id", ""), action.get("value"), user)
        except BadClick as exc:
            log.warning("refused a button payload", extra={"reason": str(exc)})
            await tell(":warning: This button is not one the bot can act on; nothing was changed.")
            return
        roles = roles_of(context)
        approver, error = await roles.approver() if roles is not None else (False, None)
        if error:
            await tell(f":warning: {error}")
            return
        try:
            m = await service.decide(click, is_approver=approver)
        except TransitionRefused as exc:
            await tell(f":no_entry: {exc.reason}")
            return
        except StateError as exc:
            await tell(f":warning: {exc}")
            return
        except Exception:
            log.exception("click failed")
            await tell(":warning: Something went wrong on our side; nothing was changed.")
            return
        verb = "Approved" if click.approve else "Rejected"
        log.info(
            "decision recorded",
            extra={"migration": m.id, "gate": click.gate, "decision": verb},
        )

    app.action(APPROVE)(decide)
    app.action(REJECT)(decide)
