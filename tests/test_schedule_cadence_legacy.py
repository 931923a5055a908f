"""The legacy start-time rule (``adaptive=False``, for histories recorded before the cadence analyzer) and where
it differs from the adaptive one, and ``evening_brief_minute`` and ``candidates`` called directly.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from coaching.models import CadenceSnapshot, NotificationPrefs, PlanSession
from coaching.schedule import (
    BRIEF_EARLIEST_MINUTE,
    CADENCE_CONFIDENCE_THRESHOLD,
    POPULATION_DEFAULT_START_MINUTE,
    SessionTiming,
    candidates,
    evening_brief_minute,
    session_start,
)
from coaching.timeutil import local_to_utc
from tests.schedule_cadence_helpers import (
    TUESDAY,
    ZONE_DAYS,
    ZONES,
    T,
    brief_why,
    hm,
    overall,
    snapshot,
    upcoming,
    wall,
    window,
)

# --- the legacy rule (adaptive=False) ------------------------------------------------------------------------

LEGACY = [
    # (session scheduled minute, fixed, cadence, prefs default, start, reason)
    pytest.param(
        hm(7, 15),
        True,
        overall(hm(5), hm(6), hm(5, 30), weekday_windows={i: window(hm(4), hm(5), hm(4, 30)) for i in range(7)}),
        None,
        hm(7, 15),
        "07:15, its scheduled start",
        id="scheduled-start-wins",
    ),
    pytest.param(
        None,
        False,
        overall(hm(5), hm(6), hm(5, 30), weekday_windows={i: window(hm(4), hm(5), hm(4, 30)) for i in range(7)}),
        hm(6, 45),
        hm(5),
        "05:00, your usual start (confidence 0.80)",
        id="window-start-not-centre-and-no-weekday-windows",
    ),
    pytest.param(
        None,
        False,
        overall(hm(5), hm(6), None, confidence=CADENCE_CONFIDENCE_THRESHOLD),
        None,
        hm(5),
        "05:00, your usual start (confidence 0.50)",
        id="window-start-at-the-threshold",
    ),
    pytest.param(
        None,
        False,
        CadenceSnapshot(weekday_windows={i: window(hm(4), hm(5), hm(4, 30)) for i in range(7)}),
        None,
        POPULATION_DEFAULT_START_MINUTE,
        "07:00, the default start (no start time set)",
        id="weekday-windows-alone-are-ignored",
    ),
    pytest.param(
        None,
        False,
        overall(hm(5), hm(6), hm(5, 30), confidence=0.49),
        hm(6, 45),
        hm(6, 45),
        "06:45, your default start (no start time set)",
        id="weak-window-keeps-the-default",
    ),
]


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=str)
@pytest.mark.parametrize(("scheduled", "fixed", "cadence", "default", "start", "reason"), LEGACY)
def test_legacy_rule_for_histories_before_the_analyzer(
    tz: str,
    day: date,
    scheduled: int | None,
    fixed: bool,
    cadence: CadenceSnapshot,
    default: int | None,
    start: int,
    reason: str,
) -> None:
    session = PlanSession(id=1, scheduled_date=day, scheduled_start_minute=scheduled, start_fixed=fixed)
    snap = snapshot(tz, [session], cadence, default_start_minute=default)
    timing = session_start(session, snap.prefs, cadence, adaptive=False)
    assert timing is not None
    assert (timing.start_minute, timing.opens_minute, timing.reason) == (start, start, reason)
    assert timing.opens_at == timing.start_at
    assert wall(timing.start_at, tz) == (day, start)

    items = upcoming(snap, adaptive=False)
    hype, brief = items[T.MORNING_HYPE], items[T.EVENING_BRIEF]
    assert wall(hype.due_at, tz) == (day, start - 60)
    assert hype.reason == f"60 min before the start at {reason}"
    expected_brief = min(hm(20), max(start + 14 * 60, BRIEF_EARLIEST_MINUTE))
    assert expected_brief == (hm(19) if start == hm(5) else hm(20))
    assert wall(brief.due_at, tz) == (day - timedelta(days=1), expected_brief)


def test_adaptive_and_legacy_differ_only_where_the_window_matters() -> None:
    tz, day = "Asia/Kolkata", TUESDAY
    cadence = overall(hm(5), hm(6), hm(5, 30), weekday_windows={1: window(hm(6), hm(7), hm(6, 20))})
    session = PlanSession(id=1, scheduled_date=day)
    snap = snapshot(tz, [session], cadence)
    adaptive, legacy = upcoming(snap), upcoming(snap, adaptive=False)
    assert wall(adaptive[T.MORNING_HYPE].due_at, tz) == (day, hm(5))  # Tuesday window opens 06:00
    assert wall(legacy[T.MORNING_HYPE].due_at, tz) == (day, hm(4))  # overall window start 05:00
    assert adaptive[T.MORNING_HYPE].facts["start_time"] == "06:20"
    assert legacy[T.MORNING_HYPE].facts["start_time"] == "05:00"
    # The notification ids do not depend on the rule: a workflow switching rules does not send twice.
    assert {n.notification_id for n in adaptive.values()} == {n.notification_id for n in legacy.values()}


# --- evening_brief_minute and candidates directly ------------------------------------------------------------


@pytest.mark.parametrize(
    ("opens", "pref", "brief"),
    [
        (hm(4, 55), hm(20), hm(18, 55)),
        (hm(18, 15), hm(20), hm(20)),
        (hm(6), hm(20), hm(20)),  # exactly 14 h before the next 06:00 is the pref itself
        (hm(5, 59), hm(20), hm(19, 59)),
        (hm(2), hm(20), hm(17)),
        (hm(3), hm(20), hm(17)),
        (-20, hm(20), hm(17)),  # a window opening 23:40 the evening before
        (hm(7), hm(21, 30), hm(21)),
        (hm(4, 55), hm(18), hm(18)),  # an athlete who wants it early keeps their time
    ],
)
def test_evening_brief_minute(opens: int, pref: int, brief: int) -> None:
    minute, why = evening_brief_minute(opens, NotificationPrefs(evening_brief_minute=pref))
    assert minute == brief
    assert why == brief_why(brief, pref)


@pytest.mark.parametrize("tz", ZONES)
def test_candidates_use_the_given_starts_and_the_window_opening(tz: str) -> None:
    day = TUESDAY
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=hm(9))], CadenceSnapshot())
    opens_at = local_to_utc(day, hm(4, 55), tz)
    start_at = local_to_utc(day, hm(5, 30), tz)
    starts = {1: SessionTiming(hm(5, 30), start_at, "05:30, a test window", hm(4, 55), opens_at)}
    items = {n.type: n for n in candidates(snap, [], starts) if n.plan_session_id == 1}
    assert wall(items[T.MORNING_HYPE].due_at, tz) == (day, hm(3, 55))
    assert wall(items[T.EVENING_BRIEF].due_at, tz) == (day - timedelta(days=1), hm(18, 55))
    assert items[T.MORNING_HYPE].reason == "60 min before your window opens, for 05:30, a test window"
    # Without the given starts, the same plan has no window: the scheduled 09:00 start counts.
    plain = {n.type: n for n in candidates(snap, []) if n.plan_session_id == 1}
    assert wall(plain[T.MORNING_HYPE].due_at, tz) == (day, hm(8))
    assert plain[T.MORNING_HYPE].reason == "60 min before the start at 09:00, its scheduled start"
