"""Issue 11's timing rules (coaching.schedule RULES_V2) across zones: +05:30, +05:45, New York's two DST nights and
Lord Howe's half-hour ones. Each test also shows what RULES_V1 (plans started before the timing-rules-v2 patch)
did, so each fails without its rule.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from coaching.content import render_variant
from coaching.models import (
    Completion,
    Decision,
    MissedState,
    NotificationPrefs,
    NotificationType,
    PausePeriod,
    PlanSession,
    PlanSnapshot,
    PlanState,
    PlanStatus,
)
from coaching.schedule import (
    BRIEF_SLEEP_BUFFER,
    RULES_V1,
    RULES_V2,
    Evaluation,
    candidates,
    evaluate,
)
from coaching.timeutil import local_minute, local_to_utc, to_local

T = NotificationType
NY, KOLKATA, KATHMANDU, LORD_HOWE = "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"
ZONES = [NY, KOLKATA, KATHMANDU, LORD_HOWE, "Europe/London"]
CREATED = datetime(2027, 1, 1, tzinfo=UTC)


def plan(tz: str, sessions: list[PlanSession], created: datetime = CREATED, **prefs: object) -> PlanSnapshot:
    return PlanSnapshot(
        plan_id=11,
        user_id="00000000-0000-0000-0000-000000000011",
        start_date=min((s.scheduled_date for s in sessions if s.scheduled_date), default=date(2027, 1, 1)),
        created_at=created,
        prefs=NotificationPrefs(timezone=tz, **prefs),  # type: ignore[arg-type]
        sessions=sessions,
    )


def at(day: date, minute: int, tz: str) -> datetime:
    return local_to_utc(day, minute, tz)


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


def one(items: list[object], ntype: T) -> object:
    (n,) = [i for i in items if getattr(i, "type", None) is ntype]
    return n


def actions(ev: Evaluation) -> dict[T, tuple[Decision, str]]:
    return {a.notification.type: (a.decision, a.skip_reason or "") for a in ev.actions}


def ruck(tz: str, ruck_id: int, finished: datetime, reported: datetime, session_id: int | None) -> Completion:
    return Completion(
        ruck_id=ruck_id,
        completed_at=finished,
        received_at=reported,
        local_date=to_local(finished, tz).date(),
        plan_session_id=session_id,
    )


# --- the evening brief's 10 h: elapsed time -------------------------------------------------------------------

# (zone, session day, start, V2 brief (local, the evening before), V1 brief): the night before each session is a
# DST transition where the zone has one.
BRIEF_CASES = [
    pytest.param(NY, date(2027, 3, 14), hm(5, 30), hm(18, 30), hm(19, 30), id="ny-spring-forward"),
    pytest.param(NY, date(2027, 11, 7), hm(5, 30), hm(20), hm(19, 30), id="ny-fall-back"),
    pytest.param(NY, date(2027, 11, 7), hm(5), hm(20), hm(19), id="ny-fall-back-05:00"),
    pytest.param(LORD_HOWE, date(2027, 10, 3), hm(5), hm(18, 30), hm(19), id="lord-howe-spring-forward"),
    pytest.param(LORD_HOWE, date(2027, 4, 4), hm(5), hm(19, 30), hm(19), id="lord-howe-fall-back"),
    pytest.param(KOLKATA, date(2027, 3, 14), hm(5, 30), hm(19, 30), hm(19, 30), id="kolkata"),
    pytest.param(KATHMANDU, date(2027, 3, 14), hm(5, 15), hm(19, 15), hm(19, 15), id="kathmandu"),
]


@pytest.mark.parametrize(("tz", "day", "start", "v2", "v1"), BRIEF_CASES)
def test_the_brief_leaves_ten_hours_of_elapsed_time_on_dst_nights(
    tz: str, day: date, start: int, v2: int, v1: int
) -> None:
    snap = plan(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=start)])
    session_at = at(day, start, tz)
    eve = day - timedelta(days=1)
    new = one(candidates(snap, [], rules=RULES_V2), T.EVENING_BRIEF)
    old = one(candidates(snap, [], rules=RULES_V1), T.EVENING_BRIEF)
    assert to_local(new.due_at, tz).date() == eve and local_minute(new.due_at, tz) == v2  # type: ignore[attr-defined]
    assert local_minute(old.due_at, tz) == v1  # type: ignore[attr-defined]
    # At least 10 h before the session, and no earlier than needed: the usual 20:00, or exactly 10 h before.
    assert session_at - new.due_at >= BRIEF_SLEEP_BUFFER  # type: ignore[attr-defined]
    assert new.due_at == min(at(eve, hm(20), tz), session_at - BRIEF_SLEEP_BUFFER)  # type: ignore[attr-defined]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("day", [date(2027, 3, 14), date(2027, 3, 28), date(2027, 10, 3), date(2027, 11, 7)])
@pytest.mark.parametrize("start", [hm(2), hm(4, 45), hm(5, 30), hm(6), hm(7)])
def test_the_brief_is_never_less_than_ten_hours_before_unless_held_at_seventeen(tz: str, day: date, start: int) -> None:
    snap = plan(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=start)])
    brief = one(candidates(snap, [], rules=RULES_V2), T.EVENING_BRIEF)
    due = brief.due_at  # type: ignore[attr-defined]
    assert to_local(due, tz).date() == day - timedelta(days=1)
    assert at(day, start, tz) - due >= BRIEF_SLEEP_BUFFER or local_minute(due, tz) == hm(17)
    assert local_minute(due, tz) <= hm(20)


# --- nothing due before the plan was created --------------------------------------------------------------------


@pytest.mark.parametrize("tz", [NY, KOLKATA, KATHMANDU, LORD_HOWE])
def test_a_plan_created_at_23_50_sends_the_kickoff_not_the_brief_due_at_21_00(tz: str) -> None:
    day = date(2027, 5, 4)
    created = at(day - timedelta(days=1), hm(23, 50), tz)
    snap = plan(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=hm(7))], created)
    snap.prefs.evening_brief_minute = hm(21)
    now = created + timedelta(minutes=1)
    new = actions(evaluate(snap, PlanState(), now, rules=RULES_V2))
    assert new[T.KICKOFF_PRIMER] == (Decision.SEND, "")
    decision, reason = new[T.EVENING_BRIEF]
    assert decision is Decision.SKIP and reason.startswith("before_plan: ")
    # The kickoff covers the first session: it names it.
    kickoff = one(candidates(snap, [], rules=RULES_V2), T.KICKOFF_PRIMER)
    assert kickoff.facts["start_date"] == day.isoformat()  # type: ignore[attr-defined]
    # The hype, due after the plan was created, still comes at its time.
    upcoming = evaluate(snap, PlanState(), now, rules=RULES_V2).upcoming
    assert [n.type for n in upcoming if n.plan_session_id == 1][0] is T.MORNING_HYPE
    # RULES_V1 sent the brief together with the kickoff.
    assert actions(evaluate(snap, PlanState(), now, rules=RULES_V1))[T.EVENING_BRIEF] == (Decision.SEND, "")


# --- celebrations and quiet hours -----------------------------------------------------------------------------

QUIET = {"quiet_hours_start_minute": hm(22), "quiet_hours_end_minute": hm(7)}


@pytest.mark.parametrize("tz", [NY, KOLKATA, KATHMANDU, LORD_HOWE])
@pytest.mark.parametrize(
    "night",
    [date(2027, 5, 4), date(2027, 3, 13), date(2027, 11, 6), date(2027, 10, 2), date(2027, 4, 3)],
    ids=["ordinary", "ny-spring", "ny-fall", "lh-spring", "lh-fall"],
)
def test_a_fresh_ruck_is_celebrated_at_once_in_quiet_hours(tz: str, night: date) -> None:
    snap = plan(tz, [PlanSession(id=1, scheduled_date=night, scheduled_start_minute=hm(21))], **QUIET)
    finished = at(night, hm(23, 10), tz)
    now = finished + timedelta(minutes=5)
    state = PlanState(completions=[ruck(tz, 5, finished, now, 1)])
    assert actions(evaluate(snap, state, now, rules=RULES_V2))[T.COMPLETION_CELEBRATION] == (Decision.SEND, "")
    # RULES_V1 held it to 07:00.
    held = evaluate(snap, state, now, rules=RULES_V1)
    assert T.COMPLETION_CELEBRATION not in actions(held)
    celebration = one(held.upcoming, T.COMPLETION_CELEBRATION)
    assert local_minute(celebration.send_at, tz) == hm(7)  # type: ignore[attr-defined]


@pytest.mark.parametrize("tz", [NY, KOLKATA, KATHMANDU, LORD_HOWE])
def test_an_older_ruck_waits_for_the_end_of_quiet_hours_within_its_12_hours(tz: str) -> None:
    night = date(2027, 5, 4)
    snap = plan(tz, [PlanSession(id=1, scheduled_date=night, scheduled_start_minute=hm(20))], **QUIET)
    now = at(night, hm(23, 30), tz)
    # Finished 21:30, synced at 23:30: not fresh, held to 07:00 (within 12 h of 21:30).
    state = PlanState(completions=[ruck(tz, 6, at(night, hm(21, 30), tz), now, 1)])
    ev = evaluate(snap, state, now, rules=RULES_V2)
    assert T.COMPLETION_CELEBRATION not in actions(ev)
    celebration = one(ev.upcoming, T.COMPLETION_CELEBRATION)
    assert local_minute(celebration.send_at, tz) == hm(7)  # type: ignore[attr-defined]
    # Finished 31 min before it could go: no longer fresh, held too.
    state = PlanState(completions=[ruck(tz, 7, now - timedelta(minutes=31), now, 1)])
    assert T.COMPLETION_CELEBRATION not in actions(evaluate(snap, state, now, rules=RULES_V2))
    # Finished 18:30: 07:00 would be past its 12 h, so it is dropped for quiet hours (at once, with that reason).
    state = PlanState(completions=[ruck(tz, 8, at(night, hm(18, 30), tz), now, 1)])
    decision, reason = actions(evaluate(snap, state, now, rules=RULES_V2))[T.COMPLETION_CELEBRATION]
    assert decision is Decision.SKIP and reason.startswith("quiet_hours: ")


# --- skip reasons that say what happened ----------------------------------------------------------------------


@pytest.mark.parametrize("tz", [NY, KOLKATA, KATHMANDU, LORD_HOWE])
@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(minutes=20)])
def test_a_hype_held_by_quiet_hours_up_to_the_start_is_dropped_as_quiet_hours(tz: str, late: timedelta) -> None:
    """Session 07:00, hype due 06:30 (a 30 min lead), quiet hours until 07:00: the hype could only go at the start.
    Whether the workflow looks at its due time or a little after the start (``late``), the reason is quiet hours,
    not stale."""
    day = date(2027, 5, 4)
    snap = plan(
        tz,
        [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=hm(7))],
        morning_hype_lead_minutes=30,
        **QUIET,
    )
    state = PlanState(handled={n.notification_id: "sent" for n in candidates(snap, []) if n.type is T.EVENING_BRIEF})
    now = at(day, hm(6, 30), tz) if late == timedelta(0) else at(day, hm(7), tz) + late
    decision, reason = actions(evaluate(snap, state, now, rules=RULES_V2))[T.MORNING_HYPE]
    assert decision is Decision.SKIP and reason.startswith("quiet_hours: "), reason
    # RULES_V1: at its due time it was planned for the session's start; a wake a moment late called it stale.
    old = evaluate(snap, state, now, rules=RULES_V1)
    if late == timedelta(0):
        assert local_minute(one(old.upcoming, T.MORNING_HYPE).send_at, tz) == hm(7)  # type: ignore[attr-defined]
    else:
        assert actions(old)[T.MORNING_HYPE][1].startswith("stale: ")


@pytest.mark.parametrize("tz", [NY, KATHMANDU])
def test_an_old_import_is_ruck_too_old_not_stale(tz: str) -> None:
    day = date(2027, 5, 4)
    snap = plan(tz, [PlanSession(id=1, scheduled_date=day, scheduled_start_minute=hm(7))])
    now = at(day + timedelta(days=2), hm(12), tz)
    state = PlanState(completions=[ruck(tz, 9, at(day, hm(8), tz), now, 1)])
    new = actions(evaluate(snap, state, now, rules=RULES_V2))
    for ntype in (T.COMPLETION_CELEBRATION,):
        decision, reason = new[ntype]
        assert decision is Decision.SKIP and reason.startswith("ruck_too_old: "), reason
    assert actions(evaluate(snap, state, now, rules=RULES_V1))[T.COMPLETION_CELEBRATION][1].startswith("stale: ")
    # The milestone it reached (the first session) is dropped at its own time, for the same reason.
    later = evaluate(snap, state, now + timedelta(minutes=3), rules=RULES_V2)
    assert actions(later)[T.MILESTONE_ALERT][1].startswith("ruck_too_old: ")


# --- sessions that fell in a pause ----------------------------------------------------------------------------


@pytest.mark.parametrize("tz", [NY, KOLKATA, KATHMANDU, LORD_HOWE])
def test_a_session_that_fell_in_a_pause_gets_no_follow_up_and_is_not_a_miss(tz: str) -> None:
    """Sessions Mon, Tue (paused Mon 20:00 to Tue 20:00), Wed, all missed."""
    mon = date(2027, 3, 1)
    sessions = [
        PlanSession(id=i + 1, scheduled_date=mon + timedelta(days=i), scheduled_start_minute=hm(7)) for i in range(3)
    ]
    snap = plan(tz, sessions)
    pause = PausePeriod(start=at(mon, hm(20), tz), end=at(mon + timedelta(days=1), hm(20), tz))
    state = PlanState(pauses=[pause], status=PlanStatus.ACTIVE)
    # Tuesday's follow-up (Wednesday 09:00, the plan active again): skipped, the session fell in the pause.
    wed_9 = at(mon + timedelta(days=2), hm(9), tz)
    decision, reason = actions(evaluate(snap, state, wed_9, rules=RULES_V2))[T.MISSED_FOLLOWUP]
    assert decision is Decision.SKIP and reason.startswith("plan_paused: "), reason
    assert actions(evaluate(snap, state, wed_9, rules=RULES_V1))[T.MISSED_FOLLOWUP] == (Decision.SEND, "")

    # Wednesday's miss follows Monday's: two in a row, not three.
    def escalation(rules: int) -> str:
        (n,) = [
            n
            for n in candidates(snap, [], rules=rules, paused={2} if rules == RULES_V2 else ())
            if n.type is T.MISSED_FOLLOWUP and n.plan_session_id == 3
        ]
        return n.facts["missed_state"]

    assert escalation(RULES_V2) == MissedState.REPEATED_MISS.value
    assert escalation(RULES_V1) == MissedState.PLAN_AT_RISK.value
    thu_9 = at(mon + timedelta(days=3), hm(9), tz)
    (sent,) = [
        a.notification for a in evaluate(snap, state, thu_9, rules=RULES_V2).actions if a.decision is Decision.SEND
    ]
    assert sent.type is T.MISSED_FOLLOWUP and sent.facts["missed_state"] == MissedState.REPEATED_MISS.value


def test_a_pause_still_open_covers_every_session_after_it() -> None:
    mon = date(2027, 3, 1)
    snap = plan(NY, [PlanSession(id=1, scheduled_date=mon + timedelta(days=3), scheduled_start_minute=hm(7))])
    state = PlanState(pauses=[PausePeriod(start=at(mon, hm(12), NY))], status=PlanStatus.PAUSED)
    reason = actions(evaluate(snap, state, at(mon + timedelta(days=4), hm(9), NY), rules=RULES_V2))[T.MISSED_FOLLOWUP]
    assert reason[1] == "plan_paused: Thursday's session fell while the plan was paused"


# --- copy -----------------------------------------------------------------------------------------------------

TONES = ["supportive_friend", "drill_sergeant", "session_analyst", "nature_lover", "cowboy_cowgirl", "british_butler"]


@pytest.mark.parametrize("tone", [*TONES, "yoga_instructor"])
def test_a_digest_of_one_session_says_session(tone: str) -> None:
    facts = {"planned": "1", "completed": "1", "adherence_pct": "100"}
    singular = 0
    for variant in range(3):
        text = render_variant(T.WEEKLY_DIGEST, tone, facts, variant=variant)
        # ("1/1 sessions" reads "one of one sessions": fine.)
        assert not re.search(r"(?<![\d/])1 (session|ride|engagement)s\b", f"{text.title} {text.body}"), text
        singular += bool(re.search(r"(?<![\d/])1 (session|ride|engagement)\b", text.body))
    if tone in ("supportive_friend", "nature_lover", "yoga_instructor"):
        assert singular  # "{completed} sessions done" in one of their variants


@pytest.mark.parametrize("tone", TONES + ["minimalist", "yoga_instructor"])
def test_a_session_at_01_30_is_not_a_sunrise_start(tone: str) -> None:
    night = render_variant(T.EVENING_BRIEF, tone, {"start_time": "01:30", "session_date": "2027-05-04"}, variant=0)
    assert not night.template_key.endswith(":early_start")
    assert "sunrise" not in (night.title + night.body).casefold()
    dawn = render_variant(T.EVENING_BRIEF, tone, {"start_time": "05:30", "session_date": "2027-05-04"}, variant=0)
    assert dawn.template_key.endswith(":early_start")


@pytest.mark.parametrize("tone", TONES)
def test_no_welcome_back_for_an_athlete_who_never_rucked(tone: str) -> None:
    base = {"start_time": "18:00", "session_date": "2027-05-04", "recent_misses": "2"}
    never = render_variant(T.MORNING_HYPE, tone, {**base, "sessions_done": "0"}, variant=0)
    assert not never.template_key.endswith(":comeback")
    assert "welcome back" not in (never.title + never.body).casefold()
    back = render_variant(T.MORNING_HYPE, tone, {**base, "sessions_done": "3"}, variant=0)
    assert back.template_key.endswith(":comeback")


def test_the_schedule_tells_the_copy_how_many_sessions_were_done() -> None:
    mon = date(2027, 3, 1)
    sessions = [
        PlanSession(id=i + 1, scheduled_date=mon + timedelta(days=i), scheduled_start_minute=hm(7)) for i in range(3)
    ]
    snap = plan(KATHMANDU, sessions)
    hypes = {n.plan_session_id: n.facts for n in candidates(snap, [], rules=RULES_V2) if n.type is T.MORNING_HYPE}
    assert [hypes[i]["sessions_done"] for i in (1, 2, 3)] == ["0", "0", "0"]
    assert [hypes[i]["recent_misses"] for i in (1, 2, 3)] == ["0", "1", "2"]
    done = [ruck(KATHMANDU, 1, at(mon, hm(8), KATHMANDU), at(mon, hm(8), KATHMANDU), 1)]
    hypes = {n.plan_session_id: n.facts for n in candidates(snap, done, rules=RULES_V2) if n.type is T.MORNING_HYPE}
    assert hypes[3]["sessions_done"] == "1"
    assert all("sessions_done" not in n.facts for n in candidates(snap, [], rules=RULES_V1))
