"""The service's Temporal Schedules, created (or brought up to date) idempotently: the nightly cadence recompute,
the reconciler's pass every minute and the anomaly watch every 15 minutes.

The worker calls :func:`ensure_cadence_schedule` and :func:`ensure_reconcile_schedule` at start-up, so every deploy
converges the schedules on the settings; operators see them under Schedules in the Web UI and can pause or trigger
them there (a pause survives a deploy).
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
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from coaching.ids import (
    ANOMALY_SCHEDULE_ID,
    ANOMALY_WORKFLOW_ID,
    CADENCE_SCHEDULE_ID,
    CADENCE_WORKFLOW_ID,
    RECONCILE_SCHEDULE_ID,
    RECONCILE_WORKFLOW_ID,
)
from coaching.models import AnomalyWatchInput, CadenceRecomputeInput, ReconcileInput
from workflows.anomaly import AnomalyWatchWorkflow
from workflows.cadence import CadenceRecomputeWorkflow
from workflows.reconcile import ReconcileWorkflow

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
    handle = await _ensure(client, CADENCE_SCHEDULE_ID, wanted)
    log.info("schedule %s: daily %02d:%02d UTC", CADENCE_SCHEDULE_ID, hour_utc, minute)
    return handle


def reconcile_schedule(*, task_queue: str, every: timedelta, input: ReconcileInput) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            input,
            id=RECONCILE_WORKFLOW_ID,
            task_queue=task_queue,
            # A pass stuck on an outage must not block the next ones for long (the overlap policy is SKIP).
            execution_timeout=max(every * 10, timedelta(minutes=10)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # One pass at a time; a pass missed during an outage is not worth catching up (the next one does it all).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(minutes=1))),
        state=ScheduleState(
            note="Starts the workflows of live plans that have none, and tells running ones of status changes and "
            "completed rucks found in the database (coaching-plan-*)."
        ),
    )


async def ensure_reconcile_schedule(
    client: Client, *, task_queue: str, every: timedelta, input: ReconcileInput
) -> ScheduleHandle:
    """Create the reconciler's schedule, or update an existing one (keeping an operator's pause)."""
    handle = await _ensure(
        client, RECONCILE_SCHEDULE_ID, reconcile_schedule(task_queue=task_queue, every=every, input=input)
    )
    log.info("schedule %s: every %s", RECONCILE_SCHEDULE_ID, every)
    return handle


def anomaly_schedule(*, task_queue: str, every: timedelta, input: AnomalyWatchInput) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AnomalyWatchWorkflow.run,
            input,
            id=ANOMALY_WORKFLOW_ID,
            task_queue=task_queue,
            execution_timeout=max(every, timedelta(minutes=10)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # One pass at a time; a pass missed during an outage is not caught up (the next one judges the last window).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, timedelta(minutes=1))),
        state=ScheduleState(
            note="Compares the last window's sends per type with the same window of earlier weeks, plus absolute "
            "guards (duplicates, failures, stale skips, lateness); alerts go to the webhook, coach_alerts, the "
            "metric coach_anomaly_alerts_total and the log."
        ),
    )


async def ensure_anomaly_schedule(
    client: Client, *, task_queue: str, every: timedelta, input: AnomalyWatchInput
) -> ScheduleHandle:
    """Create the anomaly watch's schedule, or update an existing one (keeping an operator's pause)."""
    handle = await _ensure(
        client, ANOMALY_SCHEDULE_ID, anomaly_schedule(task_queue=task_queue, every=every, input=input)
    )
    log.info("schedule %s: every %s", ANOMALY_SCHEDULE_ID, every)
    return handle


async def _ensure(client: Client, schedule_id: str, wanted: Schedule) -> ScheduleHandle:
    try:
        return await client.create_schedule(schedule_id, wanted)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id)

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            # An operator's pause (and its note) survives a deploy.
            wanted.state = current.description.schedule.state
            return ScheduleUpdate(schedule=wanted)

        await handle.update(update)
        return handle
