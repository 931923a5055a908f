"""Local wall time ↔ UTC in the athlete's IANA zone.

Every time in a schedule is a local wall time (a date and a minute of the day) resolved to UTC for that very date, so
an 20:00 brief stays at 20:00 across daylight saving. Two wall times need a rule:

* a time that does not exist (spring forward, e.g. 02:30 in New York on the transition night) is moved forward by the
  length of the gap (03:30 local), which is PEP 495's ``fold=0`` reading;
* a time that happens twice (fall back, e.g. 01:30) resolves to its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def pin_tzdata() -> str:
    """Read time zones from the pinned ``tzdata`` package only, never from the host's ``/usr/share/zoneinfo``.

    Every worker (and a replay of a plan's history) then computes the same local times, whatever its image's OS
    data: a rebuild cannot move a replayed time. Called once by each entry point (worker, CLI, API, tests) before
    any zone is loaded; returns the tzdata version in use.
    """
    import importlib.metadata
    import zoneinfo

    if zoneinfo.TZPATH:
        zoneinfo.reset_tzpath(to=())
        zone.cache_clear()
    return importlib.metadata.version("tzdata")


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA zone this machine knows, else raise ValueError naming it."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValueError("must be an IANA time zone name such as 'America/New_York'")
    # Loading the zone is the check. (Not `available_timezones()`: it scans the disk, and inside the workflow
    # sandbox it sees nothing, which a cache would then remember for the whole process.)
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/London'") from exc
    return name


def local_to_utc(day: date, minute_of_day: int, tz: str) -> datetime:
    """The UTC instant of wall time ``minute_of_day`` on ``day`` in ``tz`` (see the module doc for gaps and folds)."""
    wall = datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60), tzinfo=zone(tz))
    return wall.astimezone(UTC)


def to_local(instant: datetime, tz: str) -> datetime:
    return instant.astimezone(zone(tz))


def local_date(instant: datetime, tz: str) -> date:
    return to_local(instant, tz).date()


def local_minute(instant: datetime, tz: str) -> int:
    local = to_local(instant, tz)
    return local.hour * 60 + local.minute


def in_quiet_hours(minute: int, quiet: tuple[int, int]) -> bool:
    """Whether a local minute of day falls in [start, end), where the window may wrap midnight."""
    start, end = quiet
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def end_of_quiet_hours(instant: datetime, tz: str, quiet: tuple[int, int]) -> datetime:
    """The first instant at or after ``instant`` that is outside quiet hours (``instant`` itself if it already is)."""
    local = to_local(instant, tz)
    minute = local.hour * 60 + local.minute
    if not in_quiet_hours(minute, quiet):
        return instant
    start, end = quiet
    day = local.date()
    if start > end and minute >= start:
        day = day + timedelta(days=1)
    held = local_to_utc(day, end, tz)
    if held < instant:
        # Fall-back night: the end (say 01:45) happens twice and ``instant`` is already in the second hour;
        # the end of quiet hours is the second 01:45, never a time before ``instant``.
        wall = datetime.combine(day, time(end // 60, end % 60), tzinfo=zone(tz)).replace(fold=1)
        held = max(wall.astimezone(UTC), instant)
    return held


def format_local(instant: datetime, tz: str) -> str:
    """A human string such as 'Sun 2027-03-14 20:00 EDT' for status output."""
    return to_local(instant, tz).strftime("%a %Y-%m-%d %H:%M %Z")


def minute_label(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def clock_minute(clock: str) -> int:
    """The minute of the day of an 'HH:MM' wall time (the inverse of :func:`minute_label`); ValueError if it is
    not of that shape. The range is the caller's to check (or a pattern's, for validated input)."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)
