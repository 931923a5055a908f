"""Adaptive timing around a cadence window's opening, as pure functions, in several zones: an early window sets
the brief and the hype, an evening window leaves the brief at the athlete's time, the hype goes out until the window
opens, windows wrap midnight, and window times in a spring-forward gap move forward by the gap while those in a
fall-back fold take the first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from coaching.models import CadenceSnapshot, CadenceWindow, Decision, PlanSession, PlanState
from coaching.schedule import BRIEF_EARLIEST_MINUTE, evaluate, session_start
from coaching.timeutil import local_to_utc
from tests.schedule_cadence_helpers import (
    DST_DAYS,
    ZONE_DAYS,
    T,
    brief_why,
    hm,
    overall,
    snapshot,
    upcoming,
    wall,
    window,
)

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
