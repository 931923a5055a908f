"""Zones, days and builders shared by the adaptive-timing tests (``test_schedule_cadence*.py``).

Sessions fall on an ordinary Tuesday in zones with odd offsets (+05:30, +05:45) and a 30-minute DST (Lord Howe), on
the spring-forward and fall-back dates themselves, and on the days after; ``upcoming`` is what ``evaluate`` plans
for one session, checking on the way that RULES_V2 differs from RULES_V1 only in the brief.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from coaching.models import (
    CadenceSnapshot,
    CadenceWindow,
    NotificationPrefs,
    NotificationType,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
    PlanState,
)
from coaching.schedule import BRIEF_EARLIEST_MINUTE, BRIEF_SLEEP_BUFFER, RULES_V1, RULES_V2, evaluate
from coaching.timeutil import local_minute, local_to_utc, to_local

T = NotificationType
CREATED = datetime(2027, 1, 1, tzinfo=UTC)
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


def label(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def brief_why(brief: int, pref: int = hm(20)) -> str:
    if brief == pref:
        return f"your evening brief time {label(pref)}"
    return f"{label(brief)}, earlier than your usual {label(pref)} so an early session leaves a full night's sleep"
