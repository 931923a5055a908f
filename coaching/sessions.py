"""A plan's sessions in time: their order, when each starts, its evening brief's time, and which fell in a pause.

The start of a session is a fallback chain (a fixed time, the learned cadence window, the scheduled start, the
athlete's default, the population default); the schedule and the rescheduling rule (:mod:`coaching.preferences`)
both read it from here, so a moved session is checked against the start the schedule will use.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from coaching.models import (
    CadenceSnapshot,
    CadenceWindow,
    NotificationPrefs,
    PausePeriod,
    PlanSession,
    PlanSnapshot,
)
from coaching.schedule_rules import (
    BRIEF_EARLIEST_MINUTE,
    BRIEF_SLEEP_BUFFER,
    CADENCE_CONFIDENCE_THRESHOLD,
    POPULATION_DEFAULT_START_MINUTE,
)
from coaching.timeutil import local_minute, local_to_utc, minute_label

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class SessionTiming:
    """When a session is expected to start, and when the athlete's window for it opens (the same without one)."""

    start_minute: int
    start_at: datetime
    reason: str
    #: Minute of the session's date the window opens; negative when it opens the evening before (wraps midnight).
    opens_minute: int
    opens_at: datetime


def session_start(
    session: PlanSession, prefs: NotificationPrefs, cadence: CadenceSnapshot, *, adaptive: bool = True
) -> SessionTiming | None:
    """The local start of a session, by the fallback chain (README "Cadence"; first that applies wins):

    0. a time the athlete fixed for this very session;
    1. their window for the session's weekday, 2. their overall window, when confident enough;
    3. the session's own scheduled start; 4. the athlete's default start; 5. the population default.

    With a window, the session starts at the window's centre (their usual time) and the window's opening is what
    the morning hype and the evening brief's sleep buffer are measured from. ``adaptive=False`` is the rule of
    plans whose history predates the analyzer (see the workflow's patch): start time, then the window's opening.
    """
    if session.scheduled_date is None:
        return None
    day, tz = session.scheduled_date, prefs.timezone
    window: CadenceWindow | None = None
    if not adaptive:
        if session.scheduled_start_minute is not None:
            minute, why = session.scheduled_start_minute, "its scheduled start"
        elif cadence.window_start_minute is not None and cadence.confidence >= CADENCE_CONFIDENCE_THRESHOLD:
            minute, why = cadence.window_start_minute, f"your usual start (confidence {cadence.confidence:.2f})"
        else:
            minute, why = _default_start(prefs)
    elif session.start_fixed and session.scheduled_start_minute is not None:
        minute, why = session.scheduled_start_minute, "the time you set for this session"
    else:
        weekday = cadence.weekday_windows.get(day.weekday())
        overall = cadence.overall
        if weekday is not None and weekday.confidence >= CADENCE_CONFIDENCE_THRESHOLD:
            window, label = weekday, f"your usual {WEEKDAYS[day.weekday()]} start"
        elif overall is not None and overall.confidence >= CADENCE_CONFIDENCE_THRESHOLD:
            window, label = overall, "your usual start"
        if window is not None:
            minute = window.centre_minute
            why = (
                f"{label} (you set out {minute_label(window.start_minute)}–{minute_label(window.end_minute)}, "
                f"confidence {window.confidence:.2f})"
            )
        elif session.scheduled_start_minute is not None:
            minute, why = session.scheduled_start_minute, "its scheduled start"
        else:
            minute, why = _default_start(prefs)
    start_at = local_to_utc(day, minute, tz)
    opens_minute, opens_at = minute, start_at
    if window is not None:
        opens_minute = minute - (minute - window.start_minute) % (24 * 60)
        opens_day = day if opens_minute >= 0 else day - timedelta(days=1)
        opens_at = min(local_to_utc(opens_day, opens_minute % (24 * 60), tz), start_at)
    return SessionTiming(minute, start_at, f"{minute_label(minute)}, {why}", opens_minute, opens_at)


def _default_start(prefs: NotificationPrefs) -> tuple[int, str]:
    if prefs.default_start_minute is not None:
        return prefs.default_start_minute, "your default start (no start time set)"
    return POPULATION_DEFAULT_START_MINUTE, "the default start (no start time set)"


