"""The nightly cadence recompute: page through the athletes due, one batch activity at a time.

Started by the Temporal Schedule ``coaching-cadence-nightly`` (see :mod:`starter.schedules`), or by hand with
``coach cadence recompute``. Each page is one activity (a handful of set-based queries plus the signals to the
plans whose window changed); the workflow only carries the cursor and the totals, through continue-as-new.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.cadence import CadenceActivities
    from coaching.models import CadenceBatchInput, CadenceRecomputeInput, CadenceRecomputeResult

_BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)


@workflow.defn
class CadenceRecomputeWorkflow:
    @workflow.run
    async def run(self, input: CadenceRecomputeInput) -> CadenceRecomputeResult:
        as_of = input.as_of or workflow.now()
        after = input.after
        while True:
            batch = await workflow.execute_activity_method(
                CadenceActivities.recompute_cadence_batch,
                CadenceBatchInput(as_of=as_of, after=after, batch_size=input.batch_size),
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=5),
                retry_policy=_BATCH_RETRY,
            )
            input.athletes += batch.athletes
            input.changed_plans += batch.changed_plans
            input.signalled_plans += batch.signalled_plans
            if batch.next_after is None:
                break
            after = batch.next_after
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(input.model_copy(update={"as_of": as_of, "after": after}))
        workflow.logger.info(
            "cadence recomputed for %d athletes; %d plans changed", input.athletes, input.changed_plans
        )
        return CadenceRecomputeResult(
            as_of=as_of,
            athletes=input.athletes,
            changed_plans=input.changed_plans,
            signalled_plans=input.signalled_plans,
        )


__all__ = ["CadenceRecomputeWorkflow"]
