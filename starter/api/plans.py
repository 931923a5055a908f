"""The core API's plan routes (service token): start a plan, report completed rucks and changed sessions, pause,
resume, cancel or complete it, and read its schedule (``/v1/plans/{plan_id}/...``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from activities.analytics_store import AnalyticsStore
from coaching.ids import plan_workflow_id
from coaching.models import PlanStatusResult, SessionCompletedInput
from starter.api.deps import ApiContext, Service, to_workflow
from starter.api.errors import ERROR_RESPONSES, PLAN_RESPONSES, ApiError, ErrorResponse, database_input
from starter.api.models import AcceptedResponse, PlanId, ReasonRequest, SessionCompletedRequest, StartedResponse

router = APIRouter()

_PLAN = "/v1/plans/{plan_id}"


async def _signal(
    context: ApiContext, plan_id: int, what: str, send: Callable[[], Awaitable[None]]
) -> AcceptedResponse:
    """Send a signal (see :func:`starter.api.deps.to_workflow`)."""
    await to_workflow(context, plan_id, send)
    return AcceptedResponse(plan_id=plan_id, workflow_id=plan_workflow_id(plan_id), accepted=what)


@router.post(
    f"{_PLAN}/start",
    status_code=202,
    response_model=StartedResponse,
    responses={**ERROR_RESPONSES, 404: {"model": ErrorResponse, "description": "No such plan (`plan_not_found`)"}},
)
async def start_plan(plan_id: PlanId, context: Service) -> StartedResponse:
    """Start the plan's workflow; starting a plan whose workflow runs returns the running one. A plan that is
    not in the database is 404 (its workflow would only fail)."""
    if context.store is not None:
        with database_input("path.plan_id"):
            owner = await AnalyticsStore(context.store.sessionmaker).plan_owner(plan_id)
        if owner is None:
            raise ApiError(404, "plan_not_found", f"plan {plan_id} is not in the database")
    handle = await context.plans.start_plan(plan_id)
    return StartedResponse(plan_id=plan_id, workflow_id=handle.id, run_id=handle.result_run_id)


@router.post(f"{_PLAN}/sessions/completed", status_code=202, response_model=AcceptedResponse, responses=PLAN_RESPONSES)
async def session_completed(plan_id: PlanId, body: SessionCompletedRequest, context: Service) -> AcceptedResponse:
    """A ruck was completed. Idempotent by ``ruck_id``: the workflow counts (and celebrates) a ruck once."""
    completion = SessionCompletedInput.model_validate(body.model_dump())
    return await _signal(
        context, plan_id, "session_completed", lambda: context.plans.session_completed(plan_id, completion)
    )


@router.post(f"{_PLAN}/sessions/changed", status_code=202, response_model=AcceptedResponse, responses=PLAN_RESPONSES)
async def sessions_changed(plan_id: PlanId, context: Service, body: ReasonRequest | None = None) -> AcceptedResponse:
    """The plan's sessions were edited (moved, added, removed): the workflow reloads them. A plan whose workflow
    ended because nothing was left to send is started again, so new sessions get their notifications."""
    reason = body.reason if body else ""
    in_database = False
    if context.store is not None:
        with database_input("path.plan_id"):
            in_database = await AnalyticsStore(context.store.sessionmaker).plan_owner(plan_id) is not None

    async def send() -> None:
        await context.plans.sessions_changed(plan_id, reason, start_if_ended=in_database)

    return await _signal(context, plan_id, "sessions_changed", send)


def _status_change(action: str, summary: str) -> None:
    """The route of one status change (``/pause``, ...): a signal named ``action`` with the optional reason."""

    async def change(plan_id: PlanId, context: Service, body: ReasonRequest | None = None) -> AcceptedResponse:
        reason = body.reason if body else ""
        send: Callable[[int, str], Awaitable[None]] = getattr(context.plans, action)
        return await _signal(context, plan_id, action, lambda: send(plan_id, reason))

    router.post(
        f"{_PLAN}/{action}",
        status_code=202,
        response_model=AcceptedResponse,
        responses=PLAN_RESPONSES,
        summary=summary,
        operation_id=f"{action}_plan",
    )(change)


_status_change("pause", "Pause the plan's notifications")
_status_change("resume", "Resume the plan's notifications")
_status_change("cancel", "Cancel the plan (its workflow ends)")
_status_change("complete", "Mark the plan completed (the last ruck still counts within the grace period)")


@router.get(f"{_PLAN}/schedule", response_model=PlanStatusResult, responses=PLAN_RESPONSES)
async def schedule(plan_id: PlanId, context: Service) -> PlanStatusResult:
    """The plan's status, counters and upcoming notifications, each with the reason for its time."""
    return await context.plans.status(plan_id)
