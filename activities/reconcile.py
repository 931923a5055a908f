"""Activities of the reconciler: bring the plans' workflows in line with what RuckTracker's database says.

Three phases, each one activity that pages through a set-based query (:mod:`activities.reconcile_store`):

1. **starts**: every live plan (active or paused) without a workflow gets one, as ``POST /v1/plans/{id}/start`` would;
2. **statuses**: a running plan whose status changed in the database (paused, resumed, cancelled, completed) is told
   by the same signal the core API sends; a plan whose row was deleted is cancelled;
3. **rucks**: every completed ruck of an athlete with a running plan that the plan has not been told of is signalled
   (``session_completed``, idempotent by ruck id in the workflow), whatever path completed it (app, import,
   auto-complete, manual).

So a first rollout needs no change in the core API, and a lost call from it costs one pass, not a notification.
Workflows are started and signalled by name (:mod:`coaching.ids`): activities never import the workflow class. Every
call is idempotent, so a retried activity repeats harmlessly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.reconcile_store import REMOVED, NewRuck, ReconcileStore
from coaching import ids
from coaching.explain import static_details, static_summary
from coaching.models import (
    CompletionSource,
    PlanStatus,
    PlanStatusChangeInput,
    PlanWorkflowInput,
    ReconcileInput,
    ReconcilePhaseResult,
    SessionCompletedInput,
    WorkflowConfig,
)

#: Temporal calls in flight at once.
CONCURRENCY = 32
#: A ruck reported as completed further ahead than this (a phone clock gone wrong, a typo) is not told yet.
FUTURE_SKEW = timedelta(minutes=5)
#: A ruck longer than this is not a ruck: its duration is left out (its completion still counts).
MAX_DURATION = timedelta(days=2)

#: The signal for each status a plan can move to in the database.
_SIGNALS = {
    PlanStatus.PAUSED.value: ids.SIGNAL_PLAN_PAUSED,
    PlanStatus.ACTIVE.value: ids.SIGNAL_PLAN_RESUMED,
    PlanStatus.CANCELLED.value: ids.SIGNAL_PLAN_CANCELLED,
    PlanStatus.COMPLETED.value: ids.SIGNAL_PLAN_COMPLETED,
    REMOVED: ids.SIGNAL_PLAN_CANCELLED,
}
_TERMINAL = (PlanStatus.CANCELLED.value, PlanStatus.COMPLETED.value, REMOVED)

_T = TypeVar("_T")


@dataclass
class ReconcileActivities:
    store: ReconcileStore
    client: Client
    task_queue: str
    #: What a plan workflow started here gets in its input (as from the API).
    config: WorkflowConfig

    @activity.defn
    async def reconcile_starts(self, input: ReconcileInput) -> ReconcilePhaseResult:
        """Start a workflow for every live plan that has none (at most ``max_starts`` per pass)."""
        result = ReconcilePhaseResult()
        after = 0
        while result.started < input.max_starts:
            limit = min(input.page_size, input.max_starts - result.started)
            page = await self.store.plans_to_start(after=after, limit=limit)
            if not page:
                return result
            await _gathered([self._start(p.plan_id) for p in page])
            await self.store.record_started([(p.plan_id, p.user_id, p.status) for p in page], _now())
            result.started += len(page)
            after = page[-1].plan_id
            activity.heartbeat(after)
        result.more = bool(await self.store.plans_to_start(after=after, limit=1))
        return result

    @activity.defn
    async def reconcile_statuses(self, input: ReconcileInput) -> ReconcilePhaseResult:
        """Tell each running plan whose status changed in the database (or whose row is gone)."""
        result = ReconcilePhaseResult()
        after = 0
        while True:
            page = await self.store.status_changes(after=after, limit=input.page_size)
            if not page:
                return result
            told = await _gathered(
                [self._signal(c.plan_id, _SIGNALS[c.now], PlanStatusChangeInput(reason=_reason(c.now))) for c in page]
            )
            seen: dict[int, str] = {}
            gone: list[int] = []
            for change, running in zip(page, told, strict=True):
                if change.now in _TERMINAL:
                    # Told, or already over: either way the workflow ends (or has ended) with this status.
                    await self.store.record_ended(change.plan_id, change.now, _reason(change.now), _now())
                    result.ended += 1
                elif running:
                    seen[change.plan_id] = change.now
                else:
                    gone.append(change.plan_id)  # its workflow ended unrecorded: the starts phase begins a new one
            await self.store.record_seen(seen)
            await self.store.forget_runs(gone)
            result.signalled += sum(told)
            result.forgotten += len(gone)
            after = page[-1].plan_id
            activity.heartbeat(after)

    @activity.defn
    async def reconcile_rucks(self, input: ReconcileInput) -> ReconcilePhaseResult:
        """Tell each running plan of its athlete's completed rucks it has not heard of (oldest first)."""
        result = ReconcilePhaseResult()
        now = _now()
        since = now - timedelta(hours=input.ruck_lookback_hours)
        while result.rucks + result.dropped_rucks < input.max_rucks:
            limit = min(input.page_size, input.max_rucks - result.rucks - result.dropped_rucks)
            page = await self.store.new_rucks(since=since, until=now + FUTURE_SKEW, limit=limit)
            if not page:
                return result
            told = await _gathered([self._signal(r.plan_id, ids.SIGNAL_SESSION_COMPLETED, completion(r)) for r in page])
            gone = sorted({r.plan_id for r, running in zip(page, told, strict=True) if not running})
            await self.store.record_rucks(
                [(r.plan_id, r.ruck_id, "reconciler") for r, running in zip(page, told, strict=True) if running],
                now,
            )
            # A plan whose workflow is not running after all: start it again; its rucks are told on the next pass.
            await self.store.forget_runs(gone)
            result.rucks += sum(told)
            result.forgotten += len(gone)
            activity.heartbeat(result.rucks)
            if len(page) < limit:
                return result
            # Rows completed before the page's last one were all read (oldest first); the next page starts there.
            since = page[-1].completed_at
        result.more = True
        return result

    async def _start(self, plan_id: int) -> None:
        await self.client.start_workflow(
            ids.PLAN_WORKFLOW_TYPE,
            PlanWorkflowInput(plan_id=plan_id, config=self.config),
            id=ids.plan_workflow_id(plan_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=static_summary(plan_id),
            static_details=static_details(plan_id),
        )

    async def _signal(self, plan_id: int, signal: str, arg: Any) -> bool:
        """Signal the plan's workflow; False when it is not running (never started, or ended)."""
        handle = self.client.get_workflow_handle(ids.plan_workflow_id(plan_id))
        try:
            await handle.signal(signal, arg)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    def all(self) -> list[Callable[..., Any]]:
        return [self.reconcile_starts, self.reconcile_statuses, self.reconcile_rucks]


def completion(ruck: NewRuck) -> SessionCompletedInput:
    """The ``session_completed`` signal for a ruck found in the database, its values bounded like the API's."""
    duration = ruck.duration_seconds
    if duration is None and ruck.started_at is not None:
        duration = int((ruck.completed_at - ruck.started_at).total_seconds())
    if duration is not None and not 0 <= duration <= MAX_DURATION.total_seconds():
        duration = None
    started = ruck.started_at
    if started is not None and not ruck.completed_at - MAX_DURATION <= started <= ruck.completed_at:
        started = None
    distance = ruck.distance_km if ruck.distance_km is not None and 0 <= ruck.distance_km <= 1_000 else None
    return SessionCompletedInput(
        ruck_id=ruck.ruck_id,
        completed_at=ruck.completed_at,
        started_at=started,
        source=CompletionSource.DATABASE,
        distance_km=distance,
        duration_seconds=duration,
    )


def _reason(status: str) -> str:
    if status == REMOVED:
        return "plan_removed: the plan's row was deleted from the database"
    return f"reconciler: the plan is {status} in the database"


async def _gathered(calls: list[Awaitable[_T]]) -> list[_T]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Awaitable[_T]) -> _T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


def _now() -> datetime:
    """The attempt's server time: the host clock in production, the skipped-to time in time-skipping tests."""
    return activity.info().current_attempt_scheduled_time or datetime.now(UTC)


__all__ = ["ReconcileActivities", "completion"]
