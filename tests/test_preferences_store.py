"""PreferencesStore on SQLite and PostgreSQL: what an athlete's preference change and session move write.

Every test reads the rows back (``user_profiles``, ``user_coaching_plans``, ``plan_sessions``) or loads the plan
the way the workflow does (``Store.load_plan_snapshot``), so a write that lands in the wrong place, too widely or
not at all fails here. The ``store`` / ``db_sessionmaker`` fixtures run every test on both databases.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import PlanSessionRow, UserCoachingPlan, UserProfile
from activities.preferences_store import PreferencesStore
from activities.store import Store
from coaching.models import Category, ChangePreferencesInput, PlanSession, PlanStatus

Sessions = async_sessionmaker[AsyncSession]

START = date(2026, 3, 9)
NY = "America/New_York"
BERLIN = "Europe/Berlin"
TIMESTAMPS = {"created_at", "updated_at"}


# ---- helpers -------------------------------------------------------------------------------------------------


def _columns(row: Any) -> dict[str, Any]:
    """A row's column values, without the timestamps (an UPDATE may bump ``updated_at``)."""
    return {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs if attr.key not in TIMESTAMPS}


async def profile_row(db: Sessions, user_id: str) -> dict[str, Any] | None:
    async with db() as session:
        row = await session.get(UserProfile, user_id)
        return _columns(row) if row is not None else None


async def profile_count(db: Sessions) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(UserProfile)) or 0)


async def plan_row(db: Sessions, plan_id: int) -> dict[str, Any]:
    async with db() as session:
        row = await session.get(UserCoachingPlan, plan_id)
        assert row is not None
        return _columns(row)


async def session_rows(db: Sessions, plan_id: int) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.scalars(
            select(PlanSessionRow).where(PlanSessionRow.user_coaching_plan_id == plan_id).order_by(PlanSessionRow.id)
        )
        return [_columns(row) for row in rows]


async def session_row(db: Sessions, plan_session_id: int) -> dict[str, Any]:
    async with db() as session:
        row = await session.get(PlanSessionRow, plan_session_id)
        assert row is not None
        return _columns(row)


async def set_profile(db: Sessions, user_id: str, **values: Any) -> None:
    async with db.begin() as session:
        await session.execute(update(UserProfile).where(UserProfile.user_id == user_id).values(**values))


async def set_session(db: Sessions, plan_session_id: int, **values: Any) -> None:
    async with db.begin() as session:
        await session.execute(update(PlanSessionRow).where(PlanSessionRow.id == plan_session_id).values(**values))


async def delete_profile(db: Sessions, user_id: str) -> None:
    async with db.begin() as session:
        profile = await session.get(UserProfile, user_id)
        assert profile is not None
        await session.delete(profile)


async def make_plan(store: Store, user_id: str, **kwargs: Any) -> int:
    """A plan with two sessions (18:00 on START+1, no time on START+3) for ``user_id``."""
    sessions = kwargs.pop(
        "sessions",
        [
            {
                "scheduled_date": START + timedelta(days=1),
                "planned_session_type": "Hill Ruck",
                "scheduled_start_time": "18:00",
            },
            {"scheduled_date": START + timedelta(days=3), "planned_session_type": "Long Ruck"},
        ],
    )
    kwargs.setdefault("timezone", NY)
    return await store.create_demo_plan(user_id=user_id, start_date=START, sessions=sessions, **kwargs)


def new_user() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def prefs_store(db_sessionmaker: Sessions) -> PreferencesStore:
    return PreferencesStore(db_sessionmaker)


#: A profile with every preference away from its default, and RuckTracker's own key in the JSON.
RICH_PROFILE: dict[str, Any] = {
    "quiet_hours": (22 * 60, 6 * 60),
    "evening_brief_minute": 21 * 60 + 30,
    "morning_hype_lead_minutes": 90,
    "weekly_digest_weekday": 2,
    "weekly_digest_minute": 17 * 60,
    "daily_cap": 6,
    "default_start_minute": 7 * 60,
    "prefer_metric": False,
    "notification_prefs": {"default_start_minute": 420, "rt_theme": "dark", "milestones_enabled": False},
}


