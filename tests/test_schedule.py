"""The schedule rules as pure functions, at fixed instants, in several zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from coaching.models import (
    CadenceSnapshot,
    Completion,
    Decision,
    MissedState,
    NotificationPrefs,
    NotificationType,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
    PlanState,
    PlanStatus,
)
from coaching.schedule import RULES_V1, RULES_V2, candidates, evaluate, match_completion, missed_state_for
from coaching.timeutil import local_minute, local_to_utc, to_local

T = NotificationType


def plan(tz: str, sessions: list[PlanSession], created_at: datetime, **prefs: object) -> PlanSnapshot:
    return PlanSnapshot(
        plan_id=7,
        user_id="00000000-0000-0000-0000-000000000001",
        start_date=sessions[0].scheduled_date if sessions else date(2027, 1, 1),
        created_at=created_at,
        prefs=NotificationPrefs(timezone=tz, **prefs),  # type: ignore[arg-type]
        sessions=sessions,
    )


def of_type(items: list[PlannedNotification], ntype: NotificationType) -> list[PlannedNotification]:
    return [n for n in items if n.type is ntype]


def completion(snap: PlanSnapshot, ruck_id: int, at: datetime, session_id: int | None) -> Completion:
    tz = snap.prefs.timezone
    return Completion(
        ruck_id=ruck_id,
        completed_at=at,
        received_at=at,
        local_date=to_local(at, tz).date(),
        plan_session_id=session_id,
    )


ZONES = ["America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe", "Asia/Kolkata"]


@pytest.mark.parametrize("tz", ZONES)
def test_brief_and_hype_stay_at_local_wall_time_across_a_year(tz: str) -> None:
    sessions = [
        PlanSession(id=i, scheduled_date=date(2027, 1, 2) + timedelta(days=7 * i), scheduled_start_minute=7 * 60)
        for i in range(52)
    ]
    snap = plan(tz, sessions, datetime(2027, 1, 1, tzinfo=UTC))
    items = candidates(snap, [])
    briefs, hypes = of_type(items, T.EVENING_BRIEF), of_type(items, T.MORNING_HYPE)
    assert len(briefs) == len(hypes) == 52
    assert {local_minute(n.due_at, tz) for n in briefs} == {20 * 60}
    assert {local_minute(n.due_at, tz) for n in hypes} == {6 * 60}
    for n in briefs:
        assert to_local(n.due_at, tz).date() == n.local_date - timedelta(days=1)


# Each zone on a day whose eve is a DST transition (or an ordinary day where there is none).
TRANSITION_DAYS = {
    "America/New_York": date(2027, 3, 15),  # the evening before is the spring-forward day
    "Europe/London": date(2027, 11, 1),  # the evening before is the fall-back day
    "Asia/Kathmandu": date(2027, 5, 4),
    "Australia/Lord_Howe": date(2027, 4, 5),  # the evening before is Lord Howe's 30-minute fall-back day
    "Asia/Kolkata": date(2027, 5, 4),
}


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    ("start", "brief"), [(5 * 60, 19 * 60), (4 * 60, 18 * 60), (2 * 60, 17 * 60), (6 * 60, 20 * 60), (18 * 60, 20 * 60)]
)
def test_early_sessions_get_an_earlier_brief(tz: str, start: int, brief: int) -> None:
    day = TRANSITION_DAYS[tz]
    snap = plan(
        tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=start)], datetime(2027, 1, 1, tzinfo=UTC)
    )
    (n,) = of_type(candidates(snap, []), T.EVENING_BRIEF)
    assert local_minute(n.due_at, tz) == brief
    assert to_local(n.due_at, tz).date() == day - timedelta(days=1)


def test_session_without_time_uses_confident_cadence_then_default() -> None:
    session = PlanSession(id=1, scheduled_date=date(2027, 5, 4))
    snap = plan("UTC", [session], datetime(2027, 5, 1, tzinfo=UTC))
    (hype,) = of_type(candidates(snap, []), T.MORNING_HYPE)
    assert local_minute(hype.due_at, "UTC") == 6 * 60  # default 07:00 start − 60 min
    snap.cadence = CadenceSnapshot(window_start_minute=5 * 60, window_end_minute=6 * 60, confidence=0.8)
    (hype,) = of_type(candidates(snap, []), T.MORNING_HYPE)
    assert local_minute(hype.due_at, "UTC") == 4 * 60
    snap.cadence.confidence = 0.2
    (hype,) = of_type(candidates(snap, []), T.MORNING_HYPE)
    assert local_minute(hype.due_at, "UTC") == 6 * 60


@pytest.mark.parametrize("tz", ZONES)
def test_missed_followup_only_after_the_day_has_passed_and_only_without_a_completion(tz: str) -> None:
    day = TRANSITION_DAYS[tz] - timedelta(days=1)  # the follow-up's morning is the day after a transition
    s = PlanSession(id=1, scheduled_date=day, scheduled_start_minute=7 * 60)
    snap = plan(tz, [s], datetime(2027, 1, 1, tzinfo=UTC))
    (missed,) = of_type(candidates(snap, []), T.MISSED_FOLLOWUP)
    assert missed.due_at == local_to_utc(day + timedelta(days=1), 9 * 60, tz)
    assert local_minute(missed.due_at, tz) == 9 * 60
    # Late evening on the day itself: not due yet, whatever the start time was.
    evening = local_to_utc(day, 23 * 60, tz)
    assert not [a for a in evaluate(snap, PlanState(), evening).actions if a.notification.type is T.MISSED_FOLLOWUP]
    # A ruck at 22:00 that evening (reported later, e.g. an import) means no missed follow-up at all.
    state = PlanState(completions=[completion(snap, 1, local_to_utc(day, 22 * 60, tz), 1)])
    after = local_to_utc(day + timedelta(days=1), 9 * 60 + 1, tz)
    types = {a.notification.type for a in evaluate(snap, state, after).actions}
    assert T.MISSED_FOLLOWUP not in types


def test_completion_matches_its_own_day_not_the_oldest_open_session() -> None:
    """RuckTracker matched oldest-first, leaving today's session open and sending a false 'missed'."""
    tz = "America/Los_Angeles"
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 5, 3)),
        PlanSession(id=2, scheduled_date=date(2027, 5, 5)),
    ]
    snap = plan(tz, sessions, datetime(2027, 5, 1, tzinfo=UTC))
    # 19:00 local on May 5 is already May 6 in UTC: the local day decides.
    at = local_to_utc(date(2027, 5, 5), 19 * 60, tz)
    assert match_completion(snap, [], at) == 2
    # A day after a missed session, with no session that day: the nearest open one (the missed one) counts.
    assert match_completion(snap, [], local_to_utc(date(2027, 5, 4), 8 * 60, tz)) == 1
    # Far from any session: no match.
    assert match_completion(snap, [], local_to_utc(date(2027, 5, 20), 8 * 60, tz)) is None
    # Once matched, a session is not matched again.
    done = [completion(snap, 9, at, 2)]
    assert match_completion(snap, done, at + timedelta(hours=1)) is None


