"""The HTTP API's errors: one JSON shape for every answer that is not a success, and the handlers that give it.

Every error is ``{"error": {"code": ..., "message": ..., "fields": [...]}}``: validation problems are 422
``invalid_request`` (each with the field it concerns; a value the database refuses too, see :func:`database_input`),
a plan without a workflow is 404 ``plan_not_found``, a plan whose workflow has ended is 409 ``plan_closed``, a body
over the limit is 413 ``request_too_large``, and an outage of Temporal or the database is 503
``temporarily_unavailable`` (safe to retry: every write is idempotent by plan id or ruck id).

An error echoes at most :data:`MAX_ECHO_CHARS` characters of any value and lists at most :data:`MAX_FIELD_ERRORS`
fields; nothing echoed or logged carries a control character (a NUL byte, a line break) or database parameters.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any, cast

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import (
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from coaching.preferences import ChangeRejected
from starter.bounds import OutOfBounds
from starter.client import PlanEndedError, PlanNotFoundError, PlanWorkflowClosedError

# The API's log lines keep the package's name, whichever of its modules writes them.
logger = logging.getLogger("starter.api")

#: At most this many characters of any input value are echoed in an error (then "…").
MAX_ECHO_CHARS = 100
#: At most this many field errors are listed in one answer; its message says how many more there were.
MAX_FIELD_ERRORS = 20
#: No message in an error is longer (the service's own are far shorter; this bounds whatever else gets in).
MAX_MESSAGE_CHARS = 1000

#: Where a refused change's field is in the request, when it is not ``body.<field>``.
_REQUEST_FIELDS = {
    "plan_session_id": "path.session_id",
    "plan_id": "path.plan_id",
    "sub": "header.authorization",
    "body": "body",
}


# ---- the error body ---------------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


#: The errors every service route may answer, for its ``responses`` in the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong service token"},
    413: {"model": ErrorResponse, "description": "The body is over the limit (`request_too_large`)"},
    422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    503: {
        "model": ErrorResponse,
        "description": "Temporal or the database unreachable (`temporarily_unavailable`); retry",
    },
}
#: The errors of a service route that reaches one plan's workflow.
PLAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "No workflow for this plan (`plan_not_found`)"},
    409: {"model": ErrorResponse, "description": "The plan's workflow has ended (`plan_closed`)"},
}
#: The errors every athlete route (``/v1/me/...``) may answer.
ATHLETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid athlete token (`unauthorized`)"},
    413: {"model": ErrorResponse, "description": "The body is over the limit (`request_too_large`)"},
    422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    503: {"model": ErrorResponse, "description": "No JWT secret configured (`not_configured`) or Temporal down"},
}


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


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read, once more of it arrived than the limit (FastAPI lets it through as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes", {"Connection": "close"})


# ---- shaping an answer --------------------------------------------------------------------------------------

#: Characters never echoed or logged: controls (NUL, line breaks, escape), lone surrogates, line/paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def printable(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``value`` cut to ``limit`` characters (then "…") with every control character (NUL, a line break, a lone
    surrogate) replaced by U+FFFD: safe to echo in an answer or to write into a log line."""
    cut = value if len(value) <= limit else value[: limit - 1] + "…"
    return "".join("\ufffd" if unicodedata.category(c) in _UNPRINTABLE else c for c in cut)


