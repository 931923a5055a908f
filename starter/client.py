"""The Python API the core API uses to drive plan workflows: start, complete a session, pause, resume, cancel…

Signals are sent through the workflow class's methods, never by string name, so a renamed handler is a type error
here rather than a silent no-op in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from coaching.explain import static_details, static_summary
from coaching.ids import TASK_QUEUE, plan_workflow_id
from coaching.models import (
    CancelSnoozeInput,
    ChangePreferencesInput,
    PlanStatusChangeInput,
    PlanStatusResult,
    PlanWorkflowInput,
    PlanWorkflowResult,
    RescheduleSessionInput,
    SessionCompletedInput,
    SessionsChangedInput,
    SnoozeInput,
    WorkflowConfig,
)
from coaching.preferences import CHANGE_REJECTED, PLAN_CLOSED, ChangeRejected
from starter.bounds import check_completion, check_date, check_id, check_text, check_time
from workflows.plan import CoachingPlanWorkflow


class PlanNotFoundError(LookupError):
    """No workflow runs for this plan (never started, or already ended)."""

    def __init__(self, plan_id: int) -> None:
        super().__init__(f"plan {plan_id}: no running notification workflow (start it first)")
        self.plan_id = plan_id


class PlanWorkflowClosedError(LookupError):
    """The plan's workflow is no longer running and ended without completing (failed, terminated, …)."""

    _WORDS = {
        WorkflowExecutionStatus.FAILED: "failed",
        WorkflowExecutionStatus.TERMINATED: "was terminated",
        WorkflowExecutionStatus.TIMED_OUT: "timed out",
        WorkflowExecutionStatus.CANCELED: "was canceled",
    }

    def __init__(self, plan_id: int, status: WorkflowExecutionStatus, failure: str | None = None) -> None:
        word = self._WORDS.get(status, f"ended ({status.name.lower()})")
        super().__init__(f"plan {plan_id}: workflow {word}" + (f": {failure}" if failure else ""))
        self.plan_id = plan_id
        self.status = status
        self.failure = failure


class PlanEndedError(LookupError):
    """The plan is completed or cancelled (its workflow may still be finishing): there is nothing left to change."""

    def __init__(self, plan_id: int, message: str) -> None:
        super().__init__(message)
        self.plan_id = plan_id


#: How long an athlete's change may take (validation, the database write, the new schedule) before giving up.
UPDATE_TIMEOUT_SECONDS = 30.0

#: Execution states in which a status query tells the truth: live while running, the final state once completed.
_QUERYABLE = (None, WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)

PlanHandle = WorkflowHandle[CoachingPlanWorkflow, PlanWorkflowResult]
Clock = Callable[[], Awaitable[datetime]]


async def wall_clock() -> datetime:
    return datetime.now(UTC)


