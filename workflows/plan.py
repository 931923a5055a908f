"""The coaching plan workflow: one long-lived entity workflow per active plan.

It decides *when*; the pure rules in :mod:`coaching.schedule` decide *what*, and activities do the I/O. The loop sleeps
until the next notification is due and wakes early when a signal changes the plan. Handlers only change state and wake
the loop. The state is one model carried through continue-as-new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching.explain import notification_label
    from coaching.models import (
        Decision,
        LedgerStatus,
        LoadPlanInput,
        PlanSnapshot,
        PlanStatus,
        PlanWorkflowInput,
        PlanWorkflowResult,
        RecordCompletionInput,
        RecordPlanEndInput,
        RecordScheduleInput,
        RefreshCadenceInput,
    )
    from coaching.schedule import (
        FINAL_TYPES,
        RULES_V1,
        RULES_V2,
        SESSION_REMINDERS,
        Evaluation,
    )
    from coaching.timeutil import local_to_utc

from workflows.plan_base import TERMINAL
from workflows.plan_changes import PlanChanges
from workflows.plan_delivery import PlanDelivery
from workflows.plan_patches import (
    ADAPTIVE_CADENCE_PATCH,
    PREPARE_CONTENT_PATCH,
    RECORD_END_PATCH,
    ROBUST_PATCH,
    TERMINAL_SIGNAL_PATCH,
    TIMING_RULES_PATCH,
)
from workflows.plan_reload import merge_loaded_snapshot

#: A plan with nothing left to send ends this long after the morning after its last session.
PLAN_OVER_AFTER = timedelta(days=14)
#: What the morning after a session is (the missed follow-up's time): the plan's last notification of a session.
_MORNING_AFTER_MINUTE = 9 * 60
#: A failed evaluation (a bug, or data no rule handles) is tried again this much later instead of failing the task.
_EVALUATE_RETRY = timedelta(hours=1)
#: Recording the end is worth a few tries, not a plan that never finishes: the reconciler catches up without it.
_END_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=5)
#: After the plan is completed: how long the workflow still waits for its last ruck's signal and milestone.
COMPLETION_GRACE = timedelta(minutes=3)
#: The timer of a completed plan's last few minutes.
_GRACE_SUMMARY = "completion grace: the last ruck's celebration and milestone"


@workflow.defn
class CoachingPlanWorkflow(PlanChanges, PlanDelivery):
    # --- run loop ----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: PlanWorkflowInput) -> PlanWorkflowResult:
        self._plan_id = input.plan_id
        self._adaptive = workflow.patched(ADAPTIVE_CADENCE_PATCH)
        self._prepare = workflow.patched(PREPARE_CONTENT_PATCH)
        self._robust = workflow.patched(ROBUST_PATCH)
        self._rules = RULES_V2 if workflow.patched(TIMING_RULES_PATCH) else RULES_V1
        self._configure(input.config)
        if input.state is not None:
            self._state = input.state
        # Paused already (carried from a run before the patch, or a pause signalled with the start): from now on.
        self._set_status(self._state.status)
        if self._state.started_at is None:
            self._state.started_at = workflow.now()
        if self._state.snapshot is None:
            self._state.needs_reload = True

        while True:
            # Consume the wake-up before evaluating: a signal that lands while this iteration runs activities
            # leaves it set, so the sleep below returns at once and the change is not lost until the next timer.
            self._wake = False
            if self._state.needs_reload:
                await self._reload()
                if self._state.snapshot is None:  # robust-plans: the plan was never in the database
                    break
            snapshot = self._state.snapshot
            assert snapshot is not None
            # Completions are recorded even when the plan just ended: the last session's ruck still counts.
            await self._record_new_completions(snapshot)
            evaluation = self._evaluate(snapshot)
            if evaluation is None:
                await self._sleep_until(workflow.now() + _EVALUATE_RETRY, "retry: the schedule's rules failed")
                continue
            if self._state.status is PlanStatus.CANCELLED:
                break
            if self._state.status is PlanStatus.COMPLETED:
                # Finishing with the last ruck: its celebration and milestone are still due, and the ruck's own
                # signal may arrive just after the plan's. Wait out a short grace period, then end.
                if self._state.finish_by is None:
                    self._state.finish_by = workflow.now() + COMPLETION_GRACE
                for action in evaluation.actions:
                    if action.notification.type in FINAL_TYPES:
                        await self._apply(snapshot, action)
                if self._robust:
                    # The last ruck's milestone goes at its own time, and a ruck reported within the grace period
                    # still gets its celebration and milestone: the grace period stretches to what they need.
                    pending = [n.send_at for n in evaluation.upcoming if n.type in FINAL_TYPES]
                    finish = max([self._state.finish_by, *pending])
                    if workflow.now() >= finish:
                        if not self._deliveries:
                            break
                        await self._sleep_until(None)  # a delivery that finishes wakes the loop
                        continue
                    await self._sleep_until(min([finish, *pending]), _GRACE_SUMMARY)
                    continue
                if workflow.now() >= self._state.finish_by:
                    break
                await self._sleep_until(self._state.finish_by, _GRACE_SUMMARY)
                continue
            if self._robust and self._paused_by_database_only(evaluation):
                continue  # read the database again before skipping what the pause holds (it may be resumed there)
            if evaluation.actions:
                for index, action in enumerate(evaluation.actions):
                    if self._wake and index > 0:
                        break  # a signal changed the plan: re-evaluate the rest (the first always goes, no starving)
                    await self._apply(snapshot, action)
                if not self._robust or not self._deliveries:
                    continue
                # The deliveries just started run beside the loop; what else is due, and when, is known now.
                evaluation = self._evaluate(snapshot) or Evaluation()
                if evaluation.actions:
                    continue
            if self._adaptive and self._state.cadence_pending:
                # After what was due (a ruck's celebration never waits for this), then re-plan with it.
                await self._refresh_cadence(snapshot)
                continue
            self._remember_upcoming(snapshot, evaluation)
            if self._config.search_attributes:
                self._publish(evaluation)
            await self._record_schedule(evaluation)
            if self._should_continue_as_new(self._config.continue_as_new_after_events):
                await workflow.wait_condition(lambda: not self._deliveries and workflow.all_handlers_finished())
                self._state.handled = self._prune_handled(snapshot)
                self._preparations.drop_all()  # the next run prepares again what is still ahead
                workflow.continue_as_new(
                    PlanWorkflowInput(plan_id=self._plan_id, config=self._config, state=self._state)
                )
            wake = evaluation.next_wake
            waits_for = self._waits_for(snapshot, evaluation, wake)
            if self._prepare and self._state.status is PlanStatus.ACTIVE:
                prepare_at = self._preparations.start_due(self._plan_id, snapshot, evaluation)
                if prepare_at is not None and (wake is None or prepare_at < wake):
                    wake, waits_for = prepare_at, self._preparations.timer_summary(snapshot, evaluation, prepare_at)
            if self._robust and not evaluation.upcoming and not self._deliveries:
                over_at = _plan_over_at(snapshot)
                if workflow.now() >= over_at:
                    self._end_reason = (
                        f"plan_over: nothing left to send {PLAN_OVER_AFTER.days} days after the morning after its "
                        "last session"
                    )
                    break
                if wake is None or over_at < wake:
                    wake, waits_for = over_at, "plan over: nothing left to send"
            await self._sleep_until(wake, waits_for)

        # Deliveries still running finish first (a cancellation withdraws them; see _deliver).
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

    def _paused_by_database_only(self, evaluation: Evaluation) -> bool:
        """A pause that came from the database (no pause signal) is read again before each reminder it would skip:
        a resume written only to the database must not go unnoticed. True when a reload was asked for."""
        if self._state.status is not PlanStatus.PAUSED or self._state.status_signalled:
            return False
        due = [a.notification.due_at for a in evaluation.actions if a.decision is Decision.SKIP]
        if not due or (self._paused_read_at is not None and self._paused_read_at >= max(due)):
            return False
        self._paused_read_at = workflow.now()
        self._state.needs_reload = True
        return True

    def _waits_for(self, snapshot: PlanSnapshot, evaluation: Evaluation, wake: datetime | None) -> str | None:
        """What a timer until ``wake`` (the evaluation's next wake) waits for: its notification, named."""
        if wake is None:
            return None
        for n in evaluation.upcoming:
            if n.send_at == wake:
                return notification_label(n, snapshot.prefs.timezone)
        return "a notification of a category switched off (logged as skipped at its time)"

    def _should_continue_as_new(self, threshold: int) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= threshold

    def _prune_handled(self, snapshot: PlanSnapshot) -> dict[str, str]:
        """Keep only what the schedule can still produce, so the carried state stays small for the plan's life."""
        from coaching.schedule import candidates, session_starts

        starts = session_starts(snapshot, adaptive=self._adaptive)
        live = {n.notification_id for n in candidates(snapshot, self._state.completions, starts, rules=self._rules)}
        return {k: v for k, v in self._state.handled.items() if k in live}

    # --- activities ----------------------------------------------------------------------------------------

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

    async def _reload(self) -> None:
        self._state.needs_reload = False
        signals_before = self._cadence_signals
        # Not while an athlete's change is being saved: this load could read the row before the save and then
        # replace the snapshot the change was applied to.
        async with self._saving:
            try:
                result = await self._io(PlanActivities.load_plan, LoadPlanInput(plan_id=self._plan_id), "load the plan")
            except ActivityError as err:
                if not self._robust or self._state.snapshot is None:
                    raise
                # Data the load cannot read (a permanent error): go on with what was loaded last, and say so.
                workflow.logger.error("plan %s: reload failed for good, keeping the last load: %s", self._plan_id, err)
                return
        if self._robust and result.config is not None:
            self._configure(result.config)  # the worker's settings, as deployed now
        if result.snapshot is not None and self._cadence_signals != signals_before:
            assert self._signalled_cadence is not None
            result.snapshot.cadence = self._signalled_cadence
        if result.snapshot is None:
            if self._state.snapshot is None:
                if not self._robust:
                    raise ApplicationError(f"plan {self._plan_id} does not exist", non_retryable=True)
                self._set_status(PlanStatus.CANCELLED)
                self._end_reason = f"plan_removed: plan {self._plan_id} is not in the database"
                return
            self._set_status(PlanStatus.CANCELLED)  # the plan row was deleted: stop talking about it
            if self._robust:
                self._end_reason = f"plan_removed: plan {self._plan_id} was deleted from the database"
            return
        merge_loaded_snapshot(self._state, result.snapshot, workflow.now())
        # A pause or resume signal is newer than the row; a terminal status in the database always wins; and a
        # cancel or complete signalled before the row said so (e.g. while the first load ran) is not undone by it.
        if self._state.status in TERMINAL and workflow.patched(TERMINAL_SIGNAL_PATCH):
            return
        if result.snapshot.status in TERMINAL or not self._state.status_signalled:
            self._set_status(result.snapshot.status)  # a pause found in the database opens a pause period

    async def _record_new_completions(self, snapshot: PlanSnapshot) -> None:
        for completion in self._state.completions:
            if completion.recorded or completion.plan_session_id is None:
                continue
            try:
                await self._io(
                    PlanActivities.record_completion,
                    RecordCompletionInput(plan_id=self._plan_id, completion=completion),
                    f"record completion: ruck {completion.ruck_id} → session {completion.plan_session_id}",
                )
            except ActivityError as err:
                if not self._robust:
                    raise
                # The database refused it for good (bad data): the plan still counts the ruck; RuckTracker's row
                # just does not show the link.
                workflow.logger.error(
                    "plan %s: completion of ruck %s not recorded: %s", self._plan_id, completion.ruck_id, err
                )
            completion.recorded = True

    async def _refresh_cadence(self, snapshot: PlanSnapshot) -> None:
        """Learn from the new ruck(s) now rather than at night, so the next reminders already follow it."""
        self._state.cadence_pending = False
        try:
            # A few quick tries only: the nightly recompute catches up, and due notifications wait meanwhile.
            result = await workflow.execute_activity_method(
                PlanActivities.refresh_cadence,
                RefreshCadenceInput(plan_id=self._plan_id, user_id=snapshot.user_id),
                start_to_close_timeout=min(self._timeout, timedelta(seconds=30)),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3),
                summary="refresh the cadence (a new ruck)",
            )
        except ActivityError as err:
            workflow.logger.warning("cadence refresh failed; keeping the previous window: %s", err.cause or err)
            return
        if result.cadence is not None:
            snapshot.cadence = result.cadence

    async def _record_schedule(self, evaluation: Evaluation) -> None:
        """Mirror each session's next notification time into plan_sessions.next_notification_at."""
        snapshot = self._state.snapshot
        assert snapshot is not None
        nexts: dict[int, datetime | None] = {s.id: None for s in snapshot.sessions}
        for n in evaluation.upcoming:
            if n.plan_session_id is not None and n.type in SESSION_REMINDERS and nexts.get(n.plan_session_id) is None:
                nexts[n.plan_session_id] = n.send_at
        if nexts == self._state.recorded_schedule:
            return
        try:
            await self._io(
                PlanActivities.record_schedule,
                RecordScheduleInput(plan_id=self._plan_id, next_by_session=nexts),
                "record the sessions' next notification times",
            )
        except ActivityError as err:
            if not self._robust:
                raise
            workflow.logger.error("plan %s: next notification times not recorded: %s", self._plan_id, err)
        self._state.recorded_schedule = nexts

    # --- visibility ------------------------------------------------------------------------------------------


def _plan_over_at(snapshot: PlanSnapshot) -> datetime:
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


__all__ = ["TIMING_RULES_PATCH", "CoachingPlanWorkflow"]
