"""The rules for changes an athlete makes: preferences, snooze and rescheduling a session.

Pure, so the HTTP API (before it writes anything) and the plan workflow's update validators (before they accept a
change) check the very same rules. A refused change raises :class:`ChangeRejected`, which names the field and says
why, and for a category that cannot be switched off, what can be adjusted instead.

The category rule itself (which categories exist and which stay on) is :mod:`coaching.categories`; its names are
re-exported here (``__all__``) because the API and the activities import them with the other preference rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from coaching.categories import (
    ACCOUNTABILITY,
    ACCOUNTABILITY_REASON,
    ADJUST_INSTEAD,
    CATEGORY_TYPES,
    OPTIONAL,
    OPTIONAL_SWITCHES,
    categories_of,
    category_enabled,
    type_enabled,
)
from coaching.models import (
    Category,
    ChangePreferencesInput,
    Completion,
    PlanSnapshot,
    RescheduleSessionInput,
    SnoozeInput,
)
from coaching.progress import completed_session_ids
from coaching.sessions import session_start
from coaching.timeutil import format_local, local_date, local_to_utc
from coaching.tones import Tone, tone_is_known

#: The longest snooze: a snooze holds the reminders, it does not switch the coach off (pause the plan for that).
MAX_SNOOZE = timedelta(days=7)
#: How far ahead a session can be moved.
MAX_RESCHEDULE_AHEAD = timedelta(days=366)


#: The ``type`` of the ApplicationError a plan workflow refuses a change with (details: field, code).
CHANGE_REJECTED = "ChangeRejected"
#: The ``type`` of the ApplicationError for a change to a plan that is completed or cancelled.
PLAN_CLOSED = "PlanClosed"
#: The ``type`` of the activities' ApplicationError when the session (or plan) to change is not in the database.
GONE_SESSION = "SessionGone"
GONE_PLAN = "PlanGone"


class ChangeRejected(ValueError):
    """A change that breaks a rule: ``field`` is the request field it concerns, ``message`` says why, ``code`` is
    the API's error code (``invalid_request``, or ``session_not_found`` for a session that is not the plan's)."""

    def __init__(self, field: str, message: str, code: str = "invalid_request") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


def check_preferences(change: ChangePreferencesInput) -> None:
    """Refuse a category that cannot be switched off, quiet hours of zero length, an unknown tone.

    The accountability categories are refused whether or not a plan is active right now: they exist only while
    a plan is, and then they stay on, so a stored "off" could never mean anything.
    """
    for category, enabled in change.categories.items():
        if not enabled and category in ACCOUNTABILITY:
            raise ChangeRejected(
                f"categories.{category.value}",
                f"can't be switched off: {ACCOUNTABILITY_REASON}; adjust instead: {', '.join(ADJUST_INSTEAD)}",
            )
    if change.coaching_tone is not None and not tone_is_known(change.coaching_tone):
        raise ChangeRejected(
            "coaching_tone", f"unknown tone {change.coaching_tone!r}; one of {', '.join(t.value for t in Tone)}"
        )
    quiet = (change.quiet_hours_start_minute, change.quiet_hours_end_minute)
    if change.set_quiet_hours and (quiet[0] is None) != (quiet[1] is None):
        raise ChangeRejected("quiet_hours", "give both start and end, or null to switch quiet hours off")
    if change.set_quiet_hours and quiet[0] is not None and quiet[0] == quiet[1]:
        raise ChangeRejected("quiet_hours", "start and end are the same time: quiet hours of zero length")


def snooze_end(change: SnoozeInput, now: datetime) -> tuple[datetime, str]:
    """When a snooze asked for at ``now`` ends, and the field that said so; refused if it says both or neither."""
    if (change.until is None) == (change.duration_minutes is None):
        raise ChangeRejected("until", "give either until (a time) or duration_minutes, not both")
    if change.until is not None:
        return change.until, "until"
    assert change.duration_minutes is not None
    if change.duration_minutes > MAX_SNOOZE / timedelta(minutes=1):
        raise ChangeRejected("duration_minutes", f"a snooze lasts at most {MAX_SNOOZE.days} days; pause the plan")
    return now + timedelta(minutes=change.duration_minutes), "duration_minutes"


def check_snooze(until: datetime, now: datetime, timezone: str, field: str = "until") -> None:
    """A snooze ends in the future, at most :data:`MAX_SNOOZE` from now."""
    if until <= now:
        # Not format_local: an absurd time (year 1 at +14:00) has no local reading at all.
        raise ChangeRejected(field, f"{until.isoformat()} is not in the future")
    if until - now > MAX_SNOOZE:
        raise ChangeRejected(
            field,
            f"a snooze lasts at most {MAX_SNOOZE.days} days (until {format_local(now + MAX_SNOOZE, timezone)}); "
            "to stop for longer, pause the plan",
        )


def check_reschedule(
    snapshot: PlanSnapshot,
    completions: list[Completion],
    change: RescheduleSessionInput,
    now: datetime,
    adaptive: bool = True,
) -> tuple[date, int | None]:
    """The session's new local date and start minute (None: its time follows the usual rules), or a refusal.

    A session can be moved if it is the plan's, not done yet, and its new start is in the future.
    """
    session = next((s for s in snapshot.sessions if s.id == change.plan_session_id), None)
    if session is None:
        raise ChangeRejected(
            "plan_session_id", f"session {change.plan_session_id} is not a session of this plan", "session_not_found"
        )
    if session.id in completed_session_ids(snapshot, completions) or session.completion_status == "completed":
        raise ChangeRejected("plan_session_id", f"session {session.id} is already completed")
    tz = snapshot.prefs.timezone
    day = change.scheduled_date or session.scheduled_date
    if day is None:
        raise ChangeRejected("scheduled_date", f"session {session.id} has no date yet: give one")
    if day > local_date(now + MAX_RESCHEDULE_AHEAD, tz):
        raise ChangeRejected("scheduled_date", f"{day.isoformat()} is more than a year ahead")
    if day < local_date(now, tz):
        raise ChangeRejected("scheduled_date", f"{day.isoformat()} is in the past")
    minute = change.start_minute
    if minute is not None:
        start = local_to_utc(day, minute, tz)
    else:
        moved = session.model_copy(update={"scheduled_date": day})
        timing = session_start(moved, snapshot.prefs, snapshot.cadence, adaptive=adaptive)
        assert timing is not None  # it has a date
        start = timing.start_at
    if start <= now:
        field = "start_time" if change.start_minute is not None else "scheduled_date"
        raise ChangeRejected(field, f"the new start {format_local(start, tz)} is in the past")
    return day, minute


__all__ = [
    "ACCOUNTABILITY",
    "ACCOUNTABILITY_REASON",
    "CHANGE_REJECTED",
    "GONE_PLAN",
    "GONE_SESSION",
    "PLAN_CLOSED",
    "ADJUST_INSTEAD",
    "CATEGORY_TYPES",
    "MAX_SNOOZE",
    "OPTIONAL",
    "OPTIONAL_SWITCHES",
    "Category",
    "ChangeRejected",
    "categories_of",
    "category_enabled",
    "check_preferences",
    "check_reschedule",
    "check_snooze",
    "snooze_end",
    "type_enabled",
]
