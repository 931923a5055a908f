"""The anomaly watch's pure rules (coaching/anomaly.py): the seasonal volume check and the absolute guards.

The Done-when figures: a 10x burst and a worker that stopped sending are caught, and a synthetic but realistic 4-week
history (a daily and weekly rhythm, Poisson noise, a few failures, seconds of lateness) judged every 15 minutes over
a fifth week raises nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coaching.anomaly import (
    Alert,
    AlertKind,
    Baseline,
    Thresholds,
    WindowStats,
    baseline_windows,
    detect,
    percentile,
    should_brake,
)

END = datetime(2027, 3, 10, 19, 0, tzinfo=UTC)  # a Wednesday evening
HOUR = timedelta(hours=1)


def window(sent: dict[str, int] | None = None, end: datetime = END, **kwargs: object) -> WindowStats:
    return WindowStats(start=end - HOUR, end=end, sent=sent or {}, **kwargs)  # type: ignore[arg-type]


def history(*weeks: dict[str, int]) -> list[WindowStats]:
    return [window(w, END - timedelta(weeks=k + 1)) for k, w in enumerate(weeks)]


def kinds(alerts: list[Alert]) -> list[tuple[AlertKind, str]]:
    return [(a.kind, a.notification_type) for a in alerts]


BRIEF = "plan_evening_brief"
HYPE = "plan_morning_hype"
NORMAL = history({BRIEF: 40, HYPE: 5}, {BRIEF: 44, HYPE: 6}, {BRIEF: 38, HYPE: 4}, {BRIEF: 41, HYPE: 5})


# ---- seasonal volume --------------------------------------------------------------------------------------------


def test_a_ten_times_burst_alerts_with_its_figures() -> None:
    alerts = detect(window({BRIEF: 405, HYPE: 5}), NORMAL)
    assert kinds(alerts) == [(AlertKind.VOLUME_HIGH, BRIEF)]
    figures = alerts[0].figures
    assert figures["count"] == 405 and figures["baseline_median"] == 40.5 and figures["ratio"] == 10.0
    assert "405 sent" in alerts[0].summary and "10.0x" in alerts[0].summary


def test_normal_volume_and_ordinary_wobble_stay_silent() -> None:
    assert detect(window({BRIEF: 41, HYPE: 5}), NORMAL) == []
    assert detect(window({BRIEF: 60, HYPE: 9}), NORMAL) == []  # 1.5x: a busy evening, not an incident


def test_a_quiet_hour_never_pages_whatever_the_ratio() -> None:
    quiet = history({HYPE: 1}, {HYPE: 0}, {HYPE: 1}, {HYPE: 2})
    assert detect(window({HYPE: 15}), quiet) == []  # 15x, but under min_count
    assert kinds(detect(window({HYPE: 20}), quiet)) == [(AlertKind.VOLUME_HIGH, HYPE)]


def test_a_type_new_this_week_alerts_only_from_min_count() -> None:
    alerts = detect(window({BRIEF: 40, "plan_milestone_alert": 25}), NORMAL)
    assert kinds(alerts) == [(AlertKind.VOLUME_HIGH, "plan_milestone_alert")]
    assert alerts[0].figures["ratio"] == "inf" and "infinitely" in alerts[0].summary


def test_one_odd_week_does_not_move_the_baseline() -> None:
    # A burst three weeks ago (an incident then) must not hide one now: the median ignores it.
    odd = history({BRIEF: 40}, {BRIEF: 42}, {BRIEF: 900}, {BRIEF: 39})
    assert kinds(detect(window({BRIEF: 400}), odd)) == [(AlertKind.VOLUME_HIGH, BRIEF)]


def test_too_little_history_judges_no_volume_but_still_the_guards() -> None:
    one_week = history({BRIEF: 40})
    assert detect(window({BRIEF: 4000}), one_week) == []
    assert detect(window({}), one_week) == []
    stale = detect(window({BRIEF: 4000}, stale_skips=9), one_week)
    assert kinds(stale) == [(AlertKind.STALE_SKIPS, "all")]


def test_no_sends_at_all_when_the_baseline_expects_them_is_a_dead_worker() -> None:
    alerts = detect(window({}), NORMAL)
    assert kinds(alerts) == [(AlertKind.NO_SENDS, "all")]
    assert alerts[0].figures["baseline_median"] == 45.5 and "worker" in alerts[0].summary


def test_no_sends_in_a_window_that_is_quiet_anyway_is_fine() -> None:
    night = history({HYPE: 3}, {HYPE: 2}, {}, {HYPE: 4})
    assert detect(window({}), night) == []


def test_some_sends_however_few_is_not_a_dead_worker() -> None:
    assert detect(window({HYPE: 1}), NORMAL) == []


# ---- absolute guards ---------------------------------------------------------------------------------------------


def test_any_business_key_sent_twice_alerts() -> None:
    alerts = detect(window({BRIEF: 40}, duplicates={"p1:plan_evening_brief:s2:2027-03-10": 2}), NORMAL)
    assert kinds(alerts) == [(AlertKind.DUPLICATE_SEND, "all")]
    assert alerts[0].figures == {"keys": 1, "max_sends": 2}


@pytest.mark.parametrize(
    ("sent", "failed", "fires"),
    [
        (94, 6, True),  # 6 %
        (95, 5, False),  # 5 %: not over
        (40, 5, False),  # 11 %, but 45 attempts are too few to judge (min_attempts 50)
        (60, 4, False),  # 6.25 %, but only 4 failures: bad luck, not an outage
        (1000, 60, True),
    ],
)
def test_failure_ratio_over_five_percent(sent: int, failed: int, fires: bool) -> None:
    alerts = detect(window({BRIEF: sent}, failed=failed), [])
    assert kinds(alerts) == ([(AlertKind.FAILURE_RATIO, "all")] if fires else [])
    if fires:
        assert alerts[0].figures["failed"] == failed and alerts[0].figures["attempts"] == sent + failed


def test_stale_skips_alert_from_the_threshold() -> None:
    assert detect(window({BRIEF: 40}, stale_skips=4), NORMAL) == []
    alerts = detect(window({BRIEF: 40}, stale_skips=5), NORMAL)
    assert kinds(alerts) == [(AlertKind.STALE_SKIPS, "all")] and alerts[0].figures["stale_skips"] == 5


def test_lateness_p99_over_two_minutes_alerts() -> None:
    on_time = [2.0] * 99 + [119.0]
    assert detect(window({BRIEF: 100}, lateness_seconds=on_time), []) == []
    late = [2.0] * 98 + [121.0, 400.0]
    alerts = detect(window({BRIEF: 100}, lateness_seconds=late), [])
    assert kinds(alerts) == [(AlertKind.LATENESS, "all")] and alerts[0].figures["p99_seconds"] == 121.0
    # Too few sends to speak of a p99.
    assert detect(window({BRIEF: 5}, lateness_seconds=[600.0] * 5), []) == []


def test_thresholds_are_settings_not_constants() -> None:
    strict = Thresholds(max_stale_skips=1, min_count=5, burst_factor=2.0, mad_threshold=3.0)
    assert kinds(detect(window({BRIEF: 40}, stale_skips=1), NORMAL, strict)) == [(AlertKind.STALE_SKIPS, "all")]
    small = history({HYPE: 2}, {HYPE: 2}, {HYPE: 2})
    assert kinds(detect(window({HYPE: 9}), small, strict)) == [(AlertKind.VOLUME_HIGH, HYPE)]


# ---- the pieces -------------------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile(list(map(float, range(1, 101))), 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0], 0.0) == 1.0
    with pytest.raises(ValueError, match="values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 1.5)


def test_baseline_median_and_mad() -> None:
    base = Baseline.of([40, 44, 38, 900])
    assert base.median == 42.0 and base.mad == 3.0
    assert Baseline.of([]).median == 0.0
    # The spread never falls below Poisson noise, nor below 1.
    assert Baseline.of([100, 100, 100]).scaled_mad == 10.0
    assert Baseline.of([0, 0]).scaled_mad == 1.0


def test_baseline_windows_are_the_same_weekday_and_hour() -> None:
    windows = baseline_windows(END, HOUR, 4)
    assert len(windows) == 4
    for k, (start, end) in enumerate(windows, 1):
        assert end == END - timedelta(days=7 * k) and end - start == HOUR
        assert (start.weekday(), start.hour) == ((END - HOUR).weekday(), (END - HOUR).hour)


def test_alert_keys_identify_kind_type_and_window() -> None:
    a, b = detect(window({BRIEF: 405}), NORMAL)[0], detect(window({BRIEF: 500}), NORMAL)[0]
    assert a.key == b.key == f"volume_high:{BRIEF}:{END.isoformat()}"
    later = detect(window({BRIEF: 405}, END + HOUR), history(*[{BRIEF: 40}] * 4))[0]
    assert later.key != a.key


def test_the_brake_hook_decides_on_volume_alerts_over_its_factor() -> None:
    burst = detect(window({BRIEF: 405}), NORMAL)[0]
    assert should_brake(burst, 5.0) and should_brake(burst, 10.0)
    assert not should_brake(burst, 10.5)
    assert not should_brake(burst, None)  # off by default
    new_type = detect(window({"plan_milestone_alert": 25}), NORMAL)
    assert should_brake(next(a for a in new_type if a.kind is AlertKind.VOLUME_HIGH), 100.0)
    dead = detect(window({}), NORMAL)[0]
    assert not should_brake(dead, 1.5)


@given(
    weeks=st.lists(st.integers(min_value=0, max_value=5000), min_size=2, max_size=4),
    now=st.integers(min_value=0, max_value=5000),
)
def test_never_a_burst_at_or_below_the_baselines_median(weeks: list[int], now: int) -> None:
    alerts = detect(window({BRIEF: now}), history(*[{BRIEF: w} for w in weeks]))
    if now <= Baseline.of(weeks).median:
        assert AlertKind.VOLUME_HIGH not in {a.kind for a in alerts}
    if now > 0:
        assert AlertKind.NO_SENDS not in {a.kind for a in alerts}


# ---- a synthetic normal history --------------------------------------------------------------------------------

TYPES_PER_HOUR: dict[str, Callable[[datetime], float]] = {
    # Mean sends per hour by local rhythm (UTC here, the shape is what matters): briefs in the evening, hypes in the
    # morning, celebrations after rucks, a Sunday digest, follow-ups at 09:00.
    BRIEF: lambda t: 120.0 if 18 <= t.hour <= 20 else 2.0,
    HYPE: lambda t: 90.0 if 5 <= t.hour <= 8 else (30.0 if 16 <= t.hour <= 18 else 1.0),
    "plan_completion_celebration": lambda t: 60.0 if 6 <= t.hour <= 20 else 3.0,
    "plan_milestone_alert": lambda t: 8.0 if 6 <= t.hour <= 20 else 0.3,
    "plan_missed_followup": lambda t: 50.0 if t.hour == 9 else 0.0,
    "plan_weekly_digest": lambda t: 300.0 if t.weekday() == 6 and t.hour == 18 else 0.0,
}
QUARTER = timedelta(minutes=15)
START = datetime(2027, 2, 1, tzinfo=UTC)  # a Monday; weeks 1-4 the history, week 5 judged


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:  # normal approximation, rounded and floored at 0
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def synthetic_quarters(rng: random.Random, weeks: int) -> dict[datetime, dict[str, int]]:
    """Sends per type in every quarter-hour of ``weeks`` normal weeks."""
    quarters: dict[datetime, dict[str, int]] = {}
    at = START
    while at < START + timedelta(weeks=weeks):
        quarters[at] = {t: poisson(rng, rate(at) / 4) for t, rate in TYPES_PER_HOUR.items()}
        at += QUARTER
    return quarters


def stats(
    quarters: dict[datetime, dict[str, int]], rng: random.Random, end: datetime, scale: float = 1.0
) -> WindowStats:
    sent: dict[str, int] = {}
    at = end - HOUR
    while at < end:
        for t, n in quarters[at].items():
            sent[t] = sent.get(t, 0) + round(n * scale)
        at += QUARTER
    total = sum(sent.values())
    failed = sum(1 for _ in range(total) if rng.random() < 0.005)  # dead tokens: half a percent
    lateness = [rng.expovariate(1 / 3.0) for _ in range(total)]  # seconds, a long-ish tail
    stale = 1 if rng.random() < 0.05 else 0  # now and then a plan created late
    return WindowStats(end - HOUR, end, sent, failed=failed, stale_skips=stale, lateness_seconds=lateness)


def judge_week_five(scale_at: Callable[[datetime], float] | None = None, seed: int = 7) -> list[Alert]:
    rng = random.Random(seed)
    quarters = synthetic_quarters(rng, weeks=5)
    alerts: list[Alert] = []
    end = START + timedelta(weeks=4) + HOUR
    while end <= START + timedelta(weeks=5):
        past = [stats(quarters, rng, start_end[1]) for start_end in baseline_windows(end, HOUR, 4)]
        current = stats(quarters, rng, end, scale_at(end) if scale_at else 1.0)
        alerts += detect(current, past)
        end += QUARTER
    return alerts


@pytest.mark.parametrize("seed", [7, 11, 2027])
def test_a_synthetic_normal_four_week_history_judged_every_15_minutes_stays_silent(seed: int) -> None:
    assert judge_week_five(seed=seed) == []


def test_the_same_history_with_an_injected_10x_burst_alerts_in_that_window() -> None:
    burst_end = START + timedelta(weeks=4, days=2, hours=19)  # Wednesday 19:00, briefs going out
    alerts = judge_week_five(lambda end: 10.0 if end == burst_end else 1.0)
    assert {(a.kind, a.window_end) for a in alerts} >= {(AlertKind.VOLUME_HIGH, burst_end)}
    assert all(a.window_end == burst_end for a in alerts)
    assert BRIEF in {a.notification_type for a in alerts}


def test_the_same_history_with_a_worker_that_stopped_sending_alerts_while_it_should_send() -> None:
    dead_from = START + timedelta(weeks=4, days=3, hours=6)  # Thursday 06:00 onwards: nothing goes out
    alerts = judge_week_five(lambda end: 0.0 if end - HOUR >= dead_from else 1.0)
    assert alerts and {a.kind for a in alerts} == {AlertKind.NO_SENDS}
    first = min(a.window_end for a in alerts)
    assert first == dead_from + HOUR  # the first whole window without sends
