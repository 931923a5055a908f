"""The HTTP API: the core API drives plan workflows over HTTP instead of importing :mod:`starter.client`.

:func:`create_app` builds the FastAPI application from its dependencies (the :class:`PlanNotifications` client, the
service token and, for the readiness probe, the :class:`Store`); nothing is read from globals or settings here, so
tests and ``coach run`` wire it the same way. :func:`make_server` serves it with uvicorn.

Every error is JSON of one shape, ``{"error": {"code": ..., "message": ..., "fields": [...]}}``: validation
problems are 422 ``invalid_request`` (each with the field it concerns; a value the database refuses too), a plan
without a workflow is 404 ``plan_not_found``, a plan whose workflow has ended is 409 ``plan_closed``, a body over
the limit is 413 ``request_too_large``, and an outage of Temporal or the database is 503 ``temporarily_unavailable``
(safe to retry: every write is idempotent by plan id or ruck id).

The edges: every input is bounded (:mod:`starter.bounds`); a request is authenticated from its headers before any
of its body is read, and its body is limited (by ``Content-Length`` and by counting what arrives); an error echoes
at most :data:`MAX_ECHO_CHARS` characters of any value and lists at most :data:`MAX_FIELD_ERRORS` fields; nothing
echoed or logged carries a control character (a NUL byte, a line break) or database parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import traceback
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

import uvicorn
from fastapi import Depends, FastAPI, Path, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError

from activities.analytics_store import AnalyticsStore
from activities.store import Store
from coaching.ids import plan_workflow_id
from coaching.models import AwareDatetime, PlanStatusResult, SessionCompletedInput
from coaching.preferences import ChangeRejected
from starter import api_metrics
from starter.api_codec import CODEC_PREFIX, codec_app
from starter.api_docs import install_offline_docs
from starter.bounds import (
    MAX_DISTANCE_KM,
    MAX_DURATION_SECONDS,
    MAX_ID,
    MAX_REASON_LENGTH,
    MAX_RUCK_DURATION,
    OutOfBounds,
    check_text,
    check_time,
)
from starter.client import PlanEndedError, PlanNotFoundError, PlanNotifications, PlanWorkflowClosedError

logger = logging.getLogger(__name__)

API_TITLE = "RuckTracker coaching-plan notifications"
API_VERSION = "1.0.0"

#: How long one readiness check may take before that part counts as down.
READY_TIMEOUT_SECONDS = 3.0
#: The largest request body read (``COACH_API_MAX_BODY_BYTES``); the API's bodies are a few hundred bytes.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: The largest body the codec server reads: a payload is at most 2 MiB in Temporal, base64 in JSON adds a third.
CODEC_MAX_BODY_BYTES = 4 * 1024 * 1024
#: At most this many characters of any input value are echoed in an error (then "…").
MAX_ECHO_CHARS = 100
#: At most this many field errors are listed in one answer; its message says how many more there were.
MAX_FIELD_ERRORS = 20
#: No message in an error is longer (the service's own are far shorter; this bounds whatever else gets in).
MAX_MESSAGE_CHARS = 1000

_T = TypeVar("_T")
#: Where a refused change's field is in the request, when it is not ``body.<field>``.
_REQUEST_FIELDS = {
    "plan_session_id": "path.session_id",
    "plan_id": "path.plan_id",
    "sub": "header.authorization",
    "body": "body",
}

PlanId = Annotated[int, Path(gt=0, le=MAX_ID, description="The `user_coaching_plans` id")]


def _bounded_time(value: datetime) -> datetime:
    try:
        return check_time(value, "")
    except OutOfBounds as err:
        raise ValueError(err.reason) from None


def _plain_text(value: str) -> str:
    try:
        return check_text(value, "")
    except OutOfBounds as err:
        raise ValueError(err.reason) from None


#: A time in the bounds of :func:`starter.bounds.check_time` (an offset within ±18:00, from 2000 to before 2100).
BoundedTime = AfterValidator(_bounded_time)
#: Free text of valid Unicode without control characters (see :func:`starter.bounds.check_text`).
PlainText = AfterValidator(_plain_text)


# ---- request and response bodies --------------------------------------------------------------------------


class SessionCompletedRequest(SessionCompletedInput):
    """A completed ruck (:class:`SessionCompletedInput`), with the bounds of :mod:`starter.bounds`. (Its end may
    be up to a day ahead of the service's clock; one ahead of it is taken as ending now.)"""

    model_config = ConfigDict(allow_inf_nan=False)

    ruck_id: int = Field(gt=0, le=MAX_ID)
    completed_at: Annotated[AwareDatetime, BoundedTime]
    started_at: Annotated[AwareDatetime, BoundedTime] | None = None
    plan_session_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    distance_km: float | None = Field(default=None, ge=0, le=MAX_DISTANCE_KM)
    duration_seconds: int | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS)

    @field_validator("started_at")
    @classmethod
    def _before_the_end(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        end = info.data.get("completed_at")  # absent when it was invalid itself
        if value is not None and isinstance(end, datetime):
            if value > end:
                raise ValueError("must not be after completed_at")
            if end - value > MAX_RUCK_DURATION:
                raise ValueError(f"must be at most {MAX_RUCK_DURATION.days} days before completed_at")
        return value


class ReasonRequest(BaseModel):
    """An optional free-text reason, kept in the workflow's history (for pause, resume, cancel, …)."""

    model_config = ConfigDict(extra="ignore")

    reason: Annotated[str, PlainText] = Field(default="", max_length=MAX_REASON_LENGTH)


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
    """An error answered as ``{"error": {"code", "message", "fields"}}`` with ``status_code``."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        fields: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers
        self.fields = fields


#: Characters never echoed or logged: controls (NUL, line breaks, escape), lone surrogates, line/paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def printable(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``value`` cut to ``limit`` characters (then "…") with every control character (NUL, a line break, a lone
    surrogate) replaced by U+FFFD: safe to echo in an answer or to write into a log line."""
    cut = value if len(value) <= limit else value[: limit - 1] + "…"
    return "".join("\ufffd" if unicodedata.category(c) in _UNPRINTABLE else c for c in cut)


def _error(
    status_code: int,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    if fields is not None:
        fields = [
            FieldError(field=printable(f.field, MAX_MESSAGE_CHARS), message=printable(f.message, MAX_MESSAGE_CHARS))
            for f in fields
        ]
    body = ErrorResponse(error=ErrorBody(code=code, message=printable(message, MAX_MESSAGE_CHARS), fields=fields))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)


class _BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read, once more of it arrived than the limit (FastAPI lets it through as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes", {"Connection": "close"})


_HTTP_CODES = {
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_413_CONTENT_TOO_LARGE: "request_too_large",
}

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong service token"},
    413: {"model": ErrorResponse, "description": "The body is over the limit (`request_too_large`)"},
    422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    503: {
        "model": ErrorResponse,
        "description": "Temporal or the database unreachable (`temporarily_unavailable`); retry",
    },
}
_PLAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "No workflow for this plan (`plan_not_found`)"},
    409: {"model": ErrorResponse, "description": "The plan's workflow has ended (`plan_closed`)"},
}


