"""Activity behaviour that needs no Temporal server: run with the SDK's ActivityEnvironment on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.plan_activities import PlanActivities
from activities.push import OutboxPusher
from activities.store import Store
from coaching.models import NotificationType, PlannedNotification, RecordSkipInput


async def test_bad_data_fails_for_good_instead_of_retrying_forever(store: Store) -> None:
    activities = PlanActivities(store=store, pusher=OutboxPusher())
    when = datetime(2027, 5, 1, 8, tzinfo=UTC)
    n = PlannedNotification(
        notification_id="p1:kickoff_primer:s-:2027-05-01",
        type=NotificationType.KICKOFF_PRIMER,
        local_date=date(2027, 5, 1),
        due_at=when,
        send_at=when,
        expires_at=when,
        reason="test",
    )
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            activities.record_skip, RecordSkipInput(plan_id=1, user_id="not-a-uuid", notification=n, reason="x")
        )
    assert caught.value.non_retryable and caught.value.type == "BadData"


def test_permanent_errors_are_told_from_outages() -> None:
    """Bad data and the database's refusals are permanent (never retried); a lost connection is an outage."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

    from activities.attempt import is_permanent

    class Orig(Exception):
        def __init__(self, sqlstate: str | None, cause: BaseException | None = None) -> None:
            super().__init__("x")
            self.sqlstate = sqlstate
            self.__cause__ = cause

    assert is_permanent(ValueError("bad")) and is_permanent(OverflowError("date value out of range"))
    assert is_permanent(IntegrityError("INSERT …", {}, Orig("23503")))
    assert is_permanent(DBAPIError("UPDATE …", {}, Orig("22P05")))  # a NUL byte in a text value
    out_of_range = asyncpg.exceptions._base.DataError("invalid input for query argument $1: 3000000000")
    assert is_permanent(DBAPIError("UPDATE …", {}, Orig(None, out_of_range)))
    assert not is_permanent(OperationalError("SELECT 1", {}, Orig("08006")))  # connection failure
    assert not is_permanent(DBAPIError("SELECT 1", {}, Orig("57P01")))  # admin shutdown
    assert not is_permanent(ConnectionRefusedError())
