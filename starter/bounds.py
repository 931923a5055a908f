"""The bounds every input respects at the edges (HTTP API, Python client, CLI), in one place.

The shared models of :mod:`coaching.models` also decode the signals already in running workflows' histories, so they
stay as lenient as they always were (tightening them would make old payloads undecodable). Everything that enters
from outside is checked here instead, before it is sent: a value out of bounds is refused with the field and the
reason (:class:`OutOfBounds`, a ``ValueError``), and no message echoes the value itself.

The bounds, and why:

* **ids** 1 … 2,147,483,647: RuckTracker's ids (``user_coaching_plans.id``, ``plan_sessions.id``,
  ``ruck_session.id``) are PostgreSQL ``integer``/``serial``; a larger one could only fail later, inside an activity.
* **times** have a UTC offset of at most ±18:00 (ISO 8601's range; real zones span −12:00 … +14:00) and lie in
  [2000-01-01, 2100-01-01): nothing this service handles is older or further ahead, and every date arithmetic on
  such a time is safe.
* **a completed ruck** ends at most 1 day after now (a phone clock that is fast, or set to the wrong zone, is not
  refused); one reported as ending after now is taken as ending now, its start moved by as much, so a fast clock never
  delays the celebration. It starts at or before its end and at most 2 days before it; ``duration_seconds`` is
  0 … 172,800 (2 days); ``distance_km`` is a finite 0 … 1,000.
* **an app event** (``occurred_at``) happened at most 1 day after now, for the same reason.
* **free text** (a reason) is at most 500 characters, valid Unicode, without control characters other than tab and
  line breaks (it ends up in workflow history).
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, date, datetime, timedelta

from coaching.models import SessionCompletedInput

#: RuckTracker's ids are PostgreSQL ``integer``/``serial`` columns.
MIN_ID = 1
MAX_ID = 2**31 - 1
#: Every time this service accepts lies in [EARLIEST_TIME, LATEST_TIME).
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
#: ISO 8601 offsets go up to ±18:00 (Python accepts up to ±23:59, which turns some dates into overflows).
MAX_UTC_OFFSET = timedelta(hours=18)
#: How far ahead of now a device may say something happened (a fast clock, a phone set to the wrong zone).
MAX_CLOCK_AHEAD = timedelta(days=1)
#: The longest ruck: a start at most this long before the end, and the largest ``duration_seconds``.
MAX_RUCK_DURATION = timedelta(days=2)
MAX_DURATION_SECONDS = int(MAX_RUCK_DURATION.total_seconds())
MAX_DISTANCE_KM = 1000.0
#: A reason ends up in workflow history: bounded, so one request cannot bloat it.
MAX_REASON_LENGTH = 500

_ALLOWED_CONTROLS = frozenset("\t\n\r")


class OutOfBounds(ValueError):
    """A value outside the bounds of this module: ``field`` is the input's name, ``reason`` says what is allowed."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_id(value: int, field: str) -> int:
    """``value`` if it is a whole number in 1 … :data:`MAX_ID`."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_ID <= value <= MAX_ID:
        raise OutOfBounds(field, f"must be a whole number from {MIN_ID} to {MAX_ID:,}")
    return value


def check_time(value: datetime, field: str, *, not_after: datetime | None = None) -> datetime:
    """``value`` if it has a UTC offset within ±18:00 and lies in [2000-01-01, 2100-01-01) (and at or before
    ``not_after`` when given)."""
    offset = value.utcoffset()
    if offset is None:
        raise OutOfBounds(field, "must have a UTC offset (ISO 8601, e.g. 2026-11-24T06:30:00-05:00 or …Z)")
    if abs(offset) > MAX_UTC_OFFSET:
        raise OutOfBounds(field, "the UTC offset must be within ±18:00")
    # The year first: converting a time near year 1 or 9999 to UTC can overflow.
    if not EARLIEST_TIME.year - 1 <= value.year <= LATEST_TIME.year or not EARLIEST_TIME <= value < LATEST_TIME:
        raise OutOfBounds(field, f"must be from {EARLIEST_TIME:%Y-%m-%d} to before {LATEST_TIME:%Y-%m-%d} (UTC)")
    if not_after is not None and value > not_after:
        raise OutOfBounds(field, f"must not be after {not_after.astimezone(UTC).isoformat(timespec='seconds')}")
    return value


def check_date(value: date, field: str) -> date:
    """``value`` if it lies in [2000-01-01, 2100-01-01)."""
    if not EARLIEST_TIME.date() <= value < LATEST_TIME.date():
        raise OutOfBounds(field, f"must be from {EARLIEST_TIME:%Y-%m-%d} to before {LATEST_TIME:%Y-%m-%d}")
    return value


def check_text(value: str, field: str, *, max_length: int = MAX_REASON_LENGTH) -> str:
    """``value`` if it is at most ``max_length`` characters of valid Unicode without control characters (tab and line
    breaks allowed)."""
    if len(value) > max_length:
        raise OutOfBounds(field, f"must be at most {max_length} characters")
    for char in value:
        kind = unicodedata.category(char)
        if kind == "Cs":
            raise OutOfBounds(field, "must be valid Unicode (it holds a lone surrogate)")
        if kind == "Cc" and char not in _ALLOWED_CONTROLS:
            raise OutOfBounds(field, "must not contain control characters (such as NUL)")
    return value


def check_completion(completion: SessionCompletedInput, now: datetime) -> SessionCompletedInput:
    """The completion, if every field is within bounds (else :class:`OutOfBounds` for the first that is not), with
    an end reported after ``now`` taken as ``now`` (its start moved by as much)."""
    check_id(completion.ruck_id, "ruck_id")
    if completion.plan_session_id is not None:
        check_id(completion.plan_session_id, "plan_session_id")
    latest = now + MAX_CLOCK_AHEAD
    end = check_time(completion.completed_at, "completed_at", not_after=latest)
    start = completion.started_at
    if start is not None:
        check_time(start, "started_at", not_after=latest)
        if start > end:
            raise OutOfBounds("started_at", "must not be after completed_at")
        if end - start > MAX_RUCK_DURATION:
            raise OutOfBounds("started_at", f"must be at most {MAX_RUCK_DURATION.days} days before completed_at")
    duration = completion.duration_seconds
    if duration is not None and not 0 <= duration <= MAX_DURATION_SECONDS:
        days = MAX_RUCK_DURATION.days
        raise OutOfBounds("duration_seconds", f"must be from 0 to {MAX_DURATION_SECONDS:,} ({days} days)")
    distance = completion.distance_km
    if distance is not None and not (math.isfinite(distance) and 0 <= distance <= MAX_DISTANCE_KM):
        raise OutOfBounds("distance_km", f"must be a finite number from 0 to {MAX_DISTANCE_KM:,.0f}")
    if end <= now:
        return completion
    # The ruck was reported, so it has ended: a later end is the device's clock running ahead.
    ahead = end - now
    return completion.model_copy(
        update={"completed_at": end - ahead, "started_at": start - ahead if start is not None else None}
    )


__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "MAX_CLOCK_AHEAD",
    "MAX_DISTANCE_KM",
    "MAX_DURATION_SECONDS",
    "MAX_ID",
    "MAX_REASON_LENGTH",
    "MAX_RUCK_DURATION",
    "MAX_UTC_OFFSET",
    "MIN_ID",
    "OutOfBounds",
    "check_completion",
    "check_date",
    "check_id",
    "check_text",
    "check_time",
]
