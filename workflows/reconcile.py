"""The reconciler: one pass over the database, started every minute by the Temporal Schedule ``coaching-reconcile``.

The database is the source of truth (see :mod:`activities.reconcile`): a pass starts the workflows of live plans that
have none, tells running ones of status changes made in the database, then of completed rucks they have not heard of.
The phases run in that order, so a plan started in this pass already hears of its athlete's rucks. A pass is short and
bounded; what is left over (a first rollout's thousands of plans) is picked up by the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from coaching.models import ReconcileInput, ReconcilePhaseResult, ReconcileResult

#: A pass is re-run by the schedule a minute later anyway: a few quick retries, then give up.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=3)


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileResult:
        starts = await self._phase(ReconcileActivities.reconcile_starts, input)
        statuses = await self._phase(ReconcileActivities.reconcile_statuses, input)
        rucks = await self._phase(ReconcileActivities.reconcile_rucks, input)
        if starts.started or statuses.signalled or statuses.ended or rucks.rucks:
            workflow.logger.info(
                "reconciled: %d plans started, %d told of a status change, %d ended, %d rucks told",
                starts.started,
                statuses.signalled,
                statuses.ended,
                rucks.rucks,
            )
        return ReconcileResult(starts=starts, statuses=statuses, rucks=rucks)

    async def _phase(
        self,
        activity: Callable[[ReconcileActivities, ReconcileInput], Awaitable[ReconcilePhaseResult]],
        input: ReconcileInput,
    ) -> ReconcilePhaseResult:
        return await workflow.execute_activity_method(
            activity,
            input,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=_RETRY,
        )


__all__ = ["ReconcileWorkflow"]
