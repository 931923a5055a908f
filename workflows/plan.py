"""The coaching plan workflow: one long-lived entity workflow per active plan.

It decides *when*; the pure rules in :mod:`coaching.schedule` decide *what*, and activities do the I/O. The loop sleeps
until the next notification is due and wakes early when a signal changes the plan. Handlers only change state and wake
the loop. The state is one model carried through continue-as-new.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching.explain import notification_label
    from coaching.models import (
        CadenceUpdatedInput,
        CancelSnoozeInput,
        ChangePreferencesInput,
        Completion,
        Decision,
        LedgerStatus,
        LoadPlanInput,
        PlanSnapshot,
        PlanStatus,
        PlanStatusChangeInput,
        PlanStatusResult,
        PlanWorkflowInput,
        PlanWorkflowResult,
        RecordCompletionInput,
        RecordPlanEndInput,
        RecordScheduleInput,
        RefreshCadenceInput,
        RescheduleSessionInput,
        SavePreferencesInput,
        SaveRescheduleInput,
        SaveSnoozeInput,
        SessionCompletedInput,
        SessionsChangedInput,
        SnoozeInput,
    )
    from coaching.preferences import (
        CHANGE_REJECTED,
        GONE_PLAN,
        GONE_SESSION,
        PLAN_CLOSED,
        ChangeRejected,
        check_preferences,
        check_reschedule,
        check_snooze,
        snooze_end,
    )
    from coaching.schedule import (
        FINAL_TYPES,
        RULES_V1,
        RULES_V2,
        SESSION_REMINDERS,
        Evaluation,
        match_completion,
    )
    from coaching.timeutil import local_date, local_to_utc

from workflows.plan_base import TERMINAL
from workflows.plan_delivery import PlanDelivery
from workflows.plan_patches import (
    ADAPTIVE_CADENCE_PATCH,
    PREPARE_CONTENT_PATCH,
    RECORD_END_PATCH,
    ROBUST_PATCH,
    STORED_SNOOZE_PATCH,
    TERMINAL_SIGNAL_PATCH,
    TIMING_RULES_PATCH,
)
from workflows.plan_reload import merge_loaded_snapshot, merge_moved_session

#: A plan with nothing left to send ends this long after the morning after its last session.
PLAN_OVER_AFTER = timedelta(days=14)
#: What the morning after a session is (the missed follow-up's time): the plan's last notification of a session.
_MORNING_AFTER_MINUTE = 9 * 60
#: A completion reported this far ahead of the workflow's clock is a phone clock gone wrong, not a ruck: dropped.
_COMPLETION_AHEAD = timedelta(days=1)
#: Completions from before this are data errors (a year typed as 0001), as are rucks longer than _LONGEST_RUCK.
_EARLIEST_COMPLETION = datetime(2000, 1, 1, tzinfo=UTC)
_LONGEST_RUCK = timedelta(days=2)
#: A failed evaluation (a bug, or data no rule handles) is tried again this much later instead of failing the task.
_EVALUATE_RETRY = timedelta(hours=1)
#: Recording the end is worth a few tries, not a plan that never finishes: the reconciler catches up without it.
_END_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=5)
#: After the plan is completed: how long the workflow still waits for its last ruck's signal and milestone.
COMPLETION_GRACE = timedelta(minutes=3)
#: The timer of a completed plan's last few minutes.
_GRACE_SUMMARY = "completion grace: the last ruck's celebration and milestone"
_In = TypeVar("_In")
_Out = TypeVar("_Out")

#: An athlete's change is written while they wait for the answer: a few quick tries, then the update fails (the
#: API answers 503 and the app retries; every change sets a value, so a repeat is harmless).
_SAVE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=4)
_SAVE_TIMEOUT = timedelta(seconds=30)


@workflow.defn
class CoachingPlanWorkflow(PlanDelivery):
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

    # --- updates: an athlete's changes, checked by a validator, applied, answered with the new schedule ---------

    @workflow.update
    async def change_preferences(self, input: ChangePreferencesInput) -> PlanStatusResult:
        """Store the athlete's preferences (they are the athlete's, so every plan of theirs sees them) and re-plan."""
        snapshot = await self._open_snapshot()
        _check(check_preferences, input)
        async with self._changing():
            result = await self._save(
                PlanActivities.save_preferences,
                SavePreferencesInput(plan_id=self._plan_id, user_id=snapshot.user_id, change=input),
            )
            current = self._state.snapshot
            assert current is not None
            current.prefs = result.prefs
        return self._replanned()

    @change_preferences.validator
    def _validate_preferences(self, input: ChangePreferencesInput) -> None:
        self._refuse_if_closed()
        _check(check_preferences, input)

    @workflow.update
    async def snooze(self, input: SnoozeInput) -> PlanStatusResult:
        """Hold the plan's reminders until a time (or for a duration from now); celebrations still go out."""
        snapshot = await self._open_snapshot()
        until = self._checked_snooze(input, snapshot.prefs.timezone)
        await self._keep_snooze(until)
        return self._replanned()

    @snooze.validator
    def _validate_snooze(self, input: SnoozeInput) -> None:
        self._refuse_if_closed()
        snapshot = self._state.snapshot
        self._checked_snooze(input, snapshot.prefs.timezone if snapshot else "UTC")

    @workflow.update
    async def cancel_snooze(self, input: CancelSnoozeInput) -> PlanStatusResult:
        """End the snooze now (nothing to do without one): what it held goes out now if still useful."""
        await self._open_snapshot()
        await self._keep_snooze(None)
        return self._replanned()

    @cancel_snooze.validator
    def _validate_cancel_snooze(self, input: CancelSnoozeInput) -> None:
        self._refuse_if_closed()

    @workflow.update
    async def reschedule_session(self, input: RescheduleSessionInput) -> PlanStatusResult:
        """Move a session to another date or start time (a time given is the athlete's own), then re-plan."""
        await self._open_snapshot()
        async with self._changing():
            snapshot = self._state.snapshot  # as it is now: an earlier change may have just moved this session
            assert snapshot is not None
            day, minute = _check(
                check_reschedule, snapshot, self._state.completions, input, workflow.now(), self._adaptive
            )
            result = await self._save(
                PlanActivities.save_reschedule,
                SaveRescheduleInput(
                    plan_id=self._plan_id,
                    plan_session_id=input.plan_session_id,
                    scheduled_date=day,
                    start_minute=minute,
                ),
            )
            merge_moved_session(self._state, result.session, workflow.now())
        return self._replanned()

    @reschedule_session.validator
    def _validate_reschedule(self, input: RescheduleSessionInput) -> None:
        self._refuse_if_closed()
        snapshot = self._state.snapshot
        if snapshot is not None:  # before the first load, the handler checks once it is there
            _check(check_reschedule, snapshot, self._state.completions, input, workflow.now(), self._adaptive)

    async def _save(self, activity: Callable[[PlanActivities, _In], Awaitable[_Out]], arg: _In) -> _Out:
        """Write an athlete's change while they wait: a few quick tries. The plan or session gone from the database
        (the workflow had not heard yet) refuses the change and makes the loop reload."""
        try:
            return await workflow.execute_activity_method(
                activity,
                arg,
                start_to_close_timeout=_SAVE_TIMEOUT,
                retry_policy=_SAVE_RETRY,
                summary=f"save the athlete's change: {type(arg).__name__.removeprefix('Save').removesuffix('Input')}",
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == CHANGE_REJECTED:
                # The database refused a value (a constraint of RuckTracker's): the athlete's change is refused.
                details = cause.details
                raise ApplicationError(cause.message, *details, type=CHANGE_REJECTED, non_retryable=True) from None
            if isinstance(cause, ApplicationError) and cause.type in (GONE_SESSION, GONE_PLAN):
                self._state.needs_reload = True
                self._wake = True
                field, code = ("plan_session_id", "session_not_found")
                if cause.type == GONE_PLAN:
                    field, code = ("plan_id", "plan_not_found")
                raise ApplicationError(cause.message, field, code, type=CHANGE_REJECTED, non_retryable=True) from None
            raise

    async def _keep_snooze(self, until: datetime | None) -> None:
        """Set the snooze, stored with the plan first so that a new run of the plan's workflow still has it."""
        async with self._changing():
            if workflow.patched(STORED_SNOOZE_PATCH):
                await self._save(
                    PlanActivities.save_snooze, SaveSnoozeInput(plan_id=self._plan_id, snoozed_until=until)
                )
            self._state.snoozed_until = until

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[None]:
        """One athlete's change at a time (each applies what its save read back, so two racing saves could leave
        the older in effect); a cancel may have come while this one waited, so the plan is checked again."""
        async with self._saving:
            self._refuse_if_closed()
            yield

    async def _open_snapshot(self) -> PlanSnapshot:
        await workflow.wait_condition(lambda: self._state.snapshot is not None)
        self._refuse_if_closed()
        snapshot = self._state.snapshot
        assert snapshot is not None
        return snapshot

    def _refuse_if_closed(self) -> None:
        if self._state.status in TERMINAL:
            raise ApplicationError(
                f"plan {self._plan_id} is {self._state.status.value}: nothing left to change",
                type=PLAN_CLOSED,
                non_retryable=True,
            )

    def _checked_snooze(self, input: SnoozeInput, timezone: str) -> datetime:
        now = workflow.now()
        until, field = _check(snooze_end, input, now)
        _check(check_snooze, until, now, timezone, field)
        return until.astimezone(UTC)  # answered in UTC however it was asked (within a week of now: no overflow)

    def _replanned(self) -> PlanStatusResult:
        """Wake the loop to act on the change, and answer with the schedule as it now stands."""
        snapshot = self._state.snapshot
        assert snapshot is not None
        self._wake = True
        evaluation = self._evaluate(snapshot)
        if evaluation is not None:
            self._remember_upcoming(snapshot, evaluation)
        return self.status()

    # --- signals and queries: they change state and wake the loop, nothing else --------------------------------

    @workflow.signal
    async def session_completed(self, input: SessionCompletedInput) -> None:
        await workflow.wait_condition(lambda: self._state.snapshot is not None)
        snapshot = self._state.snapshot
        assert snapshot is not None
        if not isinstance(input, SessionCompletedInput):  # a signal sent by name with no (or another) payload
            workflow.logger.warning("plan %s: completion signal without a completion dropped", self._plan_id)
            return
        if any(c.ruck_id == input.ruck_id for c in self._state.completions):
            return  # the same ruck reported again (retry, second completion path): celebrated once
        if self._robust:
            sane = _sane_completion(input, workflow.now())
            if isinstance(sane, str):
                workflow.logger.warning(
                    "plan %s: completion of ruck %s dropped: %s", self._plan_id, input.ruck_id, sane
                )
                return
            input = sane
        try:
            # A ruck counts for the day it started on (one that crosses midnight is not the next day's).
            started = input.started_at or (
                input.completed_at - timedelta(seconds=input.duration_seconds) if input.duration_seconds else None
            )
            anchor = started or input.completed_at
            matched = match_completion(snapshot, self._state.completions, anchor, input.plan_session_id)
            completion = Completion(
                ruck_id=input.ruck_id,
                completed_at=input.completed_at,
                received_at=max(workflow.now(), input.completed_at),
                local_date=local_date(anchor, snapshot.prefs.timezone),
                started_at=started,
                plan_session_id=matched,
                source=input.source,
                distance_km=input.distance_km,
                duration_seconds=input.duration_seconds,
            )
        except (ArithmeticError, ValueError, TypeError) as err:
            # No payload may stop a plan: one the rules cannot place is dropped (a raise would fail every task).
            workflow.logger.warning("plan %s: completion of ruck %s dropped: %r", self._plan_id, input.ruck_id, err)
            return
        self._state.completions.append(completion)
        self._state.cadence_pending = True
        self._wake = True

    @workflow.signal
    def plan_paused(self, input: PlanStatusChangeInput) -> None:
        if self._state.status not in TERMINAL:
            self._set_status(PlanStatus.PAUSED)
            self._state.status_signalled = True
            self._wake = True

    @workflow.signal
    def plan_resumed(self, input: PlanStatusChangeInput) -> None:
        if self._state.status is PlanStatus.PAUSED:
            self._set_status(PlanStatus.ACTIVE)
            self._state.status_signalled = True
            self._wake = True

    @workflow.signal
    def plan_cancelled(self, input: PlanStatusChangeInput) -> None:
        self._set_status(PlanStatus.CANCELLED)
        self._wake = True

    @workflow.signal
    def plan_completed(self, input: PlanStatusChangeInput) -> None:
        self._set_status(PlanStatus.COMPLETED)
        self._wake = True

    @workflow.signal
    def sessions_changed(self, input: SessionsChangedInput) -> None:
        """The core API moved, added or removed sessions, or the athlete changed preferences: reload."""
        self._state.needs_reload = True
        self._wake = True

    @workflow.signal
    def cadence_updated(self, input: CadenceUpdatedInput) -> None:
        """The nightly analysis (or `coach cadence analyze`) learned a new window: re-plan with it."""
        if not isinstance(input, CadenceUpdatedInput):
            workflow.logger.warning("plan %s: cadence signal without a cadence dropped", self._plan_id)
            return
        self._signalled_cadence = input.cadence
        self._cadence_signals += 1
        if self._state.snapshot is not None:
            self._state.snapshot.cadence = input.cadence
        self._wake = True


def _sane_completion(input: SessionCompletedInput, now: datetime) -> SessionCompletedInput | str:
    """The completion as the plan takes it (robust-plans), or why it is dropped.

    A ``completed_at`` a little ahead of the workflow's clock (a phone clock a few minutes fast) counts as now, so the
    celebration is not held back; one a day or more ahead, or before 2000, is a data error. A start or duration
    that makes no sense (after the end, longer than two days) is left out; the ruck still counts.
    """
    completed = input.completed_at
    if completed > now + _COMPLETION_AHEAD:
        return f"completed_at {completed.isoformat()} is more than a day ahead of now"
    if completed < _EARLIEST_COMPLETION:
        return f"completed_at {completed.isoformat()} is before {_EARLIEST_COMPLETION.year}"
    changes: dict[str, object] = {}
    if completed > now:
        changes["completed_at"] = completed = now
    started = input.started_at
    if started is not None and not completed - _LONGEST_RUCK <= started <= completed:
        changes["started_at"] = None
    duration = input.duration_seconds
    if duration is not None and duration > _LONGEST_RUCK.total_seconds():
        changes["duration_seconds"] = None
    distance = input.distance_km
    if distance is not None and not 0 <= distance <= 1_000:  # (NaN fails both comparisons)
        changes["distance_km"] = None
    return input.model_copy(update=changes) if changes else input


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


def _check(rule: Callable[..., _Out], *args: object) -> _Out:
    """Apply one of coaching.preferences' rules; a refusal fails the update (not the workflow) with its reason."""
    try:
        return rule(*args)
    except ChangeRejected as err:
        raise ApplicationError(err.message, err.field, err.code, type=CHANGE_REJECTED, non_retryable=True) from None


__all__ = ["TIMING_RULES_PATCH", "CoachingPlanWorkflow"]
