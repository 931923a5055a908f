"""The cadence analyzer (coaching/cadence.py) on synthetic histories that change: a routine that shifts, odd
recent rucks, a drop in frequency, a move to another time zone, daylight saving and odd offsets, the lookback, and the
metadata the analysis reports.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from coaching.cadence import K_NARROW, K_OVERALL, RuckSample, analyze, circular_distance, confidence_for
from tests.cadence_helpers import AS_OF, at, contains, days_back, four_a_week, kinds, ruck, window_contains


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
