"""PreferencesStore on SQLite and PostgreSQL: what an athlete's preference change writes: only the columns it
sets, the quiet hours, the categories (the service's own switches) and RuckTracker's JSON (read for two fallbacks,
never written).

Every test reads the rows back or loads the plan the way the workflow does (``Store.load_plan_snapshot``), so a write
that lands in the wrong place, too widely or not at all fails here. Where things live (see ``activities.db``):

- RuckTracker's ``"user"`` row (:class:`AppUser`): zone, quiet hours, tone (as the client's display name) and units;
  its ``plan_notification_prefs`` JSON is RuckTracker's, read only for two fallbacks and never written;
- the service's ``coach_athlete_preferences`` (:class:`AthletePreferences`): everything else, NULL meaning "not set";
- the live plans (``user_coaching_plans``): the zone and the tone (a display name, the nine its CHECK accepts).

The ``store`` / ``db_sessionmaker`` fixtures run every test on SQLite, PostgreSQL and RuckTracker's own schema (with
its legacy athletes and plans beside the test's, and its ``UNIQUE (user_id, current_status)``: an athlete has at most
one plan of each status, so tests give each plan of one athlete its own status); so do those of the other
``test_preferences_store_*.py``: the zone and tone onto the live plans (``_tone``), athletes (``_athletes``), and the
reads, moving a session and the snooze (``_plans``).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import null

from activities.preferences_store import PreferencesStore
from activities.store import Store
from coaching.models import Category, ChangePreferencesInput
from tests.preferences_store_helpers import (
    BERLIN,
    NY,
    RICH_ATHLETE,
    RICH_OWN,
    RT_PREFS,
    Sessions,
    athlete_rows,
    counts,
    make_plan,
    new_user,
    own,
    own_row,
    plan_row,
    set_own,
    set_user,
    user_row,
)


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
