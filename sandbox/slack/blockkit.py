"""Block Kit validation: each block goes through slack_sdk's models and back (`to_dict()`
enforces limits; a property dropped or invented on the way is one Slack would refuse)."""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_TEXT = 40_000
CONFIRM_PARTS = ("title", "text", "confirm", "deny")
PLAIN_ONLY_CONFIRM_PARTS = ("title", "confirm", "deny")


@dataclass(frozen=True)
class Verdict:
    """What Slack would make of a message's `text` and `blocks`."""

    error: str | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blocks: list[dict[str, Any]] | None = None


def check_message(text: object, blocks: object, *, attachments: object = None) -> Verdict:
    """Judge a message body; `blocks` may be a list or the JSON string a form body carries."""
    if text is not None and not isinstance(text, str):
        return Verdict("invalid_arguments", ["text must be a string"])
    loaded: object = blocks
    if isinstance(blocks, str) and blocks:
        try:
            loaded = json.loads(blocks)
        except ValueError:
            return Verdict("invalid_blocks_format", ["blocks is not valid JSON"])
    if not isinstance(loaded, list) and loaded not in (None, ""):
        return Verdict("invalid_blocks_format", ["blocks must be an array"])
    parsed: list[Any] | None = loaded if isinstance(loaded, list) else None
    if text is not None and len(text) > MAX_TEXT:
        return Verdict("msg_too_long", [f"text is {len(text)} characters, over {MAX_TEXT}"])
    if not text and not parsed and not attachments:
        return Verdict("no_text", ["no text, blocks or attachments"])
    if parsed is None:
        return Verdict(None)
    errors = block_errors(parsed)
    if errors:
        return Verdict("invalid_blocks", errors)
    warnings = [] if text else ["blocks without a top-level text (notifications fall back to it)"]
    return Verdict(None, warnings=warnings, blocks=with_generated_ids(parsed))


def block_errors(blocks: list[Any]) -> list[str]:
    """Every reason Slack would refuse this list of blocks, as Slack-like messages."""
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict):
            errors.append(f"must be an object [json-pointer:{pointer}]")
            continue
        errors.extend(_model_errors(block, pointer))
        errors.extend(_interaction_errors(block, pointer))
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                errors.append(f"block_id '{block_id}' is repeated [json-pointer:{pointer}]")
            seen_block_ids.add(block_id)
    return errors


def _model_errors(block: dict[str, Any], pointer: str) -> list[str]:
    try:
        model = Block.parse(block)
        if model is None:
            return [f"unsupported block type {block.get('type')!r} [json-pointer:{pointer}]"]
        rendered = model.to_dict()
    except SlackObjectFormationError as e:
        return [f"{e} [json-pointer:{pointer}]"]
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        return [f"malformed block ({e}) [json-pointer:{pointer}]"]
    return _differences(block, rendered, pointer)


def _differences(original: Any, rendered: Any, pointer: str) -> list[str]:
    """Where the slack_sdk round trip changed the block: Slack's schema would differ too."""
    if isinstance(original, dict):
        if not isinstance(rendered, dict):
            return [f"expected {type(original).__name__} [json-pointer:{pointer}]"]
        errors: list[str] = []
        for key, value in original.items():
            if key not in rendered:
                if value not in (None, [], {}, ""):
                    errors.append(f"unsupported property '{key}' [json-pointer:{pointer}/{key}]")
            else:
                errors.extend(_differences(value, rendered[key], f"{pointer}/{key}"))
        errors.extend(
            f"missing required property '{key}' [json-pointer:{pointer}]"
            for key in rendered
            if key not in original
        )
        return errors
    if isinstance(original, list):
        if not isinstance(rendered, list) or len(rendered) != len(original):
            return [f"array not accepted as given [json-pointer:{pointer}]"]
        return [
            error
            for i, (a, b) in enumerate(zip(original, rendered, strict=True))
            for error in _differences(a, b, f"{pointer}/{i}")
        ]
    if isinstance(rendered, dict | list):
        return [f"expected an object, got {type(original).__name__} [json-pointer:{pointer}]"]
    return []


def _interaction_errors(block: dict[str, Any], pointer: str) -> list[str]:
    errors: list[str] = []
    elements = block.get("elements")
    if block.get("type") in ("actions", "context") and not elements:
        errors.append(f"elements must not be empty [json-pointer:{pointer}/elements]")
    candidates: list[tuple[str, Any]] = []
    if block.get("type") == "actions" and isinstance(elements, list):
        candidates = [(f"{pointer}/elements/{i}", e) for i, e in enumerate(elements)]
    elif "accessory" in block:
        candidates = [(f"{pointer}/accessory", block["accessory"])]
    action_ids: set[str] = set()
    for where, element in candidates:
        if not isinstance(element, dict):
            continue
        action_id = element.get("action_id")
        if isinstance(action_id, str):
            if action_id in action_ids:
                errors.append(
                    f"action_id '{action_id}' is repeated in the block [json-pointer:{where}]"
                )
            action_ids.add(action_id)
        if element.get("type") == "button":
            errors.extend(_button_errors(element, where))
    return errors


def _button_errors(button: dict[str, Any], pointer: str) -> list[str]:
    errors: list[str] = []
    text = button.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        errors.append(f"button text must be plain_text [json-pointer:{pointer}/text]")
    confirm = button.get("confirm")
    if isinstance(confirm, dict):
        errors.extend(
            f"confirm needs '{part}' [json-pointer:{pointer}/confirm]"
            for part in CONFIRM_PARTS
            if part not in confirm
        )
        for part in PLAIN_ONLY_CONFIRM_PARTS:
            value = confirm.get(part)
            if isinstance(value, dict) and value.get("type") != "plain_text":
                errors.append(f"{part} must be plain_text [json-pointer:{pointer}/confirm/{part}]")
    return errors


def with_generated_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy with the block_id and action_id Slack fills in where the sender left them out."""
    stored = copy.deepcopy(blocks)
    for block in stored:
        block.setdefault("block_id", _random_id())
        elements = block.get("elements") if block.get("type") == "actions" else None
        interactive = list(elements or [])
        if isinstance(block.get("accessory"), dict):
            interactive.append(block["accessory"])
        for element in interactive:
            if isinstance(element, dict) and element.get("type") != "image":
                element.setdefault("action_id", _random_id())
    return stored


def _random_id() -> str:
    return secrets.token_urlsafe(4).replace("-", "a").replace("_", "b")[:5]