def test_missed_state_escalates() -> None:
    sessions = [PlanSession(id=i, scheduled_date=date(2027, 5, 1 + i)) for i in range(1, 6)]
    snap = plan("UTC", sessions, datetime(2027, 5, 1, tzinfo=UTC))
    done = {1}
    assert missed_state_for(snap, done, 2) is MissedState.FIRST_MISS
    assert missed_state_for(snap, done, 3) is MissedState.REPEATED_MISS
    assert missed_state_for(snap, done, 4) is MissedState.PLAN_AT_RISK
    assert missed_state_for(snap, {1, 2, 3}, 4) is MissedState.FIRST_MISS


@pytest.mark.parametrize("tz", ZONES)
def test_quiet_hours_hold_then_drop_what_no_longer_makes_sense(tz: str) -> None:
    # 06:00 session: the hype (05:00) falls in quiet hours 22:00–07:00 and would only go out after the start.
    # The 07:30 session's hype (06:30) is held to 07:00 and still goes out before the start.
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 6, 2), scheduled_start_minute=6 * 60),
        PlanSession(id=2, scheduled_date=date(2027, 6, 3), scheduled_start_minute=7 * 60 + 30),
    ]
    snap = plan(
        tz,
        sessions,
        datetime(2027, 6, 1, 8, tzinfo=UTC),
        quiet_hours_start_minute=22 * 60,
        quiet_hours_end_minute=7 * 60,
    )
    state = PlanState(handled={})
    at = local_to_utc(date(2027, 6, 2), 5 * 60 + 1, tz)
    actions = [a for a in evaluate(snap, state, at).actions if a.notification.type is T.MORNING_HYPE]
    assert [(a.notification.plan_session_id, a.decision) for a in actions] == [(1, Decision.SKIP)]
    assert actions[0].skip_reason and actions[0].skip_reason.startswith("quiet_hours")
    upcoming = [n for n in evaluate(snap, state, at).upcoming if n.type is T.MORNING_HYPE]
    assert upcoming[0].plan_session_id == 2
    assert local_minute(upcoming[0].send_at, tz) == 7 * 60
    assert "held for quiet hours" in upcoming[0].reason


