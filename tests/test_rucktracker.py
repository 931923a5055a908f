"""The service installed on RuckTracker's own database, beside its legacy pipeline, with no call from the core API.

A fresh PostgreSQL database of RuckTracker's schema with the rows its app wrote (``tests/rucktracker``): ``coach db
upgrade --mode rucktracker`` then ``coach db check`` pass; a worker with the reconciler (the Temporal dev server,
firebase-admin pushing to the FCM fake) starts the plan of an athlete written the way RuckTracker's app writes one,
sends its kickoff, then the celebration of a ruck inserted into ``ruck_session``, in the athlete's units and tone;
and RuckTracker's own tables, the legacy ``plan_notification_audit`` and ``user_plan_behavior`` first, are untouched.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from coaching.content import Tone, render
from coaching.ids import RECONCILE_SCHEDULE_ID
from coaching.models import NotificationType
from tests import rucktracker
from tests.conftest import POSTGRES_URL, _postgres_admin
from tests.fakes.fcm import FakeFcm, ReceivedMessage
from worker import run_worker

pytestmark = [pytest.mark.postgres, pytest.mark.rucktracker, pytest.mark.devserver]

ROOT = Path(__file__).resolve().parent.parent
TZ = "America/Chicago"
TOKEN = "fcm-token-of-the-new-athlete"
#: What the service may write in RuckTracker's tables (plan_sessions' notification columns) and what this test
#: inserts (a ruck); everything else of RuckTracker's must come out exactly as it went in.
WRITTEN_OR_INSERTED = {"plan_sessions", "ruck_session"}


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """A new database of RuckTracker's schema and legacy rows, without the service installed."""
    await (await _postgres_admin()).close()  # skips (or fails in CI) without PostgreSQL
    url = make_url(POSTGRES_URL)
    name = f"coach_rt_e2e_{uuid.uuid4().hex[:12]}"
    login = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres"}
    await rucktracker.create_rucktracker_database(name, password=url.password, **login)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await rucktracker.drop_rucktracker_database(name, password=url.password, **login)


def coach(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COACH_DATABASE_URL": database_url, "TEMPORAL_ADDRESS": "127.0.0.1:1"},
    )


async def connect(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )


async def sign_up_and_create_a_plan(conn: asyncpg.Connection, now: datetime) -> tuple[str, int]:
    """What RuckTracker writes for a new athlete who picks 'Drill Sergeant', miles and a plan on their phone: the
    sign-up rows, the plan (display-name personality, UTC start date, the phone's zone) with its generated sessions
    (no start time; a duration range in coaching_points), and the device token the app registers."""
    user_id = str(uuid.uuid4())
    await conn.execute("INSERT INTO auth.users (id) VALUES ($1)", user_id)
    await conn.execute("INSERT INTO profiles (id, name) VALUES ($1, 'Sam')", user_id)
    await conn.execute(
        """INSERT INTO "user" (id, username, email, prefer_metric, coaching_tone, created_at)
           VALUES ($1, 'sam', 'sam@example.invalid', false, 'Drill Sergeant', $2)""",
        user_id,
        now.replace(tzinfo=None),
    )
    plan_id: int = await conn.fetchval(
        """INSERT INTO user_coaching_plans (user_id, coaching_plan_id, coaching_personality, start_date, current_week,
                                           current_status, plan_modifications, created_at, plan_notification_timezone)
           VALUES ($1, $2, 'Drill Sergeant', $3, 1, 'active', $4::jsonb, $5, $6) RETURNING id""",
        user_id,
        rucktracker.TEMPLATE_IDS["get-faster"],
        now.date(),
        json.dumps({"plan_type": "get-faster", "user_timezone": TZ, "enable_notifications": True}),
        now,
        TZ,
    )
    for n, (days, kind, minutes) in enumerate(((2, "Zone 2 Ruck", 45), (4, "Tempo Ruck", "40-50"))):
        await conn.execute(
            """INSERT INTO plan_sessions (user_coaching_plan_id, planned_week, planned_session_type, completion_status,
                                          scheduled_date, scheduled_timezone, coaching_points)
               VALUES ($1, 1, $2, 'planned', $3, $4, $5::jsonb)""",
            plan_id,
            kind,
            now.date() + timedelta(days=days + n),
            TZ,
            json.dumps({"target_duration_minutes": minutes, "target_weight_kg": 9.1}),
        )
    await conn.execute(
        """INSERT INTO user_device_tokens (user_id, fcm_token, device_id, device_type, app_version, is_active)
           VALUES ($1, $2, 'iphone-sam', 'ios', '3.1.0+412', true)""",
        user_id,
        TOKEN,
    )
    return user_id, plan_id


