"""The send-volume anomaly watch: one pass, started every 15 minutes by the Temporal Schedule ``coaching-anomaly``.

The pass judges the last window (an hour) against the same window of the same weekday in the previous weeks, plus
the absolute guards (:mod:`coaching.anomaly`); the activity reads the ledger and reports each alert.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.anomaly import AnomalyActivities
    from coaching.models import AnomalyWatchInput, AnomalyWatchResult

#: The next pass comes in 15 minutes anyway: a few quick retries, then give up.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_attempts=3)


@workflow.defn
class AnomalyWatchWorkflow:
    @workflow.run
    async def run(self, input: AnomalyWatchInput) -> AnomalyWatchResult:
        # The window ends at the pass's start (to the minute), the same for every retry of the activity.
        end = input.end or workflow.now().replace(second=0, microsecond=0)
        result = await workflow.execute_activity_method(
            AnomalyActivities.check_send_volume,
            input.model_copy(update={"end": end}),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=_RETRY,
        )
        if result.alerts:
            workflow.logger.warning("anomaly watch: %d alert(s)", len(result.alerts))
        return result


__all__ = ["AnomalyWatchWorkflow"]
