"""Contracts of the changeover guardrails, from the platform's own numbers (pure)."""

from __future__ import annotations

from bot.methods.changeover.guardrails import changeover
from bot.methods.common.plans import GB, Facts, can_have_followers, storage_bytes, tier


def facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "source_name": "postgresql-round-1234",
        "source_plan": "heroku-postgresql:standard-0",
        "target_plan": "heroku-postgresql:standard-2",
        "num_bytes": 10 * GB,
        "major_version": "16",
        "can_be_followed": True,
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def test_a_plain_changeover_to_a_bigger_plan_has_no_blocker() -> None:
    assert changeover(facts()).blockers == []


def test_data_bigger_than_the_new_plan_is_refused_with_the_sizes() -> None:
    verdict = changeover(facts(num_bytes=80 * GB, target_plan="heroku-postgresql:standard-0"))
    assert verdict.blockers == [
        "postgresql-round-1234 holds 80 GB, more than standard-0 stores (64 GB). "
        "Pick a bigger plan."
    ]


def test_data_that_nearly_fills_the_new_plan_is_a_warning() -> None:
    verdict = changeover(facts(num_bytes=60 * GB, target_plan="standard-0"))
    assert verdict.blockers == [] and "94% of standard-0's 64 GB" in verdict.warnings[0]


def test_essential_and_advanced_plans_cannot_be_changeover_followers() -> None:
    essential = changeover(facts(target_plan="heroku-postgresql:essential-1"))
    assert "Essential plan, which cannot be a follower" in essential.blockers[0]
    advanced = changeover(facts(target_plan="heroku-postgresql:advanced"))
    assert "--method advanced" in advanced.blockers[0]


def test_a_source_whose_fork_follow_row_says_unsupported_is_refused() -> None:
    verdict = changeover(facts(can_be_followed=False, source_plan="essential-0"))
    assert any("cannot have followers (Fork/Follow" in b for b in verdict.blockers)


def test_a_major_version_difference_points_at_the_upgrade_method() -> None:
    verdict = changeover(facts(wanted_version="17"))
    assert len(verdict.blockers) == 1
    assert "runs PostgreSQL 16" in verdict.blockers[0]
    assert "--method upgrade --version 17" in verdict.blockers[0]
    assert changeover(facts(wanted_version="16")).blockers == []


def test_plan_tiers_and_storage_come_from_the_published_table() -> None:
    assert tier("heroku-postgresql:private-7") == "private"
    assert tier("advanced-shield") == "advanced"
    assert storage_bytes("standard-9") == 4 * 1024 * GB
    assert storage_bytes("standard-11") is None
    assert can_have_followers("premium-0") and not can_have_followers("essential-2")
