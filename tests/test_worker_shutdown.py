"""A deploy stops a worker (SIGTERM) while it is pushing: the push in flight is finished, recorded and sent once.

Issue 11.6: with Temporal's default graceful shutdown of 0 s the worker cancelled the delivery while FCM's request
was still on the wire; the push went out anyway from its thread, the ledger never heard of it, and the next worker
pushed it again. On the Temporal dev server, with `coach worker` processes and the FCM fake holding the request.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.demo import create_demo_plan
from activities.ledger_store import LedgerRow
from activities.migrate import upgrade_database
from coaching.models import SessionCompletedInput
from coaching.timeutil import to_local
from starter.sandbox import Stack, local_stack, wait_for
from starter.settings import Settings
from tests.fakes.fcm import FakeFcm

pytestmark = pytest.mark.filterwarnings(r"ignore:Message\.token is deprecated")
TZ = "Asia/Kolkata"
TOKEN = "shutdown-device-token"


def worker_process(settings: Settings, address: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "COACH_ENVIRONMENT": "test",
        "COACH_DATABASE_URL": settings.database_url,
        "COACH_FIREBASE_CREDENTIALS_JSON": settings.firebase_credentials or "",
        "COACH_FCM_ENDPOINT": settings.fcm_endpoint or "",
        "COACH_TASK_QUEUE": settings.task_queue,
        "COACH_CADENCE_SCHEDULE": "false",
        "COACH_RECONCILE_INTERVAL_SECONDS": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "starter.cli", "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def stopped(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is not None


async def the(stack: Stack, plan_id: int, kind: str) -> LedgerRow | None:
    rows = [r for r in await stack.ledger(plan_id) if r.notification_type == kind and r.status != "scheduled"]
    return rows[0] if rows else None


def pushed(fcm: FakeFcm, kind: str) -> int:
    return sum(1 for m in fcm.received_for(TOKEN) if m.message["data"]["type"] == kind)


@pytest.mark.devserver
async def test_a_worker_stopped_mid_push_finishes_it_and_it_is_received_once(
    dev_server: WorkflowEnvironment, fcm: FakeFcm, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/shutdown.db"
    await upgrade_database(database_url)
    log = tmp_path / "worker.log"
    async with local_stack(database_url, time_skipping=False, env=dev_server, run_worker=False) as stack:
        settings = fcm.service_settings(database_url, task_queue=stack.task_queue)
        address = dev_server.client.service_client.config.target_host
        now = await stack.now()
        day = to_local(now, TZ).date() + timedelta(days=2)
        plan_id = await create_demo_plan(
            stack.store,
            timezone=TZ,
            start_date=day,
            sessions=[{"scheduled_date": day}],
            fcm_token=TOKEN,
            created_at=now,
        )
        fcm.set_behaviour(TOKEN, "slow")  # FCM holds the kickoff's request for 3 s: the deploy lands meanwhile
        fcm.set_slow_seconds(3)
        await stack.plans.start_plan(plan_id)

        first = worker_process(settings, address, log)
        try:
            await wait_for(lambda: _on_the_wire(fcm), timeout=60)
            first.send_signal(signal.SIGTERM)
            await wait_for(lambda: stopped(first), timeout=60, interval=0.1)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == 0, log.read_text()[-3000:]

        # The stopping worker finished the attempt itself: FCM's answer recorded, the ledger 'sent', no second attempt.
        kickoff = await the(stack, plan_id, "plan_kickoff_primer")
        assert kickoff is not None and (kickoff.status, kickoff.attempts) == ("sent", 1), log.read_text()[-3000:]
        assert [d.outcome for d in await stack.store.push_deliveries(kickoff.notification_id)] == ["sent"]
        assert pushed(fcm, "plan_kickoff_primer") == 1

        # The next worker carries on from there: a celebration goes out, the kickoff is not pushed again.
        fcm.set_behaviour(TOKEN, "ok")
        second = worker_process(settings, address, log)
        try:
            ruck = SessionCompletedInput(ruck_id=11, completed_at=await stack.now())
            await stack.plans.session_completed(plan_id, ruck)
            celebration = await wait_for(lambda: the(stack, plan_id, "plan_completion_celebration"), timeout=60)
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.to_thread(second.wait, 60)
        assert celebration.status == "sent"
        assert pushed(fcm, "plan_kickoff_primer") == 1
        # Not even a second attempt that found it sent: the first worker completed the delivery before it stopped.
        kickoff = await the(stack, plan_id, "plan_kickoff_primer")
        assert kickoff is not None and kickoff.attempts == 1
        assert pushed(fcm, "plan_completion_celebration") == 1


async def _on_the_wire(fcm: FakeFcm) -> bool:
    return fcm.attempts(TOKEN) >= 1


def test_the_shutdown_grace_must_outlast_a_push() -> None:
    assert Settings(environment="test").worker_shutdown_grace_seconds == 30
    with pytest.raises(
        ValueError, match="COACH_WORKER_SHUTDOWN_GRACE_SECONDS .* longer than COACH_PUSH_TIMEOUT_SECONDS"
    ):
        Settings(environment="test", worker_shutdown_grace_seconds=10, push_timeout_seconds=10)