# ---- save_preferences: only what the change sets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"daily_cap": 3}, {"plan_daily_cap": 3}),
        ({"evening_brief_minute": 19 * 60}, {"plan_evening_brief_minute": 19 * 60}),
        ({"morning_hype_lead_minutes": 30}, {"plan_morning_hype_lead_minutes": 30}),
        (
            {"weekly_digest_weekday": 0, "weekly_digest_minute": 9 * 60},
            {"plan_weekly_digest_weekday": 0, "plan_weekly_digest_minute": 9 * 60},
        ),
        ({"timezone": BERLIN}, {"plan_notification_timezone": BERLIN}),
        ({"coaching_tone": "drill_sergeant"}, {"coaching_tone": "drill_sergeant"}),
    ],
    ids=["daily_cap", "evening_brief", "hype_lead", "weekly_digest_time", "timezone", "tone"],
)
async def test_partial_change_writes_only_its_columns(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions, change: dict[str, Any], expected: dict
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, **RICH_PROFILE)
    before = await profile_row(db_sessionmaker, uid)
    assert before is not None

    await prefs_store.save_preferences(uid, ChangePreferencesInput(**change))

    after = await profile_row(db_sessionmaker, uid)
    assert after == {**before, **expected}
    assert after["plan_quiet_hours_start"] == 22 * 60 and after["plan_quiet_hours_end"] == 6 * 60
    assert after["plan_notification_prefs"] == RICH_PROFILE["notification_prefs"]
    plan = await plan_row(db_sessionmaker, plan_id)
    # Only the zone and the tone reach the plan.
    assert plan["plan_notification_timezone"] == (BERLIN if "timezone" in change else NY)
    assert plan["coaching_personality"] == change.get("coaching_tone", "supportive_friend")


async def test_empty_change_writes_nothing(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, **RICH_PROFILE)
    before_profile, before_plan = await profile_row(db_sessionmaker, uid), await plan_row(db_sessionmaker, plan_id)

    await prefs_store.save_preferences(uid, ChangePreferencesInput())

    assert await profile_row(db_sessionmaker, uid) == before_profile
    assert await plan_row(db_sessionmaker, plan_id) == before_plan


async def test_quiet_hour_minutes_without_set_quiet_hours_are_ignored(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    await make_plan(store, uid, quiet_hours=(22 * 60, 6 * 60))

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(quiet_hours_start_minute=60, quiet_hours_end_minute=120, daily_cap=2)
    )

    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert (profile["plan_quiet_hours_start"], profile["plan_quiet_hours_end"]) == (22 * 60, 6 * 60)
    assert profile["plan_daily_cap"] == 2


async def test_set_quiet_hours(store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid)

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(set_quiet_hours=True, quiet_hours_start_minute=23 * 60, quiet_hours_end_minute=420)
    )

    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert (profile["plan_quiet_hours_start"], profile["plan_quiet_hours_end"]) == (23 * 60, 420)
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.quiet_hours == (23 * 60, 420)


async def test_clearing_quiet_hours(store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, quiet_hours=(22 * 60, 6 * 60), daily_cap=5)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(set_quiet_hours=True))

    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert profile["plan_quiet_hours_start"] is None and profile["plan_quiet_hours_end"] is None
    assert profile["plan_daily_cap"] == 5
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.quiet_hours is None
    assert (await prefs_store.preferences(uid)).quiet_hours is None


# ---- categories (plan_notification_prefs JSON) -----------------------------------------------------------------


async def test_categories_merge_into_json_keeping_other_keys(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, notification_prefs={"default_start_minute": 420, "rt_theme": "dark"})

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False}))
    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert profile["plan_notification_prefs"] == {
        "default_start_minute": 420,
        "rt_theme": "dark",
        "weekly_digest_enabled": False,
    }
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_enabled, snapshot.prefs.milestones_enabled) == (False, True)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.MILESTONE_ALERT: False}))
    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert profile["plan_notification_prefs"] == {
        "default_start_minute": 420,
        "rt_theme": "dark",
        "weekly_digest_enabled": False,
        "milestones_enabled": False,
    }
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_enabled, snapshot.prefs.milestones_enabled) == (False, False)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: True}))
    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert profile["plan_notification_prefs"]["weekly_digest_enabled"] is True
    assert profile["plan_notification_prefs"]["milestones_enabled"] is False
    assert profile["plan_notification_prefs"]["default_start_minute"] == 420
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_enabled, snapshot.prefs.milestones_enabled) == (True, False)


