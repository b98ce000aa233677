"""What a follower changeover keeps for one migration, beside the shared envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from state.models import MethodData, Migration, register_data

LAG_POINTS_KEPT = 30


class LagPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: float
    behind_by: int


@register_data
class ChangeoverData(MethodData):
    kind: Literal["changeover"] = "changeover"
    # Polled "Behind By" readings, newest last (enough for a trend and an ETA).
    lag: list[LagPoint] = Field(default_factory=list)
    # When the follower was asked for: after a crash it may exist without our knowing.
    create_sent_at: datetime | None = None
    # When unfollow was sent (epoch seconds as text), or "unanswered" if its answer was lost.
    unfollow_sent_at: str | None = None
    # The "not safe to unfollow" reason already told, so it is said once.
    unsafe_noticed: str | None = None


def ours(m: Migration) -> ChangeoverData:
    """The changeover's own data of `m`."""
    if not isinstance(m.data, ChangeoverData):
        raise TypeError(f"{m.id} is a {m.method} migration, not a changeover")
    return m.data


def record_lag(m: Migration, at: float, behind_by: int) -> None:
    data = ours(m)
    data.lag = [*data.lag, LagPoint(at=at, behind_by=behind_by)][-LAG_POINTS_KEPT:]
    m.parent_rev += 1  # the runbook message shows lag, trend and ETA
