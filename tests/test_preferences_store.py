"""PreferencesStore on SQLite and PostgreSQL: what an athlete's preference change and session move write.

Every test reads the rows back or loads the plan the way the workflow does (``Store.load_plan_snapshot``), so a write
that lands in the wrong place, too widely or not at all fails here. Where things live (see ``activities.db``):

- RuckTracker's ``"user"`` row (:class:`AppUser`): zone, quiet hours, tone (as the client's display name) and units;
  its ``plan_notification_prefs`` JSON is RuckTracker's, read only for two fallbacks and never written;
- the service's ``coach_athlete_preferences`` (:class:`AthletePreferences`): everything else, NULL meaning "not set";
- the live plans (``user_coaching_plans``): the zone and the tone (a display name, the nine its CHECK accepts).

The ``store`` / ``db_sessionmaker`` fixtures run every test on SQLite, PostgreSQL and RuckTracker's own schema (with
its legacy athletes and plans beside the test's, and its ``UNIQUE (user_id, current_status)``: an athlete has at most
one plan of each status, so tests give each plan of one athlete its own status).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, inspect, null, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import AppUser, AthletePreferences, PlanSessionRow, UserCoachingPlan
from activities.demo import create_demo_plan, ensure_athlete
from activities.preferences_store import AthleteNotFound, PreferenceRefused, PreferencesStore
from activities.store import Store
from coaching.content import DISPLAY_NAMES, Tone
from coaching.models import Category, ChangePreferencesInput, PlanSession, PlanStatus
from tests import rucktracker

Sessions = async_sessionmaker[AsyncSession]

START = date(2026, 3, 9)
NY = "America/New_York"
BERLIN = "Europe/Berlin"
TIMESTAMPS = {"created_at", "updated_at"}
#: The columns of ``coach_athlete_preferences`` besides its key, all NULL ("not set") in a new row.
OWN_COLUMNS = (
    "evening_brief_minute",
    "morning_hype_lead_minutes",
    "weekly_digest_weekday",
    "weekly_digest_minute",
    "daily_cap",
    "default_start_minute",
    "weekly_digest_enabled",
    "milestones_enabled",
)


# ---- helpers -------------------------------------------------------------------------------------------------


def _columns(row: Any) -> dict[str, Any]:
    """A row's column values, without the timestamps (an UPDATE may bump ``updated_at``)."""
    return {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs if attr.key not in TIMESTAMPS}


def own(user_id: str, **values: Any) -> dict[str, Any]:
    """A ``coach_athlete_preferences`` row as ``own_row`` reads it: ``values`` set, every other column NULL."""
    unknown = set(values) - set(OWN_COLUMNS)
    assert not unknown, unknown
    return {"user_id": user_id, **dict.fromkeys(OWN_COLUMNS), **values}


async def user_row(db: Sessions, user_id: str) -> dict[str, Any] | None:
    """The athlete's ``"user"`` row (RuckTracker's), or None."""
    async with db() as session:
        row = await session.get(AppUser, user_id)
        return _columns(row) if row is not None else None


async def own_row(db: Sessions, user_id: str) -> dict[str, Any] | None:
    """The athlete's ``coach_athlete_preferences`` row (the service's), or None."""
    async with db() as session:
        row = await session.get(AthletePreferences, user_id)
        return _columns(row) if row is not None else None


