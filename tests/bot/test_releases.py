"""Contracts of following the release phase after promote (pure)."""

from __future__ import annotations

from bot.heroku import Release
from bot.methods.common.releases import LIMIT_SECONDS, Pair, find, judge


def release(version: int, description: str, status: str) -> Release:
    return Release(id=f"r{version}", version=version, description=description, status=status)


def test_the_pooler_release_is_not_mistaken_for_the_database_one() -> None:
    # Newest first, as `pg:promote` lists them: the pooler's release came last.
    releases = [
        release(14, "Attach DATABASE_CONNECTION_POOL (@ref:new)", "succeeded"),
        release(13, "Detach DATABASE_CONNECTION_POOL (@ref:old)", "succeeded"),
        release(12, "Attach DATABASE (@ref:new)", "failed"),
        release(11, "Detach DATABASE (@ref:old)", "succeeded"),
        release(9, "Attach DATABASE (@ref:old)", "succeeded"),
    ]
    pair = find(releases, baseline=10)
    assert pair.attach is not None and pair.attach.version == 12
    assert pair.detach is not None and pair.detach.version == 11
    verdict = judge("shop", pair, 5.0)
    assert not verdict.done
    assert "v12" in verdict.failure and "no DATABASE_URL" in verdict.failure


def test_releases_before_the_promote_are_never_ours() -> None:
    pair = find([release(9, "Attach DATABASE (@ref:old)", "succeeded")], baseline=9)
    assert pair == Pair(None, None)
    assert judge("shop", pair, 5.0).wait.startswith("waiting for the Attach DATABASE release")


def test_a_pending_attach_release_is_waited_for_until_the_time_limit() -> None:
    pair = Pair(None, release(12, "Attach DATABASE (@ref:new)", "pending"))
    assert judge("shop", pair, 10.0).wait == "release v12 of shop is pending"
    assert "still pending after 15 minutes" in judge("shop", pair, LIMIT_SECONDS + 1).failure


def test_a_failed_detach_is_harmless_once_the_attach_succeeded() -> None:
    pair = Pair(
        release(11, "Detach DATABASE (@ref:old)", "failed"),
        release(12, "Attach DATABASE (@ref:new)", "succeeded"),
    )
    verdict = judge("shop", pair, 5.0)
    assert verdict.done and "safe to ignore" in verdict.note


def test_an_attach_failure_with_the_detach_failed_too_leaves_the_app_on_the_old_database() -> None:
    pair = Pair(
        release(11, "Detach DATABASE (@ref:old)", "failed"),
        release(12, "Attach DATABASE (@ref:new)", "failed"),
    )
    assert "still points at the old database" in judge("shop", pair, 5.0).failure