def _field_error(error: Mapping[str, Any]) -> FieldError:
    """One pydantic/FastAPI error as ``{field, message}``, in the client's terms, echoing no more than
    :data:`MAX_ECHO_CHARS` characters of the input (a location can be an unknown key of the body, too)."""
    location = [printable(str(part)) for part in error.get("loc", ())]
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "json_invalid":
        # FastAPI locates a JSON syntax error by its character offset ("body", 15): the body is what is wrong.
        offset = location[1] if len(location) > 1 else "?"
        context = error.get("ctx")
        why = context.get("error") if isinstance(context, Mapping) else None
        return FieldError(field="body", message=f"not valid JSON at character {offset}" + (f": {why}" if why else ""))
    value = error.get("input")
    if isinstance(value, str) and len(value) > MAX_ECHO_CHARS:
        # A validator's message may quote the value (as is or as its repr): only its beginning is echoed.
        short = value[: MAX_ECHO_CHARS - 1] + "…"
        message = message.replace(repr(value), repr(short)).replace(value, short)
    # pydantic prefixes the message of a ValueError raised by a validator; the reason alone reads better.
    return FieldError(field=".".join(location), message=message.removeprefix("Value error, "))


def _logged(exc: BaseException) -> str:
    """What a log line says about an error: its type, and for a database error its SQLSTATE, never its text (that
    holds the statement's parameters: the request's values, maybe a NUL byte or personal data)."""
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return f"{type(exc).__name__} ({type(exc.orig).__name__}" + (f", SQLSTATE {state})" if state else ")")
    return printable(f"{type(exc).__name__}: {exc}", MAX_MESSAGE_CHARS)


