"""PreferencesStore on SQLite and PostgreSQL, athlete by athlete: an athlete RuckTracker does not know (or has
deleted) is refused with nothing written, one without plans can change preferences, a repeated change is idempotent,
two athletes are isolated, upper-case user ids are canonicalised, and on RuckTracker's own schema the change of an
athlete it created writes only the columns it sets. (Where things live: ``test_preferences_store.py``.)
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from activities.db import AppUser
from activities.preferences_store import AthleteNotFound, PreferencesStore
from activities.store import Store
from coaching.models import Category, ChangePreferencesInput, PlanStatus
from tests import rucktracker
from tests.preferences_store_helpers import (
    BERLIN,
    NY,
    RICH_ATHLETE,
    RICH_OWN,
    START,
    Sessions,
    add_athlete,
    athlete_rows,
    counts,
    make_plan,
    new_user,
    own,
    own_row,
    plan_row,
    session_rows,
)

# ---- unknown athletes, repeats, isolation, user id forms --------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"daily_cap": 9},
        {"categories": {Category.WEEKLY_DIGEST: False}},
        {"timezone": BERLIN},
        {"coaching_tone": "drill_sergeant"},
        {"set_quiet_hours": True, "quiet_hours_start_minute": 60, "quiet_hours_end_minute": 120},
        {"timezone": BERLIN, "daily_cap": 9, "evening_brief_minute": 1234, "coaching_tone": "minimalist"},
    ],
    ids=["own-only", "category-only", "zone-only", "tone-only", "quiet-only", "everything"],
)
async def test_an_athlete_without_a_user_row_is_refused_and_nothing_is_written(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions, change: dict[str, Any]
) -> None:
    """RuckTracker creates athletes, the service never does: no ``"user"`` row, no preferences (and no orphan row in
    ``coach_athlete_preferences``)."""
    other = new_user()
    other_plan = await make_plan(store, other, tone="drill_sergeant", **RICH_ATHLETE)
    other_before = (await athlete_rows(db_sessionmaker, other), await plan_row(db_sessionmaker, other_plan))
    rows_before = await counts(db_sessionmaker)
    stranger = new_user()

    with pytest.raises(AthleteNotFound) as missing:
        await prefs_store.save_preferences(stranger.upper(), ChangePreferencesInput(**change))

    assert missing.value.code == "athlete_not_found"
    assert stranger in missing.value.message
    assert await athlete_rows(db_sessionmaker, stranger) == (None, None)
    assert await counts(db_sessionmaker) == rows_before
    assert (await athlete_rows(db_sessionmaker, other), await plan_row(db_sessionmaker, other_plan)) == other_before
    assert await prefs_store.live_plans(stranger) == []


async def test_an_athlete_deleted_from_ruck_tracker_keeps_the_old_row_untouched(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    """Deleting the ``"user"`` row deletes the plans (RuckTracker's cascade) but not the service's row, which has no
    foreign key; a later change is refused without touching it."""
    uid = new_user()
    await make_plan(store, uid, **RICH_ATHLETE)
    async with db_sessionmaker.begin() as session:
        athlete = await session.get(AppUser, uid)
        assert athlete is not None
        await session.delete(athlete)
    assert await prefs_store.live_plans(uid) == []

    with pytest.raises(AthleteNotFound):
        await prefs_store.save_preferences(uid, ChangePreferencesInput(daily_cap=1, timezone=BERLIN))

    assert await athlete_rows(db_sessionmaker, uid) == (None, own(uid, **RICH_OWN))


async def test_an_athlete_without_plans_can_change_preferences(
    prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    await add_athlete(db_sessionmaker, uid)
    assert await prefs_store.live_plans(uid) == []
    assert (await prefs_store.preferences(uid)).timezone == "UTC"

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(timezone=BERLIN, evening_brief_minute=19 * 60, coaching_tone="drill_sergeant")
    )

    user, own_prefs = await athlete_rows(db_sessionmaker, uid)
    assert user is not None
    assert (user["plan_notification_timezone"], user["coaching_tone"]) == (BERLIN, "Drill Sergeant")
    assert own_prefs == own(uid, evening_brief_minute=19 * 60)
    prefs = await prefs_store.preferences(uid)
    assert (prefs.timezone, prefs.evening_brief_minute, prefs.daily_cap, prefs.coaching_tone) == (
        BERLIN,
        19 * 60,
        4,
        "drill_sergeant",
    )


async def test_repeating_a_change_is_idempotent(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    live = await make_plan(store, uid, tone="drill_sergeant", notification_prefs={"rt_theme": "dark"})
    cancelled = await make_plan(store, uid, tone="drill_sergeant", status=PlanStatus.CANCELLED)
    rows_before = await counts(db_sessionmaker)
    change = ChangePreferencesInput(
        timezone="UTC",
        coaching_tone="supportive_friend",
        set_quiet_hours=True,
        quiet_hours_start_minute=21 * 60,
        quiet_hours_end_minute=7 * 60,
        daily_cap=2,
        weekly_digest_weekday=4,
        categories={Category.WEEKLY_DIGEST: False, Category.MILESTONE_ALERT: True},
    )

    async def rows() -> tuple[Any, ...]:
        return (
            *await athlete_rows(db_sessionmaker, uid),
            await plan_row(db_sessionmaker, live),
            await plan_row(db_sessionmaker, cancelled),
        )

    await prefs_store.save_preferences(uid, change)
    first = await rows()
    await prefs_store.save_preferences(uid, change)
    second = await rows()

    assert second == first
    assert await counts(db_sessionmaker) == (rows_before[0], rows_before[1] + 1)  # the service's row, once
    user, own_prefs, live_plan, cancelled_plan = second
    assert user is not None
    assert user["plan_notification_prefs"] == {"rt_theme": "dark"}
    assert (user["plan_quiet_hours_start"], user["plan_quiet_hours_end"], user["coaching_tone"]) == (
        21 * 60,
        7 * 60,
        "Supportive Friend",
    )
    assert own_prefs == own(
        uid, daily_cap=2, weekly_digest_weekday=4, weekly_digest_enabled=False, milestones_enabled=True
    )
    assert (live_plan["plan_notification_timezone"], live_plan["coaching_personality"]) == ("UTC", "Supportive Friend")
    assert (cancelled_plan["plan_notification_timezone"], cancelled_plan["coaching_personality"]) == (
        NY,
        "Drill Sergeant",
    )


async def test_two_athletes_are_isolated(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    alice, bob = new_user(), new_user()
    alice_plan = await make_plan(store, alice, tone="drill_sergeant", **RICH_ATHLETE)
    bob_plan = await make_plan(store, bob, tone="drill_sergeant", **RICH_ATHLETE)
    bob_before = (await athlete_rows(db_sessionmaker, bob), await plan_row(db_sessionmaker, bob_plan))
    bob_sessions = await session_rows(db_sessionmaker, bob_plan)

    await prefs_store.save_preferences(
        alice,
        ChangePreferencesInput(
            timezone="UTC",
            coaching_tone="supportive_friend",
            set_quiet_hours=True,
            daily_cap=1,
            categories={Category.MILESTONE_ALERT: True, Category.WEEKLY_DIGEST: False},
        ),
    )
    alice_sessions = await session_rows(db_sessionmaker, alice_plan)
    moved = await prefs_store.reschedule_session(alice_plan, alice_sessions[0]["id"], START + timedelta(days=5), 600)
    assert moved is not None

    assert (await athlete_rows(db_sessionmaker, bob), await plan_row(db_sessionmaker, bob_plan)) == bob_before
    assert await session_rows(db_sessionmaker, bob_plan) == bob_sessions
    alice_own = await own_row(db_sessionmaker, alice)
    assert alice_own == own(
        alice, **{**RICH_OWN, "daily_cap": 1, "milestones_enabled": True}, weekly_digest_enabled=False
    )
    assert (await plan_row(db_sessionmaker, alice_plan))["plan_notification_timezone"] == "UTC"
    bob_snapshot = await store.load_plan_snapshot(bob_plan)
    assert bob_snapshot is not None
    assert (bob_snapshot.prefs.timezone, bob_snapshot.prefs.coaching_tone, bob_snapshot.prefs.daily_cap) == (
        NY,
        "drill_sergeant",
        6,
    )
    assert bob_snapshot.prefs.quiet_hours == (22 * 60, 6 * 60)
    assert (bob_snapshot.prefs.weekly_digest_enabled, bob_snapshot.prefs.milestones_enabled) == (True, False)
    assert await prefs_store.live_plans(bob) == [bob_plan]
    assert await prefs_store.live_plans(alice) == [alice_plan]


async def test_upper_case_user_ids_are_canonicalised(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    upper = uid.upper()
    plan_id = await make_plan(store, uid, timezone=NY, tone="drill_sergeant")
    rows_before = await counts(db_sessionmaker)

    assert await prefs_store.live_plans(upper) == [plan_id]
    assert (await prefs_store.preferences(upper)).timezone == NY

    await prefs_store.save_preferences(
        upper, ChangePreferencesInput(timezone="UTC", coaching_tone="supportive_friend", daily_cap=8)
    )

    assert await counts(db_sessionmaker) == (rows_before[0], rows_before[1] + 1)
    user, own_prefs = await athlete_rows(db_sessionmaker, uid)
    assert user is not None
    assert (user["id"], user["plan_notification_timezone"], user["coaching_tone"]) == (uid, "UTC", "Supportive Friend")
    assert own_prefs == own(uid, daily_cap=8)
    plan = await plan_row(db_sessionmaker, plan_id)
    assert (plan["plan_notification_timezone"], plan["coaching_personality"]) == ("UTC", "Supportive Friend")
    prefs = await prefs_store.preferences(upper)
    assert (prefs.timezone, prefs.coaching_tone, prefs.daily_cap) == ("UTC", "supportive_friend", 8)


async def test_upper_case_user_id_writes_the_canonical_athletes_rows(
    prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    await add_athlete(db_sessionmaker, uid)
    rows_before = await counts(db_sessionmaker)

    await prefs_store.save_preferences(uid.upper(), ChangePreferencesInput(daily_cap=3))
    await prefs_store.save_preferences(uid, ChangePreferencesInput(evening_brief_minute=1234))

    assert await counts(db_sessionmaker) == (rows_before[0], rows_before[1] + 1)
    assert await own_row(db_sessionmaker, uid) == own(uid, daily_cap=3, evening_brief_minute=1234)


async def test_a_rucktracker_athletes_change_writes_only_the_columns_it_sets(
    prefs_store: PreferencesStore, db_sessionmaker: Sessions, database_url: str, schema: str
) -> None:
    """On RuckTracker's own database, an athlete RuckTracker created (quiet hours, its own keys in the JSON, a Session
    Analyst plan): the change writes exactly the zone and tone columns of their ``"user"`` row and live plan, and the
    service's own row; every other row and column of RuckTracker's tables is as it was."""
    if schema != "rucktracker":
        pytest.skip("RuckTracker's legacy rows exist on its own schema only")
    uid, plan_id = rucktracker.USER_IDS["prefs"], rucktracker.PLAN_IDS["prefs_active"]
    before_prefs = await prefs_store.preferences(uid)
    assert (before_prefs.timezone, before_prefs.coaching_tone, before_prefs.quiet_hours) == (
        "Europe/London",
        "session_analyst",
        (1320, 390),
    )
    # RuckTracker's "Sunday" and 06:00 in its JSON.
    assert (before_prefs.weekly_digest_weekday, before_prefs.default_start_minute) == (6, 360)
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        tables = tuple(t for t in rucktracker.LEGACY_TABLES if t not in ("user", "user_coaching_plans"))
        others_before = await rucktracker.snapshot(conn, tables)
        users_before = {r["id"]: dict(r) for r in await conn.fetch('SELECT * FROM "user"')}
        plans_before = {r["id"]: dict(r) for r in await conn.fetch("SELECT * FROM user_coaching_plans")}

        await prefs_store.save_preferences(
            uid,
            ChangePreferencesInput(
                timezone=BERLIN,
                coaching_tone="drill_sergeant",
                evening_brief_minute=19 * 60,
                weekly_digest_weekday=2,
                categories={Category.WEEKLY_DIGEST: False},
            ),
        )

        assert await rucktracker.snapshot(conn, tables) == others_before
        users_after = {r["id"]: dict(r) for r in await conn.fetch('SELECT * FROM "user"')}
        plans_after = {r["id"]: dict(r) for r in await conn.fetch("SELECT * FROM user_coaching_plans")}
    finally:
        await conn.close()
    key = uuid.UUID(uid)
    assert users_after == {
        **users_before,
        key: {**users_before[key], "plan_notification_timezone": BERLIN, "coaching_tone": "Drill Sergeant"},
    }
    # (RuckTracker's own trigger stamps updated_at on the plan the change wrote.)
    assert plans_after[plan_id].pop("updated_at") >= plans_before[plan_id].pop("updated_at")
    assert plans_after == {
        **plans_before,
        plan_id: {
            **plans_before[plan_id],
            "plan_notification_timezone": BERLIN,
            "coaching_personality": "Drill Sergeant",
        },
    }
    assert await own_row(db_sessionmaker, uid) == own(
        uid, evening_brief_minute=19 * 60, weekly_digest_weekday=2, weekly_digest_enabled=False
    )
    prefs = await prefs_store.plan_preferences(plan_id)
    assert prefs is not None
    assert (prefs.timezone, prefs.coaching_tone, prefs.quiet_hours) == (BERLIN, "drill_sergeant", (1320, 390))
    assert (prefs.weekly_digest_weekday, prefs.default_start_minute, prefs.weekly_digest_enabled) == (2, 360, False)