async def test_accountability_categories_are_not_written(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    await make_plan(store, uid, notification_prefs={"rt_theme": "dark"})

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(categories={Category.EVENING_BRIEF: False, Category.MORNING_HYPE: False})
    )

    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert profile["plan_notification_prefs"] == {"rt_theme": "dark"}


async def test_categories_do_not_touch_the_preference_columns(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, **RICH_PROFILE)
    before = await profile_row(db_sessionmaker, uid)
    before_plan = await plan_row(db_sessionmaker, plan_id)
    assert before is not None

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.MILESTONE_ALERT: True}))

    after = await profile_row(db_sessionmaker, uid)
    assert after == {
        **before,
        "plan_notification_prefs": {**RICH_PROFILE["notification_prefs"], "milestones_enabled": True},
    }
    assert await plan_row(db_sessionmaker, plan_id) == before_plan


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"weekly_digest_enabled": False, "milestones_enabled": False}, (False, False)),
        ({"weekly_digest_enabled": True, "milestones_enabled": False}, (True, False)),
        ({"weekly_digest_enabled": "false", "milestones_enabled": "false"}, (True, True)),
        ({"weekly_digest_enabled": 0, "milestones_enabled": None}, (True, True)),
        ({"weekly_digest_enabled": [False], "milestones_enabled": {"on": False}}, (True, True)),
        ({}, (True, True)),
    ],
    ids=["both-off", "digest-on", "strings", "zero-null", "junk", "absent"],
)
async def test_snapshot_category_flags_count_only_real_booleans(
    store: Store, stored: dict[str, Any], expected: tuple[bool, bool]
) -> None:
    plan_id = await make_plan(store, new_user(), notification_prefs=stored)

    snapshot = await store.load_plan_snapshot(plan_id)

    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_enabled, snapshot.prefs.milestones_enabled) == expected


async def test_category_change_tolerates_non_object_prefs_json(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    """RuckTracker owns the column; ``_prefs`` already treats a non-object there as empty. A change must too."""
    uid = new_user()
    plan_id = await make_plan(store, uid)
    await set_profile(db_sessionmaker, uid, plan_notification_prefs="junk")

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False}))

    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert profile["plan_notification_prefs"] == {"weekly_digest_enabled": False}
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.weekly_digest_enabled is False


# ---- timezone and tone onto the live plans ---------------------------------------------------------------------


async def test_timezone_and_tone_reach_live_plans_only(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plans = {status: await make_plan(store, uid, tone="drill_sergeant") for status in PlanStatus}
    for status, plan_id in plans.items():
        await store.set_plan_status(plan_id, status)
    before = {status: await plan_row(db_sessionmaker, plan_id) for status, plan_id in plans.items()}

    await prefs_store.save_preferences(uid, ChangePreferencesInput(timezone=BERLIN, coaching_tone="supportive_friend"))

    for status, plan_id in plans.items():
        after = await plan_row(db_sessionmaker, plan_id)
        if status in (PlanStatus.ACTIVE, PlanStatus.PAUSED):
            expected = {
                **before[status],
                "plan_notification_timezone": BERLIN,
                "coaching_personality": "supportive_friend",
            }
        else:
            expected = before[status]
        assert after == expected, status
        assert after["current_status"] == status.value
    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert (profile["plan_notification_timezone"], profile["coaching_tone"]) == (BERLIN, "supportive_friend")


async def test_explicit_utc_is_not_shadowed_by_the_plans_old_zone(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, timezone=NY)
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.timezone == NY

    await prefs_store.save_preferences(uid, ChangePreferencesInput(timezone="UTC"))

    assert (await plan_row(db_sessionmaker, plan_id))["plan_notification_timezone"] == "UTC"
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.timezone == "UTC"
    plan_prefs = await prefs_store.plan_preferences(plan_id)
    assert plan_prefs is not None and plan_prefs.timezone == "UTC"
    assert (await prefs_store.preferences(uid)).timezone == "UTC"


async def test_default_tone_is_not_shadowed_by_the_plans_old_tone(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, tone="drill_sergeant")
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.coaching_tone == "drill_sergeant"

    await prefs_store.save_preferences(uid, ChangePreferencesInput(coaching_tone="supportive_friend"))

    plan = await plan_row(db_sessionmaker, plan_id)
    assert plan["coaching_personality"] == "supportive_friend"
    assert plan["plan_notification_timezone"] == NY
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert snapshot.prefs.coaching_tone == "supportive_friend"
    assert snapshot.prefs.timezone == NY


async def test_paused_plan_resumes_with_the_new_zone(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, timezone=NY)
    await store.set_plan_status(plan_id, PlanStatus.PAUSED)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(timezone="UTC"))
    await store.set_plan_status(plan_id, PlanStatus.ACTIVE)

    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.status, snapshot.prefs.timezone) == (PlanStatus.ACTIVE, "UTC")


