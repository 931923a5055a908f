"""The cadence analyzer (coaching/cadence.py) on synthetic histories: its helpers (circular distance,
concentration, confidence, ``window_of``), the windows of steady, weekday and spread routines and their confidence,
and history without start times.

Routines that change: ``test_cadence_deviations.py``; property tests of the documented rules:
``test_cadence_properties.py``.
"""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from coaching.cadence import (
    K_NARROW,
    K_OVERALL,
    WEEKDAYS,
    RuckSample,
    analyze,
    circular_distance,
    concentration,
    confidence_for,
    window_of,
)
from tests.cadence_helpers import AS_OF, DAY, contains, days_back, four_a_week, ruck, width, window_contains

# --- helpers of the module --------------------------------------------------------------------------------------


def test_circular_distance_goes_the_short_way() -> None:
    assert circular_distance(1430, 10) == 20
    assert circular_distance(10, 1430) == 20
    assert circular_distance(300, 300) == 0
    assert circular_distance(0, 720) == 720
    assert circular_distance(100, 1000) == 540
    assert circular_distance(6 * 60, 18 * 60 + 30) == 690


def test_concentration_of_identical_and_opposite_minutes() -> None:
    r, sigma = concentration([300] * 6)
    assert r == pytest.approx(1.0)
    assert sigma == pytest.approx(0.0, abs=1e-6)
    r, sigma = concentration([0, 720])
    assert r == pytest.approx(0.0, abs=1e-9)
    assert sigma > 500
    # 23:50 and 00:10 are 20 minutes apart, not 23 h 40 min: sigma is about 10 min.
    _, sigma = concentration([1430, 10])
    assert sigma == pytest.approx(10.0, abs=0.1)


def test_confidence_for_matches_the_documented_values() -> None:
    # size: 5 rucks at one minute give exactly 0.5 overall
    assert confidence_for(5, 0.0, K_OVERALL) == 0.5
    assert confidence_for(20, 0.0, K_OVERALL) == 0.8
    assert confidence_for(6, 0.0, K_NARROW) == 0.75
    # concentration: σ = 30, 60, 90 min give 0.84, 0.49, 0.20 (the factor n / (n + K) ~ 1 for huge n)
    assert confidence_for(10**9, 30.0, K_OVERALL) == pytest.approx(0.84, abs=0.01)
    assert confidence_for(10**9, 60.0, K_OVERALL) == pytest.approx(0.49, abs=0.01)
    assert confidence_for(10**9, 90.0, K_OVERALL) == pytest.approx(0.20, abs=0.01)
    assert confidence_for(10, 50.0, K_OVERALL) == pytest.approx(10 / 15 * math.exp(-0.5), abs=1e-4)
    assert confidence_for(0, 0.0, K_OVERALL) == 0.0
    assert confidence_for(10, math.inf, K_OVERALL) == 0.0


def test_window_of_nothing_is_none() -> None:
    assert window_of([], K_OVERALL) is None


def test_window_of_a_single_minute_is_the_minimum_width_around_it() -> None:
    w = window_of([300], K_OVERALL)
    assert w is not None
    assert (w.start_minute, w.end_minute, w.centre_minute) == (285, 315, 300)
    assert w.sample_size == 1
    assert w.confidence == round(1 / 6, 4)


def test_window_of_leaves_out_the_odd_ruck() -> None:
    minutes = [300, 305, 310, 300, 295, 1200, 300, 305, 310, 300]
    w = window_of(minutes, K_OVERALL)
    assert w is not None
    assert not window_contains(w, 1200)
    assert width(w.start_minute, w.end_minute) <= 30
    assert circular_distance(w.centre_minute, 303) <= 3


def test_window_of_wraps_midnight() -> None:
    w = window_of([1430, 10, 1435, 5, 0], K_OVERALL)
    assert w is not None
    assert window_contains(w, 0)
    assert w.start_minute > 1400 and w.end_minute < 40
    assert circular_distance(w.centre_minute, 0) <= 5


# --- synthetic histories ----------------------------------------------------------------------------------------


