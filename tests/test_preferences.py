"""An athlete's changes and how the schedule honours them, as pure functions (no I/O, no Temporal).

Covers ``coaching.preferences`` (which categories can be switched off, quiet hours and tone validation, snooze
length and end, moving a session) and the snooze and category rules of ``coaching.schedule.evaluate``: a snooze
holds the reminders (kickoff, brief, hype, missed follow-up, digest) to its end, drops the ones it would make stale
at their due time, never holds a celebration or milestone, and hands over to quiet hours when it ends inside them;
a category switched off never shows as upcoming and is logged as skipped at its due time. The time rules run in
New York on both DST days, London, Lord Howe (30-minute DST) on both its transition days, Kolkata (+05:30),
Kathmandu (+05:45) and UTC, asserted as local wall times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from coaching.models import (
    Category,
    ChangePreferencesInput,
    Completion,
    Decision,
    NotificationPrefs,
    NotificationType,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
    PlanState,
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
from coaching.schedule import FINAL_TYPES, FRESH_RUCK, MILESTONE_DELAY, Evaluation, candidates, evaluate
from coaching.timeutil import in_quiet_hours, local_date, local_minute, local_to_utc, to_local

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


# --- builders ------------------------------------------------------------------------------------------------


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


# --- evaluate: snooze ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=ZONE_DAY_IDS)
@pytest.mark.parametrize("ntype", HELD_BY_SNOOZE)
def test_a_snooze_holds_each_reminder_to_its_end(tz: str, day: date, ntype: NotificationType) -> None:
    snap = snapshot(tz, day)
    due = reminder(snap, ntype).due_at
    until = due + timedelta(minutes=30)
    state = PlanState(snoozed_until=until)

    before = evaluate(snap, state, due - timedelta(hours=1))
    (held,) = upcoming_of(before, ntype)
    assert held.due_at == due
    assert held.send_at == until
    assert local_minute(held.send_at, tz) == local_minute(due, tz) + 30
    assert to_local(held.send_at, tz).date() == to_local(due, tz).date()
    assert "snoozed" in held.reason

    during = evaluate(snap, state, due + timedelta(minutes=1))
    assert actions_of(during, ntype) == []
    assert [n.send_at for n in upcoming_of(during, ntype)] == [until]

    after = evaluate(snap, state, until)
    assert actions_of(after, ntype) == [(Decision.SEND, None)]
    assert upcoming_of(after, ntype) == []


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=ZONE_DAY_IDS)
def test_a_snooze_past_a_reminders_useful_time_drops_it_at_its_due_time(tz: str, day: date) -> None:
    snap = snapshot(tz, day)
    hype = reminder(snap, T.MORNING_HYPE)
    assert local_minute(hype.due_at, tz) == 6 * 60
    assert local_minute(hype.expires_at, tz) == 6 * 60 + 45
    state = PlanState(snoozed_until=local_to_utc(day, 8 * 60, tz))

    before = evaluate(snap, state, hype.due_at - timedelta(hours=1))
    (upcoming,) = upcoming_of(before, T.MORNING_HYPE)
    assert upcoming.send_at == hype.due_at  # woken at its due time to log the drop, not at the end of the snooze
    assert "will be dropped: the snooze lasts past its useful time" in upcoming.reason

    at_due = evaluate(snap, state, hype.due_at)
    ((decision, why),) = actions_of(at_due, T.MORNING_HYPE)
    assert decision is Decision.SKIP
    assert why is not None and why.startswith("snoozed:")
    assert upcoming_of(at_due, T.MORNING_HYPE) == []


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=ZONE_DAY_IDS)
def test_a_celebration_and_milestone_are_not_held_by_a_snooze(tz: str, day: date) -> None:
    snap = snapshot(tz, day)
    ruck_at = local_to_utc(day, 7 * 60 + 40, tz)
    state = PlanState(completions=[completion(tz, 77, ruck_at, 1)], snoozed_until=ruck_at + timedelta(hours=3))

    now = evaluate(snap, state, ruck_at)
    assert actions_of(now, T.COMPLETION_CELEBRATION) == [(Decision.SEND, None)]
    (milestone,) = upcoming_of(now, T.MILESTONE_ALERT)
    assert milestone.send_at == ruck_at + MILESTONE_DELAY
    assert "snoozed" not in milestone.reason

    later = evaluate(snap, state, ruck_at + MILESTONE_DELAY)
    assert actions_of(later, T.MILESTONE_ALERT) == [(Decision.SEND, None)]


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=ZONE_DAY_IDS)
@pytest.mark.parametrize("ended", [timedelta(0), timedelta(hours=2)], ids=["ends-now", "ended-earlier"])
def test_a_snooze_that_has_ended_changes_nothing(tz: str, day: date, ended: timedelta) -> None:
    snap = snapshot(tz, day)
    now = reminder(snap, T.EVENING_BRIEF).due_at
    plain = evaluate(snap, PlanState(), now)
    snoozed = evaluate(snap, PlanState(snoozed_until=now - ended), now)
    assert actions_of(snoozed, T.EVENING_BRIEF) == [(Decision.SEND, None)]
    assert [a.model_dump() for a in snoozed.actions] == [a.model_dump() for a in plain.actions]
    assert [n.model_dump() for n in snoozed.upcoming] == [n.model_dump() for n in plain.upcoming]
    assert not any("snoozed" in n.reason for n in snoozed.upcoming)


# (zone, day D, hours from 23:30 local on the eve of D to 07:00 local on D): the length of that night.
NIGHTS = [
    ("America/New_York", date(2027, 3, 14), 6.5),
    ("America/New_York", date(2026, 11, 1), 8.5),
    ("Europe/London", date(2027, 3, 28), 6.5),
    ("Europe/London", date(2026, 10, 25), 8.5),
    ("Australia/Lord_Howe", date(2026, 10, 4), 7.0),
    ("Australia/Lord_Howe", date(2027, 4, 4), 8.0),
    ("Asia/Kolkata", date(2027, 5, 4), 7.5),
    ("Asia/Kathmandu", date(2027, 5, 4), 7.5),
    ("UTC", date(2027, 5, 4), 7.5),
]


@pytest.mark.parametrize(("tz", "day", "hours"), NIGHTS, ids=[f"{tz}-{d}" for tz, d, _ in NIGHTS])
def test_a_snooze_ending_inside_quiet_hours_is_held_to_their_end_across_the_night(
    tz: str, day: date, hours: float
) -> None:
    eve = day - timedelta(days=1)
    created = local_to_utc(eve, 21 * 60, tz)
    snap = snapshot(
        tz, day + timedelta(days=3), created_at=created, quiet_hours_start_minute=22 * 60, quiet_hours_end_minute=7 * 60
    )
    until = local_to_utc(eve, 23 * 60 + 30, tz)
    ev = evaluate(snap, PlanState(snoozed_until=until), created)
    (kickoff,) = upcoming_of(ev, T.KICKOFF_PRIMER)
    assert to_local(kickoff.send_at, tz).date() == day
    assert local_minute(kickoff.send_at, tz) == 7 * 60
    assert kickoff.send_at - until == timedelta(hours=hours)
    assert "you snoozed reminders until" in kickoff.reason
    assert "held for quiet hours until" in kickoff.reason
    assert actions_of(ev, T.KICKOFF_PRIMER) == []


# (zone, snooze end, expected send) with quiet hours 01:00-03:00 local on the transition night itself.
TRANSITION_HOURS = [
    # New York spring forward: 01:30 EST -> 03:00 EDT, half an hour later.
    ("America/New_York", datetime(2027, 3, 14, 6, 30, tzinfo=UTC), datetime(2027, 3, 14, 7, 0, tzinfo=UTC)),
    # New York fall back: the first (EDT) and the second (EST) 01:30 both wait for 03:00 EST.
    ("America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 8, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 8, 0, tzinfo=UTC)),
    # London spring forward: 01:00 UTC is 02:00 BST, inside; 03:00 BST.
    ("Europe/London", datetime(2027, 3, 28, 1, 0, tzinfo=UTC), datetime(2027, 3, 28, 2, 0, tzinfo=UTC)),
    ("Europe/London", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 3, 0, tzinfo=UTC)),
    ("Europe/London", datetime(2026, 10, 25, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 3, 0, tzinfo=UTC)),
    # Lord Howe spring forward 02:00 -> 02:30: 01:30 (+10:30) -> 03:00 (+11).
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 15, 0, tzinfo=UTC), datetime(2026, 10, 3, 16, 0, tzinfo=UTC)),
    # Lord Howe fall back 02:00 -> 01:30: the first (+11) and the second (+10:30) 01:30 -> 03:00 (+10:30).
    ("Australia/Lord_Howe", datetime(2027, 4, 3, 14, 30, tzinfo=UTC), datetime(2027, 4, 3, 16, 30, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2027, 4, 3, 15, 0, tzinfo=UTC), datetime(2027, 4, 3, 16, 30, tzinfo=UTC)),
    ("Asia/Kolkata", datetime(2027, 5, 3, 20, 0, tzinfo=UTC), datetime(2027, 5, 3, 21, 30, tzinfo=UTC)),
    ("Asia/Kathmandu", datetime(2027, 5, 3, 19, 45, tzinfo=UTC), datetime(2027, 5, 3, 21, 15, tzinfo=UTC)),
    ("UTC", datetime(2027, 5, 4, 1, 30, tzinfo=UTC), datetime(2027, 5, 4, 3, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(
    ("tz", "until", "expected"), TRANSITION_HOURS, ids=[f"{tz}-{u:%Y%m%dT%H%MZ}" for tz, u, _ in TRANSITION_HOURS]
)
def test_a_snooze_ending_in_quiet_hours_over_the_transition_hour(tz: str, until: datetime, expected: datetime) -> None:
    created = until - timedelta(hours=1)
    snap = snapshot(tz, local_date(until, tz) + timedelta(days=3), created_at=created)
    snap.prefs.quiet_hours_start_minute, snap.prefs.quiet_hours_end_minute = 60, 180
    assert in_quiet_hours(local_minute(until, tz), (60, 180))
    (kickoff,) = upcoming_of(evaluate(snap, PlanState(snoozed_until=until), created), T.KICKOFF_PRIMER)
    assert kickoff.send_at == expected
    assert local_minute(kickoff.send_at, tz) == 180
    assert local_date(kickoff.send_at, tz) == local_date(until, tz)


# --- evaluate: categories switched off -----------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=ZONE_DAY_IDS)
def test_a_digest_switched_off_is_never_upcoming_and_is_skipped_when_due(tz: str, day: date) -> None:
    snap = snapshot(tz, day, weekly_digest_enabled=False)
    digest = reminder(snap, T.WEEKLY_DIGEST)  # the plan still calls for it
    assert local_minute(digest.due_at, tz) == 18 * 60
    created = snap.created_at
    early = evaluate(snap, PlanState(), created)
    assert upcoming_of(early, T.WEEKLY_DIGEST) == []
    # The accountability reminders are all still there.
    for ntype in (T.EVENING_BRIEF, T.MORNING_HYPE, T.MISSED_FOLLOWUP):
        assert len(upcoming_of(early, ntype)) == 1
    at_due = evaluate(snap, PlanState(), digest.due_at)
    ((decision, why),) = actions_of(at_due, T.WEEKLY_DIGEST)
    assert decision is Decision.SKIP
    assert why is not None and why.startswith("category_off")
    assert "plan_weekly_digest" in why
    # On: the same digest is sent at that moment.
    assert actions_of(evaluate(snapshot(tz, day), PlanState(), digest.due_at), T.WEEKLY_DIGEST) == [
        (Decision.SEND, None)
    ]


@pytest.mark.parametrize(("tz", "day"), ZONE_DAYS, ids=ZONE_DAY_IDS)
def test_milestones_switched_off_are_never_upcoming_and_skipped_when_due(tz: str, day: date) -> None:
    snap = snapshot(tz, day, milestones_enabled=False)
    ruck_at = local_to_utc(day, 7 * 60 + 40, tz)
    state = PlanState(completions=[completion(tz, 78, ruck_at, 1)])
    now = evaluate(snap, state, ruck_at)
    assert actions_of(now, T.COMPLETION_CELEBRATION) == [(Decision.SEND, None)]
    assert upcoming_of(now, T.MILESTONE_ALERT) == []
    assert actions_of(now, T.MILESTONE_ALERT) == []
    later = evaluate(snap, state, ruck_at + MILESTONE_DELAY)
    ((decision, why),) = actions_of(later, T.MILESTONE_ALERT)
    assert decision is Decision.SKIP
    assert why is not None and why.startswith("category_off")


def test_optional_categories_off_leave_accountability_reminders_identical() -> None:
    tz, day = "Australia/Lord_Howe", date(2027, 4, 4)
    on, off = snapshot(tz, day), snapshot(tz, day, weekly_digest_enabled=False, milestones_enabled=False)
    now = off.created_at - timedelta(hours=1)
    kept = (T.KICKOFF_PRIMER, T.EVENING_BRIEF, T.MORNING_HYPE, T.MISSED_FOLLOWUP)
    a, b = evaluate(on, PlanState(), now), evaluate(off, PlanState(), now)
    assert [n.model_dump() for n in a.upcoming if n.type in kept] == [
        n.model_dump() for n in b.upcoming if n.type in kept
    ]
    assert {n.type for n in b.upcoming} == set(kept)


# --- property ------------------------------------------------------------------------------------------------

QUIET = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 1439), st.integers(0, 1439)).filter(lambda q: q[0] != q[1]),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    zone_day=st.sampled_from(ZONE_DAYS),
    now_offset=st.integers(0, 4 * 24 * 60),
    snooze_offset=st.integers(-6 * 60, 3 * 24 * 60),
    quiet=QUIET,
    ruck_before=st.one_of(st.none(), st.integers(0, 6 * 60)),
)
def test_property_no_reminder_before_the_snooze_ends_and_nothing_inside_quiet_hours(
    zone_day: tuple[str, date],
    now_offset: int,
    snooze_offset: int,
    quiet: tuple[int, int] | None,
    ruck_before: int | None,
) -> None:
    tz, day = zone_day
    snap = snapshot(tz, day)
    snap.sessions.append(PlanSession(id=2, scheduled_date=day + timedelta(days=1), scheduled_start_minute=6 * 60))
    if quiet is not None:
        snap.prefs.quiet_hours_start_minute, snap.prefs.quiet_hours_end_minute = quiet
    now = snap.created_at + timedelta(minutes=now_offset)
    until = now + timedelta(minutes=snooze_offset)
    completions = [] if ruck_before is None else [completion(tz, 90, now - timedelta(minutes=ruck_before), 2)]
    state = PlanState(snoozed_until=until, completions=completions)
    ev = evaluate(snap, state, now)
    snoozed = until > now

    sent = [a.notification for a in ev.actions if a.decision is Decision.SEND]
    if sent and quiet is not None and in_quiet_hours(local_minute(now, tz), quiet):
        # Only a celebration of a ruck finished in the last 30 min goes out in quiet hours: the athlete is awake.
        assert ruck_before is not None and ruck_before <= FRESH_RUCK.total_seconds() // 60
        assert {n.type for n in sent} == {T.COMPLETION_CELEBRATION}
    if snoozed:
        assert all(n.type in FINAL_TYPES for n in sent)
    for n in ev.upcoming:
        assert n.send_at > now
        if "will be dropped" in n.reason:
            assert n.send_at == n.due_at  # logged as a skip at its due time
            continue
        if snoozed and n.type not in FINAL_TYPES:
            assert n.send_at >= until
        if quiet is not None:
            assert not in_quiet_hours(local_minute(n.send_at, tz), quiet)
        assert n.send_at <= n.expires_at
