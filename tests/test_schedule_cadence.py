"""The start-time fallback chain and adaptive (cadence window) timing, as pure functions, in several zones.

Every local rule is checked as a local wall time (``local_minute`` / ``to_local``) in zones with odd offsets
(+05:30, +05:45), with a 30-minute DST (Lord Howe), and on the spring-forward and fall-back dates themselves; where
a wall time falls in a spring-forward gap it moves forward by the gap (``coaching.timeutil``'s module doc).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from coaching.models import (
    CadenceSnapshot,
    CadenceWindow,
    Decision,
    NotificationPrefs,
    NotificationType,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
    PlanState,
)
from coaching.schedule import (
    BRIEF_EARLIEST_MINUTE,
    BRIEF_SLEEP_BUFFER,
    CADENCE_CONFIDENCE_THRESHOLD,
    POPULATION_DEFAULT_START_MINUTE,
    RULES_V1,
    RULES_V2,
    SessionTiming,
    candidates,
    evaluate,
    evening_brief_minute,
    session_start,
)
from coaching.timeutil import local_minute, local_to_utc, to_local

T = NotificationType
CREATED = datetime(2027, 1, 1, tzinfo=UTC)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]
TUESDAY = date(2027, 5, 4)  # no transition anywhere near it
#: Sessions on the transition dates (all Sundays in 2027).
DST_DAYS = [
    ("America/New_York", date(2027, 3, 14)),  # spring forward 02:00 -> 03:00
    ("America/New_York", date(2027, 11, 7)),  # fall back 02:00 -> 01:00
    ("Australia/Lord_Howe", date(2027, 10, 3)),  # spring forward 02:00 -> 02:30
    ("Australia/Lord_Howe", date(2027, 4, 4)),  # fall back 02:00 -> 01:30
    ("Europe/London", date(2027, 3, 28)),  # spring forward 01:00 -> 02:00
    ("Europe/London", date(2027, 10, 31)),  # fall back 02:00 -> 01:00
]
#: Ordinary days in every zone, the transition days, and the days after (whose evening brief is on the transition day).
ZONE_DAYS = [(tz, TUESDAY) for tz in ZONES] + DST_DAYS + [(tz, day + timedelta(days=1)) for tz, day in DST_DAYS]


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


def window(start: int, end: int, centre: int, confidence: float = 0.8) -> CadenceWindow:
    return CadenceWindow(
        start_minute=start, end_minute=end, centre_minute=centre, confidence=confidence, sample_size=12
    )


def overall(start: int, end: int, centre: int | None, confidence: float = 0.8, **extra: Any) -> CadenceSnapshot:
    return CadenceSnapshot(
        window_start_minute=start,
        window_end_minute=end,
        centre_minute=centre,
        confidence=confidence,
        sample_size=12,
        **extra,
    )


def snapshot(tz: str, sessions: list[PlanSession], cadence: CadenceSnapshot, **prefs: Any) -> PlanSnapshot:
    return PlanSnapshot(
        plan_id=11,
        user_id="00000000-0000-0000-0000-000000000002",
        start_date=min(s.scheduled_date for s in sessions if s.scheduled_date is not None),
        created_at=CREATED,
        prefs=NotificationPrefs(timezone=tz, **prefs),
        cadence=cadence,
        sessions=sessions,
    )


def upcoming(snap: PlanSnapshot, session_id: int = 1, *, adaptive: bool = True) -> dict[T, PlannedNotification]:
    """The brief, hype and follow-up of one session as evaluate() plans them (well before any of them is due).

    The expectations in this file are RULES_V1's (the brief's sleep buffer in local wall-clock minutes); each call
    also checks RULES_V2 on the same plan: everything identical but the brief, whose buffer is elapsed time.
    """
    evaluation = evaluate(snap, PlanState(), CREATED, adaptive=adaptive, rules=RULES_V1)
    assert all(a.notification.type is T.KICKOFF_PRIMER for a in evaluation.actions)
    v1 = {n.type: n for n in evaluation.upcoming if n.plan_session_id == session_id}
    v2 = {
        n.type: n
        for n in evaluate(snap, PlanState(), CREATED, adaptive=adaptive, rules=RULES_V2).upcoming
        if n.plan_session_id == session_id
    }
    assert v1.keys() == v2.keys()
    for ntype, n in v1.items():
        if ntype is not T.EVENING_BRIEF:
            assert (v2[ntype].due_at, v2[ntype].send_at, v2[ntype].expires_at) == (n.due_at, n.send_at, n.expires_at)
    if T.EVENING_BRIEF in v2 and T.MORNING_HYPE in v1:
        tz, prefs = snap.prefs.timezone, snap.prefs
        opens = v1[T.MORNING_HYPE].due_at + timedelta(minutes=prefs.morning_hype_lead_minutes)  # window or start
        eve = to_local(v2[T.EVENING_BRIEF].due_at, tz).date()
        usual = local_to_utc(eve, prefs.evening_brief_minute, tz)
        floor = local_to_utc(eve, BRIEF_EARLIEST_MINUTE, tz)
        brief = v2[T.EVENING_BRIEF].due_at
        # The athlete's time if it leaves 10 h of real time, else exactly 10 h before, but never before 17:00.
        assert brief == (usual if opens - usual >= BRIEF_SLEEP_BUFFER else max(opens - BRIEF_SLEEP_BUFFER, floor))
    return v1


def wall(instant: datetime, tz: str) -> tuple[date, int]:
    """The local date and minute of day of an instant."""
    return to_local(instant, tz).date(), local_minute(instant, tz)


def on(day: date, minute: int) -> tuple[date, int]:
    """A (date, minute) wall time; a negative minute is the evening before."""
    return day + timedelta(days=minute // 1440), minute % 1440


def label(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def brief_why(brief: int, pref: int = hm(20)) -> str:
    if brief == pref:
        return f"your evening brief time {label(pref)}"
    return f"{label(brief)}, earlier than your usual {label(pref)} so an early session leaves a full night's sleep"


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


# --- timing around the window's opening ----------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=str)
def test_an_early_window_sets_the_brief_and_hype_by_its_opening(tz: str, day: date) -> None:
    """A 04:55 opening (centre 05:30): brief 18:55 the evening before, hype 03:55, start 05:30."""
    cadence = CadenceSnapshot(weekday_windows={day.weekday(): window(hm(4, 55), hm(6, 5), hm(5, 30))})
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=hm(9))], cadence)
    items = upcoming(snap)
    brief, hype = items[T.EVENING_BRIEF], items[T.MORNING_HYPE]
    assert wall(brief.due_at, tz) == (day - timedelta(days=1), hm(18, 55))
    assert wall(brief.expires_at, tz) == (day - timedelta(days=1), hm(21, 55))
    assert wall(hype.due_at, tz) == (day, hm(3, 55))
    # Lead 60 > the hype's 45-minute lateness limit: it expires 45 min after its time, before the opening.
    assert wall(hype.expires_at, tz) == (day, hm(4, 40))
    assert hype.facts["start_time"] == "05:30"
    assert hype.reason.startswith("60 min before your window opens, for 05:30, your usual ")


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=str)
def test_an_evening_window_leaves_the_brief_at_the_athletes_time(tz: str, day: date) -> None:
    snap = snapshot(
        tz,
        [PlanSession(id=1, scheduled_date=day)],
        overall(hm(18, 15), hm(19, 5), hm(18, 40)),
        evening_brief_minute=hm(20),
    )
    items = upcoming(snap)
    assert wall(items[T.EVENING_BRIEF].due_at, tz) == (day - timedelta(days=1), hm(20))
    assert items[T.EVENING_BRIEF].reason.endswith("at your evening brief time 20:00")
    assert wall(items[T.MORNING_HYPE].due_at, tz) == (day, hm(17, 15))
    timing = session_start(snap.sessions[0], snap.prefs, snap.cadence)
    assert timing is not None and wall(timing.start_at, tz) == (day, hm(18, 40))


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=str)
def test_the_hype_goes_out_until_the_window_opens_and_is_dropped_after(tz: str, day: date) -> None:
    cadence = CadenceSnapshot(weekday_windows={day.weekday(): window(hm(5, 10), hm(6, 30), hm(5, 50))})
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day)], cadence, morning_hype_lead_minutes=30)
    opens = local_to_utc(day, hm(5, 10), tz)
    due = local_to_utc(day, hm(4, 40), tz)
    assert due == opens - timedelta(minutes=30)

    def hype_action(now: datetime) -> tuple[Decision, str | None] | None:
        evaluation = evaluate(snap, PlanState(), now)
        found = [a for a in evaluation.actions if a.notification.type is T.MORNING_HYPE]
        if not found:
            (planned,) = [n for n in evaluation.upcoming if n.type is T.MORNING_HYPE]
            assert planned.send_at == due
            return None
        (action,) = found
        return action.decision, action.skip_reason

    assert hype_action(due - timedelta(minutes=1)) is None
    assert hype_action(due) == (Decision.SEND, None)
    assert hype_action(opens) == (Decision.SEND, None)
    late = hype_action(opens + timedelta(minutes=1))
    assert late is not None and late[0] is Decision.SKIP and (late[1] or "").startswith("stale:")


MIDNIGHT_ZONE_DAYS = ZONE_DAYS + [(tz, day - timedelta(days=1)) for tz, day in DST_DAYS]


@pytest.mark.parametrize(("tz", "day"), MIDNIGHT_ZONE_DAYS, ids=str)
@pytest.mark.parametrize("as_weekday", [False, True], ids=["overall", "weekday"])
def test_a_window_wrapping_midnight_opens_the_evening_before(tz: str, day: date, as_weekday: bool) -> None:
    """23:40–00:20, centre 00:05: the session on D starts D 00:05, the window opens D-1 23:40, hype D-1 22:40."""
    if as_weekday:
        cadence = CadenceSnapshot(weekday_windows={day.weekday(): window(hm(23, 40), hm(0, 20), hm(0, 5))})
    else:
        cadence = overall(hm(23, 40), hm(0, 20), hm(0, 5))
    eve = day - timedelta(days=1)
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=hm(7))], cadence)
    timing = session_start(snap.sessions[0], snap.prefs, cadence)
    assert timing is not None
    assert (timing.start_minute, timing.opens_minute) == (5, -20)
    assert wall(timing.start_at, tz) == (day, 5)
    assert wall(timing.opens_at, tz) == (eve, hm(23, 40))
    assert timing.start_at - timing.opens_at == timedelta(minutes=25)

    items = upcoming(snap)
    hype, brief = items[T.MORNING_HYPE], items[T.EVENING_BRIEF]
    assert wall(hype.due_at, tz) == (eve, hm(22, 40))
    assert wall(hype.expires_at, tz) == (eve, hm(23, 25))
    assert hype.local_date == day
    # 10 h before a 23:40 opening is 13:40: never before 17:00.
    assert wall(brief.due_at, tz) == (eve, BRIEF_EARLIEST_MINUTE)
    assert wall(brief.expires_at, tz) == (eve, hm(20))
    assert brief.reason.endswith(brief_why(hm(17)))
    assert hype.reason.startswith("60 min before your window opens, for 00:05, your usual ")


@pytest.mark.parametrize(("tz", "day"), MIDNIGHT_ZONE_DAYS, ids=str)
def test_a_window_wrapping_midnight_with_its_centre_before_midnight(tz: str, day: date) -> None:
    """23:20–00:40, centre 23:50: the session starts late on its own day and opens the same evening."""
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day)], overall(hm(23, 20), hm(0, 40), hm(23, 50)))
    timing = session_start(snap.sessions[0], snap.prefs, snap.cadence)
    assert timing is not None
    assert (timing.start_minute, timing.opens_minute) == (hm(23, 50), hm(23, 20))
    assert wall(timing.start_at, tz) == (day, hm(23, 50))
    assert wall(timing.opens_at, tz) == (day, hm(23, 20))
    items = upcoming(snap)
    assert wall(items[T.MORNING_HYPE].due_at, tz) == (day, hm(22, 20))
    assert wall(items[T.EVENING_BRIEF].due_at, tz) == (day - timedelta(days=1), hm(20))


# --- spring-forward gaps and fall-back folds -----------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


GAP_CASES = [
    # New York, 2027-03-14: 02:00 EST -> 03:00 EDT.
    pytest.param(
        "America/New_York",
        date(2027, 3, 14),
        window(hm(2, 20), hm(3, 20), hm(2, 40)),
        utc(2027, 3, 14, 7, 40),  # 02:40 does not exist: 03:40 EDT
        utc(2027, 3, 14, 7, 20),  # 02:20 -> 03:20 EDT
        hm(1, 20),  # 02:20 - 60 min, in EST
        hm(17),
        id="ny-window-in-the-gap",
    ),
    pytest.param(
        "America/New_York",
        date(2027, 3, 14),
        window(hm(2, 30), hm(3, 30), hm(3, 10)),
        utc(2027, 3, 14, 7, 10),  # 03:10 EDT
        utc(2027, 3, 14, 7, 10),  # 02:30 -> 03:30 EDT would be after the start: the window opens at the start
        hm(1, 10),
        hm(17),
        id="ny-opening-moved-past-the-start",
    ),
    pytest.param(
        "America/New_York",
        date(2027, 3, 14),
        window(hm(3, 30), hm(4, 30), hm(4)),
        utc(2027, 3, 14, 8, 0),  # 04:00 EDT
        utc(2027, 3, 14, 7, 30),  # 03:30 EDT
        hm(1, 30),  # a real hour before the opening: 02:30 does not exist that night
        hm(17, 30),  # 03:30 + 14 h
        id="ny-hype-lead-crosses-the-gap",
    ),
    # Lord Howe, 2027-10-03: 02:00 +10:30 -> 02:30 +11.
    pytest.param(
        "Australia/Lord_Howe",
        date(2027, 10, 3),
        window(hm(2, 5), hm(3), hm(2, 20)),
        utc(2027, 10, 2, 15, 50),  # 02:20 -> 02:50 +11
        utc(2027, 10, 2, 15, 35),  # 02:05 -> 02:35 +11
        hm(1, 5),
        hm(17),
        id="lord-howe-window-in-the-gap",
    ),
    pytest.param(
        "Australia/Lord_Howe",
        date(2027, 10, 3),
        window(hm(1, 50), hm(2, 40), hm(2, 15)),
        utc(2027, 10, 2, 15, 45),  # 02:15 -> 02:45 +11
        utc(2027, 10, 2, 15, 20),  # 01:50 +10:30, before the gap
        hm(0, 50),
        hm(17),
        id="lord-howe-centre-in-the-gap",
    ),
]


@pytest.mark.parametrize(("tz", "day", "win", "start_at", "opens_at", "hype_minute", "brief_minute"), GAP_CASES)
def test_window_times_in_the_spring_forward_gap_move_forward_by_the_gap(
    tz: str,
    day: date,
    win: CadenceWindow,
    start_at: datetime,
    opens_at: datetime,
    hype_minute: int,
    brief_minute: int,
) -> None:
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day)], CadenceSnapshot(weekday_windows={6: win}))
    timing = session_start(snap.sessions[0], snap.prefs, snap.cadence)
    assert timing is not None
    assert (timing.start_minute, timing.opens_minute) == (win.centre_minute, win.start_minute)
    assert (timing.start_at, timing.opens_at) == (start_at, opens_at)
    items = upcoming(snap)
    hype, brief = items[T.MORNING_HYPE], items[T.EVENING_BRIEF]
    assert hype.due_at == opens_at - timedelta(hours=1)
    assert wall(hype.due_at, tz) == (day, hype_minute)
    assert hype.expires_at == hype.due_at + timedelta(minutes=45)
    # The buffer counts from the opening's wall time: before 03:00 that is earlier than 17:00, so 17:00.
    assert wall(brief.due_at, tz) == (day - timedelta(days=1), brief_minute)


@pytest.mark.parametrize(
    ("tz", "day", "start_at", "hype_minute"),
    [
        ("America/New_York", date(2027, 3, 14), utc(2027, 3, 14, 7, 30), hm(1, 30)),  # 02:30 -> 03:30 EDT
        ("Australia/Lord_Howe", date(2027, 10, 3), utc(2027, 10, 2, 15, 45), hm(1, 15)),  # 02:15 -> 02:45 +11
    ],
)
def test_a_scheduled_start_in_the_gap_moves_forward_by_the_gap(
    tz: str, day: date, start_at: datetime, hype_minute: int
) -> None:
    minute = hm(2, 30) if tz == "America/New_York" else hm(2, 15)
    snap = snapshot(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=minute)], CadenceSnapshot())
    timing = session_start(snap.sessions[0], snap.prefs, snap.cadence)
    assert timing is not None and (timing.start_at, timing.opens_at) == (start_at, start_at)
    hype = upcoming(snap)[T.MORNING_HYPE]
    assert hype.due_at == start_at - timedelta(hours=1)
    assert wall(hype.due_at, tz) == (day, hype_minute)


@pytest.mark.parametrize(
    ("tz", "day", "win", "start_at", "opens_at", "hype_minute"),
    [
        # New York, 2027-11-07: 01:00–02:00 happens twice; the first (EDT, -04:00) is meant.
        (
            "America/New_York",
            date(2027, 11, 7),
            window(hm(1, 15), hm(2, 15), hm(1, 45)),
            utc(2027, 11, 7, 5, 45),
            utc(2027, 11, 7, 5, 15),
            hm(0, 15),
        ),
        # Lord Howe, 2027-04-04: 01:30–02:00 happens twice; the first (+11) is meant.
        (
            "Australia/Lord_Howe",
            date(2027, 4, 4),
            window(hm(1, 35), hm(2, 30), hm(1, 50)),
            utc(2027, 4, 3, 14, 50),
            utc(2027, 4, 3, 14, 35),
            hm(0, 35),
        ),
    ],
    ids=["new-york", "lord-howe"],
)
def test_window_times_in_the_fall_back_fold_take_the_first_occurrence(
    tz: str, day: date, win: CadenceWindow, start_at: datetime, opens_at: datetime, hype_minute: int
) -> None:
    snap = snapshot(
        tz, [PlanSession(id=1, scheduled_date=day)], overall(win.start_minute, win.end_minute, win.centre_minute)
    )
    timing = session_start(snap.sessions[0], snap.prefs, snap.cadence)
    assert timing is not None and (timing.start_at, timing.opens_at) == (start_at, opens_at)
    assert wall(timing.start_at, tz) == (day, win.centre_minute)
    hype = upcoming(snap)[T.MORNING_HYPE]
    assert hype.due_at == opens_at - timedelta(hours=1)
    assert wall(hype.due_at, tz) == (day, hype_minute)


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
