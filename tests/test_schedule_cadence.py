"""The start-time fallback chain of adaptive (cadence window) timing, as pure functions, in several zones: a
time the athlete set, the session's weekday window, the overall window, the scheduled start, the athlete's default
and the population's; each session takes the window of its own weekday.

Every local rule is checked as a local wall time (``local_minute`` / ``to_local``) in zones with odd offsets
(+05:30, +05:45), with a 30-minute DST (Lord Howe), and on the spring-forward and fall-back dates themselves; where
a wall time falls in a spring-forward gap it moves forward by the gap (``coaching.timeutil``'s module doc).
Timing around the window's opening and in DST gaps and folds: ``test_schedule_cadence_window.py``; the legacy rule
and the building blocks called directly: ``test_schedule_cadence_legacy.py``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from coaching.models import CadenceSnapshot, CadenceWindow, NotificationPrefs, PlanSession, PlanState
from coaching.schedule import (
    CADENCE_CONFIDENCE_THRESHOLD,
    POPULATION_DEFAULT_START_MINUTE,
    RULES_V1,
    evaluate,
    session_start,
)
from coaching.timeutil import local_to_utc
from tests.schedule_cadence_helpers import (
    CREATED,
    TUESDAY,
    ZONE_DAYS,
    ZONES,
    T,
    brief_why,
    hm,
    label,
    overall,
    snapshot,
    upcoming,
    wall,
    window,
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- the fallback chain --------------------------------------------------------------------------------------

WEEKDAY_WIN = (hm(5), hm(6, 10), hm(5, 35))  # the session's weekday window: opens 05:00, centre 05:35
OVERALL_WIN = (hm(6, 20), hm(7, 40), hm(7, 5))  # the overall window: opens 06:20, centre 07:05
RT = (hm(4, 30), hm(5, 30))  # a RuckTracker row: start and end, no centre
SCHEDULED, FIXED, DEFAULT = hm(8, 10), hm(9, 15), hm(6, 45)
W_WHY = "your usual {day} start (you set out 05:00–06:10, confidence {conf})"
O_WHY = "your usual start (you set out 06:20–07:40, confidence {conf})"

CHAIN = [
    # (case, start, opens, brief, reason of the timing)
    pytest.param(
        {"scheduled": FIXED, "fixed": True, "weekday": 0.8, "overall": 0.7, "default": DEFAULT},
        FIXED,
        FIXED,
        hm(20),
        "09:15, the time you set for this session",
        id="0-fixed-time-beats-every-window",
    ),
    pytest.param(
        {"fixed": True, "weekday": 0.8, "overall": 0.7},
        WEEKDAY_WIN[2],
        WEEKDAY_WIN[0],
        hm(19),  # 10 h before the 05:00 opening, not before the 05:35 centre (19:35)
        "05:35, " + W_WHY.format(day="{day}", conf="0.80"),
        id="0-fixed-flag-without-a-time-falls-through",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "weekday": 0.8, "overall": 0.7, "default": DEFAULT},
        WEEKDAY_WIN[2],
        WEEKDAY_WIN[0],
        hm(19),
        "05:35, " + W_WHY.format(day="{day}", conf="0.80"),
        id="1-weekday-window-centre",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "weekday": CADENCE_CONFIDENCE_THRESHOLD, "overall": 0.7},
        WEEKDAY_WIN[2],
        WEEKDAY_WIN[0],
        hm(19),
        "05:35, " + W_WHY.format(day="{day}", conf="0.50"),
        id="1-weekday-window-at-the-threshold",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "weekday": 0.49, "overall": 0.7},
        OVERALL_WIN[2],
        OVERALL_WIN[0],
        hm(20),  # 06:20 + 14 h = 20:20 is after the 20:00 pref
        "07:05, " + O_WHY.format(conf="0.70"),
        id="2-weak-weekday-window-gives-way-to-overall",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "other_weekday": 0.9, "overall": 0.7},
        OVERALL_WIN[2],
        OVERALL_WIN[0],
        hm(20),
        "07:05, " + O_WHY.format(conf="0.70"),
        id="2-another-weekdays-window-does-not-apply",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "overall": CADENCE_CONFIDENCE_THRESHOLD},
        OVERALL_WIN[2],
        OVERALL_WIN[0],
        hm(20),
        "07:05, " + O_WHY.format(conf="0.50"),
        id="2-overall-window-at-the-threshold",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "rucktracker": 0.6},
        RT[0],
        RT[0],
        hm(18, 30),
        "04:30, your usual start (you set out 04:30–05:30, confidence 0.60)",
        id="2-rucktracker-row-without-centre-anchors-on-its-start",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "weekday": 0.49, "overall": 0.49, "default": DEFAULT},
        SCHEDULED,
        SCHEDULED,
        hm(20),
        "08:10, its scheduled start",
        id="3-weak-windows-keep-the-scheduled-start",
    ),
    pytest.param(
        {"scheduled": SCHEDULED, "other_weekday": 0.9},
        SCHEDULED,
        SCHEDULED,
        hm(20),
        "08:10, its scheduled start",
        id="3-only-another-weekdays-window",
    ),
    pytest.param(
        {"weekday": 0.49, "rucktracker": 0.49, "default": DEFAULT},
        DEFAULT,
        DEFAULT,
        hm(20),
        "06:45, your default start (no start time set)",
        id="4-athlete-default",
    ),
    pytest.param(
        {"weekday": 0.49, "overall": 0.2},
        POPULATION_DEFAULT_START_MINUTE,
        POPULATION_DEFAULT_START_MINUTE,
        hm(20),
        "07:00, the default start (no start time set)",
        id="5-population-default",
    ),
]


def chain_case(day: date, case: dict[str, Any]) -> tuple[PlanSession, CadenceSnapshot, dict[str, Any]]:
    session = PlanSession(
        id=1, scheduled_date=day, scheduled_start_minute=case.get("scheduled"), start_fixed=case.get("fixed", False)
    )
    windows: dict[int, CadenceWindow] = {}
    if "weekday" in case:
        windows[day.weekday()] = window(*WEEKDAY_WIN, confidence=case["weekday"])
    if "other_weekday" in case:
        windows[(day.weekday() + 1) % 7] = window(hm(4), hm(4, 40), hm(4, 20), confidence=case["other_weekday"])
    if "overall" in case:
        cadence = overall(*OVERALL_WIN, confidence=case["overall"], weekday_windows=windows)
    elif "rucktracker" in case:
        cadence = overall(*RT, None, confidence=case["rucktracker"], weekday_windows=windows)
    else:
        cadence = CadenceSnapshot(weekday_windows=windows)
    prefs = {"default_start_minute": case["default"]} if "default" in case else {}
    return session, cadence, prefs


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=str)
@pytest.mark.parametrize(("case", "start", "opens", "brief", "why"), CHAIN)
def test_start_time_fallback_chain(
    tz: str, day: date, case: dict[str, Any], start: int, opens: int, brief: int, why: str
) -> None:
    session, cadence, prefs = chain_case(day, case)
    reason = why.format(day=WEEKDAYS[day.weekday()])
    snap = snapshot(tz, [session], cadence, morning_hype_lead_minutes=40, **prefs)

    timing = session_start(session, snap.prefs, cadence)
    assert timing is not None
    assert (timing.start_minute, timing.opens_minute, timing.reason) == (start, opens, reason)
    assert wall(timing.start_at, tz) == (day, start)
    assert timing.start_at == local_to_utc(day, start, tz)
    assert wall(timing.opens_at, tz) == (day, opens)

    items = upcoming(snap)
    hype, brief_n = items[T.MORNING_HYPE], items[T.EVENING_BRIEF]
    # The hype is due 40 min before the window opens and is good until the opening itself.
    assert wall(hype.due_at, tz) == (day, opens - 40)
    assert hype.due_at == timing.opens_at - timedelta(minutes=40)
    assert hype.expires_at == timing.opens_at
    assert hype.facts["start_time"] == label(start)
    lead = "your window opens, for " if opens != start else "the start at "
    assert hype.reason == f"40 min before {lead}{reason}"
    # The brief is the evening before, its sleep buffer counted from the opening; good for 3 h.
    assert wall(brief_n.due_at, tz) == (day - timedelta(days=1), brief)
    assert wall(brief_n.expires_at, tz) == (day - timedelta(days=1), brief + 180)
    assert brief_n.reason == f"evening before {WEEKDAYS[day.weekday()]}'s Ruck ({reason}) at {brief_why(brief)}"


def test_a_session_without_a_date_has_no_start() -> None:
    cadence = overall(*OVERALL_WIN, confidence=0.9)
    assert session_start(PlanSession(id=1, scheduled_start_minute=hm(6)), NotificationPrefs(), cadence) is None


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("monday", [date(2027, 3, 8), date(2027, 3, 29), date(2027, 9, 27), date(2027, 11, 1)], ids=str)
def test_each_session_takes_the_window_of_its_own_weekday(tz: str, monday: date) -> None:
    """A week (whose Sunday is a NY or Lord Howe transition) with windows for Monday, Wednesday and Sunday only."""
    cadence = overall(
        hm(6),
        hm(7),
        hm(6, 30),
        confidence=0.6,
        weekday_windows={
            0: window(hm(5), hm(6), hm(5, 30)),
            2: window(hm(17, 30), hm(18, 30), hm(18)),
            6: window(hm(8), hm(9), hm(8, 30), confidence=0.55),
        },
    )
    offsets = [0, 2, 4, 6, 7]  # Mon, Wed, Fri, Sun, next Mon
    sessions = [PlanSession(id=i, scheduled_date=monday + timedelta(days=d)) for i, d in enumerate(offsets, 1)]
    snap = snapshot(tz, sessions, cadence)
    expected = {  # session id: (start, opens, brief)
        1: (hm(5, 30), hm(5), hm(19)),
        2: (hm(18), hm(17, 30), hm(20)),
        3: (hm(6, 30), hm(6), hm(20)),  # Friday: the overall window
        4: (hm(8, 30), hm(8), hm(20)),
        5: (hm(5, 30), hm(5), hm(19)),
    }
    items = evaluate(snap, PlanState(), CREATED, rules=RULES_V1).upcoming
    for s in sessions:
        assert s.scheduled_date is not None
        start, opens, brief = expected[s.id]
        timing = session_start(s, snap.prefs, cadence)
        assert timing is not None and wall(timing.start_at, tz) == (s.scheduled_date, start)
        (hype,) = [n for n in items if n.type is T.MORNING_HYPE and n.plan_session_id == s.id]
        (brief_n,) = [n for n in items if n.type is T.EVENING_BRIEF and n.plan_session_id == s.id]
        assert wall(hype.due_at, tz) == (s.scheduled_date, opens - 60)
        assert wall(brief_n.due_at, tz) == (s.scheduled_date - timedelta(days=1), brief)
        weekday = WEEKDAYS[s.scheduled_date.weekday()]
        assert (f"your usual {weekday} start" in hype.reason) is (s.id != 3)
        assert ("your usual start" in hype.reason) is (s.id == 3)


def test_weekday_windows_survive_a_json_round_trip() -> None:
    """The cadence reaches the workflow as JSON (signal, activity result), where the weekday keys are strings."""
    raw = (
        '{"window_start_minute": 420, "window_end_minute": 480, "centre_minute": 450, "confidence": 0.7,'
        ' "weekday_windows": {"1": {"start_minute": 300, "end_minute": 360, "centre_minute": 330,'
        ' "confidence": 0.8}}}'
    )
    cadence = CadenceSnapshot.model_validate_json(raw)
    again = CadenceSnapshot.model_validate_json(cadence.model_dump_json())
    prefs = NotificationPrefs(timezone="Asia/Kathmandu")
    for c in (cadence, again):
        tuesday = session_start(PlanSession(id=1, scheduled_date=TUESDAY), prefs, c)
        wednesday = session_start(PlanSession(id=2, scheduled_date=TUESDAY + timedelta(days=1)), prefs, c)
        assert tuesday is not None and wednesday is not None
        assert (tuesday.start_minute, tuesday.opens_minute) == (hm(5, 30), hm(5))
        assert tuesday.reason.startswith("05:30, your usual Tuesday start")
        assert (wednesday.start_minute, wednesday.opens_minute) == (hm(7, 30), hm(7))
        assert wednesday.reason.startswith("07:30, your usual start")
