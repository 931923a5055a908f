"""Local time rules across zones: DST gaps and folds, half-hour and 45-minute offsets, quiet hours over midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from coaching.timeutil import (
    clock_minute,
    end_of_quiet_hours,
    in_quiet_hours,
    local_minute,
    local_to_utc,
    minute_label,
    validate_timezone,
)


@pytest.mark.parametrize(
    ("tz", "day", "minute", "expected_utc"),
    [
        # New York spring forward 2027-03-14: 20:00 the evening before is EST, 20:00 the evening of is EDT.
        ("America/New_York", date(2027, 3, 13), 20 * 60, datetime(2027, 3, 14, 1, 0, tzinfo=UTC)),
        ("America/New_York", date(2027, 3, 14), 20 * 60, datetime(2027, 3, 15, 0, 0, tzinfo=UTC)),
        # 02:30 does not exist that night: moved forward by the gap to 03:30 EDT.
        ("America/New_York", date(2027, 3, 14), 2 * 60 + 30, datetime(2027, 3, 14, 7, 30, tzinfo=UTC)),
        # 01:30 happens twice on 2027-11-07: the first (EDT) occurrence.
        ("America/New_York", date(2027, 11, 7), 90, datetime(2027, 11, 7, 5, 30, tzinfo=UTC)),
        # London: 01:30 on 2027-03-28 does not exist; 01:30 on 2027-10-31 is ambiguous.
        ("Europe/London", date(2027, 3, 28), 90, datetime(2027, 3, 28, 1, 30, tzinfo=UTC)),
        ("Europe/London", date(2027, 10, 31), 90, datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
        # Kathmandu is +05:45 all year.
        ("Asia/Kathmandu", date(2027, 1, 5), 6 * 60, datetime(2027, 1, 5, 0, 15, tzinfo=UTC)),
        # India +05:30.
        ("Asia/Kolkata", date(2027, 1, 5), 6 * 60, datetime(2027, 1, 5, 0, 30, tzinfo=UTC)),
        # Lord Howe: +11 in summer, +10:30 in winter (a 30-minute DST), changing 2027-04-04 and 2027-10-03.
        ("Australia/Lord_Howe", date(2027, 1, 10), 20 * 60, datetime(2027, 1, 10, 9, 0, tzinfo=UTC)),
        ("Australia/Lord_Howe", date(2027, 6, 10), 20 * 60, datetime(2027, 6, 10, 9, 30, tzinfo=UTC)),
    ],
)
def test_local_to_utc(tz: str, day: date, minute: int, expected_utc: datetime) -> None:
    assert local_to_utc(day, minute, tz) == expected_utc


@pytest.mark.parametrize("tz", ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_same_wall_time_every_day_of_a_year(tz: str) -> None:
    """A 20:00 rule stays at 20:00 local on every day, through both transitions (what the old fixed offset broke)."""
    day = date(2027, 1, 1)
    for offset in range(365):
        current = date.fromordinal(day.toordinal() + offset)
        assert local_minute(local_to_utc(current, 20 * 60, tz), tz) == 20 * 60


@pytest.mark.parametrize(
    ("minute", "quiet", "inside"),
    [
        (23 * 60, (22 * 60, 7 * 60), True),
        (0, (22 * 60, 7 * 60), True),
        (6 * 60 + 59, (22 * 60, 7 * 60), True),
        (7 * 60, (22 * 60, 7 * 60), False),
        (21 * 60 + 59, (22 * 60, 7 * 60), False),
        (13 * 60, (12 * 60, 14 * 60), True),
        (14 * 60, (12 * 60, 14 * 60), False),
    ],
)
def test_in_quiet_hours(minute: int, quiet: tuple[int, int], inside: bool) -> None:
    assert in_quiet_hours(minute, quiet) is inside


@pytest.mark.parametrize(
    ("tz", "instant", "expected"),
    [
        # 23:30 New York (wrapping window) → 07:00 next morning, across the spring-forward night.
        (
            "America/New_York",
            datetime(2027, 3, 14, 4, 30, tzinfo=UTC),
            datetime(2027, 3, 14, 11, 0, tzinfo=UTC),
        ),
        # 01:00 Kathmandu → 07:00 the same morning.
        ("Asia/Kathmandu", datetime(2027, 1, 4, 19, 15, tzinfo=UTC), datetime(2027, 1, 5, 1, 15, tzinfo=UTC)),
        # Outside quiet hours: unchanged.
        ("Europe/London", datetime(2027, 6, 1, 12, 0, tzinfo=UTC), datetime(2027, 6, 1, 12, 0, tzinfo=UTC)),
        # Lord Howe winter (+10:30): 22:30 local → 07:00 next day.
        (
            "Australia/Lord_Howe",
            datetime(2027, 6, 10, 12, 0, tzinfo=UTC),
            datetime(2027, 6, 10, 20, 30, tzinfo=UTC),
        ),
    ],
)
def test_end_of_quiet_hours(tz: str, instant: datetime, expected: datetime) -> None:
    assert end_of_quiet_hours(instant, tz, (22 * 60, 7 * 60)) == expected


@pytest.mark.parametrize("bad", ["", "Mars/Olympus", "america/new_york", " UTC", "EST5EDT "])
def test_unknown_timezones_are_refused_with_the_name(bad: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        validate_timezone(bad)


@pytest.mark.parametrize("minute", [0, 59, 60, 330, 345, 1439])
def test_clock_minute_reads_what_minute_label_writes(minute: int) -> None:
    assert clock_minute(minute_label(minute)) == minute


@pytest.mark.parametrize("clock", ["0700", "7", "07:00:00", "ab:cd", ""])
def test_clock_minute_refuses_what_is_not_hh_mm(clock: str) -> None:
    with pytest.raises(ValueError):
        clock_minute(clock)


def test_zones_come_from_the_pinned_tzdata_package() -> None:
    """A replay must compute the times the original run did: zone data is the pinned package's, not the host's."""
    import importlib.metadata
    import re
    import zoneinfo
    from pathlib import Path

    from coaching.timeutil import pin_tzdata, zone

    assert pin_tzdata() == importlib.metadata.version("tzdata")
    assert zoneinfo.TZPATH == ()
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    pinned = re.search(r'"tzdata==([^"]+)"', pyproject)
    assert pinned is not None and pinned.group(1) == importlib.metadata.version("tzdata")
    assert zone("America/New_York").key == "America/New_York"
