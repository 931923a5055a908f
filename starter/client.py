"""The Python API the core API uses to drive plan workflows: start, complete a session, pause, resume, cancel…

Signals are sent through the workflow class's methods, never by string name, so a renamed handler is a type error
here rather than a silent no-op in production.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from coaching.ids import TASK_QUEUE, plan_workflow_id
from coaching.models import (
    PlanStatusChangeInput,
    PlanStatusResult,
    PlanWorkflowInput,
    PlanWorkflowResult,
    SessionCompletedInput,
    SessionsChangedInput,
    WorkflowConfig,
)
from workflows.plan import CoachingPlanWorkflow


class PlanNotFoundError(LookupError):
    """No workflow runs for this plan (never started, or already ended)."""

    def __init__(self, plan_id: int) -> None:
        super().__init__(f"plan {plan_id}: no running notification workflow (start it first)")
        self.plan_id = plan_id


PlanHandle = WorkflowHandle[CoachingPlanWorkflow, PlanWorkflowResult]


class PlanNotifications:
    """Start and signal plan workflows. One instance per process, sharing one Temporal client."""

    def __init__(self, client: Client, config: WorkflowConfig | None = None, task_queue: str = TASK_QUEUE) -> None:
        self._client = client
        self._config = config or WorkflowConfig()
        self._task_queue = task_queue

    async def start_plan(self, plan_id: int) -> PlanHandle:
        """Start the plan's workflow; starting it again while it runs returns the running one."""
        return await self._client.start_workflow(
            CoachingPlanWorkflow.run,
            PlanWorkflowInput(plan_id=plan_id, config=self._config),
            id=plan_workflow_id(plan_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )

    def handle(self, plan_id: int) -> PlanHandle:
        return self._client.get_workflow_handle_for(CoachingPlanWorkflow.run, plan_workflow_id(plan_id))

    async def session_completed(self, plan_id: int, completion: SessionCompletedInput) -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.session_completed, completion)

    async def pause(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_paused, PlanStatusChangeInput(reason=reason))

    async def resume(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_resumed, PlanStatusChangeInput(reason=reason))

    async def cancel(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_cancelled, PlanStatusChangeInput(reason=reason))

    async def complete(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.plan_completed, PlanStatusChangeInput(reason=reason))

    async def sessions_changed(self, plan_id: int, reason: str = "") -> None:
        await self._signal(plan_id, CoachingPlanWorkflow.sessions_changed, SessionsChangedInput(reason=reason))

    async def status(self, plan_id: int) -> PlanStatusResult:
        try:
            return await self.handle(plan_id).query(CoachingPlanWorkflow.status)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise PlanNotFoundError(plan_id) from err
            raise

    async def _signal(self, plan_id: int, signal: object, arg: object) -> None:
        try:
            await self.handle(plan_id).signal(signal, arg)  # type: ignore[call-overload]
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise PlanNotFoundError(plan_id) from err
            raise