def session_starts(snapshot: PlanSnapshot, *, adaptive: bool = True) -> dict[int, SessionTiming]:
    """Every dated session's start, computed once per evaluation (each is a time-zone conversion)."""
    prefs, cadence = snapshot.prefs, snapshot.cadence
    return {s.id: t for s in snapshot.sessions if (t := session_start(s, prefs, cadence, adaptive=adaptive))}


def evening_brief_minute(start_minute: int, prefs: NotificationPrefs) -> tuple[int, str]:
    """Local minute (on the day before) of a session's evening brief, and why."""
    buffer = int(BRIEF_SLEEP_BUFFER.total_seconds() // 60)
    latest_for_sleep = start_minute + 24 * 60 - buffer
    if latest_for_sleep >= prefs.evening_brief_minute:
        return (
            prefs.evening_brief_minute,
            f"your evening brief time {minute_label(prefs.evening_brief_minute)}",
        )
    minute = max(latest_for_sleep, BRIEF_EARLIEST_MINUTE)
    return minute, (
        f"{minute_label(minute)}, earlier than your usual {minute_label(prefs.evening_brief_minute)} "
        f"so an early session leaves a full night's sleep"
    )


def evening_brief_at(session_day: date, timing: SessionTiming, prefs: NotificationPrefs) -> tuple[datetime, str]:
    """When a session's evening brief is due, and why (RULES_V2): the athlete's brief time the evening before,
    unless that leaves less than ``BRIEF_SLEEP_BUFFER`` of *elapsed* time before the session (its window's
    opening); then that much before it, but not before ``BRIEF_EARLIEST_MINUTE`` that evening. Measured in UTC,
    so a spring-forward night still leaves 10 h, and a fall-back night does not move the brief earlier than it
    needs to be."""
    brief_day, tz = session_day - timedelta(days=1), prefs.timezone
    usual = local_to_utc(brief_day, prefs.evening_brief_minute, tz)
    latest = timing.opens_at - BRIEF_SLEEP_BUFFER
    if usual <= latest:
        return usual, f"your evening brief time {minute_label(prefs.evening_brief_minute)}"
    due = max(latest, local_to_utc(brief_day, BRIEF_EARLIEST_MINUTE, tz))
    return due, (
        f"{minute_label(local_minute(due, tz))}, earlier than your usual {minute_label(prefs.evening_brief_minute)} "
        f"so an early session leaves a full night's sleep"
    )


def ordered_sessions(snapshot: PlanSnapshot) -> list[PlanSession]:
    """The dated sessions in plan order (date, start, id): the order misses, streaks and milestones count in."""
    return sorted(
        (s for s in snapshot.sessions if s.scheduled_date is not None),
        key=lambda s: (s.scheduled_date, s.scheduled_start_minute or 0, s.id),
    )


def before_plan(snapshot: PlanSnapshot, timing: SessionTiming | None) -> bool:
    """Whether the session was over before the athlete joined: neither theirs to have done nor to have missed."""
    return timing is not None and timing.start_at <= snapshot.created_at


def paused_sessions(
    snapshot: PlanSnapshot, starts: dict[int, SessionTiming], pauses: Sequence[PausePeriod]
) -> set[int]:
    """The sessions that started while the plan was paused (RULES_V2): no follow-up, and not a miss."""
    if not pauses:
        return set()
    merged: list[tuple[datetime, datetime | None]] = []
    for p in sorted(pauses, key=lambda p: p.start):
        if merged and (merged[-1][1] is None or p.start <= merged[-1][1]):
            last_end = merged[-1][1]
            end = None if last_end is None or p.end is None else max(last_end, p.end)
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((p.start, p.end))
    begins = [start for start, _ in merged]
    out: set[int] = set()
    for s in snapshot.sessions:
        timing = starts.get(s.id)
        if timing is None:
            continue
        i = bisect_right(begins, timing.start_at) - 1
        if i >= 0 and (merged[i][1] is None or timing.start_at < merged[i][1]):  # type: ignore[operator]
            out.add(s.id)
    return out
