"""The nightly cadence Schedule on the Temporal dev server: created idempotently, updated on deploy (an operator's
pause survives), and a triggered run recomputes the athletes and reaches their running plans."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from temporalio.client import ScheduleActionStartWorkflow, ScheduleDescription, ScheduleHandle
from temporalio.testing import WorkflowEnvironment

from activities.db import RuckSession
from activities.demo import create_demo_plan
from coaching.models import CadenceRecomputeResult, NotificationType, WorkflowConfig
from coaching.timeutil import local_minute, local_to_utc, to_local
from starter.sandbox import local_stack, wait_for
from starter.schedules import ensure_cadence_schedule

pytestmark = pytest.mark.devserver
TZ = "Asia/Kolkata"


def daily_hour(description: ScheduleDescription) -> int:
    (calendar,) = description.schedule.spec.calendars
    return calendar.hour[0].start


async def test_schedule_is_created_once_and_converges_on_the_settings(dev_server: WorkflowEnvironment) -> None:
    client = dev_server.client
    handle = await ensure_cadence_schedule(client, task_queue="q-one", hour_utc=3)
    await ensure_cadence_schedule(client, task_queue="q-one", hour_utc=3)  # a second worker starting: no error
    first = await handle.describe()
    assert daily_hour(first) == 3
    action = first.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "CadenceRecomputeWorkflow" and action.task_queue == "q-one"

    await handle.pause(note="paused by an operator during an incident")
    await ensure_cadence_schedule(client, task_queue="q-two", hour_utc=4)  # a deploy with new settings
    after = await handle.describe()
    assert daily_hour(after) == 4
    assert isinstance(after.schedule.action, ScheduleActionStartWorkflow)
    assert after.schedule.action.task_queue == "q-two"
    assert after.schedule.state.paused and after.schedule.state.note == "paused by an operator during an incident"
    await handle.delete()


async def test_a_triggered_run_recomputes_and_replans_a_running_plan(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with local_stack(
        f"sqlite+aiosqlite:///{tmp_path}/nightly.db", env=dev_server, config=WorkflowConfig(search_attributes=True)
    ) as stack:
        now = await stack.now()
        day = to_local(now, TZ).date() + timedelta(days=2)
        plan_id = await create_demo_plan(
            stack.store,
            timezone=TZ,
            start_date=day,
            sessions=[{"scheduled_date": day, "planned_session_type": "Long Ruck", "scheduled_start_time": None}],
            created_at=now,
        )
        snapshot = await stack.store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        today = to_local(now, TZ).date()
        async with stack.store.sessionmaker.begin() as session:
            await session.execute(
                insert(RuckSession),
                [
                    {
                        "id": 10 + back,
                        "user_id": snapshot.user_id,
                        "status": "completed",
                        "started_at": local_to_utc(today - timedelta(days=back), 6 * 60 + 30, TZ),
                        "completed_at": local_to_utc(today - timedelta(days=back), 7 * 60 + 30, TZ),
                    }
                    for back in range(1, 15)
                ],
            )
        await stack.plans.start_plan(plan_id)

        handle = await ensure_cadence_schedule(stack.client, task_queue=stack.task_queue, hour_utc=3)
        try:
            await handle.trigger()
            description = await wait_for(lambda: _with_action(handle), timeout=20)
            run = description.info.recent_actions[-1].action.workflow_id
            result = await stack.client.get_workflow_handle(run, result_type=CadenceRecomputeResult).result()
            assert result.athletes == 1 and result.changed_plans == 1 and result.signalled_plans == 1

            async def hype_minute() -> int | None:
                status = await stack.plans.status(plan_id)
                hype = next((n for n in status.upcoming if n.type is NotificationType.MORNING_HYPE), None)
                minute = local_minute(hype.send_at, TZ) if hype else None
                return minute if minute != 6 * 60 else None

            # 06:30 ± 15 min opens at 06:15: the hype an hour before it, at 05:15 India time.
            assert await wait_for(hype_minute, timeout=20) == 5 * 60 + 15
        finally:
            await handle.delete()


async def _with_action(handle: ScheduleHandle) -> ScheduleDescription | None:
    description = await handle.describe()
    return description if description.info.recent_actions else None