def test_quiet_hours_of_zero_length_mean_none() -> None:
    prefs = NotificationPrefs(quiet_hours_start_minute=600, quiet_hours_end_minute=600)
    assert prefs.quiet_hours is None


@pytest.mark.parametrize(("rules", "reason"), [(RULES_V1, "stale"), (RULES_V2, "before_plan")])
def test_plan_created_late_sends_no_backlog(rules: int, reason: str) -> None:
    """A plan created at 23:00 whose first session was at 06:00 that day: nothing stale goes out, kickoff does
    (RULES_V2 names why: they were due before the plan existed)."""
    tz = "Asia/Kathmandu"
    created = local_to_utc(date(2027, 1, 5), 23 * 60, tz)
    snap = plan(
        tz,
        [
            PlanSession(id=1, scheduled_date=date(2027, 1, 5), scheduled_start_minute=6 * 60),
            PlanSession(id=2, scheduled_date=date(2027, 1, 7), scheduled_start_minute=6 * 60),
        ],
        created,
    )
    actions = evaluate(snap, PlanState(), created, rules=rules).actions
    sent = [a.notification.type for a in actions if a.decision is Decision.SEND]
    skipped = {a.notification.type: a.skip_reason for a in actions if a.decision is Decision.SKIP}
    assert sent == [T.KICKOFF_PRIMER]
    assert set(skipped) == {T.EVENING_BRIEF, T.MORNING_HYPE}
    assert all(r and r.startswith(reason) for r in skipped.values())


def test_daily_cap_skips_the_least_important_and_spares_celebrations() -> None:
    tz = "UTC"
    day = date(2027, 5, 4)
    sessions = [
        PlanSession(id=1, scheduled_date=day, scheduled_start_minute=9 * 60),
        PlanSession(id=2, scheduled_date=day, scheduled_start_minute=9 * 60),
    ]
    snap = plan(tz, sessions, datetime(2027, 5, 1, tzinfo=UTC), daily_cap=1)
    at = local_to_utc(day, 8 * 60, tz)
    state = PlanState(
        handled={
            n.notification_id: "sent" for n in candidates(snap, []) if n.due_at < at and n.type is not T.MORNING_HYPE
        },
        completions=[completion(snap, 1, at - timedelta(minutes=1), None)],
    )
    actions = evaluate(snap, state, at).actions
    decisions = sorted((a.notification.type.value, a.decision.value, (a.skip_reason or "")[:9]) for a in actions)
    assert decisions == [
        ("plan_completion_celebration", "send", ""),
        ("plan_morning_hype", "send", ""),
        ("plan_morning_hype", "skip", "daily_cap"),
    ]


def test_pause_skips_reminders_but_not_celebrations() -> None:
    day = date(2027, 5, 4)
    snap = plan(
        "UTC",
        [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=9 * 60)],
        datetime(2027, 5, 4, tzinfo=UTC),
    )
    at = local_to_utc(day, 8 * 60, "UTC")
    state = PlanState(
        status=PlanStatus.PAUSED,
        completions=[completion(snap, 5, at, None)],
        handled={n.notification_id: "sent" for n in candidates(snap, []) if n.type is T.KICKOFF_PRIMER},
    )
    by_type = {a.notification.type: a for a in evaluate(snap, state, at).actions}
    assert by_type[T.COMPLETION_CELEBRATION].decision is Decision.SEND
    assert by_type[T.MORNING_HYPE].decision is Decision.SKIP
    assert (by_type[T.MORNING_HYPE].skip_reason or "").startswith("plan_paused")


