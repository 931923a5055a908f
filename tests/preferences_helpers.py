"""Zones, days and builders shared by the tests of an athlete's changes as pure functions
(``test_preferences*.py``): a plan with one session at 07:00 local on a day D, its reminders and what ``evaluate``
decides for them, a completion, and a rejection's field and code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from coaching.models import (
    Completion,
    Decision,
    NotificationPrefs,
    NotificationType,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
)
from coaching.preferences import ChangeRejected
from coaching.schedule import Evaluation, candidates
from coaching.timeutil import local_date, local_to_utc

T = NotificationType
NOW = datetime(2027, 5, 4, 12, 0, tzinfo=UTC)
SESSION_MINUTE = 7 * 60
#: (zone, day D): a session on D at 07:00 local, so the brief the evening before and the hype that morning straddle
#: the night of D; on the DST days that night is the transition itself.
ZONE_DAYS = [
    ("America/New_York", date(2027, 3, 14)),  # spring forward 02:00 -> 03:00
    ("America/New_York", date(2026, 11, 1)),  # fall back 02:00 -> 01:00
    ("Europe/London", date(2027, 3, 28)),  # spring forward 01:00 -> 02:00
    ("Europe/London", date(2026, 10, 25)),  # fall back 02:00 -> 01:00
    ("Australia/Lord_Howe", date(2026, 10, 4)),  # spring forward 02:00 -> 02:30
    ("Australia/Lord_Howe", date(2027, 4, 4)),  # fall back 02:00 -> 01:30
    ("Asia/Kolkata", date(2027, 5, 4)),
    ("Asia/Kathmandu", date(2027, 5, 4)),
    ("UTC", date(2027, 5, 4)),
]
ZONE_DAY_IDS = [f"{tz}-{day.isoformat()}" for tz, day in ZONE_DAYS]
HELD_BY_SNOOZE = [T.KICKOFF_PRIMER, T.EVENING_BRIEF, T.MORNING_HYPE, T.MISSED_FOLLOWUP, T.WEEKLY_DIGEST]


def snapshot(tz: str, day: date, *, created_at: datetime | None = None, **prefs: object) -> PlanSnapshot:
    """A plan with one session on ``day`` at 07:00 local, created two days before at 10:00 local, whose weekly
    digest falls on ``day`` at 18:00 local (so it covers that session)."""
    prefs.setdefault("weekly_digest_weekday", day.weekday())
    return PlanSnapshot(
        plan_id=31,
        user_id="00000000-0000-0000-0000-000000000031",
        start_date=day,
        created_at=created_at or local_to_utc(day - timedelta(days=2), 10 * 60, tz),
        prefs=NotificationPrefs(timezone=tz, **prefs),  # type: ignore[arg-type]
        sessions=[PlanSession(id=1, scheduled_date=day, scheduled_start_minute=SESSION_MINUTE)],
    )


def only(items: list[PlannedNotification], ntype: NotificationType) -> PlannedNotification:
    (n,) = [n for n in items if n.type is ntype]
    return n


def reminder(snap: PlanSnapshot, ntype: NotificationType) -> PlannedNotification:
    return only(candidates(snap, []), ntype)


def actions_of(ev: Evaluation, ntype: NotificationType) -> list[tuple[Decision, str | None]]:
    return [(a.decision, a.skip_reason) for a in ev.actions if a.notification.type is ntype]


def upcoming_of(ev: Evaluation, ntype: NotificationType) -> list[PlannedNotification]:
    return [n for n in ev.upcoming if n.type is ntype]


def completion(tz: str, ruck_id: int, at: datetime, session_id: int | None) -> Completion:
    return Completion(
        ruck_id=ruck_id, completed_at=at, received_at=at, local_date=local_date(at, tz), plan_session_id=session_id
    )


def rejected(exc: pytest.ExceptionInfo[ChangeRejected]) -> tuple[str, str]:
    return exc.value.field, exc.value.code
