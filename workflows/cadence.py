"""The nightly cadence recompute: page through the athletes due, a page of each id range at a time.

Started by the Temporal Schedule ``coaching-cadence-nightly`` (see :mod:`starter.schedules`), or by hand with
``coach cadence recompute``. The user-id space is split into ``partitions`` ranges whose pages run concurrently (so
one page's database round trips overlap another's analysis, and several workers share the night's work). Each page
is one activity: a handful of set-based queries plus the signals to the plans whose window changed. The workflow
only carries the cursors and the totals, through continue-as-new.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.cadence import CadenceActivities
    from coaching.ids import user_id_partitions
    from coaching.models import CadenceBatchInput, CadenceBatchResult, CadenceRecomputeInput, CadenceRecomputeResult

_BATCH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5)
)


@workflow.defn
class CadenceRecomputeWorkflow:
    @workflow.run
    async def run(self, input: CadenceRecomputeInput) -> CadenceRecomputeResult:
        as_of = input.as_of or workflow.now()
        ranges = user_id_partitions(input.partitions)
        cursors = input.cursors or [lower for lower, _ in ranges]
        finished = input.finished or [False] * len(ranges)
        while not all(finished):
            live = [i for i, done in enumerate(finished) if not done]
            pages = await asyncio.gather(*(self._page(as_of, cursors[i], ranges[i][1], input.batch_size) for i in live))
            for i, batch in zip(live, pages, strict=True):
                input.athletes += batch.athletes
                input.changed_plans += batch.changed_plans
                input.signalled_plans += batch.signalled_plans
                if batch.next_after is None:
                    finished[i] = True
                else:
                    cursors[i] = batch.next_after
            if not all(finished) and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    input.model_copy(update={"as_of": as_of, "cursors": cursors, "finished": finished})
                )
        workflow.logger.info(
            "cadence recomputed for %d athletes; %d plans changed", input.athletes, input.changed_plans
        )
        return CadenceRecomputeResult(
            as_of=as_of,
            athletes=input.athletes,
            changed_plans=input.changed_plans,
            signalled_plans=input.signalled_plans,
        )

    async def _page(self, as_of: datetime, after: str | None, before: str | None, size: int) -> CadenceBatchResult:
        return await workflow.execute_activity_method(
            CadenceActivities.recompute_cadence_batch,
            CadenceBatchInput(as_of=as_of, after=after, before=before, batch_size=size),
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=5),
            retry_policy=_BATCH_RETRY,
        )


__all__ = ["CadenceRecomputeWorkflow"]