def _caused_by_input(err: DBAPIError) -> bool:
    """Whether the database refused the request's values (SQLSTATE class 22, a data exception such as a NUL byte,
    a value too long or out of range; class 23, a constraint such as a CHECK) rather than being out of reach."""
    if isinstance(err, DataError | IntegrityError):
        return True
    state = getattr(err.orig, "sqlstate", None) or getattr(err.orig, "pgcode", None)
    return isinstance(state, str) and state[:2] in ("22", "23")


def _refused(err: DBAPIError, field: str, columns: Mapping[str, str]) -> ApiError:
    """422 naming the request field whose value the database refused: the one whose column the error names (its
    column or constraint, e.g. ``coach_notification_events_occurred_at_check``), else ``field``."""
    cause = getattr(err.orig, "__cause__", None)
    named = " ".join(
        str(part)
        for part in (getattr(cause, "column_name", None), getattr(cause, "constraint_name", None), err.orig)
        if part
    )
    # A whole column name, not part of another word ("event" is not in "coach_notification_events").
    candidates = {
        name for column, name in columns.items() if re.search(rf"(?<![a-z0-9]){re.escape(column)}(?![a-z0-9])", named)
    }
    problem = FieldError(
        field=candidates.pop() if len(candidates) == 1 else field,
        message="the database refused this value (out of range, invalid characters or a constraint)",
    )
    return ApiError(422, "invalid_request", "the request is invalid (1 problem)", fields=[problem])


@contextlib.contextmanager
def database_input(field: str, columns: Mapping[str, str] | None = None) -> Iterator[None]:
    """Around a store call that carries the request's values: a value the database refuses is 422 naming ``field``
    (or the field of the column the refusal names, by ``columns``), never 503 "retry later"."""
    try:
        yield
    except DBAPIError as err:
        if not _caused_by_input(err):
            raise
        raise _refused(err, field, columns or {}) from None