async def received(fcm: FakeFcm, plan_id: int, ntype: NotificationType, timeout: float = 60) -> ReceivedMessage:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for message in fcm.received_for(TOKEN):
            data = message.message.get("data", {})
            if data.get("plan_id") == str(plan_id) and data.get("type") == ntype.value:
                return message
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {ntype.value} for plan {plan_id}; got {[m.message for m in fcm.received]}")
        await asyncio.sleep(0.1)


def assert_drill_sergeant_in_miles(message: ReceivedMessage) -> None:
    """The push is exactly what the drill sergeant's templates write for its facts, in miles."""
    data = message.message["data"]
    facts = json.loads(data["context"])
    expected = render(
        NotificationType(data["type"]),
        Tone.DRILL_SERGEANT,
        {k: str(v) for k, v in facts.items()},
        notification_id=data["notification_id"],
        prefer_metric=False,
    )
    notification = message.message["notification"]
    assert (notification["title"], notification["body"]) == (expected.title, expected.body)


async def test_installed_beside_rucktracker_the_reconciler_runs_a_new_plan(
    database: str, dev_server: WorkflowEnvironment, fcm: FakeFcm
) -> None:
    refused = coach(database, "db", "upgrade", "--mode", "standalone")  # would create stand-ins: refused
    assert refused.returncode == 2 and "Use --mode rucktracker" in refused.stderr
    not_yet = coach(database, "db", "check")
    assert not_yet.returncode == 1 and "NOT_INSTALLED" in not_yet.stdout
    upgraded = coach(database, "db", "upgrade", "--mode", "rucktracker")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "rucktracker mode" in upgraded.stdout
    checked = coach(database, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK:" in checked.stdout and "warning" not in checked.stdout

    conn = await connect(database)
    try:
        now = datetime.now(UTC)
        user_id, plan_id = await sign_up_and_create_a_plan(conn, now)
        tables = tuple(t for t in rucktracker.LEGACY_TABLES if t not in WRITTEN_OR_INSERTED)
        before = await rucktracker.snapshot(conn, tables)

        settings = fcm.service_settings(
            database,
            task_queue=f"coaching-rt-{uuid.uuid4().hex[:8]}",
            reconcile_interval_seconds=1,
            cadence_schedule=False,
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(dev_server.client, settings, stop))
        try:
            kickoff = await received(fcm, plan_id, NotificationType.KICKOFF_PRIMER)
            assert_drill_sergeant_in_miles(kickoff)

            ruck_id: int = await conn.fetchval(
                """INSERT INTO ruck_session (user_id, status, started_at, completed_at, duration_seconds, distance_km,
                                             ruck_weight_kg, is_manual)
                   VALUES ($1, 'completed', $2, $3, 3000, 8.0, 9.1, false) RETURNING id""",
                user_id,
                datetime.now(UTC) - timedelta(minutes=50),
                datetime.now(UTC),  # (after the plan was created: a ruck before it is not the plan's)
            )
            celebration = await received(fcm, plan_id, NotificationType.COMPLETION_CELEBRATION)
            assert_drill_sergeant_in_miles(celebration)
            assert " mi" in celebration.message["notification"]["body"]  # 8 km is 5.0 mi: the athlete's units
            assert str(ruck_id) in celebration.message["data"]["notification_id"]
            assert len([m for m in fcm.received_for(TOKEN) if m.message["data"]["type"] == "plan_kickoff_primer"]) == 1
        finally:
            stop.set()
            await worker
            await dev_server.client.get_schedule_handle(RECONCILE_SCHEDULE_ID).delete()

        after = await rucktracker.snapshot(conn, tables)
        assert after == before  # RuckTracker's rows (its legacy outbox and analysis first) are exactly as they were
        service_rows: Any = await conn.fetch("SELECT status FROM coach_notification_ledger WHERE plan_id = $1", plan_id)
        assert {r["status"] for r in service_rows} >= {"sent"}
        legacy_outbox = await conn.fetchval("SELECT count(*) FROM plan_notification_audit WHERE created_at > $1", now)
        assert legacy_outbox == 0  # the legacy sweep never sees a service row

        # Rolled back: the service's own tables and indexes go, RuckTracker's stay as they are.
        removed = coach(database, "db", "downgrade", "--mode", "rucktracker")
        assert removed.returncode == 0, removed.stderr
        left = await conn.fetch(r"SELECT tablename FROM pg_tables WHERE tablename LIKE 'coach\_%'")
        indexes = await conn.fetch(r"SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix\_coach\_%'")
        assert (left, indexes) == ([], [])
        assert await rucktracker.snapshot(conn, tables) == before
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == rucktracker.ALEMBIC_REVISION
    finally:
        await conn.close()
