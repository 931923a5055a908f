"""The cadence analyzer (coaching/cadence.py) on synthetic histories, plus property tests of its documented rules."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coaching.cadence import (
    COVERAGE,
    K_NARROW,
    K_OVERALL,
    MIN_WINDOW_MINUTES,
    WEEKDAYS,
    CadenceAnalysis,
    RuckSample,
    analyze,
    circular_distance,
    concentration,
    confidence_for,
    window_of,
)
from coaching.models import CadenceWindow

AS_OF = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday
DAY = 1440
PROPERTY = settings(max_examples=150, deadline=None)


# --- helpers ----------------------------------------------------------------------------------------------------


def at(day: date, minute: int, tz: str = "UTC") -> datetime:
    """The instant of local ``minute`` on local ``day`` in ``tz``, expressed in UTC (the analyzer must localise)."""
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def ruck(day: date, minute: int, tz: str = "UTC", ruck_id: int | None = None) -> RuckSample:
    return RuckSample(started_at=at(day, minute, tz), timezone=tz, ruck_id=ruck_id)


def days_back(n: int, as_of: datetime = AS_OF) -> date:
    return as_of.date() - timedelta(days=n)


def width(start: int, end: int) -> int:
    return (end - start) % DAY


def contains(start: int, end: int, minute: int) -> bool:
    """Whether ``minute`` lies on the arc from ``start`` to ``end`` (inclusive, clockwise, wrapping midnight)."""
    return (minute - start) % DAY <= width(start, end)


def window_contains(window: CadenceWindow, minute: int) -> bool:
    return contains(window.start_minute, window.end_minute, minute)


def signed_offset(minute: int, centre: int) -> int:
    """``minute - centre`` the short way round, in (-720, 720]."""
    d = (minute - centre) % DAY
    return d - DAY if d > DAY // 2 else d


def kinds(analysis: CadenceAnalysis) -> list[str]:
    return [d.kind for d in analysis.deviations]


def four_a_week(first_back: int, last_back: int) -> list[date]:
    """Mondays, Tuesdays, Thursdays and Saturdays between ``first_back`` and ``last_back`` days before AS_OF."""
    days = [days_back(n) for n in range(last_back, first_back - 1, -1)]
    return [d for d in days if d.weekday() in (0, 1, 3, 5)]


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


def test_routine_shift_moves_the_window_to_the_new_time() -> None:
    samples = [ruck(d, 360, "Europe/Madrid") for d in four_a_week(15, 84)]
    recent_days = [days_back(n) for n in (1, 3, 5, 7, 9, 12)]
    samples += [ruck(d, 1080, "Europe/Madrid") for d in recent_days]
    result = analyze(samples, AS_OF)

    assert "window_shift" in kinds(result)
    assert "window_shift" in result.snapshot.deviations
    assert "frequency_drop" not in kinds(result)
    assert "timezone_change" not in kinds(result)
    assert result.long_run is not None and circular_distance(result.long_run.centre_minute, 360) <= 5
    assert result.recent is not None and result.recent.centre_minute == 1080
    snap = result.snapshot
    assert snap.centre_minute == 1080
    assert snap.window_start_minute is not None and snap.window_end_minute is not None
    assert contains(snap.window_start_minute, snap.window_end_minute, 1080)
    assert not contains(snap.window_start_minute, snap.window_end_minute, 360)
    assert snap.sample_size == 6
    assert snap.confidence == result.recent.confidence
    assert snap.confidence == confidence_for(6, 0.0, K_NARROW)


def test_two_recent_rucks_at_a_new_time_are_not_yet_a_shift() -> None:
    samples = [ruck(d, 360) for d in four_a_week(15, 84)]
    samples += [ruck(days_back(n), 1080) for n in (2, 6)]
    result = analyze(samples, AS_OF)
    assert "window_shift" not in kinds(result)
    assert result.recent is None
    assert result.snapshot.centre_minute is not None
    assert circular_distance(result.snapshot.centre_minute, 360) <= 5


@pytest.mark.parametrize(("moved", "shifted"), [(30, False), (59, False), (60, True), (90, True), (-120, True)])
def test_a_recent_move_of_an_hour_or_more_is_a_shift(moved: int, shifted: bool) -> None:
    samples = [ruck(d, 360) for d in four_a_week(15, 84)]
    samples += [ruck(d, 360 + moved) for d in four_a_week(1, 14)]
    result = analyze(samples, AS_OF)
    assert result.recent is not None and result.recent.centre_minute == 360 + moved
    assert result.long_run is not None and result.long_run.centre_minute == 360
    assert ("window_shift" in kinds(result)) is shifted
    assert result.snapshot.centre_minute == (360 + moved if shifted else 360)


@pytest.mark.parametrize(
    ("usual_recent", "odd_recent"),
    [((2, 6, 9), (4,)), ((1, 2, 3, 5, 6, 8, 10), (7, 11))],
    ids=["3-usual-1-odd", "7-usual-2-odd"],
)
def test_odd_recent_rucks_are_not_a_new_routine(usual_recent: tuple[int, ...], odd_recent: tuple[int, ...]) -> None:
    # Few recent rucks: the recent window must hold 80% of them, so it stretches over the odd ones and its centre
    # moves an hour or more, but it still holds the usual start: that is not a new routine.
    samples = [ruck(d, 360) for d in four_a_week(15, 84)]
    samples += [ruck(days_back(n), 360) for n in usual_recent]
    samples += [ruck(days_back(n), 1080) for n in odd_recent]
    result = analyze(samples, AS_OF)
    assert result.recent is not None and window_contains(result.recent, 360)
    assert circular_distance(result.recent.centre_minute, 360) >= 60
    assert "window_shift" not in kinds(result)
    assert result.long_run is not None
    assert result.snapshot.centre_minute == 360
    assert result.snapshot.confidence == result.long_run.confidence


def test_one_odd_ruck_costs_much_confidence() -> None:
    # The documented confidence uses the spread of all timed rucks, odd ones included (the window leaves them out).
    samples = [ruck(days_back(3 * i + 1), 360) for i in range(23)] + [ruck(days_back(50), 1080)]
    result = analyze(samples, AS_OF)
    assert result.snapshot.centre_minute == 360
    assert result.snapshot.window_start_minute == 345 and result.snapshot.window_end_minute == 375
    assert result.std_dev_minutes == pytest.approx(95.6, abs=0.5)
    assert result.snapshot.confidence == pytest.approx(24 / 29 * math.exp(-(95.6**2) / 5000), abs=0.01)
    assert result.snapshot.confidence < 0.2


@pytest.mark.parametrize("recent_rucks", [0, 1])
def test_frequency_drop(recent_rucks: int) -> None:
    samples = [ruck(d, 420) for d in four_a_week(15, 84)]
    samples += [ruck(days_back(4 + 5 * i), 420) for i in range(recent_rucks)]
    result = analyze(samples, AS_OF)
    assert "frequency_drop" in kinds(result)
    assert "frequency_drop" in result.snapshot.deviations
    assert result.rucks_per_week_long_run is not None
    assert 3.5 <= result.rucks_per_week_long_run <= 4.5
    assert result.rucks_per_week_recent == pytest.approx(recent_rucks / 2)
    assert "window_shift" not in kinds(result)
    # the routine itself has not moved
    assert result.snapshot.centre_minute == 420


def test_steady_frequency_is_not_a_drop() -> None:
    samples = [ruck(d, 420) for d in four_a_week(1, 84)]
    result = analyze(samples, AS_OF)
    assert result.rucks_per_week_long_run is not None and result.rucks_per_week_long_run >= 3.5
    # "recent" is the 14 x 24 h before as_of (12:00Z): the 07:00 ruck 14 days back is just outside it
    assert result.rucks_per_week_recent == 3.5
    assert kinds(result) == []


def test_recent_date_only_sessions_count_for_the_frequency() -> None:
    samples = [ruck(d, 420) for d in four_a_week(15, 84)]
    samples += [RuckSample(None, "UTC", day=d) for d in four_a_week(1, 14)]
    result = analyze(samples, AS_OF)
    assert result.rucks_per_week_recent == 4.0
    assert "frequency_drop" not in kinds(result)


def test_frequency_drop_needs_a_long_enough_history() -> None:
    # three weeks of rucking before the recent fortnight: too short to call a drop
    samples = [ruck(d, 420) for d in four_a_week(15, 35)]
    result = analyze(samples, AS_OF)
    assert result.rucks_per_week_long_run is None
    assert "frequency_drop" not in kinds(result)


def test_sparse_history_can_still_show_a_frequency_drop() -> None:
    samples = [ruck(days_back(80), 420), RuckSample(None, "UTC", day=days_back(20))]
    samples += [RuckSample(None, "UTC", day=d) for d in four_a_week(15, 70)]
    result = analyze(samples, AS_OF)
    assert result.long_run is None
    assert "frequency_drop" in kinds(result)


@pytest.mark.parametrize("new_zone", ["Europe/Berlin", "Asia/Kathmandu"])
def test_moving_time_zone_keeps_the_local_window(new_zone: str) -> None:
    samples = [ruck(d, 360, "America/New_York") for d in four_a_week(15, 84)]
    samples += [ruck(d, 360, new_zone) for d in four_a_week(1, 14)]
    result = analyze(samples, AS_OF)
    snap = result.snapshot
    assert "timezone_change" in kinds(result)
    assert "window_shift" not in kinds(result)
    assert result.timezone == new_zone
    assert snap.centre_minute == 360
    assert (snap.window_start_minute, snap.window_end_minute) == (345, 375)
    assert result.recent is not None and result.recent.centre_minute == 360
    assert result.std_dev_minutes == pytest.approx(0.0, abs=1e-3)
    assert all(w.centre_minute == 360 for w in snap.weekday_windows.values())


def test_staying_in_one_zone_is_no_timezone_change() -> None:
    samples = [ruck(d, 360, "America/New_York") for d in four_a_week(1, 84)]
    result = analyze(samples, AS_OF)
    assert "timezone_change" not in kinds(result)
    assert result.timezone == "America/New_York"


def test_a_short_trip_in_the_past_is_no_timezone_change() -> None:
    samples = [ruck(d, 360, "America/New_York") for d in four_a_week(1, 84)]
    samples += [ruck(days_back(n), 360, "Asia/Tokyo") for n in (40, 41, 42)]
    result = analyze(samples, AS_OF)
    assert "timezone_change" not in kinds(result)
    assert result.snapshot.centre_minute == 360


@pytest.mark.parametrize(
    ("tz", "as_of"),
    [
        ("America/New_York", datetime(2026, 4, 15, 12, 0, tzinfo=UTC)),  # spring forward on 8 March 2026
        ("America/New_York", AS_OF),  # fall back on 1 November 2026
        ("Australia/Lord_Howe", datetime(2026, 5, 15, 12, 0, tzinfo=UTC)),  # +11:00 → +10:30 on 5 April 2026
        ("Australia/Lord_Howe", AS_OF),  # +10:30 → +11:00 on 4 October 2026
        ("Asia/Kolkata", AS_OF),  # +05:30
        ("Asia/Kathmandu", AS_OF),  # +05:45
    ],
)
def test_window_stays_at_local_six_across_daylight_saving_and_odd_offsets(tz: str, as_of: datetime) -> None:
    days = [days_back(n, as_of) for n in range(1, 85, 2)]
    samples = [ruck(d, 360, tz) for d in days]
    offsets = {at(d, 360, tz).astimezone(ZoneInfo(tz)).utcoffset() for d in days}
    if tz in ("America/New_York", "Australia/Lord_Howe"):
        assert len(offsets) == 2  # the history really does cross a transition
    result = analyze(samples, as_of)
    snap = result.snapshot
    assert result.timed_samples == len(days)
    assert snap.centre_minute == 360
    assert (snap.window_start_minute, snap.window_end_minute) == (345, 375)
    assert result.std_dev_minutes == pytest.approx(0.0, abs=1e-3)
    assert snap.confidence == confidence_for(len(days), 0.0, K_OVERALL)
    assert kinds(result) == []


def test_samples_outside_the_lookback_or_after_as_of_are_ignored() -> None:
    base = [ruck(days_back(2 * i + 1), 300, ruck_id=i) for i in range(20)]
    too_old = [ruck(days_back(91 + i), 1200, ruck_id=100 + i) for i in range(15)]
    future = [ruck(days_back(-1 - i), 1200, ruck_id=200 + i) for i in range(15)]
    later_today = ruck(AS_OF.date(), 13 * 60, ruck_id=300)  # 13:00Z, an hour after as_of
    old_dated = [RuckSample(None, "UTC", day=days_back(95 + i)) for i in range(5)]
    future_dated = [RuckSample(None, "UTC", day=days_back(-3 - i)) for i in range(5)]

    expected = analyze(base, AS_OF)
    result = analyze(base + too_old + future + [later_today] + old_dated + future_dated, AS_OF)
    assert result.timed_samples == 20
    assert result.date_only_samples == 0
    assert result.long_run == expected.long_run
    assert result.snapshot == expected.snapshot
    assert result.weekday_pattern == expected.weekday_pattern
    assert result.snapshot.centre_minute == 300


def test_metadata_reports_the_result() -> None:
    samples = [ruck(days_back(2 * i + 1), 300) for i in range(10)]
    meta = analyze(samples, AS_OF).metadata()
    assert meta["sample_size"] == 10
    assert meta["central_minute"] == 300
    assert meta["timezone"] == "UTC"
    assert meta["last_recomputed_at"] == AS_OF.isoformat()


# --- properties -------------------------------------------------------------------------------------------------


@st.composite
def minute_lists(draw: st.DrawFn, min_size: int = 1) -> list[int]:
    """Minutes of the day: either anywhere, or a routine (a cluster with some spread) plus a few odd ones."""
    if draw(st.booleans()):
        return draw(st.lists(st.integers(0, DAY - 1), min_size=min_size, max_size=40))
    base = draw(st.integers(0, DAY - 1))
    spread = draw(st.sampled_from([0, 5, 20, 60, 150]))
    cluster = draw(st.lists(st.integers(-spread, spread), min_size=min_size, max_size=35))
    odd = draw(st.lists(st.integers(0, DAY - 1), max_size=5))
    minutes = [(base + o) % DAY for o in cluster] + odd
    return draw(st.permutations(minutes))


ks = st.sampled_from([K_OVERALL, K_NARROW])


def assert_window_invariants(w: CadenceWindow, minutes: Sequence[int], k: float) -> None:
    n = len(minutes)
    assert 0.0 <= w.confidence <= 1.0
    assert w.sample_size == n
    assert window_contains(w, w.centre_minute)
    assert width(w.start_minute, w.end_minute) >= MIN_WINDOW_MINUTES
    inside = sum(1 for m in minutes if window_contains(w, m))
    assert inside >= math.ceil(COVERAGE * n)
    _, sigma = concentration(minutes)
    assert w.confidence == confidence_for(n, sigma, k)


@PROPERTY
@given(minute_lists(), ks)
def test_window_of_invariants(minutes: list[int], k: float) -> None:
    w = window_of(minutes, k)
    assert w is not None
    assert_window_invariants(w, minutes, k)


@PROPERTY
@given(minute_lists())
def test_window_is_the_shortest_arc_holding_the_coverage(minutes: list[int]) -> None:
    w = window_of(minutes, K_OVERALL)
    assert w is not None
    need = math.ceil(COVERAGE * len(minutes))
    span = width(w.start_minute, w.end_minute)
    if span > MIN_WINDOW_MINUTES:
        # not widened: it opens on a sample, and no arc one minute narrower holds the coverage
        assert w.start_minute in minutes
        for start in set(minutes):
            assert sum(1 for m in minutes if (m - start) % DAY <= span - 1) < need


@PROPERTY
@given(minute_lists(), st.integers(-3 * DAY, 3 * DAY), ks)
def test_window_of_shifts_with_the_samples(minutes: list[int], shift: int, k: float) -> None:
    w = window_of(minutes, k)
    moved = window_of([(m + shift) % DAY for m in minutes], k)
    assert w is not None and moved is not None
    assert moved.start_minute == (w.start_minute + shift) % DAY
    assert moved.end_minute == (w.end_minute + shift) % DAY
    assert moved.centre_minute == (w.centre_minute + shift) % DAY
    assert moved.confidence == w.confidence


@PROPERTY
@given(minute_lists(), ks)
def test_a_sample_at_the_centre_never_lowers_confidence(minutes: list[int], k: float) -> None:
    w = window_of(minutes, k)
    assert w is not None
    more = window_of([*minutes, w.centre_minute], k)
    assert more is not None
    assert more.confidence >= w.confidence


@PROPERTY
@given(minute_lists(), ks)
def test_pulling_samples_towards_the_centre_never_lowers_confidence(minutes: list[int], k: float) -> None:
    w = window_of(minutes, k)
    assert w is not None
    c = w.centre_minute
    pulled = [(c + round(signed_offset(m, c) / 2)) % DAY for m in minutes]
    tighter = window_of(pulled, k)
    assert tighter is not None
    assert tighter.confidence >= w.confidence


timed_points = st.lists(st.tuples(st.integers(0, 95), st.integers(0, DAY - 1)), min_size=0, max_size=30)


def utc_samples(points: Sequence[tuple[int, int]], shift: int = 0) -> list[RuckSample]:
    midnight = datetime.combine(AS_OF.date(), time(0), tzinfo=UTC)
    return [
        RuckSample(midnight - timedelta(days=back) + timedelta(minutes=minute + shift), "UTC")
        for back, minute in points
    ]


@PROPERTY
@given(timed_points, st.integers(-2 * DAY, 2 * DAY))
def test_analysis_shifts_with_the_samples(points: list[tuple[int, int]], shift: int) -> None:
    result = analyze(utc_samples(points), AS_OF)
    moved = analyze(utc_samples(points, shift), AS_OF + timedelta(minutes=shift))
    assert moved.timed_samples == result.timed_samples
    assert kinds(moved) == kinds(result)
    for a, b in (
        (result.long_run, moved.long_run),
        (result.recent, moved.recent),
        (result.snapshot.overall, moved.snapshot.overall),
    ):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert b.start_minute == (a.start_minute + shift) % DAY
            assert b.end_minute == (a.end_minute + shift) % DAY
            assert b.centre_minute == (a.centre_minute + shift) % DAY
            assert b.confidence == a.confidence
            assert b.sample_size == a.sample_size


@PROPERTY
@given(timed_points)
def test_analysis_invariants(points: list[tuple[int, int]]) -> None:
    result = analyze(utc_samples(points), AS_OF)
    snap = result.snapshot
    assert 0.0 <= snap.confidence <= 1.0
    overall = snap.overall
    if result.timed_samples < 3:
        assert overall is None and snap.confidence == 0.0
    else:
        assert overall is not None
        assert window_contains(overall, overall.centre_minute)
        assert width(overall.start_minute, overall.end_minute) >= MIN_WINDOW_MINUTES
    for w in snap.weekday_windows.values():
        assert 0.0 <= w.confidence <= 1.0
        assert w.sample_size >= 3
        assert window_contains(w, w.centre_minute)
        assert width(w.start_minute, w.end_minute) >= MIN_WINDOW_MINUTES
    assert sum(result.weekday_pattern.values()) == result.timed_samples


@PROPERTY
@given(
    st.lists(st.tuples(st.integers(15, 85), st.integers(0, DAY - 1)), min_size=3, max_size=30, unique=True),
    st.integers(15, 85),
)
def test_analysis_sample_at_the_centre_never_lowers_confidence(points: list[tuple[int, int]], back: int) -> None:
    result = analyze(utc_samples(points), AS_OF)
    assert result.long_run is not None
    more = analyze(utc_samples([*points, (back, result.long_run.centre_minute)]), AS_OF)
    assert more.long_run is not None
    assert more.long_run.confidence >= result.long_run.confidence
