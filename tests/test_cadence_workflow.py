"""Learned cadence reaching running plans, on the time-skipping server with the real activities and database.

The nightly recompute workflow, the refresh after a completed ruck and the ``cadence_updated`` signal each change a
running plan's upcoming notifications; a window too uncertain to trust leaves them where they were.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from activities.db import RuckSession
from activities.demo import create_demo_plan
from coaching.ids import plan_workflow_id
from coaching.models import (
    CadenceRecomputeInput,
    CadenceSnapshot,
    CadenceUpdatedInput,
    NotificationType,
    PlanStatusResult,
    SessionCompletedInput,
)
from coaching.timeutil import local_minute, local_to_utc, to_local
from starter.sandbox import Stack, local_stack, wait_for
from workflows.cadence import CadenceRecomputeWorkflow
from workflows.plan import CoachingPlanWorkflow

NY = "America/New_York"
KATHMANDU = "Asia/Kathmandu"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/cadence.db") as s:
        yield s


async def plan_without_start_times(stack: Stack, tz: str, days_ahead: int = 3) -> tuple[int, str, date]:
    """A plan whose one session has no start time (so the fallback chain decides it) and its athlete."""
    now = await stack.now()
    day = to_local(now, tz).date() + timedelta(days=days_ahead)
    plan_id = await create_demo_plan(
        stack.store,
        timezone=tz,
        start_date=day,
        sessions=[{"scheduled_date": day, "planned_session_type": "Tempo Ruck", "scheduled_start_time": None}],
        created_at=now,
    )
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    await stack.plans.start_plan(plan_id)
    return plan_id, snapshot.user_id, day


async def add_rucks(stack: Stack, user_id: str, tz: str, minute: int, days: int, first_id: int) -> None:
    """One completed 45-minute ruck a day for the last ``days`` days, starting at ``minute`` local time."""
    today = to_local(await stack.now(), tz).date()
    rows = []
    for back in range(1, days + 1):
        started = local_to_utc(today - timedelta(days=back), minute, tz)
        rows.append(
            {
                "id": first_id + back,
                "user_id": user_id,
                "status": "completed",
                "started_at": started,
                "completed_at": started + timedelta(minutes=45),
                "duration_seconds": 45 * 60,
                "distance_km": 5.0,
            }
        )
    async with stack.store.sessionmaker.begin() as session:
        await session.execute(insert(RuckSession), rows)


def upcoming(status: PlanStatusResult, ntype: NotificationType) -> datetime:
    return next(n.send_at for n in status.upcoming if n.type is ntype)


async def planned(stack: Stack, plan_id: int) -> PlanStatusResult:
    return await wait_for(lambda: _status_with_hype(stack, plan_id))


async def _status_with_hype(stack: Stack, plan_id: int) -> PlanStatusResult | None:
    status = await stack.plans.status(plan_id)
    return status if any(n.type is NotificationType.MORNING_HYPE for n in status.upcoming) else None


async def test_nightly_recompute_moves_a_running_plans_reminders_to_the_learned_window(stack: Stack) -> None:
    plan_id, user_id, day = await plan_without_start_times(stack, NY)
    before = await planned(stack, plan_id)
    # No history yet: the population default start (07:00), the hype an hour before, the brief at 20:00.
    assert local_minute(upcoming(before, NotificationType.MORNING_HYPE), NY) == 6 * 60
    assert local_minute(upcoming(before, NotificationType.EVENING_BRIEF), NY) == 20 * 60

    await add_rucks(stack, user_id, NY, 5 * 60 + 10, days=21, first_id=1000)
    result = await stack.client.execute_workflow(
        CadenceRecomputeWorkflow.run,
        CadenceRecomputeInput(batch_size=50),
        id=f"cadence-test-{plan_id}",
        task_queue=stack.task_queue,
    )
    assert result.athletes == 1 and result.changed_plans == 1 and result.signalled_plans == 1

    async def moved() -> PlanStatusResult | None:
        status = await stack.plans.status(plan_id)
        hype = next((n for n in status.upcoming if n.type is NotificationType.MORNING_HYPE), None)
        return status if hype and local_minute(hype.send_at, NY) != 6 * 60 else None

    after = await wait_for(moved)
    hype = upcoming(after, NotificationType.MORNING_HYPE)
    brief = upcoming(after, NotificationType.EVENING_BRIEF)
    # The window opens at 04:55 (05:10 ± the 30-minute minimum): the hype lands an hour before it opens …
    assert to_local(hype, NY).date() == day and local_minute(hype, NY) == 3 * 60 + 55
    # … and the brief moves earlier than 20:00 so a 04:55 start still leaves ten hours: 18:55 the evening before.
    assert to_local(brief, NY).date() == day - timedelta(days=1) and local_minute(brief, NY) == 18 * 60 + 55
    reason = next(n.reason for n in after.upcoming if n.type is NotificationType.MORNING_HYPE)
    assert "usual" in reason and "05:10" in reason
    row = await stack.store.load_plan_snapshot(plan_id)
    assert row is not None and row.cadence.centre_minute == 5 * 60 + 10 and row.cadence.confidence >= 0.5


async def test_a_completed_ruck_refreshes_the_cadence_of_its_plan(stack: Stack) -> None:
    plan_id, user_id, day = await plan_without_start_times(stack, KATHMANDU, days_ahead=4)
    before = await planned(stack, plan_id)
    assert local_minute(upcoming(before, NotificationType.MORNING_HYPE), KATHMANDU) == 6 * 60
    # Evening rucks at 18:30 Kathmandu time (+05:45), then the app reports today's.
    await add_rucks(stack, user_id, KATHMANDU, 18 * 60 + 30, days=14, first_id=2000)
    now = await stack.now()
    await stack.plans.session_completed(
        plan_id, SessionCompletedInput(ruck_id=2000, completed_at=now, started_at=now - timedelta(minutes=45))
    )

    async def moved() -> PlanStatusResult | None:
        status = await stack.plans.status(plan_id)
        hype = next((n for n in status.upcoming if n.type is NotificationType.MORNING_HYPE), None)
        return status if hype and local_minute(hype.send_at, KATHMANDU) != 6 * 60 else None

    after = await wait_for(moved)
    hype = upcoming(after, NotificationType.MORNING_HYPE)
    assert to_local(hype, KATHMANDU).date() == day
    assert local_minute(hype, KATHMANDU) == 17 * 60 + 15  # an hour before the window opens at 18:15
    # An evening window leaves the brief at the athlete's 20:00 the evening before.
    assert local_minute(upcoming(after, NotificationType.EVENING_BRIEF), KATHMANDU) == 20 * 60


async def test_cadence_signal_replans_and_an_uncertain_window_changes_nothing(stack: Stack) -> None:
    plan_id, _, _ = await plan_without_start_times(stack, NY)
    before = await planned(stack, plan_id)
    handle = stack.client.get_workflow_handle_for(CoachingPlanWorkflow.run, plan_workflow_id(plan_id))
    uncertain = CadenceSnapshot(
        window_start_minute=300, window_end_minute=330, centre_minute=315, confidence=0.49, sample_size=4
    )
    await handle.signal(CoachingPlanWorkflow.cadence_updated, CadenceUpdatedInput(cadence=uncertain))
    confident = uncertain.model_copy(update={"confidence": 0.8, "sample_size": 30})
    await handle.signal(CoachingPlanWorkflow.cadence_updated, CadenceUpdatedInput(cadence=confident))

    async def moved() -> PlanStatusResult | None:
        status = await stack.plans.status(plan_id)
        hype = next((n for n in status.upcoming if n.type is NotificationType.MORNING_HYPE), None)
        return status if hype and hype.send_at != upcoming(before, NotificationType.MORNING_HYPE) else None

    after = await wait_for(moved)
    assert local_minute(upcoming(after, NotificationType.MORNING_HYPE), NY) == 4 * 60  # 05:00 opening − 60 min