def error_response(
    status_code: int,
    code: str,
    message: str,
    fields: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The error answer, its message and fields made :func:`printable`."""
    if fields is not None:
        fields = [
            FieldError(field=printable(f.field, MAX_MESSAGE_CHARS), message=printable(f.message, MAX_MESSAGE_CHARS))
            for f in fields
        ]
    body = ErrorResponse(error=ErrorBody(code=code, message=printable(message, MAX_MESSAGE_CHARS), fields=fields))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status_code, headers=headers)


_HTTP_CODES = {
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_413_CONTENT_TOO_LARGE: "request_too_large",
}


def field_error(error: Mapping[str, Any]) -> FieldError:
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


def _path(request: Request) -> str:
    """The request's path for a log line (it is decoded: it may hold any character)."""
    return printable(request.url.path, 200)


# ---- values the database refuses ----------------------------------------------------------------------------


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


# ---- the handlers -------------------------------------------------------------------------------------------


def install_error_handlers(app: FastAPI) -> None:
    """Answer every exception a route can raise in the error shape (an unexpected one as a logged 500)."""

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        errors = cast(RequestValidationError, exc).errors()
        fields = [field_error(e) for e in errors[:MAX_FIELD_ERRORS]]
        count = len(errors)
        summary = f"{count} problem" if count == 1 else f"{count} problems"
        if count > MAX_FIELD_ERRORS:
            summary += f"; the first {MAX_FIELD_ERRORS} are listed … and {count - MAX_FIELD_ERRORS} more"
        return error_response(422, "invalid_request", f"the request is invalid ({summary})", fields)

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        err = cast(ApiError, exc)
        return error_response(err.status_code, err.code, err.message, err.fields, headers=err.headers)

    async def out_of_bounds(_: Request, exc: Exception) -> JSONResponse:
        # A bound checked by the Python client against its clock (e.g. a ruck's end more than a day ahead).
        err = cast(OutOfBounds, exc)
        field = FieldError(field=_REQUEST_FIELDS.get(err.field, f"body.{err.field}"), message=err.reason)
        return error_response(422, "invalid_request", "the request is invalid (1 problem)", [field])

    async def plan_not_found(_: Request, exc: Exception) -> JSONResponse:
        return error_response(404, "plan_not_found", str(exc))

    async def plan_closed(_: Request, exc: Exception) -> JSONResponse:
        return error_response(409, "plan_closed", str(exc))

    async def change_rejected(_: Request, exc: Exception) -> JSONResponse:
        # A rule of coaching.preferences, checked here or by the workflow's update validator.
        err = cast(ChangeRejected, exc)
        field = FieldError(field=_REQUEST_FIELDS.get(err.field, f"body.{err.field}"), message=err.message)
        if err.code.endswith("_not_found"):  # session_not_found, plan_not_found (gone from the database)
            return error_response(404, err.code, err.message, [field])
        return error_response(422, err.code, f"the change was refused: {err.message}", [field])

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        err = cast(StarletteHTTPException, exc)
        if err.status_code == 400:
            # FastAPI answers 400 for a body it cannot even decode (not UTF-8): to the client it is one more
            # invalid request, reported as such.
            field = FieldError(field="body", message="the body is not valid UTF-8 JSON")
            return error_response(422, "invalid_request", "the request is invalid (1 problem)", [field])
        code = _HTTP_CODES.get(err.status_code, "http_error")
        return error_response(err.status_code, code, str(err.detail), headers=err.headers)

    async def temporal_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A connection or server problem, not the request's fault: the client retries (the writes are idempotent).
        logger.warning("%s %s: Temporal call failed: %s", request.method, _path(request), _logged(exc))
        return error_response(503, "temporarily_unavailable", "the workflow service is unavailable; retry later")

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and _caused_by_input(exc):
            # Refused by the database, not out of reach: retrying would fail the same way. (Routes name the field
            # with database_input; this is for a store call that does not.)
            return await api_error(request, _refused(exc, "request", {}))
        logger.warning("%s %s: database call failed: %s", request.method, _path(request), _logged(exc))
        return error_response(503, "temporarily_unavailable", "the database is unavailable; retry later")

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The frames (source lines of the code) as they are; the errors' own messages, which may quote the request,
        # each on one line and printable.
        frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip("\n")
        cause = exc.__cause__ or exc.__context__
        why = _logged(exc) + (f" (from {_logged(cause)})" if cause is not None else "")
        logger.error("%s %s failed: %s\n%s", request.method, _path(request), why, frames)
        return error_response(500, "internal_error", "an unexpected error occurred")

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
