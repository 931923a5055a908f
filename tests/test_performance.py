"""What the performance work changed, proven by behaviour (the speed itself is printed by bench/, never asserted).

The CLI's status path imports none of the worker's SDKs; a delivery attempt reads everything in one transaction and
writes 'sent' with the session's fields in another; the schedule mirror rewrites only rows whose time changes; the
worker takes its tuning from the settings; without AI or weather nothing is prepared ahead (one timer per
notification).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import PlanSessionRow, UserCoachingPlan
from activities.demo import create_demo_plan
from activities.store import Store
from coaching.models import LedgerStatus, NotificationType
from starter.sandbox import local_stack, wait_for
from starter.settings import Settings
from tests.store_helpers import demo_plan, plan_user
from tests.test_store import planned

ROOT = Path(__file__).resolve().parent.parent
Sessions = async_sessionmaker[AsyncSession]


def test_the_cli_status_path_imports_no_worker_sdk() -> None:
    probe = (
        "import sys, json; import starter.cli, starter.client, starter.temporal, workflows.plan; "
        # Building the parser imports every command group's module (rollout's included): still no database layer.
        "starter.cli.build_parser().parse_args(['plan', 'status', '1']); "
        "print(json.dumps([m for m in ('openai', 'firebase_admin', 'sqlalchemy', 'temporalio.worker') "
        "if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(done.stdout) == []


async def test_begin_delivery_reads_ledger_attempts_blocker_and_tokens_at_once(
    store: Store, db_sessionmaker: Sessions
) -> None:
    plan_id = await demo_plan(store, fcm_token="tok-1")
    user_id, (first, *_) = await plan_user(store, plan_id)
    n = planned(plan_id, first, ntype=NotificationType.MORNING_HYPE)

    start = await store.begin_delivery(plan_id, user_id, n)
    assert (start.row.status, start.row.attempts, start.blocker, start.earlier) == (LedgerStatus.SCHEDULED, 1, None, [])
    assert [t.fcm_token for t in start.tokens] == ["tok-1"]

    async with db_sessionmaker.begin() as session:
        await session.execute(
            update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(current_status="paused")
        )
    paused = await store.begin_delivery(plan_id, user_id, n)
    assert paused.row.attempts == 2 and (paused.blocker or "").startswith("plan_paused")
    assert paused.tokens == []  # not read: nothing is pushed
    assert (await store.begin_delivery(plan_id, user_id, n, honor_pause=False)).blocker is None

    await store.finish_sent(n, payload={}, sent_at=datetime.now(UTC), reason="via test", copy_source="template")
    done = await store.begin_delivery(plan_id, user_id, n)
    assert done.row.status is LedgerStatus.SENT and done.tokens == [] and done.blocker is None
    async with db_sessionmaker() as session:
        row = await session.get(PlanSessionRow, first)
    assert row is not None and row.last_notification_type == NotificationType.MORNING_HYPE.value


async def test_the_schedule_mirror_rewrites_only_rows_that_change(
    store: Store, db_sessionmaker: Sessions, schema: str
) -> None:
    if schema == "sqlite":
        pytest.skip("row versions (xmin) are PostgreSQL's")
    plan_id = await demo_plan(store)
    _, (s1, s2, _s3) = await plan_user(store, plan_id)
    at = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    await store.set_next_notifications(plan_id, {s1: at, s2: at})

    async def versions() -> dict[int, str]:
        async with db_sessionmaker() as session:
            rows = await session.execute(
                text("SELECT id, xmin::text FROM plan_sessions WHERE id IN (:a, :b)"), {"a": s1, "b": s2}
            )
            return {row[0]: row[1] for row in rows}

    before = await versions()
    await store.set_next_notifications(plan_id, {s1: at, s2: at + timedelta(days=1)})
    after = await versions()
    assert after[s1] == before[s1]  # same time: not written again
    assert after[s2] != before[s2]


async def test_the_worker_takes_its_tuning_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/tuning.db",
        environment="test",
        worker_max_concurrent_activities=40,
        worker_max_cached_workflows=123,
    )
    assert settings.db_pool_size_for_worker() == 10  # a quarter of the activity slots
    async with local_stack(settings.database_url, settings=settings) as stack:
        config = stack.workers[0].config()
        assert config.get("max_cached_workflows") == 123
        assert config.get("max_concurrent_activities") == 40


def test_copy_is_prepared_ahead_only_when_there_is_something_to_prepare() -> None:
    bare = Settings(environment="test")
    assert bare.workflow_config().content_lead_seconds == 0
    weather = Settings(environment="test", openweather_api_key=SecretStr("k"), content_lead_minutes=15)
    assert weather.workflow_config().content_lead_seconds == 15 * 60
    ai = Settings(environment="test", openai_api_key=SecretStr("k"), content_lead_minutes=10)
    assert ai.workflow_config().content_lead_seconds == 10 * 60


async def test_without_ai_or_weather_a_notification_takes_one_timer_and_no_preparation(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/lean.db"
    settings = Settings(database_url=url, environment="test")
    async with local_stack(url, settings=settings) as stack:
        now = await stack.now()
        day = (now + timedelta(days=2)).date()
        plan_id = await create_demo_plan(
            stack.store,
            timezone="UTC",
            start_date=day,
            sessions=[{"scheduled_date": day, "scheduled_start_time": "12:00"}],
            created_at=now,
        )
        handle = await stack.plans.start_plan(plan_id)
        await wait_for(lambda: stack.plans.status(plan_id), timeout=30)
        hype_at = datetime(day.year, day.month, day.day, 11, tzinfo=UTC)  # 60 min before the start
        await stack.advance_to(hype_at + timedelta(minutes=5))

        async def hype_sent() -> bool:
            rows = await stack.ledger(plan_id)
            return any(r.notification_type == "plan_morning_hype" and r.status is LedgerStatus.SENT for r in rows)

        await wait_for(hype_sent, timeout=30)
        history = await handle.fetch_history()
    activities = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "deliver_notification" in activities and "prepare_content" not in activities
    fires = [
        e.event_time.ToDatetime(tzinfo=UTC) + e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]
    # No wake-up 15 minutes ahead (the default lead) to prepare the hype: only its due time.
    assert any(abs(f - hype_at) < timedelta(seconds=5) for f in fires), fires
    assert not any(abs(f - (hype_at - timedelta(minutes=15))) < timedelta(minutes=1) for f in fires), fires
