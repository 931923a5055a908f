"""What the HTTP API's routes share: the context :func:`starter.api.create_app` attaches, who is calling, and the
plan's workflow.

The core API's callers authenticate with the service token (``Authorization: Bearer <token>``, compared in constant
time). Athletes authenticate with the JWT their Supabase session carries: ``Authorization: Bearer <JWT>``, HS256
with the project's shared secret (``jwt_secret`` of :func:`starter.api.create_app`). ``exp`` and ``sub`` (the user
id, a UUID) are required. When configured (``COACH_JWT_ISSUER``, ``COACH_JWT_AUDIENCE``, ``COACH_JWT_ROLE``), ``iss``,
``aud`` and ``role`` are required too and must match (Supabase: ``iss`` ``https://<project>.supabase.co/auth/v1``,
``aud`` and ``role`` ``authenticated``); without a configured audience, ``aud`` must be ``authenticated`` when the
token has one. A bad token is 401 ``unauthorized`` naming the reason (the token itself is never echoed); without a
configured secret every athlete endpoint is 503 ``not_configured``.

Both checks are :func:`authenticator` dependencies: :class:`starter.api.edges.RequestEdges` runs a route's on the
headers alone, before any of its body is read. An athlete only ever sees their own plans and notifications
(:func:`own_plan`): anything else is 404, exactly as if it did not exist.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

import jwt
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus

from activities.analytics_store import AnalyticsStore
from activities.store import Store
from starter.api.errors import ApiError, database_input
from starter.client import PlanNotFoundError, PlanNotifications

#: The largest request body read (``COACH_API_MAX_BODY_BYTES``); the API's bodies are a few hundred bytes.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: The largest body the codec server reads: a payload is at most 2 MiB in Temporal, base64 in JSON adds a third.
CODEC_MAX_BODY_BYTES = 4 * 1024 * 1024
#: Supabase's audience for signed-in users (checked when the token has an ``aud`` and none is configured).
AUDIENCE = "authenticated"

_T = TypeVar("_T")


@dataclass(frozen=True)
class ApiContext:
    """What the routes need, attached to the application by :func:`starter.api.create_app` (never a module
    global)."""

    plans: PlanNotifications
    service_token: bytes
    store: Store | None = None
    #: The shared secret of the athletes' JWTs (Supabase); None: the athlete endpoints answer 503.
    jwt_secret: str | None = None
    #: When set, an athlete's JWT must carry this ``iss`` / ``aud`` / ``role`` (see :func:`_athlete`).
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_role: str | None = None
    #: The largest request body read; a larger one is 413.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: The codec server's (``/codec``, see :mod:`starter.api.codec_server`): it carries whole payloads, not small
    #: requests.
    codec_max_body_bytes: int = CODEC_MAX_BODY_BYTES


def context_of(request: Request) -> ApiContext:
    """The context of the application serving ``request``."""
    return cast(ApiContext, request.app.state.context)


# ---- authentication -----------------------------------------------------------------------------------------

Authenticator = Callable[[Request, HTTPAuthorizationCredentials | None], Any]
#: The dependencies that authenticate a request from its headers (the service token, an athlete's JWT).
#: :class:`starter.api.edges.RequestEdges` runs a route's before any of the body is read.
_AUTHENTICATORS: set[Callable[..., Any]] = set()


def authenticator(check: Authenticator) -> Authenticator:
    """Register ``check`` (a dependency of ``(request, credentials)``) to be run before the body is read."""
    _AUTHENTICATORS.add(check)
    return check


def authenticator_of(dependant: Dependant) -> Authenticator | None:
    """The :func:`authenticator` among a route's dependencies (looked for in theirs too), if any."""
    for dependency in dependant.dependencies:
        if dependency.call in _AUTHENTICATORS:
            return cast(Authenticator, dependency.call)
        if (found := authenticator_of(dependency)) is not None:
            return found
    return None


#: Reads the bearer credentials of a request (without refusing it: the authenticators answer 401 themselves).
service_bearer = HTTPBearer(auto_error=False, description="The core API's service token")
_athlete_bearer = HTTPBearer(auto_error=False, description="The athlete's Supabase access token (JWT)")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@authenticator
def _service(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(service_bearer)]
) -> ApiContext:
    """The context, once the request carries the service token (compared in constant time)."""
    context = context_of(request)
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <service token>)", challenge)
    if not hmac.compare_digest(credentials.credentials.encode(), context.service_token):
        raise ApiError(401, "unauthorized", "invalid service token", challenge)
    return context


#: A route's parameter of this type makes it a service route: the context, once the service token checked out.
Service = Annotated[ApiContext, Depends(_service)]


class Athlete(BaseModel):
    """The authenticated athlete: the token's ``sub``, in canonical UUID form."""

    user_id: str


def _unauthorized(reason: str) -> ApiError:
    return ApiError(401, "unauthorized", reason, _CHALLENGE)


@authenticator
def _athlete(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_athlete_bearer)]
) -> Athlete:
    """The athlete of a valid Supabase JWT (HS256, ``exp`` and ``sub`` required; ``iss``, ``aud`` and ``role``
    required and checked when configured, ``aud`` checked if present otherwise)."""
    context = context_of(request)
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


#: A route's parameter of this type makes it an athlete route: the athlete of the request's valid JWT.
AthleteDep = Annotated[Athlete, Depends(_athlete)]


# ---- the database and the plan's workflow -------------------------------------------------------------------


def database(context: ApiContext) -> Store:
    """The configured database; without one, 503 ``not_configured``."""
    if context.store is None:
        raise ApiError(503, "not_configured", "no database is configured")
    return context.store


def analytics(context: ApiContext) -> AnalyticsStore:
    return AnalyticsStore(database(context).sessionmaker)


async def own_plan(context: ApiContext, plan_id: int, user_id: str) -> None:
    """404 unless plan ``plan_id`` is the athlete's: another athlete's plan looks exactly like no plan."""
    with database_input("path.plan_id"):
        owner = await analytics(context).plan_owner(plan_id)
    if owner != user_id:
        raise ApiError(404, "plan_not_found", f"plan {plan_id} not found")


async def to_workflow(context: ApiContext, plan_id: int, call: Callable[[], Awaitable[_T]]) -> _T:
    """Signal or update the plan's workflow; one that has ended answers 409, not 404 (Temporal says NOT_FOUND)."""
    try:
        return await call()
    except PlanNotFoundError:
        # Raises PlanNotFoundError (404) if no run exists at all, PlanWorkflowClosedError (409) if it failed.
        closed = await context.plans.check_not_closed_abnormally(plan_id)
        if closed in (None, WorkflowExecutionStatus.RUNNING):
            raise  # the workflow appeared between the signal and the describe: report what the signal saw
        word = closed.name.lower().replace("_", " ") if closed else "ended"
        raise ApiError(
            409, "plan_closed", f"plan {plan_id}: workflow {word}; start it again to resume notifications"
        ) from None
