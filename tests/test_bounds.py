"""The bounds every input respects at the edges (starter.bounds), shared by the HTTP API, the Python client and the CLI.

Offsets across the zones the rules are tested in (UTC, -05:00, +05:30, +05:45, +14:00, -12:00), both sides of each
bound, and the one normalisation: a ruck reported as ending after now is taken as ending now.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from coaching.models import SessionCompletedInput
from starter.bounds import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_CLOCK_AHEAD,
    MAX_DISTANCE_KM,
    MAX_DURATION_SECONDS,
    MAX_ID,
    MAX_RUCK_DURATION,
    OutOfBounds,
    check_completion,
    check_date,
    check_id,
    check_text,
    check_time,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ZONES = {
    "UTC": timezone(timedelta(0)),
    "-05:00": timezone(timedelta(hours=-5)),
    "+05:30": timezone(timedelta(hours=5, minutes=30)),
    "+05:45": timezone(timedelta(hours=5, minutes=45)),
    "+14:00": timezone(timedelta(hours=14)),
    "-12:00": timezone(timedelta(hours=-12)),
}


def refused(field: str) -> pytest.RaisesExc[OutOfBounds]:
    return pytest.raises(OutOfBounds, match=rf"^{field}: ")


def ruck(**fields: object) -> SessionCompletedInput:
    return SessionCompletedInput.model_validate({"ruck_id": 7, "completed_at": NOW - timedelta(minutes=5), **fields})


# ---- ids ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 77, MAX_ID])
def test_ids_within_rucktrackers_32_bit_columns_pass(value: int) -> None:
    assert check_id(value, "plan_id") == value


@pytest.mark.parametrize("value", [0, -1, MAX_ID + 1, 3_000_000_000, 2**63, True])
def test_ids_beyond_rucktrackers_32_bit_columns_are_refused(value: int) -> None:
    with refused("plan_id") as caught:
        check_id(value, "plan_id")
    assert "2,147,483,647" in caught.value.reason and isinstance(caught.value, ValueError)


# ---- times --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES.values(), ids=list(ZONES))
def test_times_at_the_edges_of_the_range_pass_in_every_zone(zone: timezone) -> None:
    first = EARLIEST_TIME.astimezone(zone)
    last = (LATEST_TIME - timedelta(microseconds=1)).astimezone(zone)
    assert check_time(first, "at") == first and check_time(last, "at") == last


@pytest.mark.parametrize("zone", ZONES.values(), ids=list(ZONES))
def test_times_just_outside_the_range_are_refused_in_every_zone(zone: timezone) -> None:
    for outside in (EARLIEST_TIME - timedelta(microseconds=1), LATEST_TIME):
        with refused("at"):
            check_time(outside.astimezone(zone), "at")


@pytest.mark.parametrize(
    "value",
    [
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=18, minutes=1))),
        datetime(2026, 1, 1, tzinfo=timezone(-timedelta(hours=18, minutes=1))),
    ],
    ids=["9999-23:59", "0001+23:59", "year-1", "year-9999", "+18:01", "-18:01"],
)
def test_extreme_times_and_offsets_are_refused_without_overflowing(value: datetime) -> None:
    with refused("until"):
        check_time(value, "until")


def test_offsets_up_to_18_hours_pass() -> None:
    for hours in (18, -18):
        value = datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=hours)))
        assert check_time(value, "at") == value


def test_a_naive_time_is_refused() -> None:
    with refused(
        "at",
    ) as caught:
        check_time(datetime(2026, 1, 1), "at")
    assert "UTC offset" in caught.value.reason


def test_not_after_is_inclusive() -> None:
    assert check_time(NOW, "at", not_after=NOW) == NOW
    with refused("at"):
        check_time(NOW + timedelta(microseconds=1), "at", not_after=NOW)


def test_dates_outside_the_range_are_refused() -> None:
    assert check_date(date(2000, 1, 1), "scheduled_date") == date(2000, 1, 1)
    assert check_date(date(2099, 12, 31), "scheduled_date") == date(2099, 12, 31)
    for outside in (date(1, 1, 1), date(1999, 12, 31), date(2100, 1, 1), date(9999, 12, 31)):
        with refused("scheduled_date"):
            check_date(outside, "scheduled_date")


# ---- text ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "injured", "knee\tsurgery\nin March\r\n", "Zürich 🏔️ ñ", "x" * 500])
def test_plain_text_passes(value: str) -> None:
    assert check_text(value, "reason") == value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("a\x00b", "control"),
        ("\x1b[31mred", "control"),
        ("\x7f", "control"),
        ("a\ud800b", "Unicode"),
        ("x" * 501, "500"),
    ],
    ids=["nul", "escape", "delete", "lone-surrogate", "too-long"],
)
def test_control_characters_surrogates_and_long_text_are_refused(value: str, says: str) -> None:
    with refused("reason") as caught:
        check_text(value, "reason")
    assert says in caught.value.reason
    assert value not in str(caught.value)  # never echoed


# ---- a completed ruck ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES.values(), ids=list(ZONES))
def test_a_plausible_ruck_passes_unchanged_in_every_zone(zone: timezone) -> None:
    done = ruck(
        completed_at=(NOW - timedelta(minutes=3)).astimezone(zone),
        started_at=(NOW - timedelta(hours=1, minutes=3)).astimezone(zone),
        duration_seconds=3600,
        distance_km=5.2,
        plan_session_id=MAX_ID,
    )
    assert check_completion(done, NOW) == done


@pytest.mark.parametrize("zone", ZONES.values(), ids=list(ZONES))
def test_a_fast_clock_is_not_refused_and_its_ruck_ends_now(zone: timezone) -> None:
    """A phone clock a few minutes (or, set to the wrong zone, hours) fast: the ruck is taken as ending now, its
    start moved by as much, so the celebration is not held back until the phone's time."""
    ahead = timedelta(minutes=7)
    done = ruck(
        completed_at=(NOW + ahead).astimezone(zone), started_at=(NOW + ahead - timedelta(hours=1)).astimezone(zone)
    )
    fixed = check_completion(done, NOW)
    assert fixed.completed_at == NOW and fixed.completed_at.utcoffset() == zone.utcoffset(None)
    assert fixed.started_at == NOW - timedelta(hours=1)
    assert (fixed.ruck_id, fixed.source) == (done.ruck_id, done.source)
    # The largest skew still accepted, and one past it.
    assert check_completion(ruck(completed_at=NOW + MAX_CLOCK_AHEAD), NOW).completed_at == NOW
    with refused("completed_at"):
        check_completion(ruck(completed_at=NOW + MAX_CLOCK_AHEAD + timedelta(seconds=1)), NOW)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"completed_at": datetime(9999, 12, 31, tzinfo=UTC)}, "completed_at"),
        ({"completed_at": datetime(1999, 12, 31, tzinfo=UTC)}, "completed_at"),
        ({"completed_at": NOW + timedelta(days=2)}, "completed_at"),
        ({"started_at": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))}, "started_at"),
        ({"started_at": NOW}, "started_at"),  # after the end (NOW - 5 min)
        ({"started_at": NOW - MAX_RUCK_DURATION - timedelta(minutes=6)}, "started_at"),
        ({"duration_seconds": 10**11}, "duration_seconds"),
        ({"duration_seconds": MAX_DURATION_SECONDS + 1}, "duration_seconds"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"distance_km": math.inf}, "distance_km"),
        ({"distance_km": math.nan}, "distance_km"),
        ({"distance_km": MAX_DISTANCE_KM + 0.1}, "distance_km"),
        ({"ruck_id": 3_000_000_000}, "ruck_id"),
        ({"plan_session_id": 2**31}, "plan_session_id"),
    ],
)
def test_a_poison_completion_is_refused_naming_the_field(fields: dict[str, object], field: str) -> None:
    # Built without validation where the shared model would refuse first (negative numbers): the bounds must hold
    # on their own, whatever a caller constructs.
    done = ruck().model_copy(update=fields)
    with refused(field):
        check_completion(done, NOW)


def test_the_longest_ruck_and_the_largest_numbers_pass() -> None:
    end = NOW - timedelta(minutes=5)
    done = ruck(started_at=end - MAX_RUCK_DURATION, duration_seconds=MAX_DURATION_SECONDS, distance_km=MAX_DISTANCE_KM)
    assert check_completion(done, NOW) == done
    assert check_completion(ruck(duration_seconds=0, distance_km=0.0), NOW).duration_seconds == 0
