"""evaluate() is linear in the plan's sessions (issue 11.13) and decides exactly what the quadratic one did.

The quadratic original is frozen in bench/legacy_schedule.py. On random plans (zones with half- and quarter-hour
offsets and DST, dated and undated sessions, duplicate ids, skipped and completed sessions, learned windows,
completions matched or not, quiet hours, snoozes, pauses, a daily cap) the production rules under RULES_V1 give the
same candidates, actions, skip reasons, upcoming list and silent wake-ups as the frozen copy, to the character.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import legacy_schedule
from coaching.models import (
    CadenceSnapshot,
    CadenceWindow,
    Completion,
    CompletionSource,
    NotificationPrefs,
    PlanSession,
    PlanSnapshot,
    PlanState,
    PlanStatus,
)
from coaching.schedule import RULES_V1, RULES_V2, candidates, evaluate, missed_state_for, session_starts

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "Europe/London"]
#: Around New York's and London's spring-forward (March) and fall-back (October/November) nights.
EPOCH = datetime(2027, 2, 20, tzinfo=UTC)
MINUTES = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def plans(draw: st.DrawFn) -> tuple[PlanSnapshot, PlanState, datetime]:
    tz = draw(st.sampled_from(ZONES))
    created = EPOCH + timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)))
    count = draw(st.integers(0, 40))
    sessions: list[PlanSession] = []
    for i in range(count):
        sid = draw(st.integers(1, count + 2)) if draw(st.integers(0, 9)) == 0 else i + 1  # now and then a dup
        sessions.append(
            PlanSession(
                id=sid,
                planned_week=draw(st.integers(1, 6)),
                scheduled_date=None
                if draw(st.integers(0, 14)) == 0
                else date(2027, 2, 15) + timedelta(days=draw(st.integers(0, 300))),
                scheduled_start_minute=draw(st.none() | MINUTES),
                start_fixed=draw(st.booleans()),
                completion_status=draw(st.sampled_from(["planned"] * 4 + ["completed", "skipped", "modified"])),
                distance_km=draw(st.none() | st.sampled_from([5.0, 8.5])),
            )
        )
    cadence = CadenceSnapshot()
    if draw(st.booleans()):
        start = draw(MINUTES)
        width = draw(st.integers(10, 180))
        window = CadenceWindow(
            start_minute=start,
            end_minute=(start + width) % 1440,
            centre_minute=(start + width // 2) % 1440,
            confidence=draw(st.sampled_from([0.3, 0.6, 0.9])),
        )
        cadence = CadenceSnapshot(
            window_start_minute=window.start_minute,
            window_end_minute=window.end_minute,
            centre_minute=window.centre_minute,
            confidence=window.confidence,
            weekday_windows={draw(st.integers(0, 6)): window} if draw(st.booleans()) else {},
        )
    quiet = draw(st.none() | st.tuples(MINUTES, MINUTES))
    prefs = NotificationPrefs(
        timezone=tz,
        quiet_hours_start_minute=quiet[0] if quiet else None,
        quiet_hours_end_minute=quiet[1] if quiet else None,
        evening_brief_minute=draw(MINUTES),
        morning_hype_lead_minutes=draw(st.integers(5, 240)),
        weekly_digest_weekday=draw(st.integers(0, 6)),
        daily_cap=draw(st.integers(1, 6)),
        default_start_minute=draw(st.none() | MINUTES),
        weekly_digest_enabled=draw(st.booleans()),
        milestones_enabled=draw(st.booleans()),
    )
    snapshot = PlanSnapshot(
        plan_id=9,
        user_id="00000000-0000-0000-0000-000000000009",
        start_date=date(2027, 2, 15),
        created_at=created,
        prefs=prefs,
        cadence=cadence,
        sessions=sessions,
    )
    now = created + timedelta(minutes=draw(st.integers(0, 60 * 24 * 320)))
    completions: list[Completion] = []
    ids = sorted({s.id for s in sessions})
    for ruck in range(draw(st.integers(0, 25))):
        done_at = created + timedelta(minutes=draw(st.integers(0, 60 * 24 * 300)))
        completions.append(
            Completion(
                ruck_id=100 + ruck,
                completed_at=done_at,
                received_at=done_at + timedelta(minutes=draw(st.sampled_from([0, 5, 60 * 20]))),
                local_date=(done_at.date() + timedelta(days=draw(st.integers(-1, 1)))),
                plan_session_id=draw(st.none() | st.sampled_from(ids)) if ids else None,
                source=CompletionSource.APP,
                distance_km=draw(st.none() | st.just(6.0)),
                duration_seconds=draw(st.none() | st.just(3600)),
            )
        )
    state = PlanState(
        snapshot=snapshot,
        status=draw(st.sampled_from([PlanStatus.ACTIVE] * 3 + [PlanStatus.PAUSED])),
        completions=completions,
        sent_per_local_day={now.date().isoformat(): draw(st.integers(0, 5))},
        snoozed_until=now + timedelta(hours=draw(st.integers(1, 30))) if draw(st.booleans()) else None,
    )
    # Some of what came due is already handled (sent or skipped), as in a plan that has been running.
    every = legacy_schedule.candidates(snapshot, completions)
    state.handled = {n.notification_id: "sent" for n in every if n.due_at < now and draw(st.booleans())}
    return snapshot, state, now


def dump(items: list[Any]) -> list[Any]:
    return [i.model_dump(mode="json") for i in items]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plans(), st.booleans())
def test_rules_v1_decide_exactly_what_the_quadratic_evaluate_did(
    plan: tuple[PlanSnapshot, PlanState, datetime], adaptive: bool
) -> None:
    snapshot, state, now = plan
    old = legacy_schedule.evaluate(snapshot, state, now, adaptive=adaptive)
    new = evaluate(snapshot, state, now, adaptive=adaptive, rules=RULES_V1)
    assert dump(new.actions) == dump(old.actions)
    assert dump(new.upcoming) == dump(old.upcoming)
    assert new.silent_due == old.silent_due
    starts = session_starts(snapshot, adaptive=adaptive)
    assert dump(candidates(snapshot, state.completions, starts, rules=RULES_V1)) == dump(
        legacy_schedule.candidates(snapshot, state.completions, starts)
    )
    done = {s.id for s in snapshot.sessions if s.completion_status == "completed"}
    for s in snapshot.sessions[:5]:
        assert missed_state_for(snapshot, done, s.id) is legacy_schedule.missed_state_for(snapshot, done, s.id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plans())
def test_rules_v2_keep_every_notification_id_of_v1(plan: tuple[PlanSnapshot, PlanState, datetime]) -> None:
    """The new rules move times and reasons, never a business key: a running plan's ledger stays valid."""
    snapshot, state, _ = plan
    v1 = {n.notification_id for n in candidates(snapshot, state.completions, rules=RULES_V1)}
    v2 = {n.notification_id for n in candidates(snapshot, state.completions, rules=RULES_V2)}
    assert v1 == v2
