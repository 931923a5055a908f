"""Synthetic rucks and arc arithmetic shared by the cadence analyzer's tests (``test_cadence*.py``).

A ruck starts at a local minute of a day so many days before ``AS_OF``; a window is an arc of minutes of the day
that may wrap midnight.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from coaching.cadence import CadenceAnalysis, RuckSample
from coaching.models import CadenceWindow

AS_OF = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday
DAY = 1440


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


def kinds(analysis: CadenceAnalysis) -> list[str]:
    return [d.kind for d in analysis.deviations]


def four_a_week(first_back: int, last_back: int) -> list[date]:
    """Mondays, Tuesdays, Thursdays and Saturdays between ``first_back`` and ``last_back`` days before AS_OF."""
    days = [days_back(n) for n in range(last_back, first_back - 1, -1)]
    return [d for d in days if d.weekday() in (0, 1, 3, 5)]