async def athlete_rows(db: Sessions, user_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both rows of an athlete's preferences: ``"user"`` and ``coach_athlete_preferences``."""
    return await user_row(db, user_id), await own_row(db, user_id)


async def row_count(db: Sessions, model: type[Any]) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def counts(db: Sessions) -> tuple[int, int]:
    """How many ``"user"`` and ``coach_athlete_preferences`` rows there are (RuckTracker's schema starts with some)."""
    return await row_count(db, AppUser), await row_count(db, AthletePreferences)


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


async def set_user(db: Sessions, user_id: str, **values: Any) -> None:
    """Change the athlete's ``"user"`` columns directly, as RuckTracker would."""
    async with db.begin() as session:
        await session.execute(update(AppUser).where(AppUser.id == user_id).values(**values))


async def set_own(db: Sessions, user_id: str, **values: Any) -> None:
    """Change the athlete's existing ``coach_athlete_preferences`` row directly."""
    async with db.begin() as session:
        await session.execute(update(AthletePreferences).where(AthletePreferences.user_id == user_id).values(**values))


async def add_athlete(db: Sessions, user_id: str, **values: Any) -> None:
    """An athlete in ``"user"`` without any plan (as RuckTracker's sign-up leaves them)."""
    async with db.begin() as session:
        await ensure_athlete(session, user_id, values)


async def set_session(db: Sessions, plan_session_id: int, **values: Any) -> None:
    async with db.begin() as session:
        await session.execute(update(PlanSessionRow).where(PlanSessionRow.id == plan_session_id).values(**values))


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
    return await create_demo_plan(store, user_id=user_id, start_date=START, sessions=sessions, **kwargs)


def new_user() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def prefs_store(db_sessionmaker: Sessions) -> PreferencesStore:
    return PreferencesStore(db_sessionmaker)


#: RuckTracker's own keys in ``"user".plan_notification_prefs``: read as fallbacks only (Friday = 4, 08:00), and a key
#: of its own the service knows nothing about. Never written by the service.
RT_PREFS: dict[str, Any] = {"weekly_digest_day": "Friday", "default_start_minute": 480, "rt_theme": "dark"}

#: An athlete with every preference away from its default: the service's own row wins over RuckTracker's fallbacks.
RICH_ATHLETE: dict[str, Any] = {
    "quiet_hours": (22 * 60, 6 * 60),
    "evening_brief_minute": 21 * 60 + 30,
    "morning_hype_lead_minutes": 90,
    "weekly_digest_weekday": 2,
    "weekly_digest_minute": 17 * 60,
    "daily_cap": 6,
    "default_start_minute": 7 * 60,
    "milestones_enabled": False,
    "prefer_metric": False,
    "notification_prefs": RT_PREFS,
}
#: Its ``coach_athlete_preferences`` row.
RICH_OWN: dict[str, Any] = {
    "evening_brief_minute": 21 * 60 + 30,
    "morning_hype_lead_minutes": 90,
    "weekly_digest_weekday": 2,
    "weekly_digest_minute": 17 * 60,
    "daily_cap": 6,
    "default_start_minute": 7 * 60,
    "milestones_enabled": False,
}


async def test_the_rich_athlete_is_stored_where_ruck_tracker_and_the_service_keep_it(
    store: Store, db_sessionmaker: Sessions
) -> None:
    """The starting point of the tests below, read back once in full."""
    uid = new_user()
    plan_id = await make_plan(store, uid, tone="drill_sergeant", **RICH_ATHLETE)

    assert await athlete_rows(db_sessionmaker, uid) == (
        {
            "id": uid,
            "prefer_metric": False,
            "coaching_tone": "Drill Sergeant",
            "plan_notification_prefs": RT_PREFS,
            "plan_quiet_hours_start": 22 * 60,
            "plan_quiet_hours_end": 6 * 60,
            "plan_notification_timezone": NY,
        },
        own(uid, **RICH_OWN),
    )
    plan = await plan_row(db_sessionmaker, plan_id)
    assert (plan["coaching_personality"], plan["plan_notification_timezone"]) == ("Drill Sergeant", NY)


# ---- save_preferences: only what the change sets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "on_user", "on_own", "on_plan"),
    [
        ({"daily_cap": 3}, {}, {"daily_cap": 3}, {}),
        ({"evening_brief_minute": 19 * 60}, {}, {"evening_brief_minute": 19 * 60}, {}),
        ({"morning_hype_lead_minutes": 30}, {}, {"morning_hype_lead_minutes": 30}, {}),
        (
            {"weekly_digest_weekday": 0, "weekly_digest_minute": 9 * 60},
            {},
            {"weekly_digest_weekday": 0, "weekly_digest_minute": 9 * 60},
            {},
        ),
        ({"categories": {Category.WEEKLY_DIGEST: False}}, {}, {"weekly_digest_enabled": False}, {}),
        (
            {"timezone": BERLIN},
            {"plan_notification_timezone": BERLIN},
            {},
            {"plan_notification_timezone": BERLIN},
        ),
        (
            {"set_quiet_hours": True, "quiet_hours_start_minute": 23 * 60, "quiet_hours_end_minute": 5 * 60},
            {"plan_quiet_hours_start": 23 * 60, "plan_quiet_hours_end": 5 * 60},
            {},
            {},
        ),
        (
            {"coaching_tone": "drill_sergeant"},
            {"coaching_tone": "Drill Sergeant"},
            {},
            {"coaching_personality": "Drill Sergeant"},
        ),
    ],
    ids=["daily_cap", "evening_brief", "hype_lead", "weekly_digest_time", "category", "timezone", "quiet", "tone"],
)
async def test_partial_change_writes_only_its_columns(
    store: Store,
    prefs_store: PreferencesStore,
    db_sessionmaker: Sessions,
    change: dict[str, Any],
    on_user: dict[str, Any],
    on_own: dict[str, Any],
    on_plan: dict[str, Any],
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, **RICH_ATHLETE)
    before_user, before_own = await athlete_rows(db_sessionmaker, uid)
    before_plan = await plan_row(db_sessionmaker, plan_id)
    assert before_user is not None and before_own is not None

    await prefs_store.save_preferences(uid, ChangePreferencesInput(**change))

    after_user, after_own = await athlete_rows(db_sessionmaker, uid)
    assert after_user == {**before_user, **on_user}
    assert after_own == {**before_own, **on_own}
    # Only the zone and the tone reach the plan.
    assert await plan_row(db_sessionmaker, plan_id) == {**before_plan, **on_plan}
    # RuckTracker's JSON is never written.
    assert after_user["plan_notification_prefs"] == RT_PREFS


