"""The athlete's endpoints (``/v1/me/...``) and the effectiveness report, included by :mod:`starter.api`.

Athletes authenticate with the JWT their Supabase session carries: ``Authorization: Bearer <JWT>``, HS256 with
the project's shared secret (``jwt_secret`` of :func:`starter.api.create_app`). ``exp`` and ``sub`` (the user
id, a UUID) are required. When configured (``COACH_JWT_ISSUER``, ``COACH_JWT_AUDIENCE``, ``COACH_JWT_ROLE``), ``iss``,
``aud`` and ``role`` are required too and must match (Supabase: ``iss`` ``https://<project>.supabase.co/auth/v1``,
``aud`` and ``role`` ``authenticated``); without a configured audience, ``aud`` must be ``authenticated`` when the
token has one. A bad token is 401 ``unauthorized`` naming the reason (the token itself is never echoed); without a
configured secret every athlete endpoint is 503 ``not_configured``.

An athlete only ever sees their own plans and notifications: anything else is 404, exactly as if it did not exist.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jwt
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from activities.analytics_store import AnalyticsStore
from activities.store import Store
from coaching.models import LedgerStatus, PlanStatusResult
from starter.api import (
    ApiContext,
    ApiError,
    BoundedTime,
    ErrorResponse,
    FieldError,
    PlainText,
    Service,
    _context,
    authenticator,
    database_input,
)
from starter.bounds import MAX_CLOCK_AHEAD, MAX_ID, OutOfBounds, check_time

#: Supabase's audience for signed-in users (checked when the token has an ``aud`` and none is configured).
AUDIENCE = "authenticated"
MAX_NOTIFICATION_ID_LENGTH = 200
#: Ledger statuses of notifications that never reached a device. ('scheduled' counts as sent: a push can land
#: before its ledger row is updated, and the device reports what it got.)
_NOT_SENT = frozenset({LedgerStatus.SKIPPED.value, LedgerStatus.FAILED.value, LedgerStatus.SHADOW.value})

NotificationEventName = Literal["delivered", "opened", "cta_tapped", "dismissed"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_bearer = HTTPBearer(auto_error=False, description="The athlete's Supabase access token (JWT)")

_ATHLETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid athlete token (`unauthorized`)"},
    413: {"model": ErrorResponse, "description": "The body is over the limit (`request_too_large`)"},
    422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    503: {"model": ErrorResponse, "description": "No JWT secret configured (`not_configured`) or Temporal down"},
}


# ---- bodies -----------------------------------------------------------------------------------------------


class NotificationEventRequest(BaseModel):
    """What happened to a notification on the device, and when (default: when the API received it)."""

    model_config = ConfigDict(extra="ignore")

    event: NotificationEventName
    #: At most a day ahead of the service's clock (a device's clock may be fast).
    occurred_at: Annotated[AwareDatetime, BoundedTime] | None = None


class NotificationEventResponse(BaseModel):
    notification_id: str
    event: str
    recorded: bool = Field(description="False when this event was already recorded for the notification")


class EffectivenessGroup(BaseModel):
    notification_type: str
    tone: str
    hour_local: int = Field(description="Hour of day (0-23) it was sent, in the athlete's time zone")
    copy_source: str | None
    sent: int
    opened: int
    cta_tapped: int
    followed_by_session: int
    followed_by_session_share: float


class EffectivenessReport(BaseModel):
    since: datetime | None
    until: datetime | None
    groups: list[EffectivenessGroup]


# ---- authentication ---------------------------------------------------------------------------------------


class Athlete(BaseModel):
    """The authenticated athlete: the token's ``sub``, in canonical UUID form."""

    user_id: str


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", reason, _CHALLENGE)