def test_regular_five_am_rucker() -> None:
    tz = "Europe/London"
    samples = [ruck(days_back(3 * i + 1), 300 + (i * 3) % 9 - 4, tz, ruck_id=i) for i in range(24)]
    result = analyze(samples, AS_OF)
    snap = result.snapshot
    assert result.timed_samples == 24
    assert result.long_run is not None
    assert snap.window_start_minute is not None and snap.window_end_minute is not None
    assert snap.centre_minute is not None
    assert contains(snap.window_start_minute, snap.window_end_minute, 300)
    assert circular_distance(snap.centre_minute, 300) <= 5
    assert width(snap.window_start_minute, snap.window_end_minute) <= 30
    assert snap.confidence >= 0.5
    assert snap.confidence == result.long_run.confidence
    assert result.std_dev_minutes is not None and result.std_dev_minutes < 5
    assert snap.confidence == confidence_for(24, result.std_dev_minutes, K_OVERALL)
    assert snap.sample_size == 24
    assert snap.deviations == []
    assert result.timezone == tz


def test_weekday_and_weekend_routines_get_their_own_windows() -> None:
    tz = "America/Chicago"
    samples: list[RuckSample] = []
    expected: Counter[str] = Counter()
    for n in range(1, 85):
        day = days_back(n)
        if day.weekday() < 5:
            samples.append(ruck(day, 310 + n % 5 - 2, tz))
        elif day.weekday() == 5:
            samples.append(ruck(day, 540 + n % 11 - 5, tz))
        else:
            continue
        expected[WEEKDAYS[day.weekday()]] += 1
    result = analyze(samples, AS_OF)
    windows = result.snapshot.weekday_windows

    assert result.weekday_pattern == {name: expected[name] for name in WEEKDAYS}
    assert result.weekday_pattern["Saturday"] == 12 and result.weekday_pattern["Sunday"] == 0
    assert result.weekday_pattern["Monday"] == 12
    assert sorted(windows) == [0, 1, 2, 3, 4, 5]  # no Sunday rucks, no Sunday window

    saturday = windows[5]
    assert window_contains(saturday, 540)
    assert circular_distance(saturday.centre_minute, 540) <= 5
    assert not window_contains(saturday, 310)
    assert saturday.confidence >= 0.5
    assert saturday.sample_size == 12
    for weekday in range(5):
        w = windows[weekday]
        assert window_contains(w, 310), WEEKDAYS[weekday]
        assert circular_distance(w.centre_minute, 310) <= 3
        assert not window_contains(w, 540)
        assert w.confidence >= 0.5
    # Overall, 60 of 72 rucks are on weekdays: the prime window is the weekday one.
    assert result.long_run is not None and window_contains(result.long_run, 310)


def test_weekday_with_fewer_than_three_rucks_has_no_window() -> None:
    samples = [ruck(d, 420) for d in four_a_week(1, 70)]
    sundays = [days_back(n) for n in range(20, 34) if days_back(n).weekday() == 6]
    samples += [ruck(d, 900) for d in sundays]  # two Sundays only
    result = analyze(samples, AS_OF)
    assert result.weekday_pattern["Sunday"] == 2
    assert 6 not in result.snapshot.weekday_windows
    assert {0, 1, 3, 5} <= set(result.snapshot.weekday_windows)


@pytest.mark.parametrize(
    "minutes",
    [
        [23 * 60 + 30, 30] * 10,
        [23 * 60 + 30, 23 * 60 + 45, 0, 15, 30] * 4,
        [30, 23 * 60 + 30, 15, 23 * 60 + 45, 0] * 4,
    ],
    ids=["2330-0030", "spread-from-2330", "spread-from-0030"],
)
def test_window_wraps_midnight_not_noon(minutes: list[int]) -> None:
    samples = [ruck(days_back(2 * i + 1), m) for i, m in enumerate(reversed(minutes))]
    result = analyze(samples, AS_OF)
    snap = result.snapshot
    assert snap.window_start_minute is not None and snap.window_end_minute is not None
    assert snap.centre_minute is not None
    assert contains(snap.window_start_minute, snap.window_end_minute, 0)
    assert not contains(snap.window_start_minute, snap.window_end_minute, 720)
    assert width(snap.window_start_minute, snap.window_end_minute) <= 60
    assert circular_distance(snap.centre_minute, 0) <= 15
    assert circular_distance(snap.centre_minute, 720) >= 700
    # Read on a circle these are tight (σ ≈ 20-30 min); read linearly they would look 12 hours apart.
    assert result.std_dev_minutes is not None and result.std_dev_minutes < 35
    assert snap.confidence >= 0.5


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fewer_than_three_rucks_give_no_window(n: int) -> None:
    samples = [ruck(days_back(i + 1), 300) for i in range(n)]
    result = analyze(samples, AS_OF)
    assert result.timed_samples == n
    assert result.long_run is None
    assert result.snapshot.overall is None
    assert result.snapshot.centre_minute is None
    assert result.snapshot.confidence == 0.0
    assert result.snapshot.weekday_windows == {}
    assert any("a window needs 3" in reason for reason in result.reasons)


