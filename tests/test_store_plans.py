"""The data layer on SQLite and PostgreSQL: plan sessions and plans. A completion is scoped to its plan and a
ruck linked to one session only; the sessions' notification fields and the plan's status; demo plans; the delivery
blocker read at send time; naive times refused and implausible dates ignored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import StatementError

from activities.db import PlanSessionRow, RuckSession, UserCoachingPlan
from activities.demo import create_demo_plan
from activities.store import Store
from coaching.models import NotificationType, PlanStatus
from tests.store_helpers import START, Sessions, demo_plan, plan_user

# ---- plan sessions and plans ----------------------------------------------------------------------------------


async def add_ruck(db: Sessions, user_id: str, ruck_id: int) -> None:
    """A completed ruck in RuckTracker's ``ruck_session`` (``plan_sessions.session_id`` references it)."""
    at = datetime(2026, 3, 9, 11, tzinfo=UTC)
    async with db.begin() as session:
        session.add(
            RuckSession(
                id=ruck_id, user_id=user_id, status="completed", started_at=at, completed_at=at, ruck_weight_kg=10.0
            )
        )


async def test_record_completion_is_scoped_to_the_plan_and_idempotent(store: Store, db_sessionmaker: Sessions) -> None:
    plan_a = await demo_plan(store)
    plan_b = await demo_plan(store)
    user_a, sessions_a = await plan_user(store, plan_a)
    _, sessions_b = await plan_user(store, plan_b)
    await add_ruck(db_sessionmaker, user_a, 42)

    await store.record_completion(plan_a, sessions_b[0], ruck_id=77, completed_date=START)  # not plan A's
    for _ in range(2):
        await store.record_completion(plan_a, sessions_a[0], ruck_id=42, completed_date=START)

    async with db_sessionmaker() as session:
        rows = {r.id: r for r in await session.scalars(select(PlanSessionRow))}
    assert (rows[sessions_a[0]].completion_status, rows[sessions_a[0]].session_id) == ("completed", 42)
    assert rows[sessions_a[0]].completed_date == START
    assert (rows[sessions_b[0]].completion_status, rows[sessions_b[0]].session_id) == ("planned", None)
    snap = await store.load_plan_snapshot(plan_a)
    assert snap is not None and snap.sessions[0].completion_status == "completed"


async def test_session_notification_fields_schedule_and_status(store: Store, db_sessionmaker: Sessions) -> None:
    plan_id = await demo_plan(store)
    other_plan = await demo_plan(store)
    _, (s1, s2, s3) = await plan_user(store, plan_id)
    _, (o1, *_) = await plan_user(store, other_plan)

    await store.update_session_notification(s1, last_notification_type="plan_evening_brief")
    await store.update_session_notification(s1, missed_state="first_miss")
    await store.update_session_notification(s1)  # nothing to change
    at = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    await store.set_next_notifications(plan_id, {s1: at, s2: at, s3: None, o1: at})
    await store.set_next_notifications(plan_id, {})
    await store.set_plan_status(plan_id, PlanStatus.PAUSED)
    with pytest.raises(ValueError):
        await store.set_plan_status(plan_id, "archived")

    async with db_sessionmaker() as session:
        rows = {r.id: r for r in await session.scalars(select(PlanSessionRow))}
    assert rows[s1].last_notification_type == "plan_evening_brief" and rows[s1].missed_state == "first_miss"
    assert rows[s1].next_notification_at == at and rows[s2].next_notification_at == at
    assert rows[s3].next_notification_at is None
    assert rows[o1].next_notification_at is None  # another plan's session is not touched
    snap = await store.load_plan_snapshot(plan_id)
    assert snap is not None and snap.status is PlanStatus.PAUSED


