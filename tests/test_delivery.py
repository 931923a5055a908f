"""Delivery through the real firebase-admin path to the FCM fake, on the time-skipping server: FCM's answers become
Temporal retries (honouring Retry-After), token deactivation, and ledger outcomes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from activities.demo import create_demo_plan
from coaching.models import SessionCompletedInput
from coaching.timeutil import to_local
from starter.sandbox import Stack, local_stack, wait_for
from tests.fakes.fcm import FakeFcm

TZ = "America/Chicago"


@pytest.fixture(params=["time-skipping", "dev-server"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path, fcm: FakeFcm) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{tmp_path}/delivery.db"
    async with local_stack(
        url, settings=fcm.service_settings(url), time_skipping=request.param == "time-skipping"
    ) as s:
        yield s


@pytest.fixture
async def dev_stack(tmp_path: Path, fcm: FakeFcm) -> AsyncIterator[Stack]:
    """The dev server: the time-skipping test server does not implement an activity's next_retry_delay."""
    url = f"sqlite+aiosqlite:///{tmp_path}/delivery.db"
    async with local_stack(url, settings=fcm.service_settings(url), time_skipping=False) as s:
        yield s


async def plan_with_token(stack: Stack, token: str) -> int:
    now = await stack.now()
    day = to_local(now, TZ).date() + timedelta(days=2)
    return await create_demo_plan(
        stack.store,
        timezone=TZ,
        start_date=day,
        sessions=[{"scheduled_date": day, "scheduled_start_time": "08:00"}],
        fcm_token=token,
        created_at=now,
    )


async def kickoff(stack: Stack, plan_id: int) -> object:
    rows = await stack.ledger(plan_id)
    row = next((r for r in rows if r.notification_type == "plan_kickoff_primer"), None)
    return row if row is not None and row.status != "scheduled" else None


async def test_429_is_retried_after_retry_after_and_delivered_once(dev_stack: Stack, fcm: FakeFcm) -> None:
    stack = dev_stack
    fcm.set_retry_after("5")
    fcm.fail_then_succeed("busy-token", 1, "quota")
    plan_id = await plan_with_token(stack, "busy-token")
    await stack.plans.start_plan(plan_id)
    row = await wait_for(lambda: kickoff(stack, plan_id), timeout=30)
    assert row.status == "sent" and row.attempts == 2  # type: ignore[attr-defined]
    # The retry waited for Retry-After (5 s), not the 2 s initial back-off.
    assert row.sent_at - row.scheduled_for >= timedelta(seconds=5)  # type: ignore[attr-defined]
    assert fcm.attempts("busy-token") == 2 and len(fcm.received_for("busy-token")) == 1


async def test_unregistered_token_is_deactivated_not_retried(stack: Stack, fcm: FakeFcm) -> None:
    fcm.set_behaviour("dead-token", "unregistered")
    plan_id = await plan_with_token(stack, "dead-token")
    await stack.plans.start_plan(plan_id)
    row = await wait_for(lambda: kickoff(stack, plan_id))
    assert row.status == "failed" and "unregistered" in (row.reason or "")  # type: ignore[attr-defined]
    assert fcm.attempts("dead-token") == 1
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None and await stack.store.active_tokens(snapshot.user_id) == []
    # With no device left, later notifications are skipped with a reason instead of attempted.
    await stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=3, completed_at=await stack.now()))

    async def celebration() -> object:
        rows = [r for r in await stack.ledger(plan_id) if r.notification_type == "plan_completion_celebration"]
        return rows[0] if rows and rows[0].status != "scheduled" else None

    cel = await wait_for(celebration)
    assert cel.status == "skipped" and (cel.reason or "").startswith("no_device")  # type: ignore[attr-defined]
    assert fcm.attempts("dead-token") == 1


async def test_cancel_withdraws_a_delivery_that_is_being_retried(stack: Stack, fcm: FakeFcm) -> None:
    """RuckTracker kept notifying cancelled plans; here a kickoff stuck in retries is withdrawn at once."""
    fcm.set_behaviour("flaky-token", "unavailable")
    plan_id = await plan_with_token(stack, "flaky-token")
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _attempted(fcm, "flaky-token"), timeout=30)
    await stack.plans.cancel(plan_id)
    result = await handle.result()
    assert result.final_status.value == "cancelled"
    row = await kickoff(stack, plan_id)
    assert row is not None and row.status == "skipped"  # type: ignore[attr-defined]
    assert (row.reason or "").startswith("withdrawn")  # type: ignore[attr-defined]
    assert fcm.received_for("flaky-token") == []


async def _attempted(fcm: FakeFcm, token: str) -> bool:
    return fcm.attempts(token) >= 1