@authenticator
def _athlete(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Athlete:
    """The athlete of a valid Supabase JWT (HS256, ``exp`` and ``sub`` required; ``iss``, ``aud`` and ``role``
    required and checked when configured, ``aud`` checked if present otherwise)."""
    context = _context(request)
    secret = context.jwt_secret
    if not secret:
        raise ApiError(503, "not_configured", "athlete authentication is not configured (no JWT secret)")
    if credentials is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <access token>)")
    issuer, audience, role = context.jwt_issuer, context.jwt_audience, context.jwt_role
    required = ["exp", "sub"] + [claim for claim, wanted in (("iss", issuer), ("aud", audience)) if wanted]
    try:
        claims: dict[str, Any] = jwt.decode(
            credentials.credentials,
            secret,
            algorithms=["HS256"],
            issuer=issuer,
            audience=audience,
            options={"require": required, "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the token has expired") from None
    except jwt.InvalidSignatureError:
        raise _unauthorized("the token's signature is invalid") from None
    except jwt.MissingRequiredClaimError as err:
        raise _unauthorized(f"the token has no {err.claim!r} claim") from None
    except jwt.InvalidIssuerError:
        raise _unauthorized(f"the token's issuer is not {issuer!r}") from None
    except jwt.InvalidAudienceError:
        raise _unauthorized(f"the token's audience is not {audience!r}") from None
    except jwt.DecodeError:
        raise _unauthorized("the token is malformed") from None
    except jwt.InvalidTokenError as err:
        raise _unauthorized(f"the token is invalid ({type(err).__name__})") from None
    if audience is None and (present := claims.get("aud")) is not None:
        audiences = [present] if isinstance(present, str) else present
        if not isinstance(audiences, list) or AUDIENCE not in audiences:
            raise _unauthorized(f"the token's audience is not {AUDIENCE!r}")
    if role is not None:
        if "role" not in claims:
            raise _unauthorized("the token has no 'role' claim")
        if claims["role"] != role:
            raise _unauthorized(f"the token's role is not {role!r}")
    try:
        user_id = str(uuid.UUID(str(claims["sub"])))
    except ValueError:
        raise _unauthorized("the token's 'sub' is not a user id") from None
    return Athlete(user_id=user_id)


AthleteDep = Annotated[Athlete, Depends(_athlete)]


def _database(context: ApiContext) -> Store:
    if context.store is None:
        raise ApiError(503, "not_configured", "no database is configured")
    return context.store


def _analytics(context: ApiContext) -> AnalyticsStore:
    return AnalyticsStore(_database(context).sessionmaker)


async def _own_plan(context: ApiContext, plan_id: int, user_id: str) -> None:
    """404 unless plan ``plan_id`` is the athlete's: another athlete's plan looks exactly like no plan."""
    with database_input("path.plan_id"):
        owner = await _analytics(context).plan_owner(plan_id)
    if owner != user_id:
        raise ApiError(404, "plan_not_found", f"plan {plan_id} not found")


# ---- routes -----------------------------------------------------------------------------------------------

router = APIRouter()


@router.get(
    "/v1/me/plans/{plan_id}/schedule",
    response_model=PlanStatusResult,
    responses={
        **_ATHLETE_RESPONSES,
        404: {"model": ErrorResponse, "description": "Not a plan of this athlete (`plan_not_found`)"},
        409: {"model": ErrorResponse, "description": "The plan's workflow has ended (`plan_closed`)"},
    },
    tags=["athlete"],
)
async def my_schedule(
    plan_id: Annotated[int, Path(gt=0, le=MAX_ID)], athlete: AthleteDep, request: Request
) -> PlanStatusResult:
    """The athlete's own plan: status, counters and upcoming notifications. Other plans are 404."""
    context = _context(request)
    await _own_plan(context, plan_id, athlete.user_id)
    return await context.plans.status(plan_id)


@router.post(
    "/v1/me/notifications/{notification_id}/events",
    status_code=202,
    response_model=NotificationEventResponse,
    responses={
        **_ATHLETE_RESPONSES,
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
    analytics = _analytics(_context(request))
    now = datetime.now(UTC)
    if body.occurred_at is not None:
        try:
            check_time(body.occurred_at, "occurred_at", not_after=now + MAX_CLOCK_AHEAD)
        except OutOfBounds as err:
            raise ApiError(
                422, "invalid_request", "the request is invalid (1 problem)", fields=[_field("body.occurred_at", err)]
            ) from None
    with database_input("path.notification_id"):
        found = await analytics.notification_owner(notification_id)
    if found is None or found[0] != athlete.user_id:
        raise ApiError(404, "notification_not_found", "notification not found")
    if found[1] in _NOT_SENT:
        # A skipped, failed or shadow notification never reached a device: an event for it would skew the report.
        raise ApiError(409, "notification_not_sent", f"notification {notification_id} was not sent ({found[1]})")
    occurred_at = body.occurred_at or now
    with database_input("body", _EVENT_FIELDS):
        recorded = await analytics.record_event(notification_id, athlete.user_id, body.event, occurred_at)
    return NotificationEventResponse(notification_id=notification_id, event=body.event, recorded=recorded)


#: The request field of each column an event's row is written to (for a value the database refuses).
_EVENT_FIELDS = {"occurred_at": "body.occurred_at", "event": "body.event"}


def _field(name: str, err: OutOfBounds) -> FieldError:
    return FieldError(field=name, message=err.reason)


@router.get(
    "/v1/reports/effectiveness",
    response_model=EffectivenessReport,
    responses={
        401: {"model": ErrorResponse, "description": "Missing or wrong service token"},
        422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    },
    tags=["reports"],
)
async def effectiveness(
    context: Service,
    since: Annotated[
        Annotated[AwareDatetime, BoundedTime] | None,
        Query(description="Sent at or after (inclusive); ISO 8601 with an offset, e.g. 2026-11-01T00:00:00Z"),
    ] = None,
    until: Annotated[
        Annotated[AwareDatetime, BoundedTime] | None,
        Query(description="Sent before (exclusive); ISO 8601 with an offset"),
    ] = None,
) -> EffectivenessReport:
    """Sent notifications by type, tone, hour and copy source: opens, CTA taps, and the share followed by a ruck.

    The hour is the local hour of day it was sent at, in the athlete's time zone (their current one: the ledger
    does not keep the zone of each send). A notification counts as followed by a session when the athlete
    completed a ruck (``status = 'completed'``) within 24 h after it.
    """
    with database_input("query"):
        rows = await _analytics(context).effectiveness(since, until)
    return EffectivenessReport(
        since=since,
        until=until,
        groups=[
            EffectivenessGroup(
                notification_type=r.notification_type,
                tone=r.tone,
                hour_local=r.hour_local,
                copy_source=r.copy_source,
                sent=r.sent,
                opened=r.opened,
                cta_tapped=r.cta_tapped,
                followed_by_session=r.followed_by_session,
                followed_by_session_share=r.followed_by_session_share,
            )
            for r in rows
        ],
    )
