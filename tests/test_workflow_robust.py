"""No input, fault or data can silence, delay or double a plan (the robust-plans release of the workflow).

On the time-skipping server with the real activities: poison completions (and arbitrary signal and update payloads,
driven by hypothesis) are dropped without stopping the plan; a phone clock a few minutes fast does not hold back a
celebration; deliveries run side by side; a pause written only to the database ends when the database says so; the
worker's configuration reaches running plans; a plan with nothing left ends; a plan missing from the database ends
with that reason instead of failing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from activities.db import PlanRun, PlanSessionRow, UserCoachingPlan
from activities.demo import create_demo_plan
from coaching import ids
from coaching.models import (
    CompletionSource,
    PlanStatus,
    SessionCompletedInput,
    SnoozeInput,
    WorkflowConfig,
)
from coaching.preferences import ChangeRejected
from coaching.timeutil import local_to_utc, to_local
from starter.client import PlanNotFoundError
from starter.sandbox import Stack, local_stack, wait_for
from tests.fakes.fcm import FakeFcm

NY = "America/New_York"


@pytest.fixture
async def stack(stack_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(stack_database_url) as s:
        yield s


async def plan(stack: Stack, *days_and_times: tuple[int, str], **kwargs: Any) -> tuple[int, date]:
    """A plan starting tomorrow (NY) with sessions ``days`` after it at the given local times."""
    now = await stack.now()
    day = to_local(now, NY).date() + timedelta(days=1)
    sessions = [
        {"scheduled_date": day + timedelta(days=d), "scheduled_start_time": t, "planned_session_type": "Tempo Ruck"}
        for d, t in days_and_times
    ]
    kwargs.setdefault("created_at", now)
    plan_id = await create_demo_plan(stack.store, timezone=NY, start_date=day, sessions=sessions, **kwargs)
    return plan_id, day


async def sent(stack: Stack, plan_id: int, ntype: str) -> list[Any]:
    return [r for r in await stack.ledger(plan_id) if r.notification_type == ntype and r.status == "sent"]


# ---- poison payloads ----------------------------------------------------------------------------------------

POISON = [
    {"ruck_id": 1, "completed_at": "9999-12-31T23:59:59+00:00"},
    {"ruck_id": 2, "completed_at": "2026-01-01T00:00:00+00:00", "started_at": "0001-01-01T00:00:00+00:00"},
    {"ruck_id": 3, "completed_at": "0001-01-01T00:30:00+00:00"},
    {"ruck_id": 4, "completed_at": "2026-01-01T00:00:00+14:00", "duration_seconds": 10**11},
    {"ruck_id": 5, "completed_at": "2026-01-01T00:00:00-12:00", "distance_km": 1e308, "duration_seconds": 2**62},
    {"ruck_id": 6, "completed_at": "not a time"},
    {"ruck_id": "seven", "completed_at": "2026-01-01T00:00:00Z"},
    {"completed_at": "2026-01-01T00:00:00Z"},
    "a string, not an object",
    None,
]


async def test_poison_completions_are_dropped_and_the_plan_goes_on(stack: Stack) -> None:
    plan_id, day = await plan(stack, (0, "07:00"), (2, "07:00"))
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: sent(stack, plan_id, "plan_kickoff_primer"))
    raw = stack.client.get_workflow_handle(handle.id)
    for payload in POISON:
        await raw.signal(ids.SIGNAL_SESSION_COMPLETED, payload)
    # The plan still takes a good completion, celebrates it, and sends the next reminders at their times.
    ok = SessionCompletedInput(ruck_id=100, completed_at=local_to_utc(day, 7 * 60 + 50, NY))
    await stack.advance_to(local_to_utc(day, 8 * 60, NY))
    await stack.plans.session_completed(plan_id, ok)
    await stack.advance_to(local_to_utc(day + timedelta(days=2), 6 * 60 + 30, NY))
    assert len(await sent(stack, plan_id, "plan_completion_celebration")) == 1
    assert [r.local_date for r in await sent(stack, plan_id, "plan_morning_hype")] == [day, day + timedelta(days=2)]
    status = await stack.plans.status(plan_id)
    # Rucks 2, 4 and 5 had a sane completion time: they count, without the start, duration or distance that made
    # no sense (too old to be celebrated); the others were dropped.
    assert status.completions == 4 and status.status is PlanStatus.ACTIVE
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def test_a_phone_clock_a_few_minutes_fast_does_not_hold_back_the_celebration(stack: Stack) -> None:
    plan_id, day = await plan(stack, (0, "07:00"))
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 8 * 60, NY))
    now = await stack.now()
    await stack.plans.session_completed(
        plan_id, SessionCompletedInput(ruck_id=5, completed_at=now + timedelta(minutes=7))
    )
    (celebration,) = await wait_for(lambda: sent(stack, plan_id, "plan_completion_celebration"))
    # Sent at once, by the workflow's clock: not held until the phone's idea of the time.
    assert celebration.sent_at is not None and celebration.sent_at < now + timedelta(minutes=1)


@pytest.fixture
async def sqlite_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/plans.db") as s:
        yield s


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    payloads=st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {
                    "ruck_id": st.integers(min_value=-(2**70), max_value=2**70),
                    "completed_at": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                },
                optional={
                    "started_at": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                    "duration_seconds": st.integers(min_value=-(2**70), max_value=2**70),
                    "distance_km": st.floats(allow_nan=True, allow_infinity=True),
                    "plan_session_id": st.integers(min_value=-(2**40), max_value=2**40),
                    "source": st.sampled_from([*(s.value for s in CompletionSource), "bogus"]),
                },
            ),
            st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=12)), max_size=3),
            st.none(),
        ),
        min_size=1,
        max_size=6,
    ),
    snooze_minutes=st.integers(min_value=-(2**63), max_value=2**63),
)
async def test_arbitrary_payloads_never_stop_a_plan(
    sqlite_stack: Stack, payloads: list[Any], snooze_minutes: int
) -> None:
    """Whatever reaches a plan through its signals and updates, it still delivers its next notification. (One
    stack for all the examples, a new plan each; the payloads do not depend on the database.)"""
    stack = sqlite_stack
    plan_id, day = await plan(stack, (1, "07:00"), user_id=str(uuid.uuid4()))
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: sent(stack, plan_id, "plan_kickoff_primer"))
    raw = stack.client.get_workflow_handle(handle.id)
    for payload in payloads:
        await raw.signal(ids.SIGNAL_SESSION_COMPLETED, payload)
    for name, arg in (
        ("snooze", {"duration_minutes": snooze_minutes}),
        ("snooze", {"until": "9999-12-31T23:59:59+14:00"}),
        ("change_preferences", {"timezone": "Mars/Base", "daily_cap": snooze_minutes}),
        ("reschedule_session", {"plan_session_id": snooze_minutes, "scheduled_date": "0001-01-01"}),
        ("change_preferences", payloads[0]),
    ):
        try:
            await raw.execute_update(name, arg)
        except (WorkflowUpdateFailedError, ChangeRejected):
            pass  # refused: fine; what matters is the plan after it
    await raw.execute_update("cancel_snooze", {})  # a sane snooze may have been accepted: it is the athlete's
    brief_day = day  # the evening before the session (day + 1)
    await stack.advance_to(local_to_utc(brief_day, 21 * 60, NY))
    assert await sent(stack, plan_id, "plan_evening_brief"), await stack.ledger(plan_id)
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def test_an_absurd_snooze_is_refused_and_changes_nothing(stack: Stack) -> None:
    plan_id, _ = await plan(stack, (1, "07:00"))
    await stack.plans.start_plan(plan_id)
    with pytest.raises((ChangeRejected, WorkflowUpdateFailedError)):
        await stack.plans.snooze(plan_id, SnoozeInput(duration_minutes=10**15))
    assert (await stack.plans.status(plan_id)).snoozed_until is None


# ---- deliveries side by side --------------------------------------------------------------------------------


@pytest.fixture
async def fcm_stack(stack_database_url: str, fcm: FakeFcm) -> AsyncIterator[tuple[Stack, FakeFcm]]:
    async with local_stack(stack_database_url, settings=fcm.service_settings(stack_database_url)) as s:
        yield s, fcm


async def test_a_retrying_delivery_holds_up_no_other(fcm_stack: tuple[Stack, FakeFcm]) -> None:
    """The kickoff keeps failing on a device answering 503; a ruck reported meanwhile is delivered beside it."""
    stack, fcm = fcm_stack
    fcm.set_behaviour("demo-device-token", "unavailable")
    plan_id, day = await plan(stack, (0, "07:00"))
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _pending_deliveries(stack, handle.id, 1))
    now = await stack.now()
    await stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=8, completed_at=now))
    # Both deliveries are in flight at once: the celebration did not queue behind the kickoff's retries.
    await wait_for(lambda: _pending_deliveries(stack, handle.id, 2))
    fcm.set_behaviour("demo-device-token", "ok")
    await wait_for(lambda: sent(stack, plan_id, "plan_completion_celebration"), timeout=30)
    await wait_for(lambda: sent(stack, plan_id, "plan_kickoff_primer"), timeout=30)


async def _pending_deliveries(stack: Stack, workflow_id: str, count: int) -> bool:
    described = await stack.client.get_workflow_handle(workflow_id).describe()
    pending = [
        a
        for a in described.raw_description.pending_activities
        if a.activity_type.name == "deliver_notification"
        and a.state != PendingActivityState.PENDING_ACTIVITY_STATE_UNSPECIFIED
    ]
    return len(pending) >= count


# ---- the database's word ------------------------------------------------------------------------------------


async def _set_status(stack: Stack, plan_id: int, status: str) -> None:
    async with stack.store.sessionmaker.begin() as session:
        await session.execute(
            update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(current_status=status)
        )


async def test_a_pause_seen_only_in_the_database_ends_when_the_database_resumes(stack: Stack) -> None:
    """No signal and no reconciler: the plan reads the database again before each reminder its pause would skip."""
    plan_id, day = await plan(stack, (0, "07:00"), (1, "07:00"), (2, "07:00"))
    await stack.plans.start_plan(plan_id)
    await wait_for(lambda: sent(stack, plan_id, "plan_kickoff_primer"))
    await _set_status(stack, plan_id, "paused")
    await stack.advance_to(local_to_utc(day, 8 * 60, NY))  # the first session's reminders meet the pause
    skipped = [r for r in await stack.ledger(plan_id) if r.status == "skipped" and r.local_date == day]
    assert skipped and all((r.reason or "").startswith("plan_paused") for r in skipped)
    await _set_status(stack, plan_id, "active")  # resumed in the database only
    await stack.advance_to(local_to_utc(day + timedelta(days=2), 6 * 60 + 30, NY))
    hypes = [r.local_date for r in await sent(stack, plan_id, "plan_morning_hype")]
    assert hypes == [day + timedelta(days=1), day + timedelta(days=2)]
    assert (await stack.plans.status(plan_id)).status is PlanStatus.ACTIVE


async def test_a_plan_missing_from_the_database_ends_with_that_reason(stack: Stack) -> None:
    handle = await stack.plans.start_plan(2_000_000_000)
    result = await handle.result()
    assert result.final_status is PlanStatus.CANCELLED and result.end_reason.startswith("plan_removed")


async def test_a_plan_with_nothing_left_ends_fourteen_days_after_its_last_session(stack: Stack) -> None:
    plan_id, day = await plan(stack, (0, "07:00"), (3, "07:00"))
    handle = await stack.plans.start_plan(plan_id)
    last = day + timedelta(days=3)
    await stack.advance_to(local_to_utc(last + timedelta(days=14), 12 * 60, NY))
    assert (
        await handle.describe()
    ).status is WorkflowExecutionStatus.RUNNING  # not yet: 14 days from the morning after
    await stack.advance_to(local_to_utc(last + timedelta(days=15), 10 * 60, NY))
    result = await handle.result()
    assert result.final_status is PlanStatus.ACTIVE and result.end_reason.startswith("plan_over")
    async with stack.store.sessionmaker() as session:
        run = await session.get(PlanRun, plan_id)
    assert run is not None and run.ended_at is not None and (run.end_reason or "").startswith("the plan is")  # recorded
    assert run.status_seen == "active"  # so the reconciler does not start it again


async def test_the_workers_configuration_reaches_a_running_plan(stack_database_url: str) -> None:
    """The plan was started with one configuration; the worker's (deployed later) wins at its loads."""
    started_with = WorkflowConfig(search_attributes=False, continue_as_new_after_events=10_000)
    deployed = WorkflowConfig(search_attributes=False, continue_as_new_after_events=100)
    async with local_stack(stack_database_url, config=deployed) as stack:
        stack.plans = type(stack.plans)(stack.client, started_with, task_queue=stack.task_queue)
        plan_id, day = await plan(stack, *[(d, "08:00") for d in range(6)])
        handle = await stack.plans.start_plan(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=7), 12 * 60, NY))
        assert (await handle.describe()).run_id != handle.first_execution_run_id  # it continued as new at 100


