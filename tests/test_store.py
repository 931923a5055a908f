"""The data layer on SQLite and PostgreSQL: migrations, the plan snapshot, the ledger's guarantees, tokens."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Index, Table, delete, select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.database import make_engine
from activities.db import (
    AppUser,
    Base,
    CadenceRow,
    PlanSessionRow,
    RuckSession,
    UserCoachingPlan,
    UserDeviceToken,
)
from activities.demo import create_demo_plan, ensure_athlete
from activities.migrate import upgrade_database
from activities.store import Store
from coaching.ids import notification_id
from coaching.models import LedgerStatus, NotificationType, PlannedNotification, PlanStatus
from tests import rucktracker

Sessions = async_sessionmaker[AsyncSession]

START = date(2026, 3, 9)
NY = "America/New_York"
RUCKTRACKER_TABLES = {
    "user",
    "coaching_plan_templates",
    "user_coaching_plans",
    "plan_sessions",
    "ruck_session",
    "user_device_tokens",
    "location_point",
}
SERVICE_TABLES = {
    "coach_athlete_preferences",
    "coach_notification_ledger",
    "coach_cadence_analysis",
    "coach_athlete_timezones",
    "coach_weather_cache",
    "coach_notification_events",
    "coach_plan_runs",
    "coach_plan_rucks",
    "coach_push_deliveries",
    "coach_rollout_flags",
    "coach_rollout_changes",
    "coach_alerts",
}


async def demo_plan(store: Store, **kwargs: Any) -> int:
    sessions = kwargs.pop(
        "sessions",
        [
            {
                "scheduled_date": START + timedelta(days=2),
                "planned_session_type": "Hill Ruck",
                "scheduled_start_time": 18 * 60,
                "target_duration_minutes": 44.6,
            },
            {
                "scheduled_date": START,
                "planned_session_type": "Tempo Ruck",
                "scheduled_start_time": "05:30",
                "target_distance_km": 5,
                "target_weight_kg": "9.5",
            },
            {"scheduled_date": START + timedelta(days=9), "planned_session_type": "Long Ruck"},
        ],
    )
    kwargs.setdefault("timezone", NY)
    return await create_demo_plan(store, start_date=START, sessions=sessions, **kwargs)


def planned(
    plan_id: int,
    session_id: int | None,
    *,
    ntype: NotificationType = NotificationType.EVENING_BRIEF,
    day: date = START,
    hour: int = 0,
    subkey: str = "",
) -> PlannedNotification:
    at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return PlannedNotification(
        notification_id=notification_id(plan_id, ntype, session_id, day, subkey),
        type=ntype,
        plan_session_id=session_id,
        local_date=day,
        due_at=at,
        send_at=at,
        expires_at=at + timedelta(hours=4),
        reason="test",
        subkey=subkey,
    )


async def plan_user(store: Store, plan_id: int) -> tuple[str, list[int]]:
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    return snapshot.user_id, [s.id for s in snapshot.sessions]


# ---- migrations -----------------------------------------------------------------------------------------------


def _schema_diff(connection: Connection, only_service: bool) -> list[Any]:
    def include(name: str | None, kind: str, parent: Any) -> bool:
        if name == "coach_alembic_version":
            return False
        if only_service and kind == "table":
            return bool(name and name.startswith("coach_"))
        return True

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include})
    diff = list(compare_metadata(context, Base.metadata))
    if only_service:  # RuckTracker's tables are theirs, with more columns and indexes than the service maps
        diff = [d for d in diff if _diff_table(d).startswith("coach_")]
    return diff


def _diff_table(entry: Any) -> str:
    """The table an autogenerate diff entry is about."""
    if isinstance(entry, list):  # a column modification comes as a list of changes
        return _diff_table(entry[0])
    first = entry[1]
    if isinstance(first, (Index, Table)):
        return first.table.name if isinstance(first, Index) else first.name
    return str(entry[2])


async def test_migration_creates_exactly_the_models(database_url: str, schema: str) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)  # a second run is a no-op
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff, schema == "rucktracker") == []
            tables = await conn.run_sync(lambda c: set(c.dialect.get_table_names(c)))
            versions = {r[0] for r in await conn.exec_driver_sql("SELECT version_num FROM coach_alembic_version")}
            legacy = (
                [r[0] for r in await conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
                if schema == "rucktracker"
                else None
            )
    finally:
        await engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables if t.name.startswith("coach_")} == SERVICE_TABLES
    if schema == "rucktracker":
        # Only the service's own tables were added; Flask-Migrate's version row is RuckTracker's, untouched.
        assert SERVICE_TABLES <= tables and RUCKTRACKER_TABLES <= tables
        assert versions == {"sv0004"} and legacy == [rucktracker.ALEMBIC_REVISION]
    else:
        assert tables == RUCKTRACKER_TABLES | SERVICE_TABLES | {"coach_alembic_version"}
        assert versions == {"st0001", "sv0004"}


# ---- the plan snapshot ----------------------------------------------------------------------------------------


async def test_snapshot_with_athlete_behavior_and_device(store: Store, db_sessionmaker: Sessions) -> None:
    created = datetime(2026, 3, 8, 14, 30, 15, 123456, tzinfo=UTC)
    plan_id = await demo_plan(
        store,
        tone="Drill Sergeant",
        quiet_hours=(22 * 60, 6 * 60),
        daily_cap=3,
        evening_brief_minute=19 * 60 + 30,
        prefer_metric=False,
        created_at=created,
    )
    user_id, _ = await plan_user(store, plan_id)
    async with db_sessionmaker.begin() as session:
        session.add(
            CadenceRow(
                user_id=user_id,
                plan_id=plan_id,
                prime_window_start_minute=390,
                prime_window_end_minute=450,
                confidence_score=0.75,
            )
        )

    snap = await store.load_plan_snapshot(plan_id)
    assert snap is not None
    assert snap.plan_id == plan_id and snap.status is PlanStatus.ACTIVE
    assert snap.plan_name == "Get Faster at Rucking"
    assert snap.start_date == START
    assert snap.created_at == created and snap.created_at.tzinfo is not None
    assert snap.has_device is True
    prefs = snap.prefs
    assert prefs.timezone == NY and prefs.quiet_hours == (22 * 60, 6 * 60)
    assert prefs.daily_cap == 3 and prefs.evening_brief_minute == 19 * 60 + 30
    assert prefs.coaching_tone == "drill_sergeant" and prefs.prefer_metric is False
    assert prefs.default_start_minute is None and prefs.weekly_digest_weekday == 6  # not set: the chain goes on
    assert (snap.cadence.window_start_minute, snap.cadence.window_end_minute) == (390, 450)
    assert snap.cadence.confidence == pytest.approx(0.75)

    assert [s.planned_session_type for s in snap.sessions] == ["Tempo Ruck", "Hill Ruck", "Long Ruck"]
    tempo, hill, long = snap.sessions
    assert tempo.scheduled_start_minute == 330 and tempo.distance_km == 5.0 and tempo.weight_kg == 9.5
    assert hill.scheduled_start_minute == 18 * 60 and hill.duration_minutes == 45 and hill.distance_km is None
    assert long.scheduled_start_minute is None and long.planned_week == 2
    assert all(s.completion_status == "planned" for s in snap.sessions)


async def test_snapshot_of_a_plan_written_with_nulls_uses_defaults_and_plan_columns(
    store: Store, db_sessionmaker: Sessions
) -> None:
    """RuckTracker's columns are nullable and its app leaves most of them empty: the plan still loads."""
    user_id = str(uuid.uuid4())
    async with db_sessionmaker.begin() as session:
        await ensure_athlete(session, user_id, {"plan_notification_prefs": None})
        plan = UserCoachingPlan(
            user_id=user_id,
            start_date=START,
            coaching_personality="Session Analyst",
            plan_notification_timezone="Europe/London",
            plan_modifications=None,
        )
        session.add(plan)
        await session.flush()
        session.add(
            PlanSessionRow(
                user_coaching_plan_id=plan.id,
                planned_week=1,
                planned_session_type="Ruck",
                coaching_points={"target_distance_km": "n/a", "target_duration_minutes": "40-50"},
                notification_metadata=None,
                scheduled_timezone=None,
            )
        )
        plan_id = plan.id
        # (None on a column with a server default is left out of an ORM insert: NULL it explicitly.)
        await session.execute(update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(created_at=None))

    snap = await store.load_plan_snapshot(plan_id)
    assert snap is not None
    assert snap.user_id == user_id
    assert snap.plan_name == "Coaching plan"
    assert snap.has_device is False
    assert snap.status is PlanStatus.ACTIVE
    # No created_at: the local midnight the plan started on.
    assert snap.created_at == datetime(2026, 3, 9, 0, 0, tzinfo=UTC) and snap.snoozed_until is None
    assert snap.prefs.timezone == "Europe/London" and snap.prefs.coaching_tone == "session_analyst"
    assert snap.prefs.prefer_metric is True
    assert snap.prefs.quiet_hours is None and snap.prefs.evening_brief_minute == 20 * 60
    assert snap.cadence.confidence == 0 and snap.cadence.window_start_minute is None
    (only,) = snap.sessions
    assert only.scheduled_date is None and only.distance_km is None
    assert only.duration_minutes == 45 and only.completion_status == "planned"  # a range reads as its middle


