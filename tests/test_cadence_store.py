"""The cadence analyzer's database side on SQLite and PostgreSQL: batch reads, zone history, upsert, due athletes.

The analysis is the service's own ``coach_cadence_analysis`` (:class:`CadenceRow`, one row per athlete and live plan);
the athlete's current zone is read from RuckTracker's ``"user"`` row (:class:`AppUser`), else the live plan's. Every
test runs on SQLite, PostgreSQL and RuckTracker's own schema, whose legacy athletes (with live plans, rucks and
``user_plan_behavior`` rows the service never reads) sit beside the test's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, insert, select, update

from activities.cadence_store import CadenceStore
from activities.db import AppUser, CadenceRow, PlanSessionRow, RuckSession, UserCoachingPlan
from activities.demo import create_demo_plan
from activities.store import Store
from coaching.timeutil import local_minute, local_to_utc

AS_OF = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NY = "America/New_York"
BERLIN = "Europe/Berlin"


async def athlete(store: Store, tz: str = NY, **kwargs: object) -> tuple[str, int]:
    user_id = str(uuid.uuid4())
    plan_id = await create_demo_plan(
        store,
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
            "ruck_weight_kg": 10.0,  # NOT NULL in RuckTracker's schema
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
    # Before the first recorded zone the first one is the best guess; with no history, the athlete's current zone.
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
        session_ids = (
            await session.scalars(select(PlanSessionRow.id).where(PlanSessionRow.user_coaching_plan_id == plan_id))
        ).all()
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
        rows = (await session.scalars(select(CadenceRow))).all()
    assert len(rows) == 1 and rows[0].last_recomputed_at == AS_OF + timedelta(hours=1)
    assert (rows[0].plan_id, rows[0].user_id) == (plan_id, user_id)
    assert rows[0].behavior_metadata["sample_size"] == 21 and rows[0].weekday_pattern["Monday"] == 3

    # A finished plan is not written for; an athlete whose only plan ended gets no rows and no changes.
    async with store.sessionmaker.begin() as session:
        await session.execute(
            update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(current_status="completed")
        )
    assert await cadence.save(await cadence.analyze_athletes([user_id], AS_OF)) == []


async def test_athletes_due_pages_through_new_stale_and_never_computed_athletes(store: Store) -> None:
    cadence = CadenceStore(store.sessionmaker)
    # RuckTracker's legacy athletes (none on an empty database) have live plans and were never analysed: always due.
    legacy = await cadence.athletes_due(AS_OF, after=None, limit=100)
    users = sorted([(await athlete(store))[0] for _ in range(5)])
    everyone = sorted(users + legacy)
    assert await cadence.athletes_due(AS_OF, after=None, limit=3) == everyone[:3]
    assert await cadence.athletes_due(AS_OF, after=everyone[2], limit=3) == everyone[3:6]
    pages, after = [], None
    while page := await cadence.athletes_due(AS_OF, after=after, limit=3):
        pages.append(page)
        after = page[-1]
    assert sum(pages, []) == everyone and all(len(p) == 3 for p in pages[:-1])

    await cadence.save(await cadence.analyze_athletes(users, AS_OF))
    assert await cadence.athletes_due(AS_OF + timedelta(hours=1), after=None, limit=10) == legacy
    # New activity since the last computation makes an athlete due again; so does a week without one.
    await rucks(store, users[1], [AS_OF + timedelta(minutes=5)], first_id=50)
    assert await cadence.athletes_due(AS_OF + timedelta(hours=1), after=None, limit=10) == sorted([users[1], *legacy])
    stale = await cadence.athletes_due(AS_OF + timedelta(days=8), after=None, limit=10)
    assert stale == everyone


@pytest.mark.parametrize(
    ("user_zone", "plan_zone", "expected"),
    [
        (BERLIN, NY, BERLIN),  # the athlete's own zone, where RuckTracker keeps it
        ("UTC", NY, NY),  # the column's default says nothing: the live plan's
        (None, NY, NY),
        ("Mars/Olympus_Mons", NY, NY),  # not a zone: ignored
        ("UTC", "UTC", "UTC"),
    ],
)
async def test_without_zone_history_each_ruck_is_read_in_the_athletes_current_zone(
    store: Store, user_zone: str | None, plan_zone: str, expected: str
) -> None:
    """As the plan snapshot resolves it: ``"user".plan_notification_timezone`` unless it is the default or invalid,
    else the live plan's."""
    cadence = CadenceStore(store.sessionmaker)
    user_id, plan_id = await athlete(store, tz=plan_zone)
    async with store.sessionmaker.begin() as session:
        await session.execute(update(AppUser).where(AppUser.id == user_id).values(plan_notification_timezone=user_zone))
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.timezone == expected
    await rucks(store, user_id, daily(6 * 60 + 20, expected, range(1, 15)), first_id=1)

    samples = (await cadence.load_samples([user_id], AS_OF))[user_id]

    assert len(samples) == 14
    assert {s.timezone for s in samples} == {expected}
    analysis = (await cadence.analyze_athletes([user_id], AS_OF))[user_id]
    assert analysis.snapshot.centre_minute == 6 * 60 + 20


