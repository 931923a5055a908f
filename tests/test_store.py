"""The data layer on SQLite and PostgreSQL: the plan snapshot, the ledger's guarantees, tokens.

Migrations: ``test_store_migrations.py``; plan sessions and plans: ``test_store_plans.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from activities.db import AppUser, CadenceRow, PlanSessionRow, UserCoachingPlan, UserDeviceToken
from activities.demo import ensure_athlete
from activities.store import Store
from coaching.ids import notification_id
from coaching.models import LedgerStatus, NotificationType, PlannedNotification, PlanStatus
from tests.store_helpers import NY, START, Sessions, demo_plan, plan_user


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
