"""How a plan's workflow ends: the completion grace period, the plan-over rule, and the end itself.

A completed plan still owes its last ruck a celebration and a milestone, and the ruck's own signal may arrive just
after the plan's: the workflow waits a short grace period before it ends. A plan with nothing left to send ends
(robust-plans) 14 days after the morning after its last session. At the end, running deliveries finish first, the
end is recorded in the database (for the reconciler), and the result says what the plan did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching.models import LedgerStatus, PlanSnapshot, PlanWorkflowResult, RecordPlanEndInput
    from coaching.schedule import FINAL_TYPES, Evaluation
    from coaching.timeutil import local_to_utc

from workflows.plan_delivery import PlanDelivery
from workflows.plan_patches import RECORD_END_PATCH

#: After the plan is completed: how long the workflow still waits for its last ruck's signal and milestone.
COMPLETION_GRACE = timedelta(minutes=3)
#: The timer of a completed plan's last few minutes.
_GRACE_SUMMARY = "completion grace: the last ruck's celebration and milestone"
#: A plan with nothing left to send ends this long after the morning after its last session.
PLAN_OVER_AFTER = timedelta(days=14)
#: Why a plan ended by the plan-over rule.
PLAN_OVER_REASON = (
    f"plan_over: nothing left to send {PLAN_OVER_AFTER.days} days after the morning after its last session"
)
#: What the morning after a session is (the missed follow-up's time): the plan's last notification of a session.
_MORNING_AFTER_MINUTE = 9 * 60
#: Recording the end is worth a few tries, not a plan that never finishes: the reconciler catches up without it.
_END_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=5)


class PlanEnding(PlanDelivery):
    """The end of :class:`workflows.plan.CoachingPlanWorkflow`'s life (a completed plan's last deliveries included)."""

    async def _completion_grace(self, snapshot: PlanSnapshot, evaluation: Evaluation) -> bool:
        """Deliver what a completed plan still owes its last ruck, then sleep in the grace period: False once it
        is over (the workflow ends), True after a sleep (the loop goes round again)."""
        if self._state.finish_by is None:
            self._state.finish_by = workflow.now() + COMPLETION_GRACE
        for action in evaluation.actions:
            if action.notification.type in FINAL_TYPES:
                await self._apply(snapshot, action)
        if not self._robust:
            if workflow.now() >= self._state.finish_by:
                return False
            await self._sleep_until(self._state.finish_by, _GRACE_SUMMARY)
            return True
        # The last ruck's milestone goes at its own time, and a ruck reported within the grace period still gets
        # its celebration and milestone: the grace period stretches to what they need.
        pending = [n.send_at for n in evaluation.upcoming if n.type in FINAL_TYPES]
        finish = max([self._state.finish_by, *pending])
        if workflow.now() < finish:
            await self._sleep_until(min([finish, *pending]), _GRACE_SUMMARY)
            return True
        if not self._deliveries:
            return False
        await self._sleep_until(None)  # a delivery that finishes wakes the loop
        return True

    async def _end(self) -> PlanWorkflowResult:
        """Finish the run: deliveries still running first, then record the end; what the plan did."""
        # A cancellation has withdrawn what is still running (see PlanDelivery._withdraw_when_unwanted).
        await workflow.wait_condition(lambda: not self._deliveries)
        self._preparations.drop_all()
        if not self._end_reason:
            self._end_reason = f"the plan is {self._state.status.value}"
        self._upcoming_planned = []
        self._show_details()
        if workflow.patched(RECORD_END_PATCH):
            await self._record_end()
        if self._config.search_attributes:
            self._publish(Evaluation())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PlanWorkflowResult(
            plan_id=self._plan_id,
            final_status=self._state.status,
            sent=self._count(LedgerStatus.SENT),
            skipped=self._count(LedgerStatus.SKIPPED, LedgerStatus.FAILED),  # everything that did not go out
            end_reason=self._end_reason if self._robust else "",
        )

    async def _record_end(self) -> None:
        status = self._state.status
        try:
            await workflow.execute_activity_method(
                PlanActivities.record_plan_end,
                RecordPlanEndInput(plan_id=self._plan_id, status=status, reason=f"the plan is {status.value}"),
                start_to_close_timeout=self._timeout,
                retry_policy=_END_RETRY,
                summary=f"record the plan's end: {status.value}",
            )
        except ActivityError as err:
            workflow.logger.warning("could not record the plan's end: %s", err.cause or err)


def plan_over_at(snapshot: PlanSnapshot) -> datetime:
    """When a plan with nothing left to send ends (robust-plans): 14 days after the morning after its last session
    (or after its creation, without dated sessions)."""
    days = [s.scheduled_date for s in snapshot.sessions if s.scheduled_date is not None]
    last = snapshot.created_at
    if days:
        try:
            morning_after = local_to_utc(max(days) + timedelta(days=1), _MORNING_AFTER_MINUTE, snapshot.prefs.timezone)
        except (ArithmeticError, ValueError):
            morning_after = snapshot.created_at
        last = max(last, morning_after)
    try:
        return last + PLAN_OVER_AFTER
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)