def _install_error_handlers(app: FastAPI) -> None:
    async def validation(_: Request, exc: Exception) -> JSONResponse:
        errors = cast(RequestValidationError, exc).errors()
        fields = [_field_error(e) for e in errors[:MAX_FIELD_ERRORS]]
        count = len(errors)
        summary = f"{count} problem" if count == 1 else f"{count} problems"
        if count > MAX_FIELD_ERRORS:
            summary += f"; the first {MAX_FIELD_ERRORS} are listed … and {count - MAX_FIELD_ERRORS} more"
        return _error(422, "invalid_request", f"the request is invalid ({summary})", fields)

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        err = cast(ApiError, exc)
        return _error(err.status_code, err.code, err.message, err.fields, headers=err.headers)

    async def out_of_bounds(_: Request, exc: Exception) -> JSONResponse:
        # A bound checked by the Python client against its clock (e.g. a ruck's end more than a day ahead).
        err = cast(OutOfBounds, exc)
        field = FieldError(field=_REQUEST_FIELDS.get(err.field, f"body.{err.field}"), message=err.reason)
        return _error(422, "invalid_request", "the request is invalid (1 problem)", [field])

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
        logger.warning("%s %s: Temporal call failed: %s", request.method, _path(request), _logged(exc))
        return _error(503, "temporarily_unavailable", "the workflow service is unavailable; retry later")

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and _caused_by_input(exc):
            # Refused by the database, not out of reach: retrying would fail the same way. (Routes name the field
            # with database_input; this is for a store call that does not.)
            return await api_error(request, _refused(exc, "request", {}))
        logger.warning("%s %s: database call failed: %s", request.method, _path(request), _logged(exc))
        return _error(503, "temporarily_unavailable", "the database is unavailable; retry later")

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The frames (source lines of the code) as they are; the errors' own messages, which may quote the request,
        # each on one line and printable.
        frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip("\n")
        cause = exc.__cause__ or exc.__context__
        why = _logged(exc) + (f" (from {_logged(cause)})" if cause is not None else "")
        logger.error("%s %s failed: %s\n%s", request.method, _path(request), why, frames)
        return _error(500, "internal_error", "an unexpected error occurred")

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(PlanNotFoundError, plan_not_found)
    app.add_exception_handler(PlanWorkflowClosedError, plan_closed)
    app.add_exception_handler(PlanEndedError, plan_closed)
    app.add_exception_handler(ChangeRejected, change_rejected)
    app.add_exception_handler(OutOfBounds, out_of_bounds)
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
    for database_failure in (DBAPIError, ConnectionError):
        app.add_exception_handler(database_failure, database_error)
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
    #: When set, an athlete's JWT must carry this ``iss`` / ``aud`` / ``role`` (see :mod:`starter.api_athlete`).
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_role: str | None = None
    #: The largest request body read; a larger one is 413.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: The codec server's (``/codec``, see :mod:`starter.api_codec`): it carries whole payloads, not small requests.
    codec_max_body_bytes: int = CODEC_MAX_BODY_BYTES


def _context(request: Request) -> ApiContext:
    return cast(ApiContext, request.app.state.context)


def _path(request: Request) -> str:
    """The request's path for a log line (it is decoded: it may hold any character)."""
    return printable(request.url.path, 200)


_Authenticator = Callable[[Request, HTTPAuthorizationCredentials | None], Any]
#: The dependencies that authenticate a request from its headers (the service token, an athlete's JWT).
#: :class:`RequestEdges` runs a route's before any of the body is read.
_AUTHENTICATORS: set[Callable[..., Any]] = set()


def authenticator(check: _Authenticator) -> _Authenticator:
    """Register ``check`` (a dependency of ``(request, credentials)``) to be run before the body is read."""
    _AUTHENTICATORS.add(check)
    return check


_bearer = HTTPBearer(auto_error=False, description="The core API's service token")


@authenticator
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


def _authenticator_of(dependant: Dependant) -> _Authenticator | None:
    for dependency in dependant.dependencies:
        if dependency.call in _AUTHENTICATORS:
            return cast(_Authenticator, dependency.call)
        if (found := _authenticator_of(dependency)) is not None:
            return found
    return None


class RequestEdges:
    """ASGI middleware in front of the routes: authentication first, then the body's size, before any of it is read.

    FastAPI reads and parses a route's body before it runs the route's dependencies, so a request that carries a
    large body would be read whole before its missing token is noticed. Here the route's authentication dependency
    (see :func:`authenticator`) runs on the headers alone and a refusal is answered at once; then a
    ``Content-Length`` over the limit is 413, and a body sent without one is counted as it arrives (413 once past
    the limit). An answer given before the body was read closes the connection, so the rest is never received.
    The dependencies still run in the route (and document the security in the OpenAPI document).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        application = cast(FastAPI, scope["app"])
        context = cast(ApiContext, application.state.context)
        headers = Headers(scope=scope)
        carries_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        close = {"Connection": "close"} if carries_body else {}
        check = _route_authenticator(application, scope)
        if check is not None:
            request = Request(scope)  # no receive channel: nothing here can read the body
            try:
                check(request, await _bearer(request))
            except ApiError as err:
                await _error(err.status_code, err.code, err.message, headers={**(err.headers or {}), **close})(
                    scope, receive, send
                )
                return
        limit = context.max_body_bytes
        if scope["path"].startswith(f"{CODEC_PREFIX}/"):
            limit = context.codec_max_body_bytes
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            too_large = _BodyTooLarge(limit)
            await _error(413, "request_too_large", str(too_large.detail), headers=close)(scope, receive, send)
            return

        received = 0
        started = False

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_within_limit, send_tracked)
        except _BodyTooLarge as err:  # read outside a route (whose handler answers it): answer here
            if started:
                raise
            await _error(413, "request_too_large", str(err.detail), headers=err.headers)(scope, receive, send)


def _guard(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Remember which of ``routes`` (all the application's, included routers' too) authenticate, and how, for
    :class:`RequestEdges` (FastAPI keeps an included router's routes behind a router object of its own)."""
    guarded = [(r, _authenticator_of(r.dependant)) for r in routes if isinstance(r, APIRoute)]
    app.state.guarded_routes = [(route, check) for route, check in guarded if check is not None]