async def test_snapshot_of_missing_plan_is_none(store: Store) -> None:
    assert await store.load_plan_snapshot(424242) is None


@pytest.mark.parametrize(
    ("user_tz", "plan_tz", "expected"),
    [
        ("Mars/Olympus_Mons", "Europe/Berlin", "Europe/Berlin"),
        ("Mars/Olympus_Mons", "Not/AZone", "UTC"),
        ("Asia/Tokyo", "Europe/Berlin", "Asia/Tokyo"),
        ("UTC", "Europe/Berlin", "Europe/Berlin"),  # the user column's default says nothing
        (None, "Asia/Calcutta", "Asia/Calcutta"),  # a legacy alias, as the client sends them
        ("", "UTC", "UTC"),
    ],
)
async def test_snapshot_timezone_fallback(
    store: Store, db_sessionmaker: Sessions, user_tz: str | None, plan_tz: str, expected: str
) -> None:
    plan_id = await demo_plan(store)
    async with db_sessionmaker.begin() as session:
        plan = await session.get(UserCoachingPlan, plan_id)
        assert plan is not None
        plan.plan_notification_timezone = plan_tz
        await session.execute(
            update(AppUser).where(AppUser.id == plan.user_id).values(plan_notification_timezone=user_tz)
        )
    snap = await store.load_plan_snapshot(plan_id)
    assert snap is not None and snap.prefs.timezone == expected


