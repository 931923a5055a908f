"""An athlete's changes checked as pure functions (no I/O, no Temporal): ``coaching.preferences`` decides which
categories can be switched off, validates quiet hours and tone, the snooze's length and end, and moving a session.

How the schedule honours the changes: ``test_preferences_evaluate.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from coaching.models import (
    Category,
    ChangePreferencesInput,
    NotificationPrefs,
    NotificationType,
    PlanSession,
    PlanSnapshot,
    RescheduleSessionInput,
    SnoozeInput,
)
from coaching.preferences import (
    ACCOUNTABILITY,
    ADJUST_INSTEAD,
    MAX_RESCHEDULE_AHEAD,
    MAX_SNOOZE,
    OPTIONAL,
    ChangeRejected,
    categories_of,
    check_preferences,
    check_reschedule,
    check_snooze,
    snooze_end,
    type_enabled,
)
from coaching.timeutil import local_date, local_to_utc
from tests.preferences_helpers import NOW, T, completion, rejected

# --- check_preferences ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ACCOUNTABILITY)
def test_switching_off_an_accountability_category_is_refused_with_what_to_adjust_instead(category: Category) -> None:
    with pytest.raises(ChangeRejected) as exc:
        check_preferences(ChangePreferencesInput(categories={category: False}))
    assert rejected(exc) == (f"categories.{category.value}", "invalid_request")
    assert "can't be switched off" in exc.value.message
    assert exc.value.message.endswith("adjust instead: " + ", ".join(ADJUST_INSTEAD))
    for option in ("evening_brief_time", "quiet_hours", "snooze", "reschedule a session"):
        assert option in exc.value.message


def test_accountability_categories_are_exactly_brief_hype_and_missed_followup() -> None:
    assert set(ACCOUNTABILITY) == {Category.EVENING_BRIEF, Category.MORNING_HYPE, Category.MISSED_FOLLOWUP}
    assert set(OPTIONAL) == {Category.WEEKLY_DIGEST, Category.MILESTONE_ALERT}


def test_switching_an_accountability_category_on_is_accepted() -> None:
    assert check_preferences(ChangePreferencesInput(categories=dict.fromkeys(ACCOUNTABILITY, True))) is None


@pytest.mark.parametrize("category", OPTIONAL)
def test_optional_categories_can_be_switched_off(category: Category) -> None:
    assert check_preferences(ChangePreferencesInput(categories={category: False})) is None


def test_an_accountability_category_off_among_optional_ones_off_is_still_refused() -> None:
    change = ChangePreferencesInput(
        categories={Category.WEEKLY_DIGEST: False, Category.MILESTONE_ALERT: False, Category.MORNING_HYPE: False}
    )
    with pytest.raises(ChangeRejected) as exc:
        check_preferences(change)
    assert exc.value.field == "categories.morning_hype"


@pytest.mark.parametrize("minute", [0, 22 * 60, 1439])
def test_quiet_hours_of_zero_length_are_refused(minute: int) -> None:
    change = ChangePreferencesInput(
        set_quiet_hours=True, quiet_hours_start_minute=minute, quiet_hours_end_minute=minute
    )
    with pytest.raises(ChangeRejected) as exc:
        check_preferences(change)
    assert rejected(exc) == ("quiet_hours", "invalid_request")
    assert "zero length" in exc.value.message


@pytest.mark.parametrize(("start", "end"), [(22 * 60, None), (None, 7 * 60), (0, None), (None, 0)])
def test_quiet_hours_with_only_one_end_are_refused(start: int | None, end: int | None) -> None:
    change = ChangePreferencesInput(set_quiet_hours=True, quiet_hours_start_minute=start, quiet_hours_end_minute=end)
    with pytest.raises(ChangeRejected) as exc:
        check_preferences(change)
    assert exc.value.field == "quiet_hours"
    assert "give both start and end" in exc.value.message


@pytest.mark.parametrize(("start", "end"), [(22 * 60, 7 * 60), (1 * 60, 3 * 60), (None, None), (0, 1439)])
def test_valid_quiet_hours_including_over_midnight_and_switching_off_are_accepted(
    start: int | None, end: int | None
) -> None:
    change = ChangePreferencesInput(set_quiet_hours=True, quiet_hours_start_minute=start, quiet_hours_end_minute=end)
    assert check_preferences(change) is None


def test_quiet_hour_minutes_without_set_quiet_hours_are_not_validated() -> None:
    # Without set_quiet_hours the two minutes are not a change, so they cannot be a refused one.
    change = ChangePreferencesInput(quiet_hours_start_minute=60, quiet_hours_end_minute=60)
    assert check_preferences(change) is None


@pytest.mark.parametrize("tone", ["Sergeant Shouty", "", "drill sergeant!!x", "sergeant"])
def test_an_unknown_tone_is_refused(tone: str) -> None:
    with pytest.raises(ChangeRejected) as exc:
        check_preferences(ChangePreferencesInput(coaching_tone=tone))
    assert rejected(exc) == ("coaching_tone", "invalid_request")
    assert repr(tone) in exc.value.message
    assert "drill_sergeant" in exc.value.message and "supportive_friend" in exc.value.message


@pytest.mark.parametrize(
    "tone",
    [
        "Drill Sergeant",
        "drill_sergeant",
        "DRILL-SERGEANT",
        "Cowboy/Cowgirl",
        "data_nerd",
        "Minimalist",
        "yoga instructor",
    ],
)
def test_known_tone_ids_and_display_names_are_accepted(tone: str) -> None:
    assert check_preferences(ChangePreferencesInput(coaching_tone=tone)) is None


# --- categories_of, type_enabled -----------------------------------------------------------------------------


def test_categories_of_defaults_to_everything_on() -> None:
    assert categories_of(NotificationPrefs()) == dict.fromkeys(Category, True)


@pytest.mark.parametrize(("digest", "milestones"), [(False, True), (True, False), (False, False)])
def test_categories_of_reports_the_optional_switches_and_keeps_accountability_on(
    digest: bool, milestones: bool
) -> None:
    cats = categories_of(NotificationPrefs(weekly_digest_enabled=digest, milestones_enabled=milestones))
    assert set(cats) == set(Category)
    assert cats[Category.WEEKLY_DIGEST] is digest
    assert cats[Category.MILESTONE_ALERT] is milestones
    assert all(cats[c] is True for c in ACCOUNTABILITY)


def test_type_enabled_only_switches_off_digest_and_milestone() -> None:
    prefs = NotificationPrefs(weekly_digest_enabled=False, milestones_enabled=False)
    off = {t for t in NotificationType if not type_enabled(prefs, t)}
    assert off == {T.WEEKLY_DIGEST, T.MILESTONE_ALERT}
    assert all(type_enabled(NotificationPrefs(), t) for t in NotificationType)
    assert not type_enabled(NotificationPrefs(weekly_digest_enabled=False), T.WEEKLY_DIGEST)
    assert type_enabled(NotificationPrefs(weekly_digest_enabled=False), T.MILESTONE_ALERT)


# --- snooze_end, check_snooze --------------------------------------------------------------------------------


def test_snooze_end_with_until_is_that_time() -> None:
    until = datetime(2027, 5, 5, 8, 0, tzinfo=timezone(timedelta(hours=5, minutes=45)))
    assert snooze_end(SnoozeInput(until=until), NOW) == (until, "until")


@pytest.mark.parametrize("minutes", [1, 90, int(MAX_SNOOZE / timedelta(minutes=1))])
def test_snooze_end_with_a_duration_counts_from_now(minutes: int) -> None:
    assert snooze_end(SnoozeInput(duration_minutes=minutes), NOW) == (
        NOW + timedelta(minutes=minutes),
        "duration_minutes",
    )


@pytest.mark.parametrize(
    "change",
    [SnoozeInput(), SnoozeInput(until=NOW + timedelta(hours=1), duration_minutes=60)],
    ids=["neither", "both"],
)
def test_snooze_end_needs_exactly_one_of_until_and_duration(change: SnoozeInput) -> None:
    with pytest.raises(ChangeRejected) as exc:
        snooze_end(change, NOW)
    assert rejected(exc) == ("until", "invalid_request")


@pytest.mark.parametrize("minutes", [7 * 24 * 60 + 1, 10**9])
def test_snooze_duration_over_the_maximum_is_refused(minutes: int) -> None:
    with pytest.raises(ChangeRejected) as exc:
        snooze_end(SnoozeInput(duration_minutes=minutes), NOW)
    assert exc.value.field == "duration_minutes"
    assert "at most 7 days" in exc.value.message


@pytest.mark.parametrize("minutes", [0, -5])
def test_snooze_duration_must_be_positive(minutes: int) -> None:
    with pytest.raises(ValidationError):
        SnoozeInput(duration_minutes=minutes)


@pytest.mark.parametrize("delta", [timedelta(0), -timedelta(seconds=1), -timedelta(days=3)])
def test_a_snooze_ending_now_or_in_the_past_is_refused(delta: timedelta) -> None:
    with pytest.raises(ChangeRejected) as exc:
        check_snooze(NOW + delta, NOW, "Asia/Kathmandu")
    assert rejected(exc) == ("until", "invalid_request")
    assert "is not in the future" in exc.value.message


def test_a_snooze_ending_now_is_refused_even_when_written_in_another_offset() -> None:
    same_instant = NOW.astimezone(timezone(timedelta(hours=-9, minutes=-30)))
    with pytest.raises(ChangeRejected):
        check_snooze(same_instant, NOW, "UTC")


@pytest.mark.parametrize("delta", [timedelta(seconds=1), timedelta(hours=5), MAX_SNOOZE])
def test_a_snooze_up_to_seven_days_is_accepted(delta: timedelta) -> None:
    assert check_snooze(NOW + delta, NOW, "Australia/Lord_Howe") is None


@pytest.mark.parametrize("field", ["until", "duration_minutes"])
def test_a_snooze_longer_than_seven_days_is_refused_naming_the_latest_local_end(field: str) -> None:
    with pytest.raises(ChangeRejected) as exc:
        check_snooze(NOW + MAX_SNOOZE + timedelta(seconds=1), NOW, "Asia/Kolkata", field)
    assert exc.value.field == field
    # 12:00 UTC + 7 days is 17:30 in Kolkata.
    assert "Tue 2027-05-11 17:30 IST" in exc.value.message
    assert "pause the plan" in exc.value.message


@pytest.mark.parametrize(
    "until",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-14))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14))),
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=14))),
    ],
    ids=["year1+14", "year1-14", "year9999-14", "year9999+14"],
)
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_an_absurd_snooze_end_is_a_rejection_not_an_overflow(until: datetime, tz: str) -> None:
    with pytest.raises(ChangeRejected) as exc:
        check_snooze(until, NOW, tz)
    assert exc.value.field == "until"
    expected = "is not in the future" if until.year == 1 else "at most 7 days"
    assert expected in exc.value.message


# --- check_reschedule ----------------------------------------------------------------------------------------


def plan_for_reschedule(tz: str, sessions: list[PlanSession], **prefs: object) -> PlanSnapshot:
    return PlanSnapshot(
        plan_id=32,
        user_id="00000000-0000-0000-0000-000000000032",
        start_date=date(2027, 5, 1),
        created_at=datetime(2027, 4, 30, tzinfo=UTC),
        prefs=NotificationPrefs(timezone=tz, **prefs),  # type: ignore[arg-type]
        sessions=sessions,
    )


TODAY = date(2027, 5, 4)


def test_rescheduling_an_unknown_session_is_session_not_found() -> None:
    snap = plan_for_reschedule("UTC", [PlanSession(id=1, scheduled_date=TODAY)])
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, [], RescheduleSessionInput(plan_session_id=99, scheduled_date=TODAY), NOW)
    assert rejected(exc) == ("plan_session_id", "session_not_found")


def test_rescheduling_a_session_marked_completed_is_refused() -> None:
    snap = plan_for_reschedule("UTC", [PlanSession(id=1, scheduled_date=TODAY, completion_status="completed")])
    change = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY + timedelta(days=2))
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, [], change, NOW)
    assert rejected(exc) == ("plan_session_id", "invalid_request")
    assert "already completed" in exc.value.message


def test_rescheduling_a_session_with_a_matching_completion_is_refused_but_another_session_is_not() -> None:
    snap = plan_for_reschedule(
        "UTC", [PlanSession(id=1, scheduled_date=TODAY), PlanSession(id=2, scheduled_date=TODAY + timedelta(days=1))]
    )
    done = [completion("UTC", 5, NOW - timedelta(hours=3), 1)]
    later = TODAY + timedelta(days=3)
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, done, RescheduleSessionInput(plan_session_id=1, scheduled_date=later), NOW)
    assert exc.value.field == "plan_session_id"
    assert check_reschedule(snap, done, RescheduleSessionInput(plan_session_id=2, scheduled_date=later), NOW) == (
        later,
        None,
    )


def test_rescheduling_to_a_past_date_is_refused() -> None:
    snap = plan_for_reschedule("UTC", [PlanSession(id=1, scheduled_date=TODAY + timedelta(days=1))])
    change = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY - timedelta(days=1), start_minute=600)
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, [], change, NOW)
    assert exc.value.field == "scheduled_date"
    assert "2027-05-03 is in the past" in exc.value.message


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kathmandu", "America/New_York", "Australia/Lord_Howe"])
def test_a_start_time_earlier_today_is_refused_with_field_start_time_and_a_later_one_accepted(tz: str) -> None:
    now = local_to_utc(TODAY, 12 * 60, tz)
    snap = plan_for_reschedule(tz, [PlanSession(id=1, scheduled_date=TODAY + timedelta(days=2))])
    for minute in (11 * 60 + 59, 12 * 60):
        change = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY, start_minute=minute)
        with pytest.raises(ChangeRejected) as exc:
            check_reschedule(snap, [], change, now)
        assert rejected(exc) == ("start_time", "invalid_request")
        assert "is in the past" in exc.value.message
    change = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY, start_minute=12 * 60 + 1)
    assert check_reschedule(snap, [], change, now) == (TODAY, 12 * 60 + 1)


def test_the_past_is_decided_by_the_local_date_not_the_utc_date() -> None:
    # 02:00 on May 4 in Kolkata is still May 3 (20:30) in UTC.
    tz = "Asia/Kolkata"
    now = local_to_utc(TODAY, 2 * 60, tz)
    assert now.date() == TODAY - timedelta(days=1)
    snap = plan_for_reschedule(tz, [PlanSession(id=1, scheduled_date=TODAY + timedelta(days=2))])
    yesterday = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY - timedelta(days=1), start_minute=1439)
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, [], yesterday, now)
    assert exc.value.field == "scheduled_date"
    today = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY, start_minute=3 * 60)
    assert check_reschedule(snap, [], today, now) == (TODAY, 180)


def test_rescheduling_more_than_a_year_ahead_is_refused_and_the_last_day_accepted() -> None:
    snap = plan_for_reschedule("Asia/Kathmandu", [PlanSession(id=1, scheduled_date=TODAY + timedelta(days=1))])
    last = local_date(NOW + MAX_RESCHEDULE_AHEAD, "Asia/Kathmandu")
    assert last == date(2028, 5, 4)
    ok = RescheduleSessionInput(plan_session_id=1, scheduled_date=last, start_minute=8 * 60)
    assert check_reschedule(snap, [], ok, NOW) == (last, 8 * 60)
    too_far = RescheduleSessionInput(plan_session_id=1, scheduled_date=last + timedelta(days=1))
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, [], too_far, NOW)
    assert exc.value.field == "scheduled_date"
    assert "more than a year ahead" in exc.value.message


def test_a_valid_move_returns_the_new_date_and_minute() -> None:
    snap = plan_for_reschedule("Europe/London", [PlanSession(id=1, scheduled_date=TODAY + timedelta(days=1))])
    change = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY + timedelta(days=5), start_minute=345)
    assert check_reschedule(snap, [], change, NOW) == (TODAY + timedelta(days=5), 345)


def test_moving_only_the_time_keeps_the_sessions_date() -> None:
    snap = plan_for_reschedule("UTC", [PlanSession(id=1, scheduled_date=TODAY + timedelta(days=3))])
    change = RescheduleSessionInput(plan_session_id=1, start_minute=18 * 60)
    assert check_reschedule(snap, [], change, NOW) == (TODAY + timedelta(days=3), 18 * 60)


def test_a_session_without_a_date_needs_one() -> None:
    snap = plan_for_reschedule("UTC", [PlanSession(id=1)])
    with pytest.raises(ChangeRejected) as exc:
        check_reschedule(snap, [], RescheduleSessionInput(plan_session_id=1, start_minute=600), NOW)
    assert exc.value.field == "scheduled_date"
    assert "has no date yet" in exc.value.message


@pytest.mark.parametrize(
    ("session", "prefs", "accepted"),
    [
        # No start anywhere: the population default 07:00 is already past at 12:00.
        (PlanSession(id=1, scheduled_date=TODAY + timedelta(days=2)), {}, False),
        # The athlete's own default start, 18:00, is still ahead.
        (PlanSession(id=1, scheduled_date=TODAY + timedelta(days=2)), {"default_start_minute": 18 * 60}, True),
        # The session's own scheduled start decides: 11:00 is past, 13:00 is not.
        (PlanSession(id=1, scheduled_date=TODAY + timedelta(days=2), scheduled_start_minute=11 * 60), {}, False),
        (PlanSession(id=1, scheduled_date=TODAY + timedelta(days=2), scheduled_start_minute=13 * 60), {}, True),
    ],
    ids=["population-default", "athlete-default", "scheduled-past", "scheduled-ahead"],
)
@pytest.mark.parametrize("tz", ["UTC", "Asia/Kathmandu", "America/New_York"])
def test_with_only_a_date_the_sessions_start_rule_decides_whether_today_is_past(
    tz: str, session: PlanSession, prefs: dict[str, int], accepted: bool
) -> None:
    snap = plan_for_reschedule(tz, [session], **prefs)
    now = local_to_utc(TODAY, 12 * 60, tz)
    change = RescheduleSessionInput(plan_session_id=1, scheduled_date=TODAY)
    if accepted:
        assert check_reschedule(snap, [], change, now) == (TODAY, None)
    else:
        with pytest.raises(ChangeRejected) as exc:
            check_reschedule(snap, [], change, now)
        assert rejected(exc) == ("scheduled_date", "invalid_request")
        assert "is in the past" in exc.value.message
