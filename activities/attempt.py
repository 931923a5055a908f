"""What every attempt of an activity shares: which failures are permanent, and what time it is.

Bad data (a malformed id, an impossible value, a constraint the database enforces) fails for good instead of retrying
forever, while outages keep Temporal's retries; and "now" is the attempt's server time, so the same code is right in
production and under time skipping.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

_A = TypeVar("_A")
_R = TypeVar("_R")

#: The ApplicationError type of a permanent failure (bad data): never retried.
BAD_DATA = "BadData"
#: Failure messages stay short and readable in the Web UI (and under Temporal's failure size limit).
_MAX_MESSAGE = 500


def is_permanent(err: BaseException) -> bool:
    """Whether retrying ``err`` can never help: bad data in Python (ValueError, TypeError, OverflowError) or a
    refusal by the database (a constraint, an invalid value: SQLSTATE classes 22 and 23). A lost connection, a
    timeout or a server shutting down is an outage: retried."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

    if isinstance(err, (IntegrityError, DataError)):
        return True
    if isinstance(err, StatementError) and not isinstance(err, DBAPIError):
        return True  # a value could not even be bound (e.g. a naive datetime)
    if isinstance(err, DBAPIError):
        state = str(getattr(err.orig, "sqlstate", "") or getattr(err.orig, "pgcode", "") or "")
        # asyncpg refuses some values before sending them (e.g. out of a column's integer range): a ValueError.
        return state[:2] in ("22", "23") or isinstance(getattr(err.orig, "__cause__", None), ValueError)
    return isinstance(err, (ValueError, TypeError, ArithmeticError))


def bad_data_is_permanent(fn: Callable[[Any, _A], Awaitable[_R]]) -> Callable[[Any, _A], Awaitable[_R]]:
    """Data that cannot be processed (a malformed id, an impossible value, a constraint the database enforces) fails
    for good, with a short message, instead of retrying forever; outages keep their retries."""

    @functools.wraps(fn)
    async def wrapper(self: Any, input: _A) -> _R:
        try:
            return await fn(self, input)
        except Exception as err:
            if not is_permanent(err):
                raise
            message = f"bad data: {type(err).__name__}: {err}"
            raise ApplicationError(message[:_MAX_MESSAGE], type=BAD_DATA, non_retryable=True) from None

    return wrapper


def server_now() -> datetime:
    """The attempt's server time: the host clock in production, the skipped-to time in time-skipping tests."""
    return activity.info().current_attempt_scheduled_time or datetime.now(UTC)