async def test_empty_change_writes_nothing(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    rich, plain = new_user(), new_user()
    rich_plan = await make_plan(store, rich, **RICH_ATHLETE)
    plain_plan = await make_plan(store, plain)
    rows_before = await counts(db_sessionmaker)
    before = {
        uid: (await athlete_rows(db_sessionmaker, uid), await plan_row(db_sessionmaker, plan_id))
        for uid, plan_id in ((rich, rich_plan), (plain, plain_plan))
    }
    assert before[plain][0][1] is None  # no preference of the service's own yet

    for uid in (rich, plain):
        await prefs_store.save_preferences(uid, ChangePreferencesInput())

    after = {
        uid: (await athlete_rows(db_sessionmaker, uid), await plan_row(db_sessionmaker, plan_id))
        for uid, plan_id in ((rich, rich_plan), (plain, plain_plan))
    }
    assert after == before
    assert await counts(db_sessionmaker) == rows_before


async def test_a_first_change_creates_the_services_row_with_only_what_it_sets(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, notification_prefs=RT_PREFS)
    assert await own_row(db_sessionmaker, uid) is None

    await prefs_store.save_preferences(uid, ChangePreferencesInput(daily_cap=3))
    assert await own_row(db_sessionmaker, uid) == own(uid, daily_cap=3)  # the rest stays "not set" (NULL)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(evening_brief_minute=19 * 60))
    assert await own_row(db_sessionmaker, uid) == own(uid, daily_cap=3, evening_brief_minute=19 * 60)

    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    prefs = snapshot.prefs
    assert (prefs.daily_cap, prefs.evening_brief_minute, prefs.morning_hype_lead_minutes) == (3, 19 * 60, 60)
    # NULL in the service's row: RuckTracker's keys still give these two.
    assert (prefs.weekly_digest_weekday, prefs.default_start_minute) == (4, 480)


async def test_quiet_hour_minutes_without_set_quiet_hours_are_ignored(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    await make_plan(store, uid, quiet_hours=(22 * 60, 6 * 60))
    before = await user_row(db_sessionmaker, uid)

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(quiet_hours_start_minute=60, quiet_hours_end_minute=120, daily_cap=2)
    )

    user = await user_row(db_sessionmaker, uid)
    assert user == before
    assert user is not None and (user["plan_quiet_hours_start"], user["plan_quiet_hours_end"]) == (22 * 60, 6 * 60)
    assert await own_row(db_sessionmaker, uid) == own(uid, daily_cap=2)


async def test_set_quiet_hours(store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid)

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(set_quiet_hours=True, quiet_hours_start_minute=23 * 60, quiet_hours_end_minute=420)
    )

    user = await user_row(db_sessionmaker, uid)
    assert user is not None
    assert (user["plan_quiet_hours_start"], user["plan_quiet_hours_end"]) == (23 * 60, 420)
    assert await own_row(db_sessionmaker, uid) is None  # quiet hours are RuckTracker's columns only
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.quiet_hours == (23 * 60, 420)


