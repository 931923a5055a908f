"""The athlete's own plan and notifications (``/v1/me/...``, the athlete's JWT: see :mod:`starter.api.deps`).

An athlete only ever sees their own plans and notifications: anything else is 404, exactly as if it did not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request

from coaching.models import LedgerStatus, PlanStatusResult
from starter.api.deps import AthleteDep, analytics, context_of, own_plan
from starter.api.errors import ATHLETE_RESPONSES, ApiError, ErrorResponse, FieldError, database_input
from starter.api.models import NotificationEventRequest, NotificationEventResponse, PlainText
from starter.bounds import MAX_CLOCK_AHEAD, MAX_ID, OutOfBounds, check_time

MAX_NOTIFICATION_ID_LENGTH = 200
#: Ledger statuses of notifications that never reached a device. ('scheduled' counts as sent: a push can land
#: before its ledger row is updated, and the device reports what it got.)
_NOT_SENT = frozenset({LedgerStatus.SKIPPED.value, LedgerStatus.FAILED.value, LedgerStatus.SHADOW.value})
#: The request field of each column an event's row is written to (for a value the database refuses).
_EVENT_FIELDS = {"occurred_at": "body.occurred_at", "event": "body.event"}

router = APIRouter()


@router.get(
    "/v1/me/plans/{plan_id}/schedule",
    response_model=PlanStatusResult,
    responses={
        **ATHLETE_RESPONSES,
        404: {"model": ErrorResponse, "description": "Not a plan of this athlete (`plan_not_found`)"},
        409: {"model": ErrorResponse, "description": "The plan's workflow has ended (`plan_closed`)"},
    },
    tags=["athlete"],
)
async def my_schedule(
    plan_id: Annotated[int, Path(gt=0, le=MAX_ID)], athlete: AthleteDep, request: Request
) -> PlanStatusResult:
    """The athlete's own plan: status, counters and upcoming notifications. Other plans are 404."""
    context = context_of(request)
    await own_plan(context, plan_id, athlete.user_id)
    return await context.plans.status(plan_id)


@router.post(
    "/v1/me/notifications/{notification_id}/events",
    status_code=202,
    response_model=NotificationEventResponse,
    responses={
        **ATHLETE_RESPONSES,
        404: {"model": ErrorResponse, "description": "Not a notification of this athlete (`notification_not_found`)"},
        409: {"model": ErrorResponse, "description": "It was skipped or failed, never sent (`notification_not_sent`)"},
    },
    tags=["athlete"],
)
async def notification_event(
    notification_id: Annotated[str, Path(min_length=1, max_length=MAX_NOTIFICATION_ID_LENGTH), PlainText],
    body: NotificationEventRequest,
    athlete: AthleteDep,
    request: Request,
) -> NotificationEventResponse:
    """Record what happened to one of the athlete's notifications. Idempotent: a repeat stores nothing new."""
    store = analytics(context_of(request))
    now = datetime.now(UTC)
    if body.occurred_at is not None:
        try:
            check_time(body.occurred_at, "occurred_at", not_after=now + MAX_CLOCK_AHEAD)
        except OutOfBounds as err:
            raise ApiError(
                422, "invalid_request", "the request is invalid (1 problem)", fields=[_field("body.occurred_at", err)]
            ) from None
    with database_input("path.notification_id"):
        found = await store.notification_owner(notification_id)
    if found is None or found[0] != athlete.user_id:
        raise ApiError(404, "notification_not_found", "notification not found")
    if found[1] in _NOT_SENT:
        # A skipped, failed or shadow notification never reached a device: an event for it would skew the report.
        raise ApiError(409, "notification_not_sent", f"notification {notification_id} was not sent ({found[1]})")
    occurred_at = body.occurred_at or now
    with database_input("body", _EVENT_FIELDS):
        recorded = await store.record_event(notification_id, athlete.user_id, body.event, occurred_at)
    return NotificationEventResponse(notification_id=notification_id, event=body.event, recorded=recorded)


def _field(name: str, err: OutOfBounds) -> FieldError:
    return FieldError(field=name, message=err.reason)
