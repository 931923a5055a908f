"""Every change to a plan from outside its workflow, and how the workflow takes it.

Signals (the core API, the reconciler, the nightly cadence analysis): a ruck completed, the plan paused, resumed,
cancelled or completed, its sessions changed, a new cadence. They only change the state and wake the loop.

Updates (the athlete, through the API): preferences, snooze, cancel the snooze, move a session. Each is checked by
a validator (refused before it enters the history), saved to the database while the athlete waits, applied as the
save read it back, and answered with the schedule as it now stands.
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
    from coaching.models import (
        CadenceUpdatedInput,
        CancelSnoozeInput,
        ChangePreferencesInput,
        Completion,
        PlanSnapshot,
        PlanStatus,
        PlanStatusChangeInput,
        PlanStatusResult,
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
    from coaching.schedule import match_completion
    from coaching.timeutil import local_date

from workflows.plan_base import TERMINAL, PlanWorkflowBase
from workflows.plan_patches import STORED_SNOOZE_PATCH
from workflows.plan_reload import merge_moved_session

#: A completion reported this far ahead of the workflow's clock is a phone clock gone wrong, not a ruck: dropped.
_COMPLETION_AHEAD = timedelta(days=1)
#: Completions from before this are data errors (a year typed as 0001), as are rucks longer than _LONGEST_RUCK.
_EARLIEST_COMPLETION = datetime(2000, 1, 1, tzinfo=UTC)
_LONGEST_RUCK = timedelta(days=2)
#: An athlete's change is written while they wait for the answer: a few quick tries, then the update fails (the
#: API answers 503 and the app retries; every change sets a value, so a repeat is harmless).
_SAVE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=4)
_SAVE_TIMEOUT = timedelta(seconds=30)
_In = TypeVar("_In")
_Out = TypeVar("_Out")


class PlanChanges(PlanWorkflowBase):
    """The signal and update handlers of :class:`workflows.plan.CoachingPlanWorkflow`."""

    # --- signals: they change state and wake the loop, nothing else -------------------------------------------

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


def _check(rule: Callable[..., _Out], *args: object) -> _Out:
    """Apply one of coaching.preferences' rules; a refusal fails the update (not the workflow) with its reason."""
    try:
        return rule(*args)
    except ChangeRejected as err:
        raise ApplicationError(err.message, err.field, err.code, type=CHANGE_REJECTED, non_retryable=True) from None