async def test_clearing_quiet_hours(store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, quiet_hours=(22 * 60, 6 * 60), daily_cap=5)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(set_quiet_hours=True))

    user = await user_row(db_sessionmaker, uid)
    assert user is not None
    assert user["plan_quiet_hours_start"] is None and user["plan_quiet_hours_end"] is None
    assert await own_row(db_sessionmaker, uid) == own(uid, daily_cap=5)
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.quiet_hours is None
    assert (await prefs_store.preferences(uid)).quiet_hours is None


# ---- categories (the service's own switches) --------------------------------------------------------------------


async def test_categories_are_the_services_own_switches_and_leave_the_json_alone(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, notification_prefs=RT_PREFS)

    async def switches() -> tuple[bool, bool]:
        snapshot = await store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        return snapshot.prefs.weekly_digest_enabled, snapshot.prefs.milestones_enabled

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False}))
    assert await own_row(db_sessionmaker, uid) == own(uid, weekly_digest_enabled=False)
    assert await switches() == (False, True)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.MILESTONE_ALERT: False}))
    assert await own_row(db_sessionmaker, uid) == own(uid, weekly_digest_enabled=False, milestones_enabled=False)
    assert await switches() == (False, False)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: True}))
    assert await own_row(db_sessionmaker, uid) == own(uid, weekly_digest_enabled=True, milestones_enabled=False)
    assert await switches() == (True, False)

    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["plan_notification_prefs"] == RT_PREFS


async def test_accountability_categories_are_not_written(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    await make_plan(store, uid, notification_prefs={"rt_theme": "dark"})
    before = await user_row(db_sessionmaker, uid)

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(categories={Category.EVENING_BRIEF: False, Category.MORNING_HYPE: False})
    )

    assert await athlete_rows(db_sessionmaker, uid) == (before, None)


async def test_categories_do_not_touch_the_preference_columns(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, **RICH_ATHLETE)
    before_user, before_own = await athlete_rows(db_sessionmaker, uid)
    before_plan = await plan_row(db_sessionmaker, plan_id)
    assert before_own is not None

    await prefs_store.save_preferences(uid, ChangePreferencesInput(categories={Category.MILESTONE_ALERT: True}))

    assert await athlete_rows(db_sessionmaker, uid) == (before_user, {**before_own, "milestones_enabled": True})
    assert await plan_row(db_sessionmaker, plan_id) == before_plan


#: Switches in RuckTracker's JSON, where the service kept them before: not the service's any more, never read.
LEGACY_SWITCHES = {"weekly_digest_enabled": False, "milestones_enabled": False}


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"weekly_digest_enabled": False, "milestones_enabled": False}, (False, False)),
        ({"weekly_digest_enabled": True, "milestones_enabled": False}, (True, False)),
        ({"weekly_digest_enabled": False, "milestones_enabled": True}, (False, True)),
        ({"weekly_digest_enabled": None, "milestones_enabled": None}, (True, True)),
        ({"daily_cap": 2}, (True, True)),
        ({}, (True, True)),
    ],
    ids=["both-off", "digest-on", "milestones-on", "null", "row-without-switches", "no-row"],
)
async def test_snapshot_category_flags_come_from_the_services_row_only(
    store: Store, prefs_store: PreferencesStore, stored: dict[str, Any], expected: tuple[bool, bool]
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, notification_prefs=LEGACY_SWITCHES, **stored)

    snapshot = await store.load_plan_snapshot(plan_id)

    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_enabled, snapshot.prefs.milestones_enabled) == expected
    prefs = await prefs_store.preferences(uid)
    assert (prefs.weekly_digest_enabled, prefs.milestones_enabled) == expected


