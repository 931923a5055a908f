"""Copy prepared ahead of delivery (AI and weather), on the time-skipping server with the real activities.

The OpenAI fake answers over real HTTP on loopback; the ledger (``copy_source`` and the pushed payload) is what the
athlete got. Delivery must never wait for the AI: a slow or missing answer means the template, on time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from activities.db import PlanSessionRow
from activities.demo import create_demo_plan
from activities.ledger_store import LedgerRow
from coaching.timeutil import local_minute, local_to_utc, to_local
from starter.sandbox import Stack, local_stack
from starter.settings import Settings
from tests.fakes.openai_api import FakeOpenAI

NY = "America/New_York"
BRIEF = "plan_evening_brief"
HYPE = "plan_morning_hype"


@pytest.fixture
def ai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@asynccontextmanager
async def content_stack(
    tmp_path: Path,
    ai: FakeOpenAI | None,
    *,
    lead_seconds: int = 15 * 60,
    daily_budget: int = 3,
    ai_budget_seconds: float = 8.0,
) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{tmp_path}/content.db"
    settings = Settings(
        database_url=url,
        environment="test",
        openai_api_key=SecretStr("sk-test") if ai else None,
        openai_base_url=ai.base_url if ai else None,
        ai_daily_budget=daily_budget,
        ai_budget_seconds=ai_budget_seconds,
    )
    config = settings.workflow_config(search_attributes=False, content_lead_seconds=lead_seconds)
    async with local_stack(url, settings=settings, config=config) as stack:
        yield stack


async def make_plan(stack: Stack, sessions: list[date], start: str = "07:30") -> int:
    return await create_demo_plan(
        stack.store,
        timezone=NY,
        start_date=sessions[0],
        sessions=[
            {
                "scheduled_date": d,
                "planned_session_type": "Tempo Ruck",
                "planned_week": 1,
                "scheduled_start_time": start,
            }
            for d in sessions
        ],
        created_at=await stack.now(),
    )


def sent(rows: list[LedgerRow], ntype: str) -> list[LedgerRow]:
    return sorted((r for r in rows if r.notification_type == ntype and r.status == "sent"), key=lambda r: r.local_date)


async def test_ai_copy_is_delivered_and_the_prompt_is_anonymous(tmp_path: Path, ai: FakeOpenAI) -> None:
    ai.reply("Pack up tonight", "Tempo Ruck tomorrow at 07:30. Lay your gear out now.")
    async with content_stack(tmp_path, ai) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=2)
        plan_id = await make_plan(stack, [day])
        await stack.plans.start_plan(plan_id)
        await stack.advance_to(local_to_utc(day - timedelta(days=1), 20 * 60 + 5, NY))
        (brief,) = sent(await stack.ledger(plan_id), BRIEF)
        user_id = (await stack.store.load_plan_snapshot(plan_id)).user_id  # type: ignore[union-attr]
    assert brief.copy_source == "ai"
    assert brief.payload["title"] == "Pack up tonight"
    assert brief.payload["body"] == "Tempo Ruck tomorrow at 07:30. Lay your gear out now."
    assert brief.sent_at and local_minute(brief.sent_at, NY) == 20 * 60
    assert ai.requests, "the brief was prepared with the AI"
    for request in ai.requests:
        assert user_id not in request.raw.decode()
        assert "Tempo Ruck" in json.dumps(request.body)


async def test_ai_slower_than_the_lead_time_delivers_the_template_on_time(tmp_path: Path, ai: FakeOpenAI) -> None:
    ai.set_behaviour("slow")
    ai.set_delay(15)
    async with content_stack(tmp_path, ai, lead_seconds=2, ai_budget_seconds=5) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=2)
        plan_id = await make_plan(stack, [day])
        await stack.plans.start_plan(plan_id)
        await stack.advance_to(local_to_utc(day - timedelta(days=1), 20 * 60 + 5, NY))
        (brief,) = sent(await stack.ledger(plan_id), BRIEF)
    assert ai.requests, "the preparation did ask the AI"
    assert brief.copy_source == "template"
    assert brief.sent_at and local_minute(brief.sent_at, NY) == 20 * 60
    assert brief.payload["title"]


async def test_without_ai_the_template_is_used(tmp_path: Path) -> None:
    async with content_stack(tmp_path, None) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=2)
        plan_id = await make_plan(stack, [day])
        await stack.plans.start_plan(plan_id)
        await stack.advance_to(local_to_utc(day, 8 * 60, NY))
        rows = await stack.ledger(plan_id)
    (brief,) = sent(rows, BRIEF)
    (hype,) = sent(rows, HYPE)
    assert brief.copy_source == hype.copy_source == "template"
    assert brief.payload["title"] and hype.payload["body"]


async def test_the_daily_ai_budget_falls_back_to_the_template(tmp_path: Path, ai: FakeOpenAI) -> None:
    ai.reply("Move out", "Ruck day. Go get it.")
    async with content_stack(tmp_path, ai, daily_budget=1) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=2)
        plan_id = await make_plan(stack, [day, day + timedelta(days=1)])
        await stack.plans.start_plan(plan_id)
        # On `day`: the 06:30 hype of its session, then the 20:00 brief of the next day's: one AI copy allowed.
        await stack.advance_to(local_to_utc(day, 21 * 60, NY))
        rows = await stack.ledger(plan_id)
    first_brief, second_brief = sent(rows, BRIEF)
    (hype, *_) = sent(rows, HYPE)
    assert first_brief.copy_source == "ai"  # the evening before: another local day
    assert hype.copy_source == "ai"
    assert second_brief.sent_at and to_local(second_brief.sent_at, NY).date() == day
    assert second_brief.copy_source == "template"


async def test_a_session_moved_after_preparation_does_not_get_the_prepared_copy(tmp_path: Path, ai: FakeOpenAI) -> None:
    ai.reply("Seven thirty sharp", "Tempo Ruck tomorrow at 07:30. Lay your gear out now.")
    async with content_stack(tmp_path, ai) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=2)
        plan_id = await make_plan(stack, [day])
        await stack.plans.start_plan(plan_id)
        await stack.advance_to(local_to_utc(day - timedelta(days=1), 19 * 60 + 50, NY))
        assert len(ai.requests) == 1, "the brief was prepared 15 minutes ahead"
        ai.reply("Nine it is", "Tempo Ruck tomorrow at 09:00. Lay your gear out now.")
        async with stack.store.sessionmaker.begin() as session:  # the core API's write, simulated
            await session.execute(
                update(PlanSessionRow)
                .where(PlanSessionRow.user_coaching_plan_id == plan_id)
                .values(scheduled_start_time=to_local(local_to_utc(day, 9 * 60, NY), NY).time())
            )
        await stack.plans.sessions_changed(plan_id, "the athlete moved the session to 09:00")
        await stack.advance_to(local_to_utc(day - timedelta(days=1), 20 * 60 + 5, NY))
        (brief,) = sent(await stack.ledger(plan_id), BRIEF)
    assert brief.payload["title"] != "Seven thirty sharp"
    assert "07:30" not in brief.payload["body"]
    # Prepared again for the new time.
    assert (brief.copy_source, brief.payload["title"]) == ("ai", "Nine it is")
    assert len(ai.requests) == 2


def test_simulate_shows_the_copy_source_and_the_weather_line() -> None:
    from datetime import UTC, datetime

    from starter.timeline import Timeline, TimelineEntry, render_timeline

    entry = TimelineEntry(
        local_time="Mon 2026-03-09 20:00 EDT",
        utc_time=datetime(2026, 3, 10, 0, tzinfo=UTC),
        type=BRIEF,
        status="sent",
        title="Pack up tonight",
        body="Tempo Ruck tomorrow.",
        reason=None,
        copy_source="ai",
        notification_id="p1-evening_brief-s1-2026-03-10",
        weather="14°C, light rain likely",
    )
    text = render_timeline(Timeline(description="", timezone=NY, plan_id=1, shifted_by_weeks=0, entries=[entry]))
    assert "Pack up tonight: Tempo Ruck tomorrow.  [AI]" in text
    assert "    weather: 14°C, light rain likely" in text