async def test_snapshot_ignores_out_of_range_preferences(store: Store, db_sessionmaker: Sessions) -> None:
    plan_id = await demo_plan(
        store, daily_cap=0, evening_brief_minute=5000, weekly_digest_weekday=3, quiet_hours=(-1, 9999)
    )
    async with db_sessionmaker.begin() as session:
        user_id = (await session.get(UserCoachingPlan, plan_id)).user_id  # type: ignore[union-attr]
        session.add(
            CadenceRow(
                user_id=user_id,
                plan_id=plan_id,
                prime_window_start_minute=-5,
                prime_window_end_minute=2000,
                confidence_score=1.5,
            )
        )
    snap = await store.load_plan_snapshot(plan_id)
    assert snap is not None
    assert snap.prefs.daily_cap == 4 and snap.prefs.evening_brief_minute == 20 * 60  # defaults
    assert snap.prefs.weekly_digest_weekday == 3  # valid values survive
    assert snap.prefs.quiet_hours is None
    assert snap.cadence.window_start_minute is None and snap.cadence.window_end_minute is None
    assert snap.cadence.confidence == 1.0


# ---- the ledger -----------------------------------------------------------------------------------------------


async def test_ledger_begin_is_idempotent_under_concurrency(store: Store) -> None:
    plan_id = await demo_plan(store)
    user_id, session_ids = await plan_user(store, plan_id)
    n = planned(plan_id, session_ids[0])

    rows = await asyncio.gather(*(store.ledger_begin(plan_id, user_id, n) for _ in range(10)))

    assert sorted(r.attempts for r in rows) == list(range(1, 11))
    (row,) = await store.ledger_rows(plan_id)
    assert row.notification_id == n.notification_id and row.attempts == 10
    assert row.status is LedgerStatus.SCHEDULED and row.sent_at is None and row.payload == {}
    assert row.scheduled_for == n.send_at and row.local_date == n.local_date
    assert row.plan_session_id == session_ids[0] and row.notification_type == "plan_evening_brief"


async def test_ledger_takes_a_session_deleted_meanwhile(store: Store, db_sessionmaker: Sessions) -> None:
    """The ledger has no foreign key into RuckTracker's tables: a session (or plan) deleted there since the schedule
    was computed neither fails the write nor takes the row with it."""
    plan_id = await demo_plan(store)
    user_id, session_ids = await plan_user(store, plan_id)
    async with db_sessionmaker.begin() as session:
        await session.execute(delete(PlanSessionRow).where(PlanSessionRow.id == session_ids[0]))
    row = await store.ledger_begin(plan_id, user_id, planned(plan_id, session_ids[0]))
    assert row.plan_session_id == session_ids[0] and row.status is LedgerStatus.SCHEDULED
    async with db_sessionmaker.begin() as session:
        await session.execute(delete(UserCoachingPlan).where(UserCoachingPlan.id == plan_id))
    skipped = await store.ledger_skip(plan_id, user_id, planned(plan_id, None, hour=1), "plan_removed: gone")
    assert skipped.status is LedgerStatus.SKIPPED
    assert [r.notification_id for r in await store.ledger_rows(plan_id)] == [
        row.notification_id,
        skipped.notification_id,
    ]