@pytest.mark.parametrize("json_value", ["junk", ["weekly_digest_day"], None], ids=["string", "list", "sql-null"])
async def test_a_change_leaves_ruck_trackers_json_as_it_is_even_when_not_an_object(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions, json_value: Any
) -> None:
    """RuckTracker owns the column (nullable, any JSON): it is read as empty when it is not an object, and a change
    never rewrites it."""
    uid = new_user()
    plan_id = await make_plan(store, uid)
    await set_user(db_sessionmaker, uid, plan_notification_prefs=null() if json_value is None else json_value)
    before = await user_row(db_sessionmaker, uid)
    assert before is not None and before["plan_notification_prefs"] == json_value

    await prefs_store.save_preferences(
        uid, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False}, weekly_digest_weekday=1, daily_cap=7)
    )

    assert await athlete_rows(db_sessionmaker, uid) == (
        before,
        own(uid, weekly_digest_enabled=False, weekly_digest_weekday=1, daily_cap=7),
    )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_enabled, snapshot.prefs.weekly_digest_weekday) == (False, 1)
    assert snapshot.prefs.default_start_minute is None


# ---- RuckTracker's keys in plan_notification_prefs: fallbacks ----------------------------------------------------


@pytest.mark.parametrize(
    ("json_value", "expected"),
    [
        ({"weekly_digest_day": "Friday", "default_start_minute": 480}, (4, 480)),
        ({"weekly_digest_day": "Sunday", "default_start_minute": 0}, (6, 0)),
        ({"weekly_digest_day": " wednesday "}, (2, None)),
        ({"weekly_digest_day": "MONDAY", "rt_theme": "dark"}, (0, None)),
        ({"default_start_minute": 1439}, (6, 1439)),
        ({"weekly_digest_day": "Funday", "default_start_minute": "480"}, (6, None)),
        ({"weekly_digest_day": 3, "default_start_minute": True}, (6, None)),
        ({"weekly_digest_day": None, "default_start_minute": 7.5}, (6, None)),
        ({"default_start_minute": 1440}, (6, None)),
        ({"default_start_minute": -1}, (6, None)),
        ("Friday", (6, None)),
        (None, (6, None)),
    ],
)
async def test_ruck_trackers_keys_are_read_as_fallbacks(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions, json_value: Any, expected: tuple
) -> None:
    """``weekly_digest_day`` (a weekday's name) and ``default_start_minute`` (a minute of the day) are read when the
    service's row does not set them; anything else there is ignored, never failing the load."""
    uid = new_user()
    plan_id = await make_plan(store, uid)
    await set_user(db_sessionmaker, uid, plan_notification_prefs=null() if json_value is None else json_value)

    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    assert (snapshot.prefs.weekly_digest_weekday, snapshot.prefs.default_start_minute) == expected
    assert snapshot.prefs == await prefs_store.plan_preferences(plan_id) == await prefs_store.preferences(uid)
    assert snapshot.prefs.daily_cap == 4  # the rest is at its defaults


async def test_the_services_row_wins_over_ruck_trackers_keys(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, notification_prefs=RT_PREFS)

    async def digest_day_and_start() -> tuple[int, int | None]:
        snapshot = await store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        assert snapshot.prefs == await prefs_store.preferences(uid)
        return snapshot.prefs.weekly_digest_weekday, snapshot.prefs.default_start_minute

    assert await digest_day_and_start() == (4, 480)  # RuckTracker's Friday and 08:00

    await prefs_store.save_preferences(uid, ChangePreferencesInput(weekly_digest_weekday=1))
    assert await digest_day_and_start() == (1, 480)

    await set_own(db_sessionmaker, uid, default_start_minute=7 * 60)  # (no change sets it: RuckTracker's is the API's)
    assert await digest_day_and_start() == (1, 7 * 60)

    # Sunday (6), the default, stored by the service wins over RuckTracker's Friday too: NULL is "not set", 6 is not.
    await prefs_store.save_preferences(uid, ChangePreferencesInput(weekly_digest_weekday=6))
    assert await digest_day_and_start() == (6, 7 * 60)

    await set_own(db_sessionmaker, uid, weekly_digest_weekday=None, default_start_minute=None)
    assert await digest_day_and_start() == (4, 480)
    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["plan_notification_prefs"] == RT_PREFS  # read, never written


