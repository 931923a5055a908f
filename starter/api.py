"""The HTTP API: the core API drives plan workflows over HTTP instead of importing :mod:`starter.client`.

:func:`create_app` builds the FastAPI application from its dependencies (the :class:`PlanNotifications` client, the
service token and, for the readiness probe, the :class:`Store`); nothing is read from globals or settings here, so
tests and ``coach run`` wire it the same way. :func:`make_server` serves it with uvicorn.

Every error is JSON of one shape, ``{"error": {"code": ..., "message": ..., "fields": [...]}}``: validation
problems are 422 ``invalid_request`` (each with the field it concerns), a plan without a workflow is 404
``plan_not_found``, a plan whose workflow has ended is 409 ``plan_closed``, and a Temporal outage is 503
``temporarily_unavailable`` (safe to retry: every write is idempotent by plan id or ruck id).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

import uvicorn
from fastapi import Depends, FastAPI, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from activities.analytics_store import AnalyticsStore
from activities.store import Store
from coaching.ids import plan_workflow_id
from coaching.models import PlanStatusResult, SessionCompletedInput
from coaching.preferences import ChangeRejected
from starter.client import PlanEndedError, PlanNotFoundError, PlanNotifications, PlanWorkflowClosedError

logger = logging.getLogger(__name__)

API_TITLE = "RuckTracker coaching-plan notifications"
API_VERSION = "1.0.0"

#: Ids are PostgreSQL bigints: a larger number would only fail later, inside an activity that retries forever.
MAX_ID = 2**63 - 1
#: How long one readiness check may take before that part counts as down.
READY_TIMEOUT_SECONDS = 3.0
#: A reason ends up in workflow history: bounded, so one request cannot bloat it.
MAX_REASON_LENGTH = 500

_T = TypeVar("_T")
#: Where a refused change's field is in the request, when it is not ``body.<field>``.
_REQUEST_FIELDS = {
    "plan_session_id": "path.session_id",
    "plan_id": "path.plan_id",
    "sub": "header.authorization",
    "body": "body",
}

PlanId = Annotated[int, Path(gt=0, le=MAX_ID, description="The `user_coaching_plans` id")]


# ---- request and response bodies --------------------------------------------------------------------------


class SessionCompletedRequest(SessionCompletedInput):
    """A completed ruck (:class:`SessionCompletedInput`), with the bounds an HTTP client must respect."""

    model_config = ConfigDict(allow_inf_nan=False)

    ruck_id: int = Field(gt=0, le=MAX_ID)
    plan_session_id: int | None = Field(default=None, gt=0, le=MAX_ID)


class ReasonRequest(BaseModel):
    """An optional free-text reason, kept in the workflow's history (for pause, resume, cancel, …)."""

    model_config = ConfigDict(extra="ignore")

    reason: str = Field(default="", max_length=MAX_REASON_LENGTH)


class StartedResponse(BaseModel):
    plan_id: int
    workflow_id: str
    run_id: str | None


class AcceptedResponse(BaseModel):
    plan_id: int
    workflow_id: str
    accepted: str = Field(description="What was delivered to the plan's workflow")


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


# ---- errors -----------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with ``status_code``."""

    def __init__(self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers


def _error(
    status_code: int,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=fields))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)


_HTTP_CODES = {
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
}

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong service token"},
    422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    503: {"model": ErrorResponse, "description": "Temporal unreachable (`temporarily_unavailable`); retry"},
}
_PLAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "No workflow for this plan (`plan_not_found`)"},
    409: {"model": ErrorResponse, "description": "The plan's workflow has ended (`plan_closed`)"},
}