def test_weekly_digest_on_the_digest_day_with_the_weeks_adherence() -> None:
    tz = "Australia/Lord_Howe"
    sessions = [PlanSession(id=i, scheduled_date=date(2027, 3, 29) + timedelta(days=2 * i)) for i in range(6)]
    snap = plan(tz, sessions, datetime(2027, 3, 28, tzinfo=UTC))
    comps = [completion(snap, 1, local_to_utc(date(2027, 3, 29), 8 * 60, tz), 0)]
    digests = of_type(candidates(snap, comps), T.WEEKLY_DIGEST)
    assert [d.local_date for d in digests] == [date(2027, 4, 4), date(2027, 4, 11)]
    # 2027-04-04 is Lord Howe's DST end day: 18:00 local is +10:30 → 07:30 UTC.
    assert digests[0].due_at == datetime(2027, 4, 4, 7, 30, tzinfo=UTC)
    assert digests[0].facts == {"planned": "4", "completed": "1", "adherence_pct": "25"}


def test_milestones_first_session_percentages_and_streaks() -> None:
    sessions = [PlanSession(id=i, scheduled_date=date(2027, 5, 1) + timedelta(days=i)) for i in range(1, 9)]
    snap = plan("UTC", sessions, datetime(2027, 5, 1, tzinfo=UTC))
    comps = [completion(snap, 100 + i, datetime(2027, 5, 1 + i, 10, tzinfo=UTC), i) for i in range(1, 9)]
    keys = [n.subkey for n in of_type(candidates(snap, comps), T.MILESTONE_ALERT)]
    assert keys == ["first", "pct25", "streak3", "pct50", "streak5", "pct75", "pct100"]


def test_business_keys_are_unique_across_the_plan() -> None:
    sessions = [PlanSession(id=i, scheduled_date=date(2027, 5, 1) + timedelta(days=i)) for i in range(1, 30)]
    snap = plan("Europe/London", sessions, datetime(2027, 5, 1, tzinfo=UTC))
    ids = [n.notification_id for n in candidates(snap, [])]
    assert len(ids) == len(set(ids))


def test_no_missed_followup_for_a_session_over_before_the_plan_existed() -> None:
    tz = "Asia/Kathmandu"
    created = local_to_utc(date(2027, 1, 5), 23 * 60, tz)
    snap = plan(tz, [PlanSession(id=1, scheduled_date=date(2027, 1, 5), scheduled_start_minute=6 * 60)], created)
    assert not of_type(candidates(snap, []), T.MISSED_FOLLOWUP)
    snap.created_at = local_to_utc(date(2027, 1, 4), 23 * 60, tz)
    assert of_type(candidates(snap, []), T.MISSED_FOLLOWUP)


def test_late_signup_kickoff_names_the_first_session_ahead_and_the_digest_ignores_the_past_one() -> None:
    tz = "Asia/Kathmandu"
    created = local_to_utc(date(2027, 1, 4), 23 * 60, tz)  # a Monday; that morning's session is over
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 1, 4), scheduled_start_minute=6 * 60),
        PlanSession(id=2, scheduled_date=date(2027, 1, 6), scheduled_start_minute=7 * 60),
    ]
    snap = plan(tz, sessions, created, quiet_hours_start_minute=22 * 60 + 30, quiet_hours_end_minute=6 * 60 + 30)
    items = candidates(snap, [])
    (kickoff,) = of_type(items, T.KICKOFF_PRIMER)
    assert kickoff.facts["start_date"] == "2027-01-06"
    (digest,) = of_type(items, T.WEEKLY_DIGEST)
    assert digest.facts["planned"] == "1"
    # The past session's hype was due before the plan existed (RULES_V1 called it stale), not a quiet-hours drop.
    for rules, reason in ((RULES_V1, "stale"), (RULES_V2, "before_plan")):
        actions = {a.notification.notification_id: a for a in evaluate(snap, PlanState(), created, rules=rules).actions}
        hype = next(a for a in actions.values() if a.notification.type is T.MORNING_HYPE)
        assert (hype.skip_reason or "").startswith(reason)


