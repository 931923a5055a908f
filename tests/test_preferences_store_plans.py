"""PreferencesStore on SQLite and PostgreSQL, plan by plan: the reads (``live_plans``, ``preferences``,
``plan_preferences``), moving a session (``reschedule_session``), and the snooze kept with the plan. (Where things
live: ``test_preferences_store.py``.)
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update

from activities.db import UserCoachingPlan
from activities.preferences_store import PreferencesStore
from activities.store import Store
from coaching.models import Category, ChangePreferencesInput, PlanSession, PlanStatus
from tests.preferences_store_helpers import (
    BERLIN,
    NY,
    RICH_ATHLETE,
    START,
    Sessions,
    make_plan,
    new_user,
    plan_row,
    session_row,
    session_rows,
    set_session,
    set_user,
)

# ---- reads: live_plans, preferences, plan_preferences ----------------------------------------------------------


async def test_live_plans_are_active_and_paused_newest_first(store: Store, prefs_store: PreferencesStore) -> None:
    uid = new_user()
    first = await make_plan(store, uid)
    second = await make_plan(store, uid, status=PlanStatus.PAUSED)
    await make_plan(store, uid, status=PlanStatus.CANCELLED)
    await make_plan(store, uid, status=PlanStatus.COMPLETED)
    await make_plan(store, new_user())  # another athlete's plan
    await make_plan(store, new_user(), status=PlanStatus.PAUSED)

    assert await prefs_store.live_plans(uid) == [second, first]


@pytest.mark.parametrize(
    ("user_zone", "user_tone"),
    [("UTC", "Supportive Friend"), (None, None), ("UTC", "supportive_friend"), ("", "Sarcastic Robot")],
    ids=["defaults", "null", "default-id", "empty-and-unknown"],
)
async def test_preferences_follow_the_newest_live_plan(
    store: Store,
    prefs_store: PreferencesStore,
    db_sessionmaker: Sessions,
    user_zone: str | None,
    user_tone: str | None,
) -> None:
    uid = new_user()
    older = await make_plan(store, uid, timezone=NY, tone="drill_sergeant")
    newer = await make_plan(store, uid, timezone=BERLIN, status=PlanStatus.PAUSED)  # live too
    # The athlete's columns back at the defaults (or NULL, or unusable): the plans' own values decide.
    await set_user(db_sessionmaker, uid, plan_notification_timezone=user_zone, coaching_tone=user_tone)

    prefs = await prefs_store.preferences(uid)
    assert (prefs.timezone, prefs.coaching_tone) == (BERLIN, "supportive_friend")

    await store.set_plan_status(newer, PlanStatus.CANCELLED)
    prefs = await prefs_store.preferences(uid)
    assert (prefs.timezone, prefs.coaching_tone) == (NY, "drill_sergeant")

    older_prefs = await prefs_store.plan_preferences(older)
    newer_prefs = await prefs_store.plan_preferences(newer)
    assert older_prefs is not None and newer_prefs is not None
    assert (older_prefs.timezone, newer_prefs.timezone) == (NY, BERLIN)

    await store.set_plan_status(older, PlanStatus.COMPLETED)
    prefs = await prefs_store.preferences(uid)
    assert (prefs.timezone, prefs.coaching_tone) == ("UTC", "supportive_friend")


async def test_plan_preferences_of_a_missing_plan_is_none(store: Store, prefs_store: PreferencesStore) -> None:
    plan_id = await make_plan(store, new_user())

    assert await prefs_store.plan_preferences(plan_id + 1000) is None
    assert await prefs_store.plan_preferences(plan_id) is not None


async def test_plan_preferences_match_the_snapshot(store: Store, prefs_store: PreferencesStore) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, tone="drill_sergeant", **RICH_ATHLETE)
    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False}))

    snapshot = await store.load_plan_snapshot(plan_id)
    plan_prefs = await prefs_store.plan_preferences(plan_id)

    assert snapshot is not None and plan_prefs == snapshot.prefs
    assert plan_prefs.model_dump() == {
        "timezone": NY,
        "quiet_hours_start_minute": 22 * 60,
        "quiet_hours_end_minute": 6 * 60,
        "evening_brief_minute": 21 * 60 + 30,
        "morning_hype_lead_minutes": 90,
        "weekly_digest_weekday": 2,
        "weekly_digest_minute": 17 * 60,
        "daily_cap": 6,
        "default_start_minute": 7 * 60,
        "coaching_tone": "drill_sergeant",
        "prefer_metric": False,
        "weekly_digest_enabled": False,
        "milestones_enabled": False,
    }


# ---- reschedule_session ----------------------------------------------------------------------------------------


async def test_reschedule_with_a_time_fixes_the_start(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    plan_id = await make_plan(store, new_user())
    first, second = await session_rows(db_sessionmaker, plan_id)
    await set_session(db_sessionmaker, first["id"], notification_metadata={"reminder": "sent", "attempt": 2})
    new_day = START + timedelta(days=4)

    moved = await prefs_store.reschedule_session(plan_id, first["id"], new_day, 6 * 60 + 45)

    assert moved == PlanSession(
        id=first["id"],
        planned_week=first["planned_week"],
        planned_session_type="Hill Ruck",
        scheduled_date=new_day,
        scheduled_start_minute=6 * 60 + 45,
        start_fixed=True,
        completion_status="planned",
    )
    row = await session_row(db_sessionmaker, first["id"])
    assert row == {
        **first,
        "scheduled_date": new_day,
        "scheduled_start_time": time(6, 45),
        "notification_metadata": {"reminder": "sent", "attempt": 2, "start_source": "athlete"},
    }
    assert await session_row(db_sessionmaker, second["id"]) == second
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    loaded = {s.id: s for s in snapshot.sessions}[first["id"]]
    assert (loaded.scheduled_date, loaded.scheduled_start_minute, loaded.start_fixed) == (new_day, 405, True)


async def test_reschedule_gives_a_time_to_a_session_without_one(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    plan_id = await make_plan(store, new_user())
    _, untimed = await session_rows(db_sessionmaker, plan_id)
    assert untimed["scheduled_start_time"] is None

    moved = await prefs_store.reschedule_session(plan_id, untimed["id"], untimed["scheduled_date"], 0)

    assert moved is not None
    assert (moved.scheduled_start_minute, moved.start_fixed) == (0, True)
    row = await session_row(db_sessionmaker, untimed["id"])
    assert row["scheduled_start_time"] == time(0, 0)
    assert row["notification_metadata"] == {"start_source": "athlete"}


async def test_reschedule_with_only_a_date_keeps_the_time(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    plan_id = await make_plan(store, new_user())
    first, _ = await session_rows(db_sessionmaker, plan_id)
    await set_session(db_sessionmaker, first["id"], notification_metadata={"reminder": "sent"})
    first = await session_row(db_sessionmaker, first["id"])
    new_day = START + timedelta(days=6)

    moved = await prefs_store.reschedule_session(plan_id, first["id"], new_day, None)

    assert moved is not None
    assert (moved.scheduled_date, moved.scheduled_start_minute, moved.start_fixed) == (new_day, 18 * 60, False)
    row = await session_row(db_sessionmaker, first["id"])
    assert row == {**first, "scheduled_date": new_day}
    assert row["scheduled_start_time"] == time(18, 0)
    assert row["notification_metadata"] == {"reminder": "sent"}
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    loaded = {s.id: s for s in snapshot.sessions}[first["id"]]
    assert (loaded.scheduled_date, loaded.scheduled_start_minute, loaded.start_fixed) == (new_day, 18 * 60, False)


async def test_reschedule_date_only_after_a_time_keeps_it_fixed(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    plan_id = await make_plan(store, new_user())
    first, _ = await session_rows(db_sessionmaker, plan_id)

    await prefs_store.reschedule_session(plan_id, first["id"], START + timedelta(days=2), 7 * 60)
    moved = await prefs_store.reschedule_session(plan_id, first["id"], START + timedelta(days=3), None)

    assert moved is not None
    assert (moved.scheduled_date, moved.scheduled_start_minute, moved.start_fixed) == (
        START + timedelta(days=3),
        7 * 60,
        True,
    )
    row = await session_row(db_sessionmaker, first["id"])
    assert (row["scheduled_date"], row["scheduled_start_time"]) == (START + timedelta(days=3), time(7, 0))
    assert row["notification_metadata"] == {"start_source": "athlete"}


async def test_reschedule_is_idempotent(store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions) -> None:
    plan_id = await make_plan(store, new_user())
    first, _ = await session_rows(db_sessionmaker, plan_id)
    new_day = START + timedelta(days=2)

    once = await prefs_store.reschedule_session(plan_id, first["id"], new_day, 630)
    after_once = await session_row(db_sessionmaker, first["id"])
    twice = await prefs_store.reschedule_session(plan_id, first["id"], new_day, 630)

    assert once == twice
    assert await session_row(db_sessionmaker, first["id"]) == after_once
    assert after_once["notification_metadata"] == {"start_source": "athlete"}


async def test_reschedule_over_non_object_metadata(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    plan_id = await make_plan(store, new_user())
    first, _ = await session_rows(db_sessionmaker, plan_id)
    await set_session(db_sessionmaker, first["id"], notification_metadata=["junk"])

    moved = await prefs_store.reschedule_session(plan_id, first["id"], START, 300)

    assert moved is not None and moved.start_fixed is True
    assert (await session_row(db_sessionmaker, first["id"]))["notification_metadata"] == {"start_source": "athlete"}


async def test_reschedule_of_another_plans_session_changes_nothing(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    mine = await make_plan(store, uid)
    other = await make_plan(store, new_user())
    own_sibling = await make_plan(store, uid, status=PlanStatus.PAUSED)  # same athlete, another plan: not this one's
    before = {p: await session_rows(db_sessionmaker, p) for p in (mine, other, own_sibling)}
    foreign = before[other][0]["id"]
    sibling = before[own_sibling][0]["id"]

    assert await prefs_store.reschedule_session(mine, foreign, START + timedelta(days=20), 600) is None
    assert await prefs_store.reschedule_session(mine, sibling, START + timedelta(days=20), None) is None
    assert await prefs_store.reschedule_session(mine, foreign + sibling + 1000, START, 600) is None

    assert {p: await session_rows(db_sessionmaker, p) for p in (mine, other, own_sibling)} == before
    assert before[other][0]["scheduled_date"] == START + timedelta(days=1)


# ---- the snooze, kept with the plan -----------------------------------------------------------------------


async def test_a_snooze_is_kept_with_the_plan_beside_its_other_modifications(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    plan_id = await make_plan(store, new_user())
    before = (await plan_row(db_sessionmaker, plan_id))["plan_modifications"]
    until = datetime(2027, 3, 14, 1, 30, tzinfo=timezone(timedelta(hours=-5)))  # New York's spring-forward night

    assert await prefs_store.save_snooze(plan_id, until)
    stored = (await plan_row(db_sessionmaker, plan_id))["plan_modifications"]
    assert stored == {**before, "notification_snoozed_until": "2027-03-14T06:30:00+00:00"}
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.snoozed_until == until

    assert await prefs_store.save_snooze(plan_id, None)
    assert (await plan_row(db_sessionmaker, plan_id))["plan_modifications"] == before
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.snoozed_until is None
    assert not await prefs_store.save_snooze(987_654, until)


@pytest.mark.parametrize("raw", ["tomorrow", "2027-03-14T06:30:00", 42, ["2027-03-14T06:30:00+00:00"]])
async def test_a_stored_snooze_that_is_not_an_aware_time_reads_as_none(
    store: Store, db_sessionmaker: Sessions, raw: Any
) -> None:
    plan_id = await make_plan(store, new_user())
    async with db_sessionmaker.begin() as session:
        await session.execute(
            update(UserCoachingPlan)
            .where(UserCoachingPlan.id == plan_id)
            .values(plan_modifications={"notification_snoozed_until": raw})
        )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.snoozed_until is None
