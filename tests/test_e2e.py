"""End to end on the Temporal dev server: database rows in, workflow started by the starter, pushes delivered through
firebase-admin to the local FCM fake, ledger updated, exactly once; on SQLite and PostgreSQL.

Also: a worker process killed with SIGKILL while notifications fall due, then restarted, delivers each exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.demo import create_demo_plan
from activities.migrate import upgrade_database
from coaching.ids import SEARCH_ATTRIBUTE_STATUS
from coaching.models import SessionCompletedInput, WorkflowConfig
from coaching.timeutil import to_local
from starter.sandbox import Stack, local_stack, wait_for
from starter.settings import Settings
from tests.fakes.fcm import FakeFcm

pytestmark = pytest.mark.devserver
TZ = "Europe/London"
TOKEN = "e2e-device-token"


def fcm_ids(fcm: FakeFcm) -> Counter[str]:
    return Counter(m.message["data"]["notification_id"] for m in fcm.received_for(TOKEN))


async def sent_ids(stack: Stack, plan_id: int) -> Counter[str]:
    return Counter(r.notification_id for r in await stack.ledger(plan_id) if r.status == "sent")


async def new_plan(stack: Stack) -> int:
    now = await stack.now()
    tomorrow = to_local(now, TZ).date() + timedelta(days=1)
    return await create_demo_plan(
        stack.store,
        timezone=TZ,
        start_date=tomorrow,
        sessions=[
            {"scheduled_date": tomorrow, "planned_session_type": "Tempo Ruck", "scheduled_start_time": "07:00"},
            {"scheduled_date": tomorrow + timedelta(days=2), "planned_session_type": "Long Ruck"},
        ],
        tone="Drill Sergeant",
        fcm_token=TOKEN,
        created_at=now,
    )


async def test_rows_in_workflow_started_push_through_firebase_admin_exactly_once(
    dev_server: WorkflowEnvironment, fcm: FakeFcm, database_url: str
) -> None:
    settings = fcm.service_settings(database_url)
    async with local_stack(database_url, time_skipping=False, env=dev_server, settings=settings) as stack:
        plan_id = await new_plan(stack)
        handle = await stack.plans.start_plan(plan_id)
        await wait_for(lambda: _kinds(stack, plan_id, {"plan_kickoff_primer"}))

        # The same ruck reported by the app and again by an import: one celebration.
        ruck = SessionCompletedInput(ruck_id=4242, completed_at=await stack.now(), source="app")
        await stack.plans.session_completed(plan_id, ruck)
        await stack.plans.session_completed(plan_id, ruck.model_copy(update={"source": "import"}))
        await wait_for(lambda: _kinds(stack, plan_id, {"plan_completion_celebration"}))

        ledger = await sent_ids(stack, plan_id)
        await wait_for(lambda: _fcm_matches(fcm, ledger))
        assert set(ledger.values()) == {1}
        assert fcm_ids(fcm) == ledger
        kickoff = next(m for m in fcm.received_for(TOKEN) if m.message["data"]["type"] == "plan_kickoff_primer")
        assert kickoff.message["android"]["collapse_key"] == kickoff.message["data"]["notification_id"]
        assert json.loads(kickoff.message["data"]["context"])["timezone"] == TZ

        async def published() -> bool:
            described = await handle.describe()
            return (
                SEARCH_ATTRIBUTE_STATUS
                in described.raw_description.workflow_execution_info.search_attributes.indexed_fields
            )

        # Published once the plan is idle again (after the celebration and the cadence refresh that follows it).
        assert await wait_for(published)
        await stack.plans.cancel(plan_id)
        assert (await handle.result()).final_status.value == "cancelled"


async def _kinds(stack: Stack, plan_id: int, kinds: set[str]) -> bool:
    return kinds <= {r.notification_type for r in await stack.ledger(plan_id) if r.status == "sent"}


async def _fcm_matches(fcm: FakeFcm, ledger: Counter[str]) -> bool:
    return fcm_ids(fcm) == ledger


def _worker_process(settings: Settings, address: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "COACH_ENVIRONMENT": "test",
        "COACH_DATABASE_URL": settings.database_url,
        "COACH_FIREBASE_CREDENTIALS_JSON": settings.firebase_credentials or "",
        "COACH_FCM_ENDPOINT": settings.fcm_endpoint or "",
        "COACH_TASK_QUEUE": settings.task_queue,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "starter.cli", "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def test_worker_killed_while_notifications_fall_due_delivers_each_exactly_once(
    dev_server: WorkflowEnvironment, fcm: FakeFcm, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/killed.db"
    await upgrade_database(database_url)
    # Short activity timeouts: an activity that was running in the killed worker is retried on the new one in
    # seconds, as a production deployment would after its (longer) timeout.
    config = WorkflowConfig(search_attributes=True, activity_timeout_seconds=5)
    async with local_stack(database_url, time_skipping=False, env=dev_server, run_worker=False, config=config) as stack:
        settings = fcm.service_settings(database_url, task_queue=stack.task_queue)
        address = dev_server.client.service_client.config.target_host
        log = tmp_path / "worker.log"
        plan_id = await new_plan(stack)
        await stack.plans.start_plan(plan_id)

        first = _worker_process(settings, address, log)
        try:
            await wait_for(lambda: _kinds(stack, plan_id, {"plan_kickoff_primer"}), timeout=30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

        # While no worker runs, two rucks are reported: a celebration each falls due (milestones follow two minutes
        # later by rule, which the time-skipping tests cover).
        now = await stack.now()
        await stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=1, completed_at=now))
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=2, completed_at=now + timedelta(seconds=1))
        )
        await asyncio.sleep(0)  # nothing can deliver them now; the restart below must

        second = _worker_process(settings, address, log)
        try:
            await wait_for(lambda: _count(stack, plan_id, "plan_completion_celebration", 2), timeout=60, interval=0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)

        ledger = await sent_ids(stack, plan_id)
        assert set(ledger.values()) == {1}, ledger
        assert fcm_ids(fcm) == ledger, log.read_text()[-2000:]


async def _count(stack: Stack, plan_id: int, kind: str, n: int) -> bool:
    rows = [r for r in await stack.ledger(plan_id) if r.notification_type == kind and r.status == "sent"]
    return len(rows) >= n
