"""Follower lag ("Behind By") trend and ETA from polled samples; pure maths, no I/O."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction


@dataclass(frozen=True)
class LagSample:
    """One poll: the follower was `behind_by` commits behind at `at` (epoch seconds)."""

    at: float
    behind_by: int


class Trend(StrEnum):
    FALLING = "falling"
    RISING = "rising"
    STEADY = "steady"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LagEstimate:
    """The newest lag, its trend, the fitted rate (commits/s, negative when falling), the ETA."""

    behind_by: int
    trend: Trend
    rate: float | None
    eta_seconds: float | None


# Lag is a whole number of commits: a fitted line that moves less than half a commit
# across the whole window shows no measurable movement. A tolerance scaled by the lag
# itself would call a lag that drops by one commit every poll "steady" once it is large.
_STEADY_MOVEMENT = Fraction(1, 2)
_MAX_DAYS = 999
_MAX_COUNT = 10**15
_MAX_RATE = 1e15


def estimate(
    samples: Sequence[LagSample], target: int, *, window: float = 300.0
) -> LagEstimate | None:
    """Fit the samples within `window` seconds of the newest; None when there are none."""
    usable = [s for s in samples if math.isfinite(s.at)]
    if not usable:
        return None
    # Of samples sharing the newest timestamp, the last one given is the latest reading.
    newest = max(reversed(usable), key=lambda s: s.at)
    span = window if window >= 0 else 0.0
    recent = [s for s in usable if newest.at - s.at <= span]
    behind_by = newest.behind_by
    at_target = behind_by <= target
    slope = _least_squares_slope(recent)
    if slope is None:
        return LagEstimate(behind_by, Trend.UNKNOWN, None, 0.0 if at_target else None)
    trend = _trend(slope, span)
    eta: float | None = None
    if at_target:
        eta = 0.0
    elif trend is Trend.FALLING:
        eta = _to_float((behind_by - target) / -slope)
    return LagEstimate(behind_by, trend, _to_float(slope), eta)


def _least_squares_slope(samples: Sequence[LagSample]) -> Fraction | None:
    """Exact slope in commits/s, so huge lags and epoch timestamps lose no precision."""
    if len(samples) < 2:
        return None
    ts = [Fraction(s.at) for s in samples]
    ys = [Fraction(s.behind_by) for s in samples]
    t_mean = sum(ts, Fraction(0)) / len(ts)
    y_mean = sum(ys, Fraction(0)) / len(ys)
    sxx = sum(((t - t_mean) ** 2 for t in ts), Fraction(0))
    if sxx == 0:
        return None
    sxy = sum(((t - t_mean) * (y - y_mean) for t, y in zip(ts, ys, strict=True)), Fraction(0))
    return sxy / sxx


def _trend(slope: Fraction, window: float) -> Trend:
    if slope == 0:
        return Trend.STEADY
    if math.isfinite(window) and window > 0 and abs(slope) * Fraction(window) < _STEADY_MOVEMENT:
        return Trend.STEADY
    return Trend.FALLING if slope < 0 else Trend.RISING


def _to_float(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:
        return sys.float_info.max if value > 0 else -sys.float_info.max


def format_duration(seconds: float) -> str:
    """A short human duration: "45 s", "3 min", "1 h 20 min", "2 d 3 h"."""
    if math.isnan(seconds):
        return "unknown"
    if seconds >= (_MAX_DAYS + 1) * 86_400:
        return f"> {_MAX_DAYS} d"
    whole = _round(max(seconds, 0.0))
    if whole < 60:
        return f"{whole} s"
    minutes = _round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(_round(seconds / 3600), 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _round(value: float) -> int:
    # Half up, not to even: 90 s reads as "2 min", as people expect.
    return math.floor(value + 0.5)


def render_progress(est: LagEstimate, target: int) -> str:
    """One line, e.g. "Behind by 1,234 commits · falling ~120/min · ETA ~10 min to ≤200"."""
    unit = "commit" if est.behind_by == 1 else "commits"
    parts = [f"Behind by {_count(est.behind_by)} {unit}", _render_trend(est)]
    if est.behind_by <= target:
        parts.append(f"caught up (≤{_count(target)})")
    elif est.eta_seconds is not None:
        parts.append(f"ETA ~{format_duration(est.eta_seconds)} to ≤{_count(target)}")
    elif est.trend is Trend.UNKNOWN:
        parts.append("ETA after the next reading")
    else:
        parts.append("no ETA while the lag is not falling")
    return " · ".join(parts)


def _render_trend(est: LagEstimate) -> str:
    if est.trend is Trend.UNKNOWN:
        return "trend unknown"
    if est.trend is Trend.STEADY or est.rate is None or not abs(est.rate) < _MAX_RATE:
        return str(est.trend)
    return f"{est.trend} {_render_rate(abs(est.rate))}"


def _count(n: int) -> str:
    # Past this a number stops being information (and huge ints cannot even be printed).
    if abs(n) >= _MAX_COUNT:
        return f"{'-' if n < 0 else ''}> {_MAX_COUNT - 1:,}"
    return f"{n:,}"


def _render_rate(per_second: float) -> str:
    per_minute = per_second * 60
    if per_minute >= 10:
        return f"~{_round(per_minute):,}/min"
    if per_minute >= 1:
        return "~" + f"{per_minute:.1f}".removesuffix(".0") + "/min"
    per_hour = per_minute * 60
    if per_hour >= 1:
        return f"~{_round(per_hour):,}/h"
    return "<1/h"
