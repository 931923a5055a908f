"""The timing-rules-v2 patch in the workflow, on the time-skipping server with the real activities: a new plan
evaluates with RULES_V2 and keeps its pause periods, so a session that fell in a pause gets no follow-up and does
not count toward the missed escalation; nothing due before the plan was created goes out; a fresh ruck is
celebrated in quiet hours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from activities.db import PlanSessionRow
from activities.demo import create_demo_plan
from coaching.models import SessionCompletedInput
from coaching.timeutil import local_to_utc, to_local
from starter.sandbox import Stack, local_stack, wait_for
from workflows.plan import TIMING_RULES_PATCH

NY = "America/New_York"


@pytest.fixture
async def stack(stack_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(stack_database_url) as s:
        yield s


async def plan(stack: Stack, *days: int, start: str = "07:00", **kwargs: Any) -> tuple[int, date]:
    now = await stack.now()
    day = to_local(now, NY).date() + timedelta(days=1)
    sessions = [
        {"scheduled_date": day + timedelta(days=d), "scheduled_start_time": start, "planned_session_type": "Ruck"}
        for d in days
    ]
    kwargs.setdefault("created_at", now)
    plan_id = await create_demo_plan(stack.store, timezone=NY, start_date=day, sessions=sessions, **kwargs)
    return plan_id, day


async def rows(stack: Stack, plan_id: int, ntype: str) -> list[Any]:
    return sorted(
        (r for r in await stack.ledger(plan_id) if r.notification_type == ntype), key=lambda r: r.scheduled_for
    )


async def test_a_session_in_a_pause_gets_no_follow_up_and_the_escalation_skips_it(stack: Stack) -> None:
    plan_id, day = await plan(stack, 0, 1, 2)
    handle = await stack.plans.start_plan(plan_id)
    # (Not at a timer's time: the time-skipping server mishandles a signal landing with a timer that fires.)
    await stack.advance_to(local_to_utc(day, 20 * 60 + 30, NY))
    await stack.plans.pause(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 20 * 60 + 30, NY))
    await stack.plans.resume(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=3), 12 * 60, NY))
    first, paused, last = await rows(stack, plan_id, "plan_missed_followup")
    assert first.status == "skipped" and (first.reason or "").startswith("plan_paused: the athlete paused")
    # The session of the paused day: the plan was active again at its follow-up's time, but it fell in the pause.
    assert paused.status == "skipped" and (paused.reason or "").startswith("plan_paused: "), paused.reason
    assert "fell while the plan was paused" in (paused.reason or "")
    assert last.status == "sent"
    async with stack.store.sessionmaker() as session:
        states = (
            await session.execute(
                select(PlanSessionRow.missed_state)
                .where(PlanSessionRow.user_coaching_plan_id == plan_id)
                .order_by(PlanSessionRow.scheduled_date)
            )
        ).scalars()
        # Two misses in a row (the first day's and the last), the paused day between them not counted.
        assert list(states)[-1] == "repeated_miss"
    history = await handle.fetch_history()
    markers = [
        e.marker_recorded_event_attributes.details["patch-data"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert any(TIMING_RULES_PATCH.encode() in p.payloads[0].data for p in markers)


async def test_a_plan_created_late_in_the_evening_sends_the_kickoff_and_not_the_brief(stack: Stack) -> None:
    now = await stack.now()
    evening = local_to_utc(to_local(now, NY).date(), 23 * 60 + 50, NY)
    if evening <= now:
        evening = local_to_utc(to_local(now, NY).date() + timedelta(days=1), 23 * 60 + 50, NY)
    tomorrow = to_local(evening, NY).date() + timedelta(days=1)
    # Created at 23:50 the evening before the first session: its 20:00 brief was due before the plan existed.
    await stack.advance_to(evening)
    plan_id, day = await plan(stack, 0, 2)
    assert day == tomorrow
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 12 * 60, NY))
    (kickoff,) = await rows(stack, plan_id, "plan_kickoff_primer")
    assert kickoff.status == "sent"
    brief = (await rows(stack, plan_id, "plan_evening_brief"))[0]
    assert brief.status == "skipped" and (brief.reason or "").startswith("before_plan: "), brief.reason
    hype = (await rows(stack, plan_id, "plan_morning_hype"))[0]
    assert hype.status == "sent"


async def test_a_ruck_finished_just_now_is_celebrated_in_quiet_hours(stack: Stack) -> None:
    plan_id, day = await plan(stack, 0, start="21:00", quiet_hours=(22 * 60, 7 * 60))
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 23 * 60 + 15, NY))
    finished = local_to_utc(day, 23 * 60 + 5, NY)
    await stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=41, completed_at=finished))

    async def celebrated() -> list[Any]:
        return [r for r in await rows(stack, plan_id, "plan_completion_celebration") if r.status == "sent"]

    (celebration,) = await wait_for(celebrated)
    # At once, by the server's clock (time-skipping: nothing else was due, so time did not move on to 07:00).
    assert celebration.sent_at < local_to_utc(day, 23 * 60 + 30, NY)