# ---- profile creation, repeats, isolation, user id forms -----------------------------------------------------------


async def test_creates_the_profile_when_missing(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, timezone=NY, tone="drill_sergeant")
    await delete_profile(db_sessionmaker, uid)
    assert await profile_row(db_sessionmaker, uid) is None

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(timezone=BERLIN, daily_cap=9, categories={Category.WEEKLY_DIGEST: False})
    )

    profile = await profile_row(db_sessionmaker, uid)
    assert profile == {
        "user_id": uid,
        "display_name": None,
        "coaching_tone": "supportive_friend",
        "prefer_metric": True,
        "plan_notification_timezone": BERLIN,
        "plan_quiet_hours_start": None,
        "plan_quiet_hours_end": None,
        "plan_evening_brief_minute": 1200,
        "plan_morning_hype_lead_minutes": 60,
        "plan_weekly_digest_weekday": 6,
        "plan_weekly_digest_minute": 1080,
        "plan_daily_cap": 9,
        "plan_default_start_minute": None,
        "plan_notification_prefs": {"weekly_digest_enabled": False},
    }
    plan = await plan_row(db_sessionmaker, plan_id)
    assert (plan["plan_notification_timezone"], plan["coaching_personality"]) == (BERLIN, "drill_sergeant")
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.prefs.timezone, snapshot.prefs.coaching_tone, snapshot.prefs.daily_cap) == (
        BERLIN,
        "drill_sergeant",
        9,
    )
    assert snapshot.prefs.weekly_digest_enabled is False


