"""What the Temporal Web UI shows of a plan: the static summary, a named timer per wait, a named activity per
notification, and current details that say what comes next and why, and what went out (or did not) and why."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.demo import create_demo_plan
from coaching.explain import current_details, kind, notification_label, saved_queries
from coaching.ids import plan_workflow_id
from coaching.models import NotificationType, PlannedNotification, PlanSnapshot, PlanStatus, PlanStatusResult
from coaching.timeutil import local_to_utc, to_local
from starter.sandbox import Stack, local_stack, wait_for

TZ = "America/New_York"


async def summaries(handle: WorkflowHandle[object, object], event_type: EventType.ValueType) -> list[str]:
    history = await handle.fetch_history()
    found = []
    for event in history.events:
        if event.event_type == event_type and event.user_metadata.HasField("summary"):
            found.append(pydantic_data_converter.payload_converter.from_payload(event.user_metadata.summary, str))
    return found


async def _loaded(stack: Stack, plan_id: int) -> PlanStatusResult | None:
    status = await stack.plans.status(plan_id)
    return status if status.upcoming else None


async def details(handle: WorkflowHandle[object, object]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def test_the_plans_page_tells_what_comes_next_what_went_out_and_why(tmp_path: Path) -> None:
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/p.db") as stack:
        day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
        sessions = [
            {"scheduled_date": day, "planned_session_type": "Tempo Ruck", "scheduled_start_time": "06:00"},
            {"scheduled_date": day + timedelta(days=2), "planned_session_type": "Long Ruck"},
        ]
        plan_id = await create_demo_plan(
            stack.store,
            timezone=TZ,
            start_date=day,
            sessions=sessions,
            tone="Drill Sergeant",
            quiet_hours=(22 * 60, 5 * 60 + 30),
            created_at=await stack.now(),
        )
        handle = await stack.plans.start_plan(plan_id, timezone=TZ, tone="drill_sergeant")
        status = await wait_for(lambda: _loaded(stack, plan_id))
        first = status.upcoming[0]

        described = await handle.describe()
        assert await described.static_summary() == f"coaching plan {plan_id} · {TZ} · drill_sergeant"
        assert "Current details" in (await described.static_details() or "")

        before = await details(handle)
        assert f"**Plan {plan_id}** · active · {TZ} · tone drill_sergeant" in before
        assert "quiet hours 22:00–05:30" in before
        # Each upcoming notification with its local time and the schedule's reason for it.
        for n in status.upcoming[:3]:
            assert f"| {n.send_at_local} | {kind(n.type)} |" in before and n.reason[:40] in before

        # Past the morning of the first session: the evening brief and morning hype went out.
        await stack.advance_to(local_to_utc(day, 7 * 60, TZ))
        sent = [r for r in await stack.ledger(plan_id) if r.status == "sent"]
        assert {r.notification_type for r in sent} >= {"plan_evening_brief", "plan_morning_hype"}
        after = await details(handle)
        lately = after.split("### Lately", 1)[1]
        assert "| evening brief |" in lately and "| morning hype |" in lately and "| sent |" in lately

        timers = await summaries(handle, EventType.EVENT_TYPE_TIMER_STARTED)
        # The first wait was named for the first notification (or for preparing its copy ahead of it).
        label = f"{kind(first.type)} · session {first.plan_session_id} · "
        assert any(label in t for t in timers), timers
        assert all("(" not in t.split(" · ")[0] for t in timers)  # no bare "12 (2d, 10h, 33m)"-style names
        activities = await summaries(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        delivered = [a for a in activities if a.startswith("deliver · ")]
        assert {a.rsplit(" · ", 1)[1] for a in delivered} >= {r.notification_id for r in sent}
        assert "load the plan" in activities

        # A skip says why: a pause holds the second session's reminders; resumed too late, they are skipped.
        await stack.plans.pause(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60, TZ))
        skipped = [r for r in await stack.ledger(plan_id) if r.status == "skipped"]
        assert skipped
        paused = await details(handle)
        assert "· paused ·" in paused and "**Paused**" in paused
        assert "| skipped |" in paused.split("### Lately", 1)[1]


def test_the_timer_label_reads_like_the_issue_says() -> None:
    tuesday = date(2026, 12, 8)
    n = PlannedNotification(
        notification_id="p1:evening:12",
        type=NotificationType.EVENING_BRIEF,
        plan_session_id=12,
        local_date=tuesday,
        due_at=local_to_utc(tuesday, 20 * 60, TZ),
        send_at=local_to_utc(tuesday, 20 * 60, TZ),
        expires_at=local_to_utc(tuesday, 23 * 60, TZ),
        reason="evening before",
    )
    assert notification_label(n, TZ) == "evening brief · session 12 · Tue 20:00 America/New_York"
    assert notification_label(n, "Asia/Kathmandu") == "evening brief · session 12 · Wed 06:45 Asia/Kathmandu"


def test_details_escape_table_cells_and_bound_long_lists() -> None:
    snapshot = PlanSnapshot(
        plan_id=3, user_id="u", start_date=date(2026, 12, 8), created_at=datetime(2026, 12, 1, tzinfo=UTC)
    )
    at = datetime(2026, 12, 8, 12, tzinfo=UTC)
    many = [
        PlannedNotification(
            notification_id=f"n{i}",
            type=NotificationType.WEEKLY_DIGEST,
            local_date=date(2026, 12, 8),
            due_at=at + timedelta(days=i),
            send_at=at + timedelta(days=i),
            expires_at=at + timedelta(days=i, hours=3),
            reason="a | b\nc",
        )
        for i in range(20)
    ]
    text = current_details(3, snapshot, PlanStatus.ACTIVE, many, [])
    assert "a / b c" in text and "a | b" not in text
    assert text.count("| weekly digest |") == 12 and "…and 8 more (`coach plan status 3`)" in text


@pytest.mark.devserver
async def test_the_readmes_saved_queries_find_the_plans_they_name(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The workflow list's saved views, run against the dev server's visibility with our search attributes."""
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/p.db", time_skipping=False, env=dev_server) as stack:
        day = to_local(await stack.now(), TZ).date() + timedelta(days=2)
        sessions = [{"scheduled_date": day, "planned_session_type": "Tempo Ruck", "scheduled_start_time": "06:00"}]
        ids = []
        for _ in range(2):
            plan_id = await create_demo_plan(
                stack.store, timezone=TZ, start_date=day, sessions=sessions, created_at=await stack.now()
            )
            await stack.plans.start_plan(plan_id)
            ids.append(plan_id)
        active, paused = ids
        await stack.plans.pause(paused)
        status = await wait_for(lambda: _loaded(stack, active))
        next_at = status.upcoming[0].send_at

        async def found(name: str, now: datetime) -> set[str]:
            query = f"{saved_queries(now)[name]} AND TaskQueue = '{stack.task_queue}'"
            return {w.id async for w in stack.client.list_workflows(query)}

        async def shows(name: str, now: datetime, expected: set[int]) -> bool:
            return await found(name, now) == {plan_workflow_id(p) for p in expected}

        await wait_for(lambda: shows("paused plans", next_at, {paused}))
        await wait_for(lambda: shows("due in the next hour", next_at - timedelta(minutes=30), {active}))
        assert await found("due in the next hour", next_at + timedelta(minutes=1)) == set()
        assert await found("overdue plans", next_at + timedelta(minutes=20)) == {plan_workflow_id(active)}
        assert await found("overdue plans", next_at) == set()
