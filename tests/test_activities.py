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