async def test_ledger_finish_never_downgrades_sent(store: Store) -> None:
    plan_id = await demo_plan(store)
    user_id, session_ids = await plan_user(store, plan_id)
    n = planned(plan_id, session_ids[0])
    sent_at = datetime(2026, 3, 9, 0, 0, 1, tzinfo=UTC)

    await store.ledger_begin(plan_id, user_id, n)
    await store.ledger_finish(
        n.notification_id,
        LedgerStatus.SENT,
        payload={"title": "Go"},
        sent_at=sent_at,
        reason="via fake to 1 device(s)",
        copy_source="template",
    )
    for status in (LedgerStatus.FAILED, LedgerStatus.SKIPPED, LedgerStatus.SCHEDULED, LedgerStatus.SENT):
        await store.ledger_finish(n.notification_id, status, payload={}, sent_at=None, reason="late retry")

    again = await store.ledger_begin(plan_id, user_id, n)
    assert again.status is LedgerStatus.SENT and again.attempts == 2
    assert again.payload == {"title": "Go"} and again.sent_at == sent_at
    assert again.reason == "via fake to 1 device(s)" and again.copy_source == "template"


async def test_ledger_finish_failed_then_sent(store: Store) -> None:
    plan_id = await demo_plan(store)
    user_id, session_ids = await plan_user(store, plan_id)
    n = planned(plan_id, session_ids[0], ntype=NotificationType.MORNING_HYPE)
    await store.ledger_begin(plan_id, user_id, n)
    await store.ledger_finish(n.notification_id, LedgerStatus.FAILED, payload={}, sent_at=None, reason="fcm down")
    (failed,) = await store.ledger_rows(plan_id)
    assert failed.status is LedgerStatus.FAILED and failed.reason == "fcm down"

    await store.ledger_begin(plan_id, user_id, n)
    await store.ledger_finish(n.notification_id, LedgerStatus.SENT, payload={"b": 1}, sent_at=None, copy_source="ai")
    (sent,) = await store.ledger_rows(plan_id)
    assert sent.status is LedgerStatus.SENT and sent.reason is None and sent.copy_source == "ai"
    assert sent.sent_at is not None and sent.sent_at.tzinfo is not None  # stamped when not given
    assert sent.attempts == 2


async def test_ledger_skip_never_overwrites_sent(store: Store) -> None:
    plan_id = await demo_plan(store)
    user_id, (s1, s2, s3) = await plan_user(store, plan_id)
    fresh, scheduled, failed = (planned(plan_id, s, hour=h) for s, h in ((s1, 1), (s2, 2), (s3, 3)))
    sent = planned(plan_id, s1, ntype=NotificationType.MISSED_FOLLOWUP, hour=4)

    for n in (scheduled, failed, sent):
        await store.ledger_begin(plan_id, user_id, n)
    await store.ledger_finish(failed.notification_id, LedgerStatus.FAILED, payload={}, sent_at=None, reason="x")
    await store.ledger_finish(sent.notification_id, LedgerStatus.SENT, payload={"k": "v"}, sent_at=None)

    rows = await asyncio.gather(*(store.ledger_skip(plan_id, user_id, fresh, "quiet_hours: 23:00") for _ in range(5)))
    assert {(r.status, r.reason) for r in rows} == {(LedgerStatus.SKIPPED, "quiet_hours: 23:00")}
    assert rows[0].attempts == 0 and rows[0].scheduled_for == fresh.send_at

    assert (await store.ledger_skip(plan_id, user_id, scheduled, "plan_paused")).status is LedgerStatus.SKIPPED
    assert (await store.ledger_skip(plan_id, user_id, failed, "stale")).reason == "stale"
    kept = await store.ledger_skip(plan_id, user_id, sent, "stale")
    assert kept.status is LedgerStatus.SENT and kept.reason is None and kept.payload == {"k": "v"}
    again = await store.ledger_skip(plan_id, user_id, fresh, "another reason")
    assert again.reason == "quiet_hours: 23:00"  # the first skip's reason stands

    rows_now = await store.ledger_rows(plan_id)
    assert [r.notification_id for r in rows_now] == [
        fresh.notification_id,
        scheduled.notification_id,
        failed.notification_id,
        sent.notification_id,
    ]  # ordered by scheduled_for
    assert [r.status for r in rows_now] == [LedgerStatus.SKIPPED] * 3 + [LedgerStatus.SENT]


