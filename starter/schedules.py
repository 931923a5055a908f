"""The nightly cadence recompute as a Temporal Schedule, created (or brought up to date) idempotently.

The worker calls :func:`ensure_cadence_schedule` at start-up, so every deploy converges the schedule on the settings;
operators see it under Schedules in the Web UI and can pause or trigger it there.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from coaching.ids import CADENCE_SCHEDULE_ID, CADENCE_WORKFLOW_ID
from coaching.models import CadenceRecomputeInput
from workflows.cadence import CadenceRecomputeWorkflow

log = logging.getLogger(__name__)

#: A night missed during an outage is caught up within this long, not replayed for days.
_CATCHUP = timedelta(hours=6)


def cadence_schedule(*, task_queue: str, hour_utc: int, minute: int, batch_size: int) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CadenceRecomputeWorkflow.run,
            CadenceRecomputeInput(batch_size=batch_size),
            id=CADENCE_WORKFLOW_ID,
            task_queue=task_queue,
            # A run stuck on a failing page must not skip every later night (the overlap policy is SKIP).
            execution_timeout=timedelta(hours=20),
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour_utc)], minute=[ScheduleRange(minute)])],
        ),
        # One run at a time.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=_CATCHUP),
        state=ScheduleState(note="Learns each athlete's prime window and tells their plans (coaching-plan-*)."),
    )


async def ensure_cadence_schedule(
    client: Client, *, task_queue: str, hour_utc: int = 3, minute: int = 0, batch_size: int = 2000
) -> ScheduleHandle:
    """Create the schedule, or update an existing one to this definition (keeping its paused state)."""
    wanted = cadence_schedule(task_queue=task_queue, hour_utc=hour_utc, minute=minute, batch_size=batch_size)
    try:
        handle = await client.create_schedule(CADENCE_SCHEDULE_ID, wanted)
        log.info("created schedule %s (daily %02d:%02d UTC)", CADENCE_SCHEDULE_ID, hour_utc, minute)
        return handle
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(CADENCE_SCHEDULE_ID)

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            # An operator's pause (and its note) survives a deploy.
            wanted.state = current.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await handle.update(update)
        return handle