async def test_create_demo_plan_round_trip(store: Store, db_sessionmaker: Sessions, schema: str) -> None:
    user_id = str(uuid.uuid4())
    # RuckTracker's UNIQUE (user_id, current_status) allows one active plan per athlete; the stand-in has no such key.
    first_status = PlanStatus.COMPLETED if schema == "rucktracker" else PlanStatus.ACTIVE
    first = await demo_plan(
        store, user_id=user_id, tone="minimalist", timezone="Asia/Tokyo", fcm_token="t1", status=first_status
    )
    second = await create_demo_plan(
        store,
        user_id=user_id,
        timezone="Australia/Sydney",
        start_date=START,
        fcm_token="t2",
        default_start_minute=360,
        sessions=[
            {
                "scheduled_date": "2026-03-16",
                "scheduled_start_time": time(6, 45),
                "distance_km": 7.5,
                "coaching_points": {"session_goals": ["steady"]},
            }
        ],
    )
    assert second != first

    snap = await store.load_plan_snapshot(second)
    assert snap is not None and snap.user_id == user_id
    assert snap.prefs.timezone == "Australia/Sydney"  # the profile was upserted
    assert snap.prefs.default_start_minute == 360 and snap.prefs.coaching_tone == "supportive_friend"
    (session_row,) = snap.sessions
    assert session_row.scheduled_date == date(2026, 3, 16) and session_row.planned_week == 2
    assert session_row.scheduled_start_minute == 6 * 60 + 45 and session_row.distance_km == 7.5
    assert [t.fcm_token for t in await store.active_tokens(user_id)] == ["t2"]  # one demo device, token updated

    async with db_sessionmaker() as session:
        plans = (await session.scalars(select(UserCoachingPlan).where(UserCoachingPlan.user_id == user_id))).all()
        points = await session.scalar(
            select(PlanSessionRow.coaching_points).where(PlanSessionRow.user_coaching_plan_id == second)
        )
    assert {p.current_status for p in plans} == {"active", first_status.value}
    assert points == {"session_goals": ["steady"], "target_distance_km": 7.5}

    no_device = await demo_plan(store, fcm_token=None)
    snap = await store.load_plan_snapshot(no_device)
    assert snap is not None and snap.has_device is False

    with pytest.raises(TypeError):
        await demo_plan(store, bogus_pref=1)
    with pytest.raises(ValueError):
        await demo_plan(store, sessions=[{"scheduled_date": START, "unknown": 1}])
    with pytest.raises(ValueError):
        await demo_plan(store, timezone="Nowhere/Special")


async def test_naive_datetimes_are_rejected(store: Store) -> None:
    plan_id = await demo_plan(store)
    _, (s1, *_) = await plan_user(store, plan_id)
    with pytest.raises(StatementError, match="timezone-aware"):
        await store.set_next_notifications(plan_id, {s1: datetime(2026, 3, 9, 9, 30)})


async def test_delivery_blocker_reads_the_plan_and_session_at_send_time(store: Store) -> None:
    plan_id = await create_demo_plan(
        store,
        timezone="UTC",
        start_date=date(2027, 5, 1),
        sessions=[{"scheduled_date": date(2027, 5, 2)}, {"scheduled_date": date(2027, 5, 3)}],
    )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    first, second = (s.id for s in snapshot.sessions)
    assert await store.delivery_blocker(plan_id, first, NotificationType.MORNING_HYPE) is None
    await store.record_completion(plan_id, first, 77, date(2027, 5, 2))
    assert (await store.delivery_blocker(plan_id, first, NotificationType.MORNING_HYPE) or "").startswith(
        "plan_session_completed"
    )
    assert await store.delivery_blocker(plan_id, second, NotificationType.MORNING_HYPE) is None
    await store.set_plan_status(plan_id, "paused")
    assert (await store.delivery_blocker(plan_id, second, NotificationType.EVENING_BRIEF) or "").startswith(
        "plan_paused"
    )
    assert await store.delivery_blocker(plan_id, None, NotificationType.COMPLETION_CELEBRATION) is None
    await store.set_plan_status(plan_id, "cancelled")
    assert (await store.delivery_blocker(plan_id, None, NotificationType.WEEKLY_DIGEST) or "").startswith(
        "plan_cancelled"
    )
    assert (await store.delivery_blocker(plan_id + 999, None, NotificationType.WEEKLY_DIGEST) or "").startswith(
        "plan_removed"
    )


