"""The athlete's changes over real HTTP on the PostgreSQL tier: preferences and a moved session round trip, and
a tone the database refuses (on the plans or on the athlete's row) is 422 on ``body.coaching_tone`` with nothing of
the change stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from activities.db import PlanSessionRow
from coaching.timeutil import to_local
from starter.api import create_app
from starter.sandbox import Stack, local_stack
from tests.api_preferences_helpers import (
    PREFERENCES,
    add_athlete,
    brief_of,
    fields_of,
    loaded_plan,
    reschedule_path,
    session_ids,
)
from tests.conftest import PostgresDatabase
from tests.preferences_store_helpers import own_row, plan_row, user_row
from tests.test_api import NY, TOKEN, error_of, serving
from tests.test_api_athlete import SECRET, bearer, token


@pytest.fixture(scope="module")
async def pg_base_url(postgres_database: PostgresDatabase) -> AsyncIterator[tuple[Stack, str]]:
    """A second, small stack on the PostgreSQL tier (its own Temporal test server: plan ids may repeat)."""
    url = await postgres_database.ensure()
    try:
        async with local_stack(url) as pg_stack:
            app = create_app(pg_stack.plans, service_token=TOKEN, store=pg_stack.store, jwt_secret=SECRET)
            async with serving(app) as base_url:
                yield pg_stack, base_url
    finally:
        await postgres_database.reset()


@pytest.mark.postgres
async def test_preferences_and_reschedule_round_trip_on_postgresql(pg_base_url: tuple[Stack, str]) -> None:
    pg_stack, base_url = pg_base_url
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        plan_id, uid = await loaded_plan(pg_stack, http)
        [sid] = await session_ids(pg_stack, plan_id)
        headers = bearer(token(uid))
        change = {"evening_brief_time": "19:45", "quiet_hours": {"start": "23:00", "end": "06:00"}}
        response = await http.patch(PREFERENCES, json=change, headers=headers)
        assert response.status_code == 200, response.text
        [plan] = response.json()["plans"]
        assert " 19:45 " in brief_of(plan, sid)["send_at_local"]
        read = (await http.get(PREFERENCES, headers=headers)).json()
        assert (read["evening_brief_time"], read["quiet_hours"]) == ("19:45", {"start": "23:00", "end": "06:00"})

        new_date = to_local(await pg_stack.now(), NY).date() + timedelta(days=4)
        move = {"scheduled_date": new_date.isoformat(), "start_time": "10:15"}
        moved = await http.post(reschedule_path(plan_id, sid), json=move, headers=headers)
        assert moved.status_code == 200, moved.text
        brief = brief_of(moved.json(), sid)
        assert f" {(new_date - timedelta(days=1)).isoformat()} 19:45 " in brief["send_at_local"], brief
        assert "10:15, the time you set for this session" in brief["reason"]
        async with pg_stack.store.sessionmaker() as session:
            row = await session.get(PlanSessionRow, sid)
            assert row is not None and row.scheduled_start_time is not None
            assert (row.scheduled_date, row.scheduled_start_time.strftime("%H:%M")) == (new_date, "10:15")


#: A stricter CHECK than RuckTracker's ``valid_personality`` on the plans, added (and dropped) by the test below.
STRICT = "t_valid_personality_strict"


@pytest.mark.postgres
async def test_a_tone_the_database_refuses_is_422_on_body_coaching_tone(pg_base_url: tuple[Stack, str]) -> None:
    """RuckTracker's CHECK on the plans refuses the display name (simulated: a stricter CHECK named like its
    ``valid_personality``): the workflow's save fails for good, the athlete hears 422 naming the field, and nothing
    of the change is stored; the plan's workflow keeps running and takes the next change."""
    pg_stack, base_url = pg_base_url
    db = pg_stack.store.sessionmaker
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        plan_id, uid = await loaded_plan(pg_stack, http)
        headers = bearer(token(uid))
        before = (await user_row(db, uid), await own_row(db, uid), await plan_row(db, plan_id))
        async with db.begin() as session:
            await session.execute(
                text(
                    f"ALTER TABLE user_coaching_plans ADD CONSTRAINT {STRICT} "
                    "CHECK (coaching_personality <> 'Drill Sergeant') NOT VALID"  # (only new values are checked)
                )
            )
        try:
            change = {"coaching_tone": "drill_sergeant", "daily_cap": 2, "timezone": "Europe/Berlin"}
            error = error_of(await http.patch(PREFERENCES, json=change, headers=headers), 422, "invalid_request")
            assert fields_of(error) == ["body.coaching_tone"], error
            assert (await user_row(db, uid), await own_row(db, uid), await plan_row(db, plan_id)) == before
            read = (await http.get(PREFERENCES, headers=headers)).json()
            assert (read["coaching_tone"], read["daily_cap"], read["timezone"]) == ("supportive_friend", 4, NY)
        finally:
            async with db.begin() as session:
                await session.execute(
                    text("ALTER TABLE user_coaching_plans DROP CONSTRAINT t_valid_personality_strict")
                )
        response = await http.patch(PREFERENCES, json=change, headers=headers)
        assert response.status_code == 200, response.text
        assert [p["plan_id"] for p in response.json()["plans"]] == [plan_id]
        assert (await plan_row(db, plan_id))["coaching_personality"] == "Drill Sergeant"


@pytest.mark.postgres
async def test_a_tone_refused_on_the_athletes_row_is_422_on_body_coaching_tone(
    pg_base_url: tuple[Stack, str],
) -> None:
    pg_stack, base_url = pg_base_url
    db = pg_stack.store.sessionmaker
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        uid = await add_athlete(pg_stack)  # no plan: the API stores the change itself
        headers = bearer(token(uid))
        before = (await user_row(db, uid), await own_row(db, uid))
        async with db.begin() as session:
            await session.execute(
                text(
                    """ALTER TABLE "user" ADD CONSTRAINT t_check CHECK (coaching_tone <> 'Drill Sergeant') NOT VALID"""
                )
            )
        try:
            change = {"coaching_tone": "drill_sergeant", "daily_cap": 2}
            error = error_of(await http.patch(PREFERENCES, json=change, headers=headers), 422, "invalid_request")
            assert (await user_row(db, uid), await own_row(db, uid)) == before
            assert fields_of(error) == ["body.coaching_tone"], error
        finally:
            async with db.begin() as session:
                await session.execute(text('ALTER TABLE "user" DROP CONSTRAINT t_check'))