def test_an_explicit_session_that_is_already_done_is_not_swapped_for_another() -> None:
    sessions = [
        PlanSession(id=10, scheduled_date=date(2027, 5, 4), completion_status="completed"),
        PlanSession(id=11, scheduled_date=date(2027, 5, 5)),
    ]
    snap = plan("UTC", sessions, datetime(2027, 5, 1, tzinfo=UTC))
    at = datetime(2027, 5, 4, 12, tzinfo=UTC)
    assert match_completion(snap, [], at, explicit_session_id=10) is None
    assert match_completion(snap, [], at, explicit_session_id=11) == 11
    assert match_completion(snap, [], at) == 11  # without the hint: nearest open one


def test_a_ruck_crossing_midnight_counts_for_the_day_it_started() -> None:
    tz = "America/New_York"
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 5, 4), scheduled_start_minute=23 * 60),
        PlanSession(id=2, scheduled_date=date(2027, 5, 5), scheduled_start_minute=18 * 60),
    ]
    snap = plan(tz, sessions, datetime(2027, 5, 1, tzinfo=UTC))
    started = local_to_utc(date(2027, 5, 4), 23 * 60 + 5, tz)
    assert match_completion(snap, [], started) == 1  # the workflow matches on the start when it is known


def test_quiet_hours_apply_at_the_moment_it_could_go_out() -> None:
    """A worker back at 20:45 inside quiet hours (20:30-07:00) does not send the 20:00 brief then."""
    tz = "Europe/London"
    snap = plan(
        tz,
        [PlanSession(id=1, scheduled_date=date(2027, 6, 3), scheduled_start_minute=9 * 60)],
        datetime(2027, 6, 1, tzinfo=UTC),
        quiet_hours_start_minute=20 * 60 + 30,
        quiet_hours_end_minute=7 * 60,
    )
    handled = {n.notification_id: "sent" for n in candidates(snap, []) if n.type is T.KICKOFF_PRIMER}
    at = local_to_utc(date(2027, 6, 2), 20 * 60 + 45, tz)
    (brief,) = [
        a for a in evaluate(snap, PlanState(handled=handled), at).actions if a.notification.type is T.EVENING_BRIEF
    ]
    assert brief.decision is Decision.SKIP and (brief.skip_reason or "").startswith("quiet_hours")


def test_kickoff_key_does_not_change_with_the_time_zone() -> None:
    created = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # still Feb 28 in New York
    sessions = [PlanSession(id=1, scheduled_date=date(2027, 3, 3))]
    keys = {
        of_type(candidates(plan(tz, sessions, created), []), T.KICKOFF_PRIMER)[0].notification_id
        for tz in ("UTC", "America/New_York", "Asia/Kathmandu")
    }
    assert len(keys) == 1


def test_daily_cap_goes_to_the_most_important_not_the_oldest() -> None:
    tz = "UTC"
    day = date(2027, 5, 2)  # a Sunday: digest at 05:00 and a 07:00 session's hype at 06:00
    snap = plan(
        tz,
        [
            PlanSession(id=1, scheduled_date=date(2027, 4, 29), scheduled_start_minute=7 * 60),
            PlanSession(id=2, scheduled_date=day, scheduled_start_minute=7 * 60),
        ],
        datetime(2027, 4, 20, tzinfo=UTC),
        daily_cap=1,
        weekly_digest_minute=5 * 60,
    )
    at = local_to_utc(day, 6 * 60 + 10, tz)  # the worker comes back after both fell due
    handled = {n.notification_id: "sent" for n in candidates(snap, []) if n.due_at < local_to_utc(day, 0, tz)}
    decisions = {a.notification.type: a.decision for a in evaluate(snap, PlanState(handled=handled), at).actions}
    assert decisions[T.MORNING_HYPE] is Decision.SEND
    assert decisions[T.WEEKLY_DIGEST] is Decision.SKIP