def _route_authenticator(application: FastAPI, scope: Scope) -> _Authenticator | None:
    """The authentication of the route that will serve this request, if it has one."""
    guarded: list[tuple[APIRoute, _Authenticator]] = application.state.guarded_routes
    for route, check in guarded:
        if route.matches(scope)[0] is Match.FULL:
            return check
    return None


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
        docs_url=None,  # served by install_offline_docs: Swagger UI's files from a package, not a CDN
        redoc_url=None,
    )
    install_offline_docs(app)
    _install_error_handlers(app)
    app.add_middleware(RequestEdges)
    api_metrics.install(app)  # outermost: counts the edges' answers too

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
        if context.store is not None:
            with database_input("path.plan_id"):
                owner = await AnalyticsStore(context.store.sessionmaker).plan_owner(plan_id)
            if owner is None:
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
    from starter.api_rollout import router as rollout_routes

    app.include_router(athlete_routes)
    app.include_router(preference_routes)
    app.include_router(rollout_routes)
    _guard(app, [*app.router.routes, *athlete_routes.routes, *preference_routes.routes, *rollout_routes.routes])
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
    plans: PlanNotifications,
    *,
    service_token: str,
    store: Store | None = None,
    jwt_secret: str | None = None,
    jwt_issuer: str | None = None,
    jwt_audience: str | None = None,
    jwt_role: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    codec: PayloadCodec | None = None,
    codec_token: str | None = None,
    codec_origins: Sequence[str] = (),
) -> FastAPI:
    """The HTTP API over ``plans``; service endpoints require ``service_token``, ``/readyz`` pings ``store``.

    Athlete endpoints (``/v1/me/...``) verify the athletes' JWTs with ``jwt_secret``; when ``jwt_issuer``,
    ``jwt_audience`` or ``jwt_role`` is given, a token must carry that ``iss``, ``aud`` or ``role``. A request body
    over ``max_body_bytes`` is 413. With ``codec`` and ``codec_token``, the codec server is served at ``/codec``
    (see :mod:`starter.api_codec`) with CORS for ``codec_origins``.
    """
    if len(service_token) < 16:
        raise ValueError("service_token: at least 16 characters (set COACH_SERVICE_TOKEN)")
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes: at least 1 (set COACH_API_MAX_BODY_BYTES)")
    app = _build_app()
    app.state.context = ApiContext(
        plans=plans,
        service_token=service_token.encode(),
        store=store,
        jwt_secret=jwt_secret,
        jwt_issuer=jwt_issuer or None,
        jwt_audience=jwt_audience or None,
        jwt_role=jwt_role or None,
        max_body_bytes=max_body_bytes,
    )
    if codec is not None and codec_token:
        app.mount(CODEC_PREFIX, codec_app(codec, codec_token, codec_origins))
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (the same as ``GET /openapi.json``), without connecting to anything."""
    return _build_app().openapi()


def make_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080, **config: Any) -> uvicorn.Server:
    """A uvicorn server for ``app`` (``port=0``: any free port); run it with ``await server.serve()``."""
    config.setdefault("log_config", None)  # logging is configured once, by the entrypoint
    config.setdefault("lifespan", "off")
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, **config))