class PlanNotifications:
    """Start and signal plan workflows. One instance per process, sharing one Temporal client.

    Every input is checked against the bounds of :mod:`starter.bounds` before anything is sent: a value out of bounds
    raises :class:`starter.bounds.OutOfBounds` (a ``ValueError`` naming the field). ``clock`` is the "now" those
    bounds are relative to: the wall clock, or a test server's clock when its time is skipped.
    """

    def __init__(
        self,
        client: Client,
        config: WorkflowConfig | None = None,
        task_queue: str = TASK_QUEUE,
        clock: Clock = wall_clock,
    ) -> None:
        self._client = client
        self._config = config or WorkflowConfig()
        self._task_queue = task_queue
        self._clock = clock

    async def now(self) -> datetime:
        """The time the bounds are relative to (see ``clock``)."""
        return await self._clock()

    async def start_plan(self, plan_id: int, *, timezone: str | None = None, tone: str | None = None) -> PlanHandle:
        """Start the plan's workflow; starting it again while it runs returns the running one.

        The Web UI shows the workflow's static summary: the plan, and its ``timezone`` and ``tone`` when the caller
        knows them (nothing personal); its current details follow the plan once loaded.
        """
        check_id(plan_id, "plan_id")
        return await self._client.start_workflow(
            CoachingPlanWorkflow.run,
            PlanWorkflowInput(plan_id=plan_id, config=self._config),
            id=plan_workflow_id(plan_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=static_summary(plan_id, timezone, tone),
            static_details=static_details(plan_id),
        )

    def handle(self, plan_id: int) -> PlanHandle:
        return self._client.get_workflow_handle_for(CoachingPlanWorkflow.run, plan_workflow_id(plan_id))

    async def session_completed(self, plan_id: int, completion: SessionCompletedInput) -> None:
        """A ruck was completed (idempotent by ruck id). Its end may be up to a day ahead of now (a fast phone
        clock): it is then taken as now, so the celebration is not delayed."""
        check_id(plan_id, "plan_id")
        completion = check_completion(completion, await self.now())
        await self._signal(plan_id, CoachingPlanWorkflow.session_completed, completion)

    async def pause(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_paused, PlanStatusChangeInput(reason=_reason(reason)))

    async def resume(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_resumed, PlanStatusChangeInput(reason=_reason(reason)))

    async def cancel(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_cancelled, PlanStatusChangeInput(reason=_reason(reason)))

    async def complete(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_completed, PlanStatusChangeInput(reason=_reason(reason)))

    async def sessions_changed(self, plan_id: int, reason: str = "", *, start_if_ended: bool = False) -> bool:
        """Tell the plan's workflow its sessions changed (it reloads them). A plan whose workflow has ended (nothing
        was left to send) is started again when ``start_if_ended`` (the caller knows the plan is in the database):
        its new run reads the new sessions. True when it was started again."""
        try:
            await self._signal(
                plan_id, CoachingPlanWorkflow.sessions_changed, SessionsChangedInput(reason=_reason(reason))
            )
        except PlanNotFoundError:
            if not start_if_ended:
                raise
            await self.start_plan(plan_id)
            return True
        return False

    # ---- an athlete's changes: Temporal updates, refused with the reason or answered with the new schedule ----

    async def change_preferences(self, plan_id: int, change: ChangePreferencesInput) -> PlanStatusResult:
        return await self._update(plan_id, CoachingPlanWorkflow.change_preferences, change)

    async def snooze(self, plan_id: int, snooze: SnoozeInput) -> PlanStatusResult:
        if snooze.until is not None:
            check_time(snooze.until, "until")
        return await self._update(plan_id, CoachingPlanWorkflow.snooze, snooze)

    async def cancel_snooze(self, plan_id: int) -> PlanStatusResult:
        return await self._update(plan_id, CoachingPlanWorkflow.cancel_snooze, CancelSnoozeInput())

    async def reschedule_session(self, plan_id: int, change: RescheduleSessionInput) -> PlanStatusResult:
        check_id(change.plan_session_id, "plan_session_id")
        if change.scheduled_date is not None:
            check_date(change.scheduled_date, "scheduled_date")
        return await self._update(plan_id, CoachingPlanWorkflow.reschedule_session, change)

    async def _update(self, plan_id: int, update: object, arg: object) -> PlanStatusResult:
        """Run an update; a refusal raises :class:`ChangeRejected` (field, reason) or :class:`PlanEndedError`."""
        check_id(plan_id, "plan_id")
        try:
            with _running(plan_id):
                return await asyncio.wait_for(
                    self.handle(plan_id).execute_update(update, arg),  # type: ignore[call-overload]
                    timeout=UPDATE_TIMEOUT_SECONDS,
                )
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == CHANGE_REJECTED:
                field, code = (list(cause.details) + ["", "invalid_request"])[:2]
                raise ChangeRejected(str(field), cause.message, str(code)) from None
            if isinstance(cause, ApplicationError) and cause.type == PLAN_CLOSED:
                raise PlanEndedError(plan_id, cause.message) from None
            raise

    async def execution_status(self, plan_id: int) -> WorkflowExecutionStatus | None:
        """The status of the plan's latest workflow run (RUNNING, COMPLETED, FAILED, …)."""
        with _running(plan_id):
            return (await self.handle(plan_id).describe()).status

    async def check_not_closed_abnormally(self, plan_id: int) -> WorkflowExecutionStatus | None:
        """The execution status; raises :class:`PlanWorkflowClosedError` if the workflow failed, was terminated,
        timed out or was canceled (with the failure message for a failed one)."""
        status = await self.execution_status(plan_id)
        if status in _QUERYABLE or status is WorkflowExecutionStatus.CONTINUED_AS_NEW:
            return status
        assert status is not None
        raise PlanWorkflowClosedError(plan_id, status, await self._close_reason(plan_id))

    async def wait_until_settled(self, plan_id: int, timeout: float = 5.0) -> WorkflowExecutionStatus | None:
        """Wait (at most ``timeout`` seconds) until the plan's workflow has done its first work: it closed, or an
        activity (loading the plan) completed and a workflow task processed the result.

        Returns the execution status; raises :class:`PlanWorkflowClosedError` if it failed or was stopped. Without a
        worker on the task queue this simply times out and returns RUNNING.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status = await self.check_not_closed_abnormally(plan_id)
            if status is not WorkflowExecutionStatus.RUNNING:
                return status
            if await self._has_done_work(plan_id):
                # The task that processed the load may also have failed the workflow: describe again, after it.
                return await self.check_not_closed_abnormally(plan_id)
            if loop.time() >= deadline:
                return status
            await asyncio.sleep(0.1)

    async def _has_done_work(self, plan_id: int) -> bool:
        activity_done = False
        async for event in self.handle(plan_id).fetch_history_events(page_size=50):
            if event.HasField("activity_task_completed_event_attributes"):
                activity_done = True
            elif activity_done and event.HasField("workflow_task_completed_event_attributes"):
                return True
            elif event.event_id > 200:
                break
        return False

    async def status(self, plan_id: int) -> PlanStatusResult:
        """The plan's schedule and counters: live while it runs, its final state once it completed.

        Raises :class:`PlanNotFoundError` if it never started and :class:`PlanWorkflowClosedError` if it ended
        abnormally (failed, terminated, timed out, canceled), rather than reporting a stale 'active'.
        """
        await self.check_not_closed_abnormally(plan_id)
        with _running(plan_id):
            return await self.handle(plan_id).query(CoachingPlanWorkflow.status)

    async def _close_reason(self, plan_id: int) -> str | None:
        """The failure message (with its causes) or termination reason from the history's close event."""
        try:
            async for event in self.handle(plan_id).fetch_history_events(
                event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
            ):
                if event.HasField("workflow_execution_failed_event_attributes"):
                    failure = event.workflow_execution_failed_event_attributes.failure
                    messages = [failure.message]
                    while failure.HasField("cause"):
                        failure = failure.cause
                        messages.append(failure.message)
                    return ": ".join(m for m in messages if m) or None
                if event.HasField("workflow_execution_terminated_event_attributes"):
                    return event.workflow_execution_terminated_event_attributes.reason or None
        except RPCError:
            return None
        return None

    async def _signal(self, plan_id: int, signal: object, arg: object) -> None:
        check_id(plan_id, "plan_id")
        with _running(plan_id):
            await self.handle(plan_id).signal(signal, arg)  # type: ignore[call-overload]


def _reason(reason: str) -> str:
    return check_text(reason, "reason")


@contextlib.contextmanager
def _running(plan_id: int) -> Iterator[None]:
    """Temporal's NOT_FOUND for the plan's workflow (never started, or ended) as :class:`PlanNotFoundError`."""
    try:
        yield
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise PlanNotFoundError(plan_id) from err
        raise
