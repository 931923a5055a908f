"""The coaching plan workflow: one long-lived entity workflow per active plan.

It decides *when*; the pure rules in :mod:`coaching.schedule` decide *what*, and activities do the I/O. ``run`` reads
like the README's diagram: load the plan, evaluate, deliver or skip what is due, publish what is upcoming, continue
as new when the history grows, and sleep until the next notification or until a signal wakes the loop; it ends when
the plan is cancelled, completed or over. The state is one model carried through continue-as-new.

The workflow is made of parts, each in its own module:

- :mod:`workflows.plan_base`: the run's fields; evaluating, the status, sleeping, I/O, what the plan shows
- :mod:`workflows.plan_changes`: the signal and update handlers (they change state and wake the loop)
- :mod:`workflows.plan_delivery`: skipping or delivering what is due, and withdrawing a delivery no longer wanted
- :mod:`workflows.plan_ending`: the completion grace period, the plan-over rule, the end
- :mod:`workflows.plan_prep`: copy prepared ahead of its notification
- :mod:`workflows.plan_reload`: merging a reloaded snapshot (or a moved session) into the state
- :mod:`workflows.plan_patches`: the version gates (``workflow.patched``)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching.explain import notification_label
    from coaching.models import (
        Decision,
        LoadPlanInput,
        PlanSnapshot,
        PlanStatus,
        PlanWorkflowInput,
        PlanWorkflowResult,
        RecordCompletionInput,
        RecordScheduleInput,
        RefreshCadenceInput,
    )
    from coaching.schedule import RULES_V1, RULES_V2, SESSION_REMINDERS, Evaluation

from workflows.plan_base import TERMINAL
from workflows.plan_changes import PlanChanges
from workflows.plan_ending import PLAN_OVER_REASON, PlanEnding, plan_over_at
from workflows.plan_patches import (
    ADAPTIVE_CADENCE_PATCH,
    PREPARE_CONTENT_PATCH,
    ROBUST_PATCH,
    TERMINAL_SIGNAL_PATCH,
    TIMING_RULES_PATCH,
)
from workflows.plan_reload import merge_loaded_snapshot

#: A failed evaluation (a bug, or data no rule handles) is tried again this much later instead of failing the task.
_EVALUATE_RETRY = timedelta(hours=1)


@workflow.defn
class CoachingPlanWorkflow(PlanChanges, PlanEnding):
    """One plan's life, from its first load to its end."""

    @workflow.run
    async def run(self, input: PlanWorkflowInput) -> PlanWorkflowResult:
        self._begin(input)
        while True:
            # Consume the wake-up before evaluating: a signal that lands while this iteration runs activities
            # leaves it set, so the sleep below returns at once and the change is not lost until the next timer.
            self._wake = False
            if self._state.needs_reload:
                await self._load_plan()
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
                # The last ruck's celebration and milestone are still due: a short grace period, then the end.
                if await self._completion_grace(snapshot, evaluation):
                    continue
                break
            if self._robust and self._paused_by_database_only(evaluation):
                continue  # read the database again before skipping what the pause holds (it may be resumed there)
            if evaluation.actions:
                evaluation = await self._act_on_due(snapshot, evaluation)
                if evaluation is None:
                    continue
            if self._adaptive and self._state.cadence_pending:
                # After what was due (a ruck's celebration never waits for this), then re-plan with it.
                await self._refresh_cadence(snapshot)
                continue
            await self._publish_schedule(snapshot, evaluation)
            await self._continue_as_new_when_long(snapshot)
            if not await self._sleep_until_next(snapshot, evaluation):
                break  # robust-plans: the plan is over, nothing left to send
        return await self._end()

    def _begin(self, input: PlanWorkflowInput) -> None:
        """Take the input: the patches this run has, its configuration, and the state carried from the last run."""
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

    async def _load_plan(self) -> None:
        """Read the plan from the database and merge it into the state (or end the plan: its row is gone)."""
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
        loaded = result.snapshot
        if loaded is None:
            self._plan_gone()
            return
        if self._cadence_signals != signals_before:
            assert self._signalled_cadence is not None
            loaded.cadence = self._signalled_cadence  # the load read the database before the signal
        merge_loaded_snapshot(self._state, loaded, workflow.now())
        # A pause or resume signal is newer than the row; a terminal status in the database always wins; and a
        # cancel or complete signalled before the row said so (e.g. while the first load ran) is not undone by it.
        if self._state.status in TERMINAL and workflow.patched(TERMINAL_SIGNAL_PATCH):
            return
        if loaded.status in TERMINAL or not self._state.status_signalled:
            self._set_status(loaded.status)  # a pause found in the database opens a pause period

    def _plan_gone(self) -> None:
        """The plan's row is not in the database: the plan is cancelled (robust-plans: saying why)."""
        if self._state.snapshot is None:
            if not self._robust:
                raise ApplicationError(f"plan {self._plan_id} does not exist", non_retryable=True)
            self._set_status(PlanStatus.CANCELLED)
            self._end_reason = f"plan_removed: plan {self._plan_id} is not in the database"
            return
        self._set_status(PlanStatus.CANCELLED)  # the plan row was deleted: stop talking about it
        if self._robust:
            self._end_reason = f"plan_removed: plan {self._plan_id} was deleted from the database"

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

    async def _publish_schedule(self, snapshot: PlanSnapshot, evaluation: Evaluation) -> None:
        """Show what is upcoming: the status query and current details, the search attributes, and each session's
        next notification time in the database."""
        self._remember_upcoming(snapshot, evaluation)
        if self._config.search_attributes:
            self._publish(evaluation)
        await self._record_schedule(evaluation)

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

    async def _continue_as_new_when_long(self, snapshot: PlanSnapshot) -> None:
        """Hand the state to the plan's next run when the history grows long (this run ends here, by raising)."""
        if not self._should_continue_as_new(self._config.continue_as_new_after_events):
            return
        await workflow.wait_condition(lambda: not self._deliveries and workflow.all_handlers_finished())
        self._state.handled = self._prune_handled(snapshot)
        self._preparations.drop_all()  # the next run prepares again what is still ahead
        workflow.continue_as_new(PlanWorkflowInput(plan_id=self._plan_id, config=self._config, state=self._state))

    def _should_continue_as_new(self, threshold: int) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= threshold

    def _prune_handled(self, snapshot: PlanSnapshot) -> dict[str, str]:
        """Keep only what the schedule can still produce, so the carried state stays small for the plan's life."""
        from coaching.schedule import candidates, session_starts

        starts = session_starts(snapshot, adaptive=self._adaptive)
        live = {n.notification_id for n in candidates(snapshot, self._state.completions, starts, rules=self._rules)}
        return {k: v for k, v in self._state.handled.items() if k in live}

    async def _sleep_until_next(self, snapshot: PlanSnapshot, evaluation: Evaluation) -> bool:
        """Sleep until the next notification is due, a copy's preparation starts, or the plan is over (whichever
        comes first), or until a signal wakes the loop. False, without sleeping, when the plan is over now."""
        wake = evaluation.next_wake
        waits_for = self._waits_for(snapshot, evaluation, wake)
        if self._prepare and self._state.status is PlanStatus.ACTIVE:
            prepare_at = self._preparations.start_due(self._plan_id, snapshot, evaluation)
            if prepare_at is not None and (wake is None or prepare_at < wake):
                wake, waits_for = prepare_at, self._preparations.timer_summary(snapshot, evaluation, prepare_at)
        if self._robust and not evaluation.upcoming and not self._deliveries:
            over_at = plan_over_at(snapshot)
            if workflow.now() >= over_at:
                self._end_reason = PLAN_OVER_REASON
                return False
            if wake is None or over_at < wake:
                wake, waits_for = over_at, "plan over: nothing left to send"
        await self._sleep_until(wake, waits_for)
        return True

    def _waits_for(self, snapshot: PlanSnapshot, evaluation: Evaluation, wake: datetime | None) -> str | None:
        """What a timer until ``wake`` (the evaluation's next wake) waits for: its notification, named."""
        if wake is None:
            return None
        for n in evaluation.upcoming:
            if n.send_at == wake:
                return notification_label(n, snapshot.prefs.timezone)
        return "a notification of a category switched off (logged as skipped at its time)"


#: TIMING_RULES_PATCH is re-exported for the tests that start plans before and after it.
__all__ = ["TIMING_RULES_PATCH", "CoachingPlanWorkflow"]