@pytest.mark.parametrize(("n", "expected"), [(3, 0.375), (4, 0.4444)])
def test_three_or_four_perfect_rucks_are_not_confident(n: int, expected: float) -> None:
    samples = [ruck(days_back(2 * i + 1), 300) for i in range(n)]
    result = analyze(samples, AS_OF)
    assert result.long_run is not None
    assert result.snapshot.centre_minute == 300
    assert result.snapshot.confidence == expected
    assert result.snapshot.confidence < 0.5


def test_five_perfect_rucks_reach_half_confidence() -> None:
    samples = [ruck(days_back(2 * i + 1), 300) for i in range(5)]
    assert analyze(samples, AS_OF).snapshot.confidence == 0.5


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_times_give_low_confidence(seed: int) -> None:
    rng = random.Random(seed)
    samples = [ruck(days_back(n), rng.randrange(DAY)) for n in range(1, 61)]
    result = analyze(samples, AS_OF)
    assert result.timed_samples == 60
    assert result.snapshot.confidence < 0.2
    assert result.std_dev_minutes is not None and result.std_dev_minutes > 150
    assert result.long_run is not None
    assert width(result.long_run.start_minute, result.long_run.end_minute) > 600


def test_spread_but_real_routine_is_moderately_confident() -> None:
    # σ ≈ 60 min: the documented concentration is about 0.49, times 40/45 for the size.
    rng = random.Random(7)
    samples = [ruck(days_back(2 * n + 1), round(420 + rng.gauss(0, 60))) for n in range(40)]
    result = analyze(samples, AS_OF)
    assert 0.2 < result.snapshot.confidence < 0.7
    assert result.snapshot.centre_minute is not None
    assert circular_distance(result.snapshot.centre_minute, 420) <= 30


def test_date_only_history_counts_for_the_pattern_not_the_window() -> None:
    timed = [ruck(days_back(2 * i + 2), 300, "America/Denver", ruck_id=i) for i in range(20)]
    dated_days = [days_back(2 * i + 1) for i in range(15)]
    dated = [RuckSample(None, "America/Denver", day=d, ruck_id=100 + i) for i, d in enumerate(dated_days)]

    timed_only = analyze(timed, AS_OF)
    result = analyze(timed + dated, AS_OF)

    assert result.timed_samples == 20
    assert result.date_only_samples == 15
    # The window is exactly the one of the timed rucks: midnight is nowhere near it.
    assert result.long_run == timed_only.long_run
    assert result.snapshot.centre_minute == 300
    assert result.snapshot.window_start_minute is not None and result.snapshot.window_end_minute is not None
    assert not contains(result.snapshot.window_start_minute, result.snapshot.window_end_minute, 0)
    assert result.snapshot.confidence == timed_only.snapshot.confidence
    # …but they count per weekday.
    expected = Counter(WEEKDAYS[days_back(2 * i + 2).weekday()] for i in range(20))
    expected.update(WEEKDAYS[d.weekday()] for d in dated_days)
    assert result.weekday_pattern == {name: expected[name] for name in WEEKDAYS}
    assert sum(result.weekday_pattern.values()) == 35
    assert sum(timed_only.weekday_pattern.values()) == 20
    assert any("without a start time" in reason for reason in result.reasons)


def test_date_only_sample_of_a_timed_ruck_is_not_double_counted() -> None:
    timed = [ruck(days_back(2 * i + 2), 300, ruck_id=i) for i in range(10)]
    # the same rucks again as date-only plan sessions (same ruck ids), plus one genuinely date-only session
    duplicates = [RuckSample(None, "UTC", day=days_back(2 * i + 2), ruck_id=i) for i in range(10)]
    extra = RuckSample(None, "UTC", day=days_back(3), ruck_id=99)
    result = analyze(timed + duplicates + [extra], AS_OF)
    assert result.timed_samples == 10
    assert result.date_only_samples == 1
    assert sum(result.weekday_pattern.values()) == 11
    assert result.weekday_pattern[WEEKDAYS[days_back(3).weekday()]] >= 1


def test_date_only_history_alone_gives_a_pattern_but_no_window() -> None:
    dated = [RuckSample(None, "UTC", day=days_back(n)) for n in range(1, 30, 2)]
    result = analyze(dated, AS_OF)
    assert result.timed_samples == 0
    assert result.date_only_samples == 15
    assert result.long_run is None
    assert result.snapshot.overall is None
    assert sum(result.weekday_pattern.values()) == 15
