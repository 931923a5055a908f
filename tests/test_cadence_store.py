"""The cadence analyzer's database side on SQLite and PostgreSQL: batch reads, zone history, upsert, due athletes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from activities.cadence_store import CadenceStore
from activities.db import PlanSessionRow, RuckSession, UserCoachingPlan, UserPlanBehavior
from activities.store import Store
from coaching.timeutil import local_minute, local_to_utc

AS_OF = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NY = "America/New_York"
BERLIN = "Europe/Berlin"


async def athlete(store: Store, tz: str = NY, **kwargs: object) -> tuple[str, int]:
    user_id = str(uuid.uuid4())
    plan_id = await store.create_demo_plan(
        user_id=user_id,
        timezone=tz,
        start_date=AS_OF.date(),
        sessions=[{"scheduled_date": AS_OF.date() + timedelta(days=2), "planned_session_type": "Tempo Ruck"}],
        created_at=AS_OF - timedelta(days=1),
        **kwargs,
    )
    return user_id, plan_id


async def rucks(store: Store, user_id: str, starts: list[datetime], *, first_id: int, **columns: object) -> None:
    rows = [
        {
            "id": first_id + i,
            "user_id": user_id,
            "status": "completed",
            "started_at": start,
            "completed_at": start + timedelta(minutes=50),
            "duration_seconds": 50 * 60,
            **columns,
        }
        for i, start in enumerate(starts)
    ]
    async with store.sessionmaker.begin() as session:
        await session.execute(insert(RuckSession), rows)


def daily(minute: int, tz: str, days: range) -> list[datetime]:
    return [local_to_utc(AS_OF.date() - timedelta(days=d), minute, tz) for d in days]


async def test_a_batch_is_read_in_one_go_with_each_ruck_in_its_own_zone(store: Store) -> None:
    cadence = CadenceStore(store.sessionmaker)
    traveller, _ = await athlete(store)
    homebody, _ = await athlete(store, tz="Asia/Kathmandu")
    moved_at = AS_OF - timedelta(days=10)
    await cadence.note_timezone(traveller, NY, AS_OF - timedelta(days=60))
    await cadence.note_timezone(traveller, BERLIN, moved_at)
    # 06:00 local wherever they were: New York before the move, Berlin after it.
    await rucks(store, traveller, daily(6 * 60, NY, range(11, 40)) + daily(6 * 60, BERLIN, range(1, 10)), first_id=1)
    await rucks(store, homebody, daily(17 * 60 + 45, "Asia/Kathmandu", range(1, 20)), first_id=100)
    # Not samples: still in progress, older than the lookback, after as_of.
    await rucks(store, homebody, [AS_OF - timedelta(days=2)], first_id=200, status="in_progress")
    await rucks(store, homebody, [AS_OF - timedelta(days=120), AS_OF + timedelta(hours=1)], first_id=300)

    samples = await cadence.load_samples([traveller, homebody], AS_OF)
    assert {s.timezone for s in samples[traveller] if s.started_at and s.started_at < moved_at} == {NY}
    assert {s.timezone for s in samples[traveller] if s.started_at and s.started_at >= moved_at} == {BERLIN}
    # Before the first recorded zone the first one is the best guess; with no history, the profile's zone.
    assert {s.timezone for s in samples[homebody]} == {"Asia/Kathmandu"}
    assert all(local_minute(s.started_at, s.timezone) == 6 * 60 for s in samples[traveller] if s.started_at)

    analyses = await cadence.analyze_athletes([traveller, homebody], AS_OF)
    assert analyses[traveller].snapshot.centre_minute == 6 * 60
    assert "timezone_change" in analyses[traveller].snapshot.deviations
    assert analyses[homebody].snapshot.centre_minute == 17 * 60 + 45
    assert analyses[homebody].timed_samples == 19  # the in-progress, too old and future rucks are not samples


async def test_a_ruck_without_a_start_uses_completion_minus_duration_and_date_only_sessions_count_by_day(
    store: Store,
) -> None:
    cadence = CadenceStore(store.sessionmaker)
    user_id, plan_id = await athlete(store)
    starts = daily(5 * 60, NY, range(1, 8))
    await rucks(store, user_id, starts, first_id=1, started_at=None)
    async with store.sessionmaker.begin() as session:
        session_ids = (await session.scalars(select(PlanSessionRow.id))).all()
        await session.execute(
            update(PlanSessionRow)
            .where(PlanSessionRow.id.in_(session_ids))
            .values(completion_status="completed", completed_date=AS_OF.date() - timedelta(days=3))
        )
    samples = await cadence.load_samples([user_id], AS_OF)
    timed = [s for s in samples[user_id] if s.started_at is not None]
    assert sorted(s.started_at for s in timed if s.started_at) == sorted(starts)
    dated = [s for s in samples[user_id] if s.started_at is None]
    assert [s.day for s in dated] == [AS_OF.date() - timedelta(days=3)]
    analysis = (await cadence.analyze_athletes([user_id], AS_OF))[user_id]
    # The date-only session counts for its weekday but does not pull the window towards midnight.
    assert analysis.date_only_samples == 1 and analysis.snapshot.centre_minute == 5 * 60
    assert sum(analysis.weekday_pattern.values()) == 8


async def test_save_upserts_every_live_plan_and_reports_only_real_changes(store: Store) -> None:
    cadence = CadenceStore(store.sessionmaker)
    user_id, plan_id = await athlete(store)
    await rucks(store, user_id, daily(5 * 60 + 10, NY, range(1, 22)), first_id=1)

    first = await cadence.save(await cadence.analyze_athletes([user_id], AS_OF))
    assert [(c.plan_id, c.user_id) for c in first] == [(plan_id, user_id)]
    assert first[0].cadence == await cadence.stored(plan_id)
    # What the plan's workflow is told is what reloading the plan reads.
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.cadence == first[0].cadence
    assert snapshot.cadence.centre_minute == 5 * 60 + 10 and set(snapshot.cadence.weekday_windows) == set(range(7))

    # The same history an hour later: recomputed (the row's time moves on) but nothing the schedule sees changed.
    again = await cadence.save(await cadence.analyze_athletes([user_id], AS_OF + timedelta(hours=1)))
    assert again == []
    async with store.sessionmaker() as session:
        rows = (await session.scalars(select(UserPlanBehavior))).all()
    assert len(rows) == 1 and rows[0].last_recomputed_at == AS_OF + timedelta(hours=1)
    assert rows[0].behavior_metadata["sample_size"] == 21 and rows[0].weekday_pattern["Monday"] == 3

    # A finished plan is not written for; an athlete whose only plan ended gets no rows and no changes.
    async with store.sessionmaker.begin() as session:
        await session.execute(update(UserCoachingPlan).values(current_status="completed"))
    assert await cadence.save(await cadence.analyze_athletes([user_id], AS_OF)) == []


async def test_athletes_due_pages_through_new_stale_and_never_computed_athletes(store: Store) -> None:
    cadence = CadenceStore(store.sessionmaker)
    users = sorted([(await athlete(store))[0] for _ in range(5)])
    assert await cadence.athletes_due(AS_OF, after=None, limit=3) == users[:3]
    assert await cadence.athletes_due(AS_OF, after=users[2], limit=3) == users[3:]

    await cadence.save(await cadence.analyze_athletes(users, AS_OF))
    assert await cadence.athletes_due(AS_OF + timedelta(hours=1), after=None, limit=10) == []
    # New activity since the last computation makes an athlete due again; so does a week without one.
    await rucks(store, users[1], [AS_OF + timedelta(minutes=5)], first_id=50)
    assert await cadence.athletes_due(AS_OF + timedelta(hours=1), after=None, limit=10) == [users[1]]
    stale = await cadence.athletes_due(AS_OF + timedelta(days=8), after=None, limit=10)
    assert stale == users


async def test_note_timezone_records_changes_only(store: Store) -> None:
    cadence = CadenceStore(store.sessionmaker)
    user_id = str(uuid.uuid4())
    assert await cadence.note_timezone(user_id, NY, AS_OF) is True
    assert await cadence.note_timezone(user_id, NY, AS_OF + timedelta(days=1)) is False
    assert await cadence.note_timezone(user_id, BERLIN, AS_OF + timedelta(days=2)) is True
    assert await cadence.note_timezone(user_id, BERLIN, AS_OF + timedelta(days=2)) is False


async def test_a_session_time_the_athlete_chose_is_loaded_as_fixed(store: Store) -> None:
    user_id, plan_id = await athlete(store)
    async with store.sessionmaker.begin() as session:
        await session.execute(update(PlanSessionRow).values(notification_metadata={"start_source": "athlete"}))
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and [s.start_fixed for s in snapshot.sessions] == [True]


async def test_hand_edited_behavior_rows_read_as_far_as_they_are_valid(store: Store) -> None:
    user_id, plan_id = await athlete(store)
    async with store.sessionmaker.begin() as session:
        await session.execute(
            insert(UserPlanBehavior).values(
                user_id=user_id,
                user_coaching_plan_id=plan_id,
                prime_window_start_minute=330,
                prime_window_end_minute=390,
                confidence_score=0.7,
                weekday_pattern={},
                deviations=[{"kind": "window_shift"}, "garbage"],
                behavior_metadata={
                    "central_minute": 9999,
                    "weekday_windows": {
                        "Monday": {"start_minute": 1, "end_minute": 31, "centre_minute": 16},
                        "Funday": {},
                        "Tuesday": {"start_minute": -5},
                    },
                },
            )
        )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    cadence = snapshot.cadence
    assert (cadence.window_start_minute, cadence.window_end_minute, cadence.confidence) == (330, 390, 0.7)
    assert cadence.centre_minute is None and cadence.overall is not None and cadence.overall.centre_minute == 330
    assert list(cadence.weekday_windows) == [0] and cadence.deviations == ["window_shift"]


async def test_an_older_analysis_never_overwrites_a_newer_one(store: Store) -> None:
    cadence = CadenceStore(store.sessionmaker)
    user_id, plan_id = await athlete(store)
    await rucks(store, user_id, daily(5 * 60, NY, range(1, 15)), first_id=1)
    # A refresh after a late ruck analysed (and stored) a newer history than the nightly page that follows it.
    newer = await cadence.save(await cadence.analyze_athletes([user_id], AS_OF + timedelta(hours=2)))
    assert [c.plan_id for c in newer] == [plan_id]
    await rucks(store, user_id, daily(18 * 60, NY, range(15, 40)), first_id=100)  # would move the window
    older = await cadence.save(await cadence.analyze_athletes([user_id], AS_OF))
    assert older == []  # nothing written, nobody told the older window
    async with store.sessionmaker() as session:
        row = (await session.scalars(select(UserPlanBehavior))).one()
    assert row.last_recomputed_at == AS_OF + timedelta(hours=2) and row.behavior_metadata["central_minute"] == 300


async def test_a_stored_centre_off_its_window_is_not_trusted(store: Store) -> None:
    user_id, plan_id = await athlete(store)
    async with store.sessionmaker.begin() as session:
        await session.execute(
            insert(UserPlanBehavior).values(
                user_id=user_id,
                user_coaching_plan_id=plan_id,
                prime_window_start_minute=360,
                prime_window_end_minute=420,
                confidence_score=0.9,
                weekday_pattern={},
                deviations=[],
                behavior_metadata={"central_minute": 0},
            )
        )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.cadence.overall is not None
    # 00:00 is not on 06:00–07:00: the session would start at midnight and the hype come a day early.
    assert snapshot.cadence.overall.centre_minute == 360