async def test_ledger_rows_belong_to_their_plan_and_outlive_its_rows(store: Store, db_sessionmaker: Sessions) -> None:
    """The ledger is the service's record of what it did: deleting RuckTracker's plan or session rows (which it
    does on its own) neither cascades into it nor is blocked by it."""
    plan_a = await demo_plan(store)
    plan_b = await demo_plan(store)
    user_a, sessions_a = await plan_user(store, plan_a)
    user_b, _ = await plan_user(store, plan_b)
    await store.ledger_begin(plan_a, user_a, planned(plan_a, sessions_a[0]))
    await store.ledger_begin(plan_b, user_b, planned(plan_b, None, ntype=NotificationType.WEEKLY_DIGEST))
    assert len(await store.ledger_rows(plan_a)) == 1

    async with db_sessionmaker.begin() as session:  # (SQLite: foreign_keys=ON, so a foreign key would act)
        await session.execute(delete(PlanSessionRow).where(PlanSessionRow.id == sessions_a[0]))
        await session.execute(delete(UserCoachingPlan).where(UserCoachingPlan.id == plan_a))
    (row,) = await store.ledger_rows(plan_a)
    assert row.plan_session_id == sessions_a[0]
    assert len(await store.ledger_rows(plan_b)) == 1


# ---- tokens -------------------------------------------------------------------------------------------------


async def test_tokens_listing_and_deactivation(store: Store, db_sessionmaker: Sessions) -> None:
    plan_id = await demo_plan(store, fcm_token="tok-demo")
    user_id, _ = await plan_user(store, plan_id)
    other = str(uuid.uuid4())
    base = datetime(2030, 1, 1, tzinfo=UTC)
    async with db_sessionmaker.begin() as session:
        await ensure_athlete(session, other, {})
        session.add_all(
            [
                UserDeviceToken(
                    user_id=user_id, fcm_token="tok-a", device_id="a", device_type="android", created_at=base
                ),
                UserDeviceToken(
                    user_id=user_id,
                    fcm_token="tok-a",
                    device_id="a2",
                    device_type="android",
                    created_at=base + timedelta(seconds=1),
                ),  # the same token twice (RuckTracker allows it)
                UserDeviceToken(user_id=user_id, fcm_token="tok-off", device_id="c", is_active=False, created_at=base),
                UserDeviceToken(user_id=other, fcm_token="tok-other", device_id="a", created_at=base),
            ]
        )

    tokens = await store.active_tokens(user_id.upper())  # any spelling of the uuid
    assert [t.fcm_token for t in tokens] == ["tok-demo", "tok-a"]
    assert tokens[1].device_type == "android"

    ids = [t.id for t in tokens]
    assert await store.deactivate_tokens([*ids, ids[0], "not-a-uuid"]) == 2
    assert await store.deactivate_tokens(ids) == 0
    assert await store.deactivate_tokens([]) == 0
    assert [t.fcm_token for t in await store.active_tokens(user_id)] == ["tok-a"]  # the duplicate row remains
    assert [t.fcm_token for t in await store.active_tokens(other)] == ["tok-other"]


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


async def test_a_pre_release_database_is_refused_and_make_run_keeps_it_aside(tmp_path: Any) -> None:
    """The pre-release layout (its ledger in plan_notification_audit, preferences in user_profiles, both RuckTracker's
    names, under the default alembic_version) cannot be upgraded in place: refused with what to do, and `make run`'s
    local file is kept beside, renamed, rather than lost."""
    import sqlite3

    from activities.migrate import PreReleaseDatabaseError
    from starter.devrun import upgrade_dev_database
    from starter.settings import Settings

    path = tmp_path / "coach.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        old.execute("INSERT INTO alembic_version VALUES ('0004')")
        old.execute("CREATE TABLE user_profiles (user_id TEXT PRIMARY KEY)")
        old.execute("INSERT INTO user_profiles VALUES ('kept')")
    url = f"sqlite+aiosqlite:///{path}"
    with pytest.raises(PreReleaseDatabaseError, match="pre-release layout"):
        await upgrade_database(url)

    await upgrade_dev_database(Settings(database_url=url, environment="test"))
    (kept,) = tmp_path.glob("coach.db.pre-release-*")
    with sqlite3.connect(kept) as old:
        assert old.execute("SELECT user_id FROM user_profiles").fetchall() == [("kept",)]
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            versions = {r[0] for r in await conn.exec_driver_sql("SELECT version_num FROM coach_alembic_version")}
    finally:
        await engine.dispose()
    assert versions == {"st0001", "sv0004"}
