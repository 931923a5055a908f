"""How the schedule honours an athlete's changes, as pure functions (no I/O, no Temporal): the snooze and
category rules of ``coaching.schedule.evaluate``.

A snooze holds the reminders (kickoff, brief, hype, missed follow-up, digest) to its end, drops the ones it would
make stale at their due time, never holds a celebration or milestone, and hands over to quiet hours when it ends
inside them; a category switched off never shows as upcoming and is logged as skipped at its due time. The time
rules run in New York on both DST days, London, Lord Howe (30-minute DST) on both its transition days, Kolkata
(+05:30), Kathmandu (+05:45) and UTC, asserted as local wall times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coaching.models import Decision, NotificationType, PlanSession, PlanState
from coaching.schedule import FINAL_TYPES, FRESH_RUCK, MILESTONE_DELAY, evaluate
from coaching.timeutil import in_quiet_hours, local_date, local_minute, local_to_utc, to_local
from tests.preferences_helpers import (
    HELD_BY_SNOOZE,
    ZONE_DAY_IDS,
    ZONE_DAYS,
    T,
    actions_of,
    completion,
    reminder,
    snapshot,
    upcoming_of,
)

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
