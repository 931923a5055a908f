"""The athlete's changes over real HTTP: authentication and ownership on the ``/v1/me/...`` endpoints, and the
preferences (``/v1/me/preferences``).

uvicorn on loopback in front of a real local stack (time-skipping Temporal, a migrated SQLite database and a worker
running the real workflow and activities). Each test makes its own athlete and plan, so the tests stay independent.
Dates are built from the stack's clock (the Temporal test server's), never the host's. Snoozing, moving a session and
a closed plan: ``test_api_preferences_plans.py``; the round trip on PostgreSQL: ``test_api_preferences_postgres.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from activities.db import AppUser, AthletePreferences
from starter.sandbox import Stack, wait_for
from tests.api_preferences_helpers import (
    PREFERENCES,
    add_athlete,
    brief_of,
    fields_of,
    loaded_plan,
    my_schedule,
    of_type,
    reload_plan,
    reschedule_path,
    session_ids,
    snooze_path,
)

# The stack, its server and a client (re-exported so that this module has a stack of its own).
from tests.api_preferences_helpers import base_url_fixture as base_url_fixture
from tests.api_preferences_helpers import http_fixture as http_fixture
from tests.api_preferences_helpers import stack_fixture as stack_fixture
from tests.preferences_store_helpers import own, own_row, plan_row, user_row
from tests.test_api import NY, error_of
from tests.test_api_athlete import bearer, make_plan, token

UNKNOWN_PLAN = 987_654_321


# ---- authentication and ownership -------------------------------------------------------------------------

BAD_TOKENS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "missing": (lambda uid: None, "missing"),
    "expired": (lambda uid: token(uid, expires_in=-60), "expired"),
    "wrong-signature": (lambda uid: token(uid, secret="another-secret-0123456789abcdef0123"), "signature"),
}


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("GET", "preferences", None),
        ("PATCH", "preferences", {"evening_brief_time": "19:00"}),
        ("POST", "snooze", {"duration_minutes": 60}),
        ("DELETE", "snooze", None),
        ("POST", "reschedule", {"start_time": "23:30"}),
    ],
)
@pytest.mark.parametrize("bad", list(BAD_TOKENS), ids=list(BAD_TOKENS))
async def test_a_bad_token_is_401_on_every_new_endpoint(
    stack: Stack, http: httpx.AsyncClient, method: str, route: str, body: Any, bad: str
) -> None:
    plan_id, uid = await make_plan(stack)  # the athlete's own plan: only the token is wrong
    path = {
        "preferences": PREFERENCES,
        "snooze": snooze_path(plan_id),
        "reschedule": reschedule_path(plan_id, (await session_ids(stack, plan_id))[0]),
    }[route]
    make, reason = BAD_TOKENS[bad]
    value = make(uid)
    headers = bearer(value) if value is not None else {}
    response = await http.request(method, path, json=body, headers=headers)
    error = error_of(response, 401, "unauthorized")
    assert reason in error["message"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_another_athletes_plan_is_404_for_snooze_cancel_and_reschedule(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, owner = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    _, intruder = await make_plan(stack)
    as_intruder = bearer(token(intruder))
    for method, path, body in [
        ("POST", snooze_path(plan_id), {"duration_minutes": 60}),
        ("DELETE", snooze_path(plan_id), None),
        ("POST", reschedule_path(plan_id, sid), {"start_time": "23:30"}),
    ]:
        error = error_of(await http.request(method, path, json=body, headers=as_intruder), 404, "plan_not_found")
        assert str(plan_id) in error["message"]
    # Nothing reached the owner's plan.
    schedule = await my_schedule(http, plan_id, owner)
    assert schedule["snoozed_until"] is None
    assert "23:30" not in brief_of(schedule, sid)["reason"]


async def test_an_unknown_plan_is_404(stack: Stack, http: httpx.AsyncClient) -> None:
    _, uid = await make_plan(stack)
    for method, path, body in [
        ("POST", snooze_path(UNKNOWN_PLAN), {"duration_minutes": 60}),
        ("DELETE", snooze_path(UNKNOWN_PLAN), None),
        ("POST", reschedule_path(UNKNOWN_PLAN, 1), {"start_time": "23:30"}),
    ]:
        response = await http.request(method, path, json=body, headers=bearer(token(uid)))
        assert str(UNKNOWN_PLAN) in error_of(response, 404, "plan_not_found")["message"]


# ---- preferences ------------------------------------------------------------------------------------------


async def test_the_preferences_of_a_new_athlete_are_the_defaults_with_what_stays_on(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    _, uid = await make_plan(stack)
    response = await http.get(PREFERENCES, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == NY and body["quiet_hours"] is None
    assert body["evening_brief_time"] == "20:00" and body["morning_hype_lead_minutes"] == 60
    assert body["weekly_digest"] == {"weekday": "sunday", "time": "18:00"}
    assert body["daily_cap"] == 4 and body["coaching_tone"] == "supportive_friend"
    assert all(body["categories"].values()) and len(body["categories"]) == 5
    assert body["always_on"] == ["evening_brief", "morning_hype", "missed_followup"]
    assert "quiet_hours" in body["adjust_instead"] and "snooze" in body["adjust_instead"]
    assert "plans" not in body  # only a change answers with the re-planned schedules


async def test_a_new_evening_brief_time_replans_every_live_plan_and_is_read_back(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    first, uid = await loaded_plan(stack, http)
    second, _ = await loaded_plan(stack, http, uid, "paused")  # preferences are the athlete's: both plans re-plan
    before = await my_schedule(http, first, uid)
    assert all(" 20:00 " in n["send_at_local"] for n in of_type(before, "plan_evening_brief"))

    response = await http.patch(PREFERENCES, json={"evening_brief_time": "19:15"}, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["evening_brief_time"] == "19:15"
    assert sorted(p["plan_id"] for p in body["plans"]) == sorted([first, second])
    for plan in body["plans"]:
        [sid] = await session_ids(stack, plan["plan_id"])
        brief = brief_of(plan, sid)
        assert " 19:15 " in brief["send_at_local"], brief
        assert "your evening brief time 19:15" in brief["reason"]
        # The plan's own schedule says the same afterwards.
        assert brief_of(await my_schedule(http, plan["plan_id"], uid), sid)["send_at"] == brief["send_at"]

    read = await http.get(PREFERENCES, headers=bearer(token(uid)))
    assert read.status_code == 200, read.text
    assert read.json()["evening_brief_time"] == "19:15" and "plans" not in read.json()


async def test_the_same_patch_twice_gives_the_same_preferences(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    change = {
        "quiet_hours": {"start": "22:30", "end": "06:45"},
        "morning_hype_lead_minutes": 90,
        "weekly_digest": {"weekday": "saturday", "time": "09:00"},
        "daily_cap": 3,
        "coaching_tone": "Drill Sergeant",
    }
    answers = []
    for _ in range(2):
        response = await http.patch(PREFERENCES, json=change, headers=bearer(token(uid)))
        assert response.status_code == 200, response.text
        answers.append(response.json())
    first, second = answers
    assert first["quiet_hours"] == {"start": "22:30", "end": "06:45"}
    assert first["morning_hype_lead_minutes"] == 90 and first["daily_cap"] == 3
    assert first["weekly_digest"] == {"weekday": "saturday", "time": "09:00"}
    assert first["coaching_tone"] == "drill_sergeant"  # the display name resolves to the tone's id

    def upcoming(answer: dict[str, Any]) -> list[tuple[str, str]]:
        [plan] = answer["plans"]
        assert plan["plan_id"] == plan_id
        return [(n["notification_id"], n["send_at"]) for n in plan["upcoming"]]

    assert {k: v for k, v in first.items() if k != "plans"} == {k: v for k, v in second.items() if k != "plans"}
    assert upcoming(first) == upcoming(second) and upcoming(first)
    [plan] = first["plans"]
    digests = of_type(plan, "plan_weekly_digest")
    assert digests and all(n["send_at_local"].startswith("Sat ") and " 09:00 " in n["send_at_local"] for n in digests)
    read = (await http.get(PREFERENCES, headers=bearer(token(uid)))).json()
    assert {k: v for k, v in read.items() if k != "plans"} == {k: v for k, v in first.items() if k != "plans"}

    # Stored where RuckTracker keeps them (the tone as the client's display name, on the athlete and the plan) and the
    # rest in the service's own row.
    db = stack.store.sessionmaker
    user = await user_row(db, uid)
    assert user is not None
    assert (user["plan_quiet_hours_start"], user["plan_quiet_hours_end"], user["coaching_tone"]) == (
        22 * 60 + 30,
        6 * 60 + 45,
        "Drill Sergeant",
    )
    assert (await plan_row(db, plan_id))["coaching_personality"] == "Drill Sergeant"
    assert await own_row(db, uid) == own(
        uid, morning_hype_lead_minutes=90, weekly_digest_weekday=5, weekly_digest_minute=9 * 60, daily_cap=3
    )


async def test_switching_the_weekly_digest_off_removes_it_from_the_schedule(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    assert of_type(await my_schedule(http, plan_id, uid), "plan_weekly_digest")

    response = await http.patch(PREFERENCES, json={"categories": {"weekly_digest": False}}, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["categories"]["weekly_digest"] is False and body["categories"]["evening_brief"] is True
    [plan] = body["plans"]
    assert not of_type(plan, "plan_weekly_digest")
    assert of_type(plan, "plan_evening_brief")  # the accountability reminders stay
    assert not of_type(await my_schedule(http, plan_id, uid), "plan_weekly_digest")
    assert (await http.get(PREFERENCES, headers=bearer(token(uid)))).json()["categories"]["weekly_digest"] is False


async def test_an_athlete_without_a_plan_can_change_and_read_preferences(stack: Stack, http: httpx.AsyncClient) -> None:
    uid = await add_athlete(stack)  # in RuckTracker's "user" table, without a plan
    headers = bearer(token(uid))
    change = {"timezone": "Europe/Berlin", "quiet_hours": {"start": "21:00", "end": "07:00"}, "daily_cap": 2}
    response = await http.patch(PREFERENCES, json=change, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["plans"] == []
    read = await http.get(PREFERENCES, headers=headers)
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["timezone"], body["quiet_hours"], body["daily_cap"]) == (
        "Europe/Berlin",
        {"start": "21:00", "end": "07:00"},
        2,
    )
    assert body["evening_brief_time"] == "20:00"  # left out of the change: unchanged
    user = await user_row(stack.store.sessionmaker, uid)
    assert user is not None
    assert (user["plan_notification_timezone"], user["plan_quiet_hours_start"], user["plan_quiet_hours_end"]) == (
        "Europe/Berlin",
        21 * 60,
        7 * 60,
    )
    assert await own_row(stack.store.sessionmaker, uid) == own(uid, daily_cap=2)

    # quiet_hours: null switches them off.
    off = await http.patch(PREFERENCES, json={"quiet_hours": None}, headers=headers)
    assert off.status_code == 200, off.text
    assert (await http.get(PREFERENCES, headers=headers)).json()["quiet_hours"] is None


async def test_an_athlete_unknown_to_rucktracker_is_404_athlete_not_found(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """The service never creates athletes: a valid token whose ``sub`` has no ``"user"`` row changes nothing."""
    uid = str(uuid.uuid4())
    db = stack.store.sessionmaker

    async def counts() -> tuple[int, int]:
        async with db() as session:
            users = await session.scalar(select(func.count()).select_from(AppUser))
            own_rows = await session.scalar(select(func.count()).select_from(AthletePreferences))
        return int(users or 0), int(own_rows or 0)

    before = await counts()
    for change in (
        {"daily_cap": 2},
        {"timezone": "Europe/Berlin", "coaching_tone": "drill_sergeant", "categories": {"weekly_digest": False}},
    ):
        response = await http.patch(PREFERENCES, json=change, headers=bearer(token(uid)))
        error = error_of(response, 404, "athlete_not_found")
        assert uid in error["message"], error
    assert await user_row(db, uid) is None and await own_row(db, uid) is None
    assert await counts() == before


async def test_minimalist_is_kept_on_the_athlete_and_the_plan_keeps_a_name_it_accepts(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    db = stack.store.sessionmaker
    before = await plan_row(db, plan_id)

    response = await http.patch(PREFERENCES, json={"coaching_tone": "Minimalist"}, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    assert response.json()["coaching_tone"] == "minimalist"
    [plan] = response.json()["plans"]
    assert plan["plan_id"] == plan_id

    user = await user_row(db, uid)
    assert user is not None and user["coaching_tone"] == "minimalist"
    assert await plan_row(db, plan_id) == before  # 'Supportive Friend': RuckTracker's CHECK has no minimalist
    await reload_plan(stack, http, plan_id)
    assert (await http.get(PREFERENCES, headers=bearer(token(uid)))).json()["coaching_tone"] == "minimalist"
    prefs = await stack.store.load_plan_snapshot(plan_id)
    assert prefs is not None and prefs.prefs.coaching_tone == "minimalist"


async def test_a_new_time_zone_replans_the_live_plan(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    response = await http.patch(PREFERENCES, json={"timezone": "Europe/Berlin"}, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "Europe/Berlin"
    [plan] = body["plans"]
    assert plan["timezone"] == "Europe/Berlin"
    brief = brief_of(plan, sid)
    assert " 20:00 CE" in brief["send_at_local"], brief  # 20:00 Berlin time (CET or CEST)
    assert (await my_schedule(http, plan_id, uid))["timezone"] == "Europe/Berlin"
    assert (await http.get(PREFERENCES, headers=bearer(token(uid)))).json()["timezone"] == "Europe/Berlin"


async def test_changed_preferences_survive_a_reload_of_the_plan(stack: Stack, http: httpx.AsyncClient) -> None:
    """What the workflow answered is what it stored: a reload from the database plans the same."""
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    change = {"evening_brief_time": "19:15", "categories": {"weekly_digest": False}}
    response = await http.patch(PREFERENCES, json=change, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    [answered] = response.json()["plans"]

    await reload_plan(stack, http, plan_id)
    schedule = await my_schedule(http, plan_id, uid)
    assert brief_of(schedule, sid)["send_at"] == brief_of(answered, sid)["send_at"]
    assert " 19:15 " in brief_of(schedule, sid)["send_at_local"]
    assert not of_type(schedule, "plan_weekly_digest")


async def test_a_plan_whose_workflow_is_not_running_reads_the_stored_change_when_it_starts(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await make_plan(stack)  # live in the database, never started
    [sid] = await session_ids(stack, plan_id)
    response = await http.patch(PREFERENCES, json={"evening_brief_time": "18:40"}, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    assert response.json()["plans"] == [] and response.json()["evening_brief_time"] == "18:40"

    await stack.plans.start_plan(plan_id)

    async def brief() -> dict[str, Any] | None:
        schedule = await my_schedule(http, plan_id, uid)
        return brief_of(schedule, sid) if schedule["upcoming"] else None

    assert " 18:40 " in (await wait_for(brief))["send_at_local"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "body.timezone"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "body.quiet_hours"),
        ({"coaching_tone": "sarcastic_robot"}, "body.coaching_tone"),
        ({"evening_brief_sound": "gong"}, "body.evening_brief_sound"),
        ({"evening_brief_time": "25:00"}, "body.evening_brief_time"),
    ],
    ids=["unknown-zone", "zero-length-quiet-hours", "unknown-tone", "unknown-field", "bad-clock"],
)
async def test_an_invalid_preference_is_422_naming_the_field(
    stack: Stack, http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    _, uid = await make_plan(stack)
    response = await http.patch(PREFERENCES, json=body, headers=bearer(token(uid)))
    error = error_of(response, 422, "invalid_request")
    assert fields_of(error) == [field], error
    # Nothing was written.
    read = (await http.get(PREFERENCES, headers=bearer(token(uid)))).json()
    assert (read["timezone"], read["quiet_hours"], read["coaching_tone"]) == (NY, None, "supportive_friend")


async def test_switching_off_an_accountability_category_is_refused_with_what_can_be_adjusted(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    body = {"categories": {"evening_brief": False}, "evening_brief_time": "19:00"}
    error = error_of(await http.patch(PREFERENCES, json=body, headers=bearer(token(uid))), 422, "invalid_request")
    [problem] = error["fields"]
    assert problem["field"] == "body.categories.evening_brief"
    assert "quiet_hours" in problem["message"] and "snooze" in problem["message"]
    assert "can't be switched off" in problem["message"]
    # Refused as a whole: the brief time that came with it was not applied either.
    assert (await http.get(PREFERENCES, headers=bearer(token(uid)))).json()["evening_brief_time"] == "20:00"
    assert all(
        " 20:00 " in n["send_at_local"] for n in of_type(await my_schedule(http, plan_id, uid), "plan_evening_brief")
    )