# ---- timezone and tone onto the live plans ---------------------------------------------------------------------


async def test_timezone_and_tone_reach_live_plans_only(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plans = {status: await make_plan(store, uid, tone="drill_sergeant", status=status) for status in PlanStatus}
    before = {status: await plan_row(db_sessionmaker, plan_id) for status, plan_id in plans.items()}
    assert {row["coaching_personality"] for row in before.values()} == {"Drill Sergeant"}

    await prefs_store.save_preferences(uid, ChangePreferencesInput(timezone=BERLIN, coaching_tone="supportive_friend"))

    for status, plan_id in plans.items():
        after = await plan_row(db_sessionmaker, plan_id)
        if status in (PlanStatus.ACTIVE, PlanStatus.PAUSED):
            expected = {
                **before[status],
                "plan_notification_timezone": BERLIN,
                "coaching_personality": "Supportive Friend",
            }
        else:
            expected = before[status]
        assert after == expected, status
        assert after["current_status"] == status.value
    user = await user_row(db_sessionmaker, uid)
    assert user is not None
    assert (user["plan_notification_timezone"], user["coaching_tone"]) == (BERLIN, "Supportive Friend")
    assert await own_row(db_sessionmaker, uid) is None  # zone and tone are RuckTracker's columns only


@pytest.mark.parametrize(("tone", "display"), [(t.value, name) for t, name in DISPLAY_NAMES.items()])
async def test_a_tone_is_stored_as_its_display_name_on_the_athlete_and_the_live_plans(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions, tone: str, display: str
) -> None:
    """Each of the client's nine tones: its display name on ``"user"`` and on the live plan (RuckTracker's CHECK there
    accepts it), and the canonical id when the plan is loaded. A plan that is over keeps its tone."""
    uid = new_user()
    other_tone = "yoga_instructor" if tone == "nature_lover" else "nature_lover"
    live = await make_plan(store, uid, tone=other_tone)
    done = await make_plan(store, uid, tone=other_tone, status=PlanStatus.COMPLETED)
    before_done = await plan_row(db_sessionmaker, done)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(coaching_tone=tone))

    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["coaching_tone"] == display
    assert (await plan_row(db_sessionmaker, live))["coaching_personality"] == display
    assert await plan_row(db_sessionmaker, done) == before_done
    snapshot = await store.load_plan_snapshot(live)
    assert snapshot is not None and snapshot.prefs.coaching_tone == tone
    assert (await prefs_store.preferences(uid)).coaching_tone == tone


async def test_drill_sergeant_is_stored_as_drill_sergeant_and_loads_as_its_id(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid)
    before_plan = await plan_row(db_sessionmaker, plan_id)
    assert before_plan["coaching_personality"] == "Supportive Friend"

    await prefs_store.save_preferences(uid, ChangePreferencesInput(coaching_tone="drill_sergeant"))

    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["coaching_tone"] == "Drill Sergeant"
    assert await plan_row(db_sessionmaker, plan_id) == {**before_plan, "coaching_personality": "Drill Sergeant"}
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.coaching_tone == "drill_sergeant"
    plan_prefs = await prefs_store.plan_preferences(plan_id)
    assert plan_prefs is not None and plan_prefs.coaching_tone == "drill_sergeant"