async def test_a_ruck_reported_within_the_grace_period_gets_its_celebration_and_milestone(stack: Stack) -> None:
    plan_id, day = await plan(stack, (0, "07:00"))
    handle = await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 8 * 60, NY))
    await stack.plans.complete(plan_id)
    await stack.advance_to(local_to_utc(day, 8 * 60 + 2, NY))
    await stack.plans.session_completed(
        plan_id, SessionCompletedInput(ruck_id=3, completed_at=local_to_utc(day, 7 * 60 + 55, NY))
    )
    result = await handle.result()
    assert result.final_status is PlanStatus.COMPLETED
    assert len(await sent(stack, plan_id, "plan_completion_celebration")) == 1
    (milestone,) = await sent(stack, plan_id, "plan_milestone_alert")
    # At its own time (2 min after the celebration), past the 3-minute grace period that began at `complete`.
    assert milestone.sent_at is not None and milestone.sent_at > local_to_utc(day, 8 * 60 + 3, NY)


async def test_a_ruck_id_beyond_the_columns_range_is_celebrated_and_not_retried_forever(stack: Stack) -> None:
    """RuckTracker's ids are 32-bit: a ruck id of 3e9 cannot be written to plan_sessions.session_id (PostgreSQL
    refuses it). That refusal is permanent: the plan celebrates the ruck, and its next reminders still go out."""
    plan_id, day = await plan(stack, (0, "07:00"), (1, "07:00"))
    handle = await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 8 * 60, NY))
    big = SessionCompletedInput(ruck_id=3_000_000_000, completed_at=local_to_utc(day, 7 * 60 + 55, NY))
    # (The edges refuse it; a signal sent past them, by name, still reaches the plan.)
    await stack.client.get_workflow_handle(handle.id).signal(ids.SIGNAL_SESSION_COMPLETED, big)
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 6 * 60 + 30, NY))
    assert len(await sent(stack, plan_id, "plan_completion_celebration")) == 1
    assert [r.local_date for r in await sent(stack, plan_id, "plan_morning_hype")][-1] == day + timedelta(days=1)
    history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) == 1  # nothing was retried


async def test_new_sessions_start_a_plan_that_had_ended_again(stack: Stack) -> None:
    """A plan whose workflow ended (nothing left to send) gets new sessions: sessions/changed starts it again."""
    plan_id, day = await plan(stack, (0, "07:00"))
    handle = await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=16), 12 * 60, NY))
    assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED  # (a result() would skip time on)
    later = day + timedelta(days=19)
    async with stack.store.sessionmaker.begin() as session:
        session.add(
            PlanSessionRow(
                user_coaching_plan_id=plan_id, planned_week=3, planned_session_type="Long Ruck", scheduled_date=later
            )
        )
    with pytest.raises(PlanNotFoundError):  # without knowing the plan is in the database, nothing is started
        await stack.plans.sessions_changed(plan_id, "added a week")
    assert await stack.plans.sessions_changed(plan_id, "added a week", start_if_ended=True) is True
    await stack.advance_to(local_to_utc(later, 12 * 60, NY))
    assert [r.local_date for r in await sent(stack, plan_id, "plan_morning_hype")][-1] == later
    assert await stack.plans.sessions_changed(plan_id, "again", start_if_ended=True) is False  # running: a signal