def _field_error(error: Mapping[str, Any]) -> FieldError:
    """One pydantic/FastAPI error as ``{field, message}``, in the client's terms."""
    location = [str(part) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        # FastAPI locates a JSON syntax error by its character offset ("body", 15): the body is what is wrong.
        offset = location[1] if len(location) > 1 else "?"
        context = error.get("ctx")
        why = context.get("error") if isinstance(context, Mapping) else None
        return FieldError(field="body", message=f"not valid JSON at character {offset}" + (f": {why}" if why else ""))
    # pydantic prefixes the message of a ValueError raised by a validator; the reason alone reads better.
    return FieldError(field=".".join(location), message=message.removeprefix("Value error, "))


def _install_error_handlers(app: FastAPI) -> None:
    async def validation(_: Request, exc: Exception) -> JSONResponse:
        errors = cast(RequestValidationError, exc).errors()
        fields = [_field_error(e) for e in errors]
        noun = "problem" if len(fields) == 1 else "problems"
        return _error(422, "invalid_request", f"the request is invalid ({len(fields)} {noun})", fields)

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        err = cast(ApiError, exc)
        return _error(err.status_code, err.code, err.message, headers=err.headers)

    async def plan_not_found(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, "plan_not_found", str(exc))

    async def plan_closed(_: Request, exc: Exception) -> JSONResponse:
        return _error(409, "plan_closed", str(exc))

    async def change_rejected(_: Request, exc: Exception) -> JSONResponse:
        # A rule of coaching.preferences, checked here or by the workflow's update validator.
        err = cast(ChangeRejected, exc)
        field = FieldError(field=_REQUEST_FIELDS.get(err.field, f"body.{err.field}"), message=err.message)
        if err.code.endswith("_not_found"):  # session_not_found, plan_not_found (gone from the database)
            return _error(404, err.code, err.message, [field])
        return _error(422, err.code, f"the change was refused: {err.message}", [field])

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        err = cast(StarletteHTTPException, exc)
        if err.status_code == 400:
            # FastAPI answers 400 for a body it cannot even decode (not UTF-8): to the client it is one more
            # invalid request, reported as such.
            field = FieldError(field="body", message="the body is not valid UTF-8 JSON")
            return _error(422, "invalid_request", "the request is invalid (1 problem)", [field])
        code = _HTTP_CODES.get(err.status_code, "http_error")
        return _error(err.status_code, code, str(err.detail), headers=err.headers)

    async def temporal_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A connection or server problem, not the request's fault: the client retries (the writes are idempotent).
        logger.warning("%s %s: Temporal call failed: %r", request.method, request.url.path, exc)
        return _error(503, "temporarily_unavailable", "the workflow service is unavailable; retry later")

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("%s %s: database call failed: %r", request.method, request.url.path, exc)
        return _error(503, "temporarily_unavailable", "the database is unavailable; retry later")

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal_error", "an unexpected error occurred")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(PlanNotFoundError, plan_not_found)
    app.add_exception_handler(PlanWorkflowClosedError, plan_closed)
    app.add_exception_handler(PlanEndedError, plan_closed)
    app.add_exception_handler(ChangeRejected, change_rejected)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for temporal_error in (
        RPCError,
        WorkflowQueryFailedError,
        WorkflowQueryRejectedError,
        # An update that failed for another reason than a refusal: the change could not be saved (e.g. the
        # database is down); every change sets a value, so retrying it is safe.
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
        TimeoutError,
    ):
        app.add_exception_handler(temporal_error, temporal_unavailable)
    # A database outage (a driver error, or no connection at all) is not the request's fault either.
    for database_error in (DBAPIError, ConnectionError):
        app.add_exception_handler(database_error, database_unavailable)
    app.add_exception_handler(Exception, unexpected)


# ---- dependencies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiContext:
    """What the routes need, attached to the application by :func:`create_app` (never a module global)."""

    plans: PlanNotifications
    service_token: bytes
    store: Store | None = None
    #: The shared secret of the athletes' JWTs (Supabase); None: the athlete endpoints answer 503.
    jwt_secret: str | None = None


def _context(request: Request) -> ApiContext:
    return cast(ApiContext, request.app.state.context)


_bearer = HTTPBearer(auto_error=False, description="The core API's service token")


def _service(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiContext:
    """The context, once the request carries the service token (compared in constant time)."""
    context = _context(request)
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise ApiError(401, "unauthorized", "missing bearer token (Authorization: Bearer <service token>)", challenge)
    if not hmac.compare_digest(credentials.credentials.encode(), context.service_token):
        raise ApiError(401, "unauthorized", "invalid service token", challenge)
    return context


Service = Annotated[ApiContext, Depends(_service)]


async def _signal(
    context: ApiContext, plan_id: int, what: str, send: Callable[[], Awaitable[None]]
) -> AcceptedResponse:
    """Send a signal (see :func:`to_workflow`)."""
    await to_workflow(context, plan_id, send)
    return AcceptedResponse(plan_id=plan_id, workflow_id=plan_workflow_id(plan_id), accepted=what)


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


# ---- routes -----------------------------------------------------------------------------------------------


def _build_app() -> FastAPI:
    """The application with its routes and error handlers, without dependencies (enough for the OpenAPI document)."""
    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description=(
            "Drive the per-plan notification workflows: start a plan, report completed rucks, pause, resume, "
            "cancel or complete it, and read its upcoming notifications with the reason for each time."
        ),
    )
    _install_error_handlers(app)

    @app.get("/healthz", response_model=HealthResponse, tags=["operations"])
    async def healthz() -> HealthResponse:
        """The process is up (liveness); says nothing about its dependencies."""
        return HealthResponse(status="ok")

    @app.get(
        "/readyz",
        response_model=HealthResponse,
        tags=["operations"],
        responses={503: {"model": HealthResponse, "description": "A dependency is unreachable"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Ready to serve: the database answers ``SELECT 1`` and Temporal answers a describe."""
        context = _context(request)
        checks: dict[str, str] = {}
        if context.store is not None:
            checks["database"] = await _check(_database_ping(context.store))
        checks["temporal"] = await _check(_temporal_ping(context.plans))
        ready = all(v == "ok" for v in checks.values())
        body = HealthResponse(status="ok" if ready else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    plan = "/v1/plans/{plan_id}"

    @app.post(
        f"{plan}/start",
        status_code=202,
        response_model=StartedResponse,
        responses={**_ERROR_RESPONSES, 404: {"model": ErrorResponse, "description": "No such plan (`plan_not_found`)"}},
    )
    async def start_plan(plan_id: PlanId, context: Service) -> StartedResponse:
        """Start the plan's workflow; starting a plan whose workflow runs returns the running one. A plan that is
        not in the database is 404 (its workflow would only fail)."""
        if context.store is not None and await AnalyticsStore(context.store.sessionmaker).plan_owner(plan_id) is None:
            raise ApiError(404, "plan_not_found", f"plan {plan_id} is not in the database")
        handle = await context.plans.start_plan(plan_id)
        return StartedResponse(plan_id=plan_id, workflow_id=handle.id, run_id=handle.result_run_id)

    @app.post(f"{plan}/sessions/completed", status_code=202, response_model=AcceptedResponse, responses=_PLAN_RESPONSES)
    async def session_completed(plan_id: PlanId, body: SessionCompletedRequest, context: Service) -> AcceptedResponse:
        """A ruck was completed. Idempotent by ``ruck_id``: the workflow counts (and celebrates) a ruck once."""
        completion = SessionCompletedInput.model_validate(body.model_dump())
        return await _signal(
            context, plan_id, "session_completed", lambda: context.plans.session_completed(plan_id, completion)
        )

    @app.post(f"{plan}/sessions/changed", status_code=202, response_model=AcceptedResponse, responses=_PLAN_RESPONSES)
    async def sessions_changed(
        plan_id: PlanId, context: Service, body: ReasonRequest | None = None
    ) -> AcceptedResponse:
        """The plan's sessions were edited (moved, added, removed): the workflow reloads them."""
        reason = body.reason if body else ""
        return await _signal(
            context, plan_id, "sessions_changed", lambda: context.plans.sessions_changed(plan_id, reason)
        )

    def status_change(action: str, summary: str) -> None:
        async def change(plan_id: PlanId, context: Service, body: ReasonRequest | None = None) -> AcceptedResponse:
            reason = body.reason if body else ""
            send: Callable[[int, str], Awaitable[None]] = getattr(context.plans, action)
            return await _signal(context, plan_id, action, lambda: send(plan_id, reason))

        app.post(
            f"{plan}/{action}",
            status_code=202,
            response_model=AcceptedResponse,
            responses=_PLAN_RESPONSES,
            summary=summary,
            operation_id=f"{action}_plan",
        )(change)

    status_change("pause", "Pause the plan's notifications")
    status_change("resume", "Resume the plan's notifications")
    status_change("cancel", "Cancel the plan (its workflow ends)")
    status_change("complete", "Mark the plan completed (the last ruck still counts within the grace period)")

    @app.get(f"{plan}/schedule", response_model=PlanStatusResult, responses=_PLAN_RESPONSES)
    async def schedule(plan_id: PlanId, context: Service) -> PlanStatusResult:
        """The plan's status, counters and upcoming notifications, each with the reason for its time."""
        return await context.plans.status(plan_id)

    # Imported here: the athlete routes use this module's errors and dependencies.
    from starter.api_athlete import router as athlete_routes
    from starter.api_preferences import router as preference_routes

    app.include_router(athlete_routes)
    app.include_router(preference_routes)
    return app


async def _check(probe: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT_SECONDS)
    except Exception as err:  # any failure means "not ready"; the answer says which part
        logger.warning("readiness check failed: %r", err)
        return f"unavailable: {type(err).__name__}"
    return "ok"


async def _database_ping(store: Store) -> None:
    async with store.sessionmaker() as session:
        await session.execute(text("SELECT 1"))


async def _temporal_ping(plans: PlanNotifications) -> None:
    # Describing a workflow that cannot exist (plan ids are positive) exercises the connection, the namespace and
    # the credentials; NOT_FOUND is the healthy answer.
    try:
        await plans.execution_status(0)
    except PlanNotFoundError:
        return


# ---- public surface ---------------------------------------------------------------------------------------


def create_app(
    plans: PlanNotifications, *, service_token: str, store: Store | None = None, jwt_secret: str | None = None
) -> FastAPI:
    """The HTTP API over ``plans``; service endpoints require ``service_token``, ``/readyz`` pings ``store``.

    Athlete endpoints (``/v1/me/...``) verify the athletes' JWTs with ``jwt_secret``.
    """
    if len(service_token) < 16:
        raise ValueError("service_token: at least 16 characters (set COACH_SERVICE_TOKEN)")
    app = _build_app()
    app.state.context = ApiContext(
        plans=plans, service_token=service_token.encode(), store=store, jwt_secret=jwt_secret
    )
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (the same as ``GET /openapi.json``), without connecting to anything."""
    return _build_app().openapi()


def make_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080, **config: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` (``port=0``: any free port); run it with ``await server.serve()``."""
    config.setdefault("log_config", None)  # logging is configured once, by the entrypoint
    config.setdefault("lifespan", "off")
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, **config))