async def test_a_completed_session_keeps_its_own_ruck(store: Store, db_sessionmaker: Sessions) -> None:
    plan_id = await create_demo_plan(
        store, timezone="UTC", start_date=date(2027, 5, 1), sessions=[{"scheduled_date": date(2027, 5, 2)}]
    )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    sid = snapshot.sessions[0].id
    for ruck_id in (1, 2):
        await add_ruck(db_sessionmaker, snapshot.user_id, ruck_id)
    await store.record_completion(plan_id, sid, 1, date(2027, 5, 2))
    await store.record_completion(plan_id, sid, 2, date(2027, 5, 2))  # another ruck must not take it over
    await store.record_completion(plan_id, sid, 1, date(2027, 5, 2))  # the same ruck again: idempotent
    async with store._sessionmaker() as session:  # noqa: SLF001 - reading back the row under test
        ruck = await session.scalar(select(PlanSessionRow.session_id).where(PlanSessionRow.id == sid))
    assert ruck == 1


async def test_implausible_session_dates_are_ignored_not_fatal(store: Store) -> None:
    plan_id = await create_demo_plan(
        store,
        timezone="UTC",
        start_date=date(2027, 5, 1),
        sessions=[
            {"scheduled_date": date(2027, 5, 2)},
            {"scheduled_date": date(2926, 5, 2)},
            {"scheduled_date": date(1999, 1, 1)},
        ],
        created_at=datetime(2027, 4, 30, tzinfo=UTC),
    )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and [s.scheduled_date for s in snapshot.sessions] == [date(2027, 5, 2)]


async def test_a_ruck_is_linked_to_one_session_only(store: Store, db_sessionmaker: Sessions) -> None:
    """RuckTracker's own completion links a ruck to the oldest open session; the service's match for the same ruck
    marks its session done without linking the ruck a second time. A ruck not in ``ruck_session`` (the reference is
    a foreign key there) marks the session done without a link."""
    day = date(2027, 5, 2)
    plan_id = await create_demo_plan(
        store, timezone="UTC", start_date=day, sessions=[{"scheduled_date": day}, {"scheduled_date": day}]
    )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    oldest, today = (s.id for s in snapshot.sessions)
    await add_ruck(db_sessionmaker, snapshot.user_id, 5)
    async with db_sessionmaker.begin() as session:  # what RuckTracker's _record_session_against_plan writes
        await session.execute(
            update(PlanSessionRow)
            .where(PlanSessionRow.id == oldest)
            .values(completion_status="completed", session_id=5)
        )
    await store.record_completion(plan_id, today, 5, day)
    await store.record_completion(plan_id, today, 5, day)
    async with db_sessionmaker() as session:
        found = await session.scalars(select(PlanSessionRow).where(PlanSessionRow.user_coaching_plan_id == plan_id))
        rows = {r.id: (r.completion_status, r.session_id) for r in found}
    assert rows == {oldest: ("completed", 5), today: ("completed", None)}

    other = await create_demo_plan(store, timezone="UTC", start_date=day, sessions=[{"scheduled_date": day}])
    (lonely,) = (s.id for s in (await store.load_plan_snapshot(other)).sessions)  # type: ignore[union-attr]
    await store.record_completion(other, lonely, 3_000, day)  # no such ruck_session row
    async with db_sessionmaker() as session:
        row = await session.get(PlanSessionRow, lonely)
    assert row is not None and (row.completion_status, row.session_id, row.completed_date) == ("completed", None, day)