async def test_creates_a_profile_for_an_athlete_without_plans(
    prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    assert await prefs_store.live_plans(uid) == []
    assert (await prefs_store.preferences(uid)).timezone == "UTC"

    await prefs_store.save_preferences(uid, ChangePreferencesInput(timezone=BERLIN, evening_brief_minute=19 * 60))

    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert (profile["plan_notification_timezone"], profile["plan_evening_brief_minute"]) == (BERLIN, 19 * 60)
    prefs = await prefs_store.preferences(uid)
    assert (prefs.timezone, prefs.evening_brief_minute, prefs.daily_cap) == (BERLIN, 19 * 60, 4)


async def test_repeating_a_change_is_idempotent(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    live = await make_plan(store, uid, tone="drill_sergeant", notification_prefs={"rt_theme": "dark"})
    cancelled = await make_plan(store, uid, tone="drill_sergeant")
    await store.set_plan_status(cancelled, PlanStatus.CANCELLED)
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

    await prefs_store.save_preferences(uid, change)
    first = (
        await profile_row(db_sessionmaker, uid),
        await plan_row(db_sessionmaker, live),
        await plan_row(db_sessionmaker, cancelled),
    )
    await prefs_store.save_preferences(uid, change)
    second = (
        await profile_row(db_sessionmaker, uid),
        await plan_row(db_sessionmaker, live),
        await plan_row(db_sessionmaker, cancelled),
    )

    assert second == first
    assert await profile_count(db_sessionmaker) == 1
    profile, live_plan, cancelled_plan = second
    assert profile is not None
    assert profile["plan_notification_prefs"] == {
        "rt_theme": "dark",
        "weekly_digest_enabled": False,
        "milestones_enabled": True,
    }
    assert (profile["plan_quiet_hours_start"], profile["plan_quiet_hours_end"], profile["plan_daily_cap"]) == (
        21 * 60,
        7 * 60,
        2,
    )
    assert (live_plan["plan_notification_timezone"], live_plan["coaching_personality"]) == ("UTC", "supportive_friend")
    assert (cancelled_plan["plan_notification_timezone"], cancelled_plan["coaching_personality"]) == (
        NY,
        "drill_sergeant",
    )


async def test_two_athletes_are_isolated(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    alice, bob = new_user(), new_user()
    alice_plan = await make_plan(store, alice, tone="drill_sergeant", **RICH_PROFILE)
    bob_plan = await make_plan(store, bob, tone="drill_sergeant", **RICH_PROFILE)
    bob_before = (await profile_row(db_sessionmaker, bob), await plan_row(db_sessionmaker, bob_plan))
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

    assert (await profile_row(db_sessionmaker, bob), await plan_row(db_sessionmaker, bob_plan)) == bob_before
    assert await session_rows(db_sessionmaker, bob_plan) == bob_sessions
    alice_profile = await profile_row(db_sessionmaker, alice)
    assert alice_profile is not None and alice_profile["plan_daily_cap"] == 1
    assert (await plan_row(db_sessionmaker, alice_plan))["plan_notification_timezone"] == "UTC"
    bob_snapshot = await store.load_plan_snapshot(bob_plan)
    assert bob_snapshot is not None
    assert (bob_snapshot.prefs.timezone, bob_snapshot.prefs.coaching_tone, bob_snapshot.prefs.daily_cap) == (
        NY,
        "drill_sergeant",
        6,
    )
    assert bob_snapshot.prefs.quiet_hours == (22 * 60, 6 * 60)
    assert await prefs_store.live_plans(bob) == [bob_plan]
    assert await prefs_store.live_plans(alice) == [alice_plan]


async def test_upper_case_user_ids_are_canonicalised(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    upper = uid.upper()
    plan_id = await make_plan(store, uid, timezone=NY, tone="drill_sergeant")

    assert await prefs_store.live_plans(upper) == [plan_id]
    assert (await prefs_store.preferences(upper)).timezone == NY

    await prefs_store.save_preferences(
        upper, ChangePreferencesInput(timezone="UTC", coaching_tone="supportive_friend", daily_cap=8)
    )

    assert await profile_count(db_sessionmaker) == 1
    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert (profile["user_id"], profile["plan_notification_timezone"], profile["plan_daily_cap"]) == (uid, "UTC", 8)
    plan = await plan_row(db_sessionmaker, plan_id)
    assert (plan["plan_notification_timezone"], plan["coaching_personality"]) == ("UTC", "supportive_friend")
    prefs = await prefs_store.preferences(upper)
    assert (prefs.timezone, prefs.coaching_tone, prefs.daily_cap) == ("UTC", "supportive_friend", 8)


async def test_upper_case_user_id_creates_a_canonical_profile(
    prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()

    await prefs_store.save_preferences(uid.upper(), ChangePreferencesInput(daily_cap=3))
    await prefs_store.save_preferences(uid, ChangePreferencesInput(evening_brief_minute=1234))

    assert await profile_count(db_sessionmaker) == 1
    profile = await profile_row(db_sessionmaker, uid)
    assert profile is not None
    assert (profile["user_id"], profile["plan_daily_cap"], profile["plan_evening_brief_minute"]) == (uid, 3, 1234)


# ---- reads: live_plans, preferences, plan_preferences ----------------------------------------------------------


async def test_live_plans_are_active_and_paused_newest_first(store: Store, prefs_store: PreferencesStore) -> None:
    uid = new_user()
    first = await make_plan(store, uid)
    second = await make_plan(store, uid)
    third = await make_plan(store, uid)
    fourth = await make_plan(store, uid)
    await make_plan(store, new_user())  # another athlete's plan
    await store.set_plan_status(second, PlanStatus.PAUSED)
    await store.set_plan_status(third, PlanStatus.CANCELLED)
    await store.set_plan_status(fourth, PlanStatus.COMPLETED)

    assert await prefs_store.live_plans(uid) == [second, first]


async def test_preferences_follow_the_newest_live_plan(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    older = await make_plan(store, uid, timezone=NY, tone="drill_sergeant")
    newer = await make_plan(store, uid, timezone=BERLIN)
    # The profile back at the defaults (as RuckTracker creates it): the plans' own values decide.
    await set_profile(db_sessionmaker, uid, plan_notification_timezone="UTC", coaching_tone="supportive_friend")

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
    plan_id = await make_plan(store, uid, tone="drill_sergeant", **RICH_PROFILE)
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
    own_sibling = await make_plan(store, uid)  # same athlete, another plan: still not this plan's session
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