def test_digest_counts_only_sessions_up_to_the_digest_itself() -> None:
    day = date(2027, 5, 2)  # Sunday; digest at 18:00; a 19:00 session that evening belongs to next week
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 4, 28), scheduled_start_minute=7 * 60),
        PlanSession(id=2, scheduled_date=day, scheduled_start_minute=19 * 60),
    ]
    snap = plan("UTC", sessions, datetime(2027, 4, 20, tzinfo=UTC))
    digests = {d.local_date: d.facts for d in of_type(candidates(snap, []), T.WEEKLY_DIGEST)}
    assert digests[day]["planned"] == "1"
    assert digests[day + timedelta(days=7)]["planned"] == "1"


def test_milestones_of_old_imported_rucks_are_stale_not_a_burst() -> None:
    sessions = [PlanSession(id=i, scheduled_date=date(2027, 5, 1) + timedelta(days=i)) for i in range(1, 5)]
    snap = plan("UTC", sessions, datetime(2027, 5, 1, tzinfo=UTC))
    now = datetime(2027, 5, 20, tzinfo=UTC)
    comps = [
        Completion(
            ruck_id=i,
            completed_at=datetime(2027, 5, 1 + i, 8, tzinfo=UTC),
            received_at=now,
            local_date=date(2027, 5, 1 + i),
            plan_session_id=i,
        )
        for i in range(1, 5)
    ]
    later = now + timedelta(minutes=3)
    actions = evaluate(snap, PlanState(completions=comps), later).actions
    assert not [a for a in actions if a.decision is Decision.SEND and a.notification.type is T.MILESTONE_ALERT]


def test_missed_state_ignores_sessions_before_signup_and_skipped_ones() -> None:
    created = datetime(2027, 5, 4, 12, tzinfo=UTC)
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 5, 2)),
        PlanSession(id=2, scheduled_date=date(2027, 5, 3)),
        PlanSession(id=3, scheduled_date=date(2027, 5, 5), completion_status="skipped"),
        PlanSession(id=4, scheduled_date=date(2027, 5, 6)),
    ]
    snap = plan("UTC", sessions, created)
    assert missed_state_for(snap, set(), 4) is MissedState.FIRST_MISS


def test_end_of_quiet_hours_on_a_fall_back_night_is_never_earlier() -> None:
    from coaching.timeutil import end_of_quiet_hours

    tz = "America/New_York"
    second_0130 = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # 01:30 EST, the second one
    held = end_of_quiet_hours(second_0130, tz, (0, 105))
    assert held >= second_0130 and held == datetime(2027, 11, 7, 6, 45, tzinfo=UTC)


def test_no_missed_followup_for_a_session_moved_onto_a_day_already_over() -> None:
    from coaching.schedule import session_seen_key

    snap = plan(
        "UTC",
        [PlanSession(id=1, scheduled_date=date(2027, 5, 4), scheduled_start_minute=8 * 60)],
        datetime(2027, 5, 1, tzinfo=UTC),
    )
    after = datetime(2027, 5, 5, 9, 30, tzinfo=UTC)
    moved_late = PlanState(sessions_seen={session_seen_key(1, date(2027, 5, 4)): datetime(2027, 5, 4, 15, tzinfo=UTC)})
    known_early = PlanState(sessions_seen={session_seen_key(1, date(2027, 5, 4)): datetime(2027, 5, 2, tzinfo=UTC)})
    assert not [a for a in evaluate(snap, moved_late, after).actions if a.notification.type is T.MISSED_FOLLOWUP]
    assert [a for a in evaluate(snap, known_early, after).actions if a.notification.type is T.MISSED_FOLLOWUP]


def test_a_milestone_reached_again_after_sessions_are_added_keeps_its_key() -> None:
    sessions = [PlanSession(id=i, scheduled_date=date(2027, 5, 1) + timedelta(days=i)) for i in range(1, 5)]
    snap = plan("UTC", sessions, datetime(2027, 4, 30, tzinfo=UTC))
    comps = [completion(snap, 100 + i, datetime(2027, 5, 1 + i, 10, tzinfo=UTC), i) for i in range(1, 3)]
    before = {n.subkey: n.notification_id for n in of_type(candidates(snap, comps), T.MILESTONE_ALERT)}
    snap.sessions += [PlanSession(id=i, scheduled_date=date(2027, 5, 1) + timedelta(days=i)) for i in range(5, 9)]
    comps += [completion(snap, 100 + i, datetime(2027, 5, 1 + i, 10, tzinfo=UTC), i) for i in range(3, 5)]
    after = {n.subkey: n.notification_id for n in of_type(candidates(snap, comps), T.MILESTONE_ALERT)}
    assert before["pct50"] == after["pct50"]  # reached by another ruck now, but the same notification: sent once


