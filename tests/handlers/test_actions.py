"""Contracts of the button payload parser: only buttons the bot made are acted on."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.methods.changeover import StepName
from handlers.actions import BadClick, parse_click


def value(**overrides: object) -> str:
    data: dict[str, object] = {"m": "mig-abc123", "g": "approve_promote", "n": "abcDEF_123", "p": 0}
    data.update(overrides)
    return json.dumps(data)


def test_a_button_the_bot_made_parses_into_a_click() -> None:
    click = parse_click("approve_step", value(p=1), "U0BOB")
    assert click.gate == StepName.APPROVE_PROMOTE and click.approve and click.with_next
    assert not parse_click("reject_step", value(), "U0BOB").approve


@pytest.mark.parametrize(
    ("action_id", "raw"),
    [
        ("delete_everything", value()),
        ("approve_step", "not json"),
        ("approve_step", "[1, 2]"),
        ("approve_step", value(m="mig-../../x")),
        ("approve_step", value(g="destroy_old")),
        ("approve_step", value(n="")),
        ("approve_step", "x" * 5000),
    ],
)
def test_a_forged_or_broken_button_is_refused(action_id: str, raw: str) -> None:
    with pytest.raises(BadClick):
        parse_click(action_id, raw, "U0BOB")


@given(st.text(max_size=400), st.sampled_from(["approve_step", "reject_step", "x"]))
def test_any_payload_parses_or_raises_bad_click(raw: str, action_id: str) -> None:
    try:
        click = parse_click(action_id, raw, "U0BOB")
    except BadClick:
        return
    assert click.migration_id.startswith("mig-") and click.gate in set(StepName)