async def test_deleting_a_plan_in_rucktracker_is_not_blocked_by_the_analysis(store: Store) -> None:
    """``coach_cadence_analysis`` has no foreign key into RuckTracker's tables: RuckTracker deletes its plans (and their
    sessions) as it pleases, and the athlete is no longer due once no live plan is left."""
    cadence = CadenceStore(store.sessionmaker)
    user_id, plan_id = await athlete(store)
    other_id, other_plan = await athlete(store)
    await rucks(store, user_id, daily(5 * 60, NY, range(1, 15)), first_id=1)
    await rucks(store, other_id, daily(7 * 60, NY, range(1, 15)), first_id=100)
    await cadence.save(await cadence.analyze_athletes([user_id, other_id], AS_OF))
    assert {c.plan_id for c in await cadence.stored_changes([plan_id, other_plan])} == {plan_id, other_plan}

    async with store.sessionmaker.begin() as session:
        await session.execute(delete(UserCoachingPlan).where(UserCoachingPlan.id == plan_id))
    async with store.sessionmaker() as session:
        assert await session.get(UserCoachingPlan, plan_id) is None
        rows = await session.scalar(select(func.count()).select_from(CadenceRow).where(CadenceRow.plan_id == plan_id))
    assert rows == 1  # the service's row is left alone (no cascade)
    due = await cadence.athletes_due(AS_OF + timedelta(days=8), after=None, limit=100)
    assert user_id not in due and other_id in due
    assert [c.plan_id for c in await cadence.stored_changes([other_plan])] == [other_plan]


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
        await session.execute(
            update(PlanSessionRow)
            .where(PlanSessionRow.user_coaching_plan_id == plan_id)
            .values(notification_metadata={"start_source": "athlete"})
        )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and [s.start_fixed for s in snapshot.sessions] == [True]


async def test_hand_edited_behavior_rows_read_as_far_as_they_are_valid(store: Store) -> None:
    user_id, plan_id = await athlete(store)
    async with store.sessionmaker.begin() as session:
        await session.execute(
            insert(CadenceRow).values(
                user_id=user_id,
                plan_id=plan_id,
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
        row = (await session.scalars(select(CadenceRow))).one()
    assert row.last_recomputed_at == AS_OF + timedelta(hours=2) and row.behavior_metadata["central_minute"] == 300


async def test_a_stored_centre_off_its_window_is_not_trusted(store: Store) -> None:
    user_id, plan_id = await athlete(store)
    async with store.sessionmaker.begin() as session:
        await session.execute(
            insert(CadenceRow).values(
                user_id=user_id,
                plan_id=plan_id,
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