def test_digest_weeks_meet_exactly_across_spring_forward() -> None:
    tz = "America/New_York"  # 2027-03-14 springs forward: that week is 167 hours long
    sessions = [
        PlanSession(id=1, scheduled_date=date(2027, 3, 7), scheduled_start_minute=17 * 60 + 30),
        PlanSession(id=2, scheduled_date=date(2027, 3, 10), scheduled_start_minute=7 * 60),
        PlanSession(id=3, scheduled_date=date(2027, 3, 14), scheduled_start_minute=18 * 60 + 30),
    ]
    snap = plan(tz, sessions, datetime(2027, 3, 1, tzinfo=UTC))
    digests = {d.local_date: int(d.facts["planned"]) for d in of_type(candidates(snap, []), T.WEEKLY_DIGEST)}
    assert digests == {date(2027, 3, 7): 1, date(2027, 3, 14): 1, date(2027, 3, 21): 1}


def test_notifications_long_past_their_limit_are_neither_sent_nor_logged() -> None:
    """A plan started weeks late logs the recent stale ones with a reason, and forgets those over 14 days past."""
    sessions = [
        PlanSession(id=i, scheduled_date=date(2027, 5, 1) + timedelta(days=i), scheduled_start_minute=8 * 60)
        for i in range(1, 31)
    ]
    snap = plan("UTC", sessions, datetime(2027, 4, 30, tzinfo=UTC))
    now = datetime(2027, 6, 1, 12, tzinfo=UTC)
    actions = evaluate(snap, PlanState(), now).actions
    for a in actions:  # what is still within its window goes; the rest is logged as stale
        assert (a.decision is Decision.SEND) == (a.notification.expires_at >= now)
        assert a.decision is Decision.SEND or (a.skip_reason or "").startswith("stale")
    assert min(a.notification.expires_at for a in actions) >= now - timedelta(days=14)
    assert {a.notification.plan_session_id for a in actions if a.notification.type is T.MORNING_HYPE} == set(
        range(18, 31)
    )


def test_session_copy_facts_tell_the_plan_so_far() -> None:
    created = datetime(2027, 1, 3, 12, tzinfo=UTC)
    monday = date(2027, 1, 4)
    sessions = [
        PlanSession(id=1, planned_week=1, scheduled_date=monday, scheduled_start_minute=420),
        PlanSession(id=2, planned_week=1, scheduled_date=monday + timedelta(days=2), scheduled_start_minute=420),
        PlanSession(id=3, planned_week=1, scheduled_date=monday + timedelta(days=4), scheduled_start_minute=420),
        PlanSession(id=4, planned_week=2, scheduled_date=monday + timedelta(days=7), scheduled_start_minute=420),
        PlanSession(id=5, planned_week=2, scheduled_date=monday + timedelta(days=9), scheduled_start_minute=420),
    ]
    snap = plan("Asia/Kathmandu", sessions, created)
    done = [
        completion(snap, 10, local_to_utc(monday, 450, "Asia/Kathmandu"), 1),
        completion(snap, 11, local_to_utc(monday + timedelta(days=2), 450, "Asia/Kathmandu"), 2),
    ]
    hypes = {n.plan_session_id: n.facts for n in of_type(candidates(snap, done), T.MORNING_HYPE)}
    assert hypes[3].items() >= {"plan_weeks": "2", "week_planned": "3", "week_completed": "2", "streak": "2"}.items()
    assert hypes[3]["recent_misses"] == "0"
    # Session 3 went by without a ruck: the next one is a comeback after one miss, the streak is broken.
    assert (hypes[4]["streak"], hypes[4]["recent_misses"], hypes[4]["week_completed"]) == ("0", "1", "0")
    assert (hypes[5]["streak"], hypes[5]["recent_misses"], hypes[5]["week_planned"]) == ("0", "2", "2")
