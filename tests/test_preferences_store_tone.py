"""PreferencesStore on SQLite and PostgreSQL: the zone and the tone of a change reach the athlete's row and
their live plans only. The tone is stored as its display name (minimalist, which RuckTracker's plan CHECK does not
know, on the athlete alone), a tone the database refuses is refused with nothing written, and neither an explicit
UTC nor the default tone is shadowed by the plan's old value. (Where things live: ``test_preferences_store.py``.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from activities.preferences_store import PreferenceRefused, PreferencesStore
from activities.store import Store
from coaching.models import Category, ChangePreferencesInput, PlanStatus
from coaching.tones import DISPLAY_NAMES, Tone
from tests.preferences_store_helpers import (
    BERLIN,
    NY,
    RICH_ATHLETE,
    Sessions,
    athlete_rows,
    make_plan,
    new_user,
    own_row,
    plan_row,
    user_row,
)

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
