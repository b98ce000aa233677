"""Follower lag trend and ETA: the numbers behind the "Behind by ..." progress line."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.lag import LagEstimate, LagSample, Trend, estimate, format_duration, render_progress

T0 = 1_700_000_000.0  # a realistic epoch, so precision problems would show


def series(*lags: int, every: float = 15.0, start: float = T0) -> list[LagSample]:
    return [LagSample(start + i * every, lag) for i, lag in enumerate(lags)]


# --- estimate ----------------------------------------------------------------------------


def test_no_samples_give_no_estimate() -> None:
    assert estimate([], 200) is None


def test_a_single_sample_has_unknown_trend_and_no_eta() -> None:
    assert estimate(series(5_000), 200) == LagEstimate(5_000, Trend.UNKNOWN, None, None)


def test_a_lag_falling_30_commits_per_poll_of_15_s_is_falling_2_per_second() -> None:
    est = estimate(series(3_000, 2_970, 2_940, 2_910), 200)
    assert est == LagEstimate(2_910, Trend.FALLING, -2.0, (2_910 - 200) / 2.0)


def test_a_rising_lag_is_rising_with_a_positive_rate_and_no_eta() -> None:
    est = estimate(series(1_000, 1_100, 1_200), 200)
    assert est is not None
    assert (est.trend, est.eta_seconds) == (Trend.RISING, None)
    assert est.rate == pytest.approx(100 / 15)


def test_a_flat_lag_is_steady_with_zero_rate_and_no_eta() -> None:
    assert estimate(series(800, 800, 800), 200) == LagEstimate(800, Trend.STEADY, 0.0, None)


def test_a_line_moving_less_than_half_a_commit_across_the_window_is_steady() -> None:
    # Fitted slope -0.001/s: 0.3 commits across 300 s.
    est = estimate(series(1_000, 1_001, 1_000, 1_000, every=100), 200)
    assert est is not None
    assert (est.trend, est.eta_seconds) == (Trend.STEADY, None)
    assert est.rate == pytest.approx(-0.001)


def test_a_lag_already_at_the_target_has_eta_zero_whatever_the_trend() -> None:
    rising = estimate(series(100, 150, 200), 200)
    single = estimate(series(0), 200)
    assert rising is not None
    assert single is not None
    assert (rising.trend, rising.eta_seconds) == (Trend.RISING, 0.0)
    assert (single.trend, single.eta_seconds) == (Trend.UNKNOWN, 0.0)


def test_only_samples_within_the_window_of_the_newest_count() -> None:
    # An hour-old surge must not hide that the lag is now falling.
    old = [LagSample(T0 - 3_600, 10), LagSample(T0 - 3_585, 50_000)]
    est = estimate([*old, *series(9_000, 8_850, 8_700)], 200, window=300)
    assert est is not None
    assert est.trend is Trend.FALLING
    assert est.rate == pytest.approx(-10.0)


def test_samples_out_of_order_are_fitted_by_time_and_the_newest_lag_is_reported() -> None:
    est = estimate([LagSample(T0 + 30, 2_940), LagSample(T0, 3_000), LagSample(T0 + 15, 2_970)], 0)
    assert est == LagEstimate(2_940, Trend.FALLING, -2.0, 1_470.0)


def test_samples_that_all_share_one_timestamp_give_unknown_trend_and_the_last_lag() -> None:
    est = estimate([LagSample(T0, 5_000), LagSample(T0, 4_000)], 200)
    assert est == LagEstimate(4_000, Trend.UNKNOWN, None, None)


def test_a_repeated_timestamp_among_others_still_fits_a_slope() -> None:
    est = estimate([LagSample(T0, 1_000), LagSample(T0, 1_000), LagSample(T0 + 10, 900)], 200)
    assert est is not None
    assert est.trend is Trend.FALLING
    assert est.rate == pytest.approx(-10.0)


def test_non_finite_timestamps_are_ignored() -> None:
    samples = [LagSample(math.nan, 1), LagSample(math.inf, 2), *series(600, 500)]
    assert estimate(samples, 200) == LagEstimate(500, Trend.FALLING, -100 / 15, 45.0)


def test_lags_beyond_float_range_still_give_a_finite_estimate() -> None:
    est = estimate(series(10**400, 10**400 - 10**398), 200)
    assert est is not None
    assert est.trend is Trend.FALLING
    assert est.rate is not None
    assert math.isfinite(est.rate)
    assert est.rate < 0
    assert est.eta_seconds == pytest.approx(1_485.0)


def test_a_fall_of_one_commit_in_a_billion_is_still_measured_exactly() -> None:
    est = estimate(series(10**18, 10**18 - 1, every=1.0), 200)
    assert est is not None
    assert (est.trend, est.rate) == (Trend.FALLING, -1.0)


# --- format_duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (-3, "0 s"),
        (45, "45 s"),
        (59.4, "59 s"),
        (59.5, "1 min"),
        (90, "2 min"),
        (180, "3 min"),
        (3_599, "1 h"),
        (4_800, "1 h 20 min"),
        (7_200, "2 h"),
        (86_399, "1 d"),
        (97_200, "1 d 3 h"),
        (10**12, "> 999 d"),
        (math.inf, "> 999 d"),
        (math.nan, "unknown"),
    ],
)
def test_durations_read_in_the_largest_useful_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- render_progress ---------------------------------------------------------------------


def test_a_falling_lag_renders_count_rate_and_eta() -> None:
    est = LagEstimate(1_234, Trend.FALLING, -2.0, 600.0)
    assert render_progress(est, 200) == (
        "Behind by 1,234 commits · falling ~120/min · ETA ~10 min to ≤200"
    )


def test_a_lag_at_the_target_renders_as_caught_up() -> None:
    est = LagEstimate(1, Trend.FALLING, -0.5, 0.0)
    assert render_progress(est, 200) == "Behind by 1 commit · falling ~30/min · caught up (≤200)"


def test_a_rising_lag_says_there_is_no_eta() -> None:
    est = LagEstimate(5_000, Trend.RISING, 0.05, None)
    assert render_progress(est, 1_000) == (
        "Behind by 5,000 commits · rising ~3/min · no ETA while the lag is not falling"
    )


def test_a_first_reading_says_the_eta_comes_with_the_next() -> None:
    est = LagEstimate(5_000, Trend.UNKNOWN, None, None)
    assert render_progress(est, 200) == (
        "Behind by 5,000 commits · trend unknown · ETA after the next reading"
    )


@pytest.mark.parametrize(
    ("rate", "shown"), [(-0.1, "~6/min"), (-0.025, "~1.5/min"), (-0.001, "~4/h"), (-1e-6, "<1/h")]
)
def test_slow_rates_render_per_minute_or_per_hour(rate: float, shown: str) -> None:
    est = LagEstimate(10_000, Trend.FALLING, rate, 3_600.0)
    assert f"falling {shown} ·" in render_progress(est, 200)


def test_a_steady_lag_shows_no_rate() -> None:
    est = LagEstimate(800, Trend.STEADY, 0.0, None)
    assert render_progress(est, 200) == (
        "Behind by 800 commits · steady · no ETA while the lag is not falling"
    )


def test_absurd_numbers_render_as_bounded_text() -> None:
    est = estimate(series(10**5000, 10**4999), 200)
    assert est is not None
    line = render_progress(est, 200)
    assert line.startswith("Behind by > 999,999,999,999,999 commits · falling")
    assert len(line) < 120


# --- properties --------------------------------------------------------------------------

lags = st.integers(min_value=0, max_value=2**63)
gaps = st.floats(min_value=0.001, max_value=120.0)


@settings(max_examples=300, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(-1e6, 1e6), lags), max_size=40),
    target=st.integers(min_value=0, max_value=10**6),
    window=st.floats(min_value=0, max_value=1e6),
)
def test_eta_is_never_negative_and_only_given_when_falling_or_at_target(
    points: list[tuple[float, int]], target: int, window: float
) -> None:
    samples = [LagSample(T0 + offset, lag) for offset, lag in points]
    est = estimate(samples, target, window=window)
    if not samples:
        assert est is None
        return
    assert est is not None
    if est.eta_seconds is not None:
        assert est.eta_seconds >= 0
        assert est.trend is Trend.FALLING or est.behind_by <= target
    render_progress(est, target)


@settings(max_examples=300, deadline=None)
@given(
    start=lags,
    drops=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=20),
    steps=st.lists(gaps, min_size=20, max_size=20),
)
def test_a_strictly_decreasing_series_within_the_window_is_falling(
    start: int, drops: list[int], steps: list[float]
) -> None:
    samples = [LagSample(T0, start)]
    for drop, step in zip(drops, steps, strict=False):
        samples.append(LagSample(samples[-1].at + step, samples[-1].behind_by - drop))
    window = samples[-1].at - T0
    est = estimate(samples, -(10**12), window=window)
    assert est is not None
    assert est.trend is Trend.FALLING
    assert est.rate is not None
    assert est.rate < 0
    assert est.eta_seconds is not None
    assert est.eta_seconds > 0