async def test_minimalist_is_stored_on_the_athlete_only(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    """The client offers no minimalist, so RuckTracker's plan CHECK refuses the name: it stays on ``"user"``, which the
    plan load prefers over the plan's own tone."""
    uid = new_user()
    plan_id = await make_plan(store, uid, tone="drill_sergeant")
    before_plan = await plan_row(db_sessionmaker, plan_id)

    await prefs_store.save_preferences(uid, ChangePreferencesInput(coaching_tone=Tone.MINIMALIST.value))

    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["coaching_tone"] == "minimalist"
    assert await plan_row(db_sessionmaker, plan_id) == before_plan  # still "Drill Sergeant"
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.coaching_tone == "minimalist"
    plan_prefs = await prefs_store.plan_preferences(plan_id)
    assert plan_prefs is not None and plan_prefs.coaching_tone == "minimalist"
    assert (await prefs_store.preferences(uid)).coaching_tone == "minimalist"

    # Back to the default: on the athlete and the plan, so the plan's old tone does not come back.
    await prefs_store.save_preferences(uid, ChangePreferencesInput(coaching_tone="supportive_friend"))
    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["coaching_tone"] == "Supportive Friend"
    assert (await plan_row(db_sessionmaker, plan_id))["coaching_personality"] == "Supportive Friend"
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.coaching_tone == "supportive_friend"


async def test_a_minimalist_plan_from_the_start(store: Store, db_sessionmaker: Sessions) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, tone="minimalist")

    assert (await plan_row(db_sessionmaker, plan_id))["coaching_personality"] == "Supportive Friend"
    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["coaching_tone"] == "minimalist"
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.coaching_tone == "minimalist"


#: A constraint the test adds (PostgreSQL only) so that the database refuses 'Drill Sergeant', and where: on the
#: athlete's row, or on the plans like RuckTracker's own ``valid_personality`` (whose name says what it guards).
REFUSING_CONSTRAINTS = {
    "on-user": ('"user"', "t_check", "coaching_tone"),
    "on-plan": ("user_coaching_plans", "t_valid_personality_strict", "coaching_personality"),
}


@pytest.mark.parametrize(
    "where",
    [
        "on-user",
        "on-plan",
    ],
)
async def test_a_tone_the_database_refuses_is_refused_and_nothing_is_written(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions, database_url: str, where: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("ALTER TABLE … ADD CONSTRAINT: PostgreSQL only")
    table, name, column = REFUSING_CONSTRAINTS[where]
    uid = new_user()
    plan_id = await make_plan(store, uid, **RICH_ATHLETE)
    before = (await athlete_rows(db_sessionmaker, uid), await plan_row(db_sessionmaker, plan_id))
    async with db_sessionmaker.begin() as session:
        # NOT VALID: RuckTracker's legacy rows hold 'Drill Sergeant' already; only new values are checked.
        await session.execute(
            text(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} <> 'Drill Sergeant') NOT VALID")
        )
    try:
        with pytest.raises(PreferenceRefused) as refused:
            await prefs_store.save_preferences(
                uid,
                ChangePreferencesInput(
                    coaching_tone="drill_sergeant",
                    timezone=BERLIN,
                    daily_cap=2,
                    categories={Category.WEEKLY_DIGEST: False},
                ),
            )
        # One transaction: the zone, the cap and the switch written before the refusal are gone with it.
        assert (await athlete_rows(db_sessionmaker, uid), await plan_row(db_sessionmaker, plan_id)) == before
        # A value the database refuses is the request's fault, said without the database's own words.
        assert refused.value.code == "invalid_request"
        assert "Drill Sergeant" not in refused.value.message and name not in refused.value.message
        assert refused.value.field == "coaching_tone"
    finally:
        async with db_sessionmaker.begin() as session:
            await session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    # Without the constraint the same tone is stored.
    await prefs_store.save_preferences(uid, ChangePreferencesInput(coaching_tone="drill_sergeant"))
    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["coaching_tone"] == "Drill Sergeant"


async def test_explicit_utc_is_not_shadowed_by_the_plans_old_zone(
    store: Store, prefs_store: PreferencesStore, db_sessionmaker: Sessions
) -> None:
    uid = new_user()
    plan_id = await make_plan(store, uid, timezone=NY)
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.timezone == NY

    await prefs_store.save_preferences(uid, ChangePreferencesInput(timezone="UTC"))

    assert (await plan_row(db_sessionmaker, plan_id))["plan_notification_timezone"] == "UTC"
    user = await user_row(db_sessionmaker, uid)
    assert user is not None and user["plan_notification_timezone"] == "UTC"
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
    assert plan["coaching_personality"] == "Supportive Friend"
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
