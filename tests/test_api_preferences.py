"""The athlete's changes over real HTTP: preferences, snooze and moving a session (``/v1/me/...``).

uvicorn on loopback in front of a real local stack (time-skipping Temporal, a migrated SQLite database and a worker
running the real workflow and activities); one test repeats a round trip on PostgreSQL. Each test makes its own
athlete and plan, so the tests stay independent. Dates are built from the stack's clock (the Temporal test
server's), never the host's; the two tests that skip time come last, after every test that needs the clock near
the plans it made.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from temporalio.client import WorkflowExecutionStatus

from activities.db import AppUser, AthletePreferences, PlanSessionRow
from activities.demo import ensure_athlete
from coaching.timeutil import to_local
from starter.api import create_app
from starter.sandbox import Stack, local_stack, wait_for
from tests.conftest import PostgresDatabase
from tests.test_api import NY, TOKEN, error_of, serving
from tests.test_api_athlete import SECRET, bearer, make_plan, token
from tests.test_preferences_store import own, own_row, plan_row, user_row

SERVICE = {"Authorization": f"Bearer {TOKEN}"}
PREFERENCES = "/v1/me/preferences"
UNKNOWN_PLAN = 987_654_321


@pytest.fixture(scope="module")
async def stack(module_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(module_database_url) as s:
        yield s


@pytest.fixture(scope="module")
async def base_url(stack: Stack) -> AsyncIterator[str]:
    app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret=SECRET)
    async with serving(app) as url:
        yield url


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


# ---- helpers ----------------------------------------------------------------------------------------------


def snooze_path(plan_id: int) -> str:
    return f"/v1/me/plans/{plan_id}/snooze"


def reschedule_path(plan_id: int, session_id: int) -> str:
    return f"/v1/me/plans/{plan_id}/sessions/{session_id}/reschedule"


async def session_ids(stack: Stack, plan_id: int) -> list[int]:
    async with stack.store.sessionmaker() as session:
        ids = await session.scalars(
            select(PlanSessionRow.id).where(PlanSessionRow.user_coaching_plan_id == plan_id).order_by(PlanSessionRow.id)
        )
        return list(ids)


async def add_athlete(stack: Stack) -> str:
    """An athlete in RuckTracker's ``"user"`` table without any plan; returns the user id."""
    uid = str(uuid.uuid4())
    async with stack.store.sessionmaker.begin() as session:
        await ensure_athlete(session, uid, {})
    return uid


async def my_schedule(http: httpx.AsyncClient, plan_id: int, uid: str) -> dict[str, Any]:
    response = await http.get(f"/v1/me/plans/{plan_id}/schedule", headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def loaded_plan(
    stack: Stack, http: httpx.AsyncClient, user_id: str | None = None, status: str = "active"
) -> tuple[int, str]:
    """A started plan (one session, two days ahead) whose workflow has loaded it; returns plan id and user id."""
    plan_id, uid = await make_plan(stack, user_id, status=status)
    await stack.plans.start_plan(plan_id)

    async def loaded() -> bool:
        return bool((await my_schedule(http, plan_id, uid))["upcoming"])

    await wait_for(loaded)
    return plan_id, uid


async def reload_plan(stack: Stack, http: httpx.AsyncClient, plan_id: int) -> None:
    """Make the workflow reload the plan from the database, and wait until it has (the load after the signal
    completed and a workflow task processed it)."""
    response = await http.post(f"/v1/plans/{plan_id}/sessions/changed", json={"reason": "test"}, headers=SERVICE)
    assert response.status_code == 202, response.text

    async def reloaded() -> bool:
        signalled, loaded = False, False
        loads: set[int] = set()
        async for event in stack.plans.handle(plan_id).fetch_history_events():
            if event.HasField("workflow_execution_signaled_event_attributes"):
                signalled, loads, loaded = True, set(), False
            elif signalled and event.HasField("activity_task_scheduled_event_attributes"):
                if event.activity_task_scheduled_event_attributes.activity_type.name == "load_plan":
                    loads.add(event.event_id)
            elif event.HasField("activity_task_completed_event_attributes"):
                loaded = loaded or event.activity_task_completed_event_attributes.scheduled_event_id in loads
            elif loaded and event.HasField("workflow_task_completed_event_attributes"):
                return True
        return False

    await wait_for(reloaded)


def of_type(schedule: dict[str, Any], ntype: str) -> list[dict[str, Any]]:
    return [n for n in schedule["upcoming"] if n["type"] == ntype]


def brief_of(schedule: dict[str, Any], session_id: int) -> dict[str, Any]:
    [brief] = [n for n in of_type(schedule, "plan_evening_brief") if n["plan_session_id"] == session_id]
    return brief


def fields_of(error: dict[str, Any]) -> list[str]:
    return [f["field"] for f in error["fields"]]


async def local_now(stack: Stack) -> datetime:
    return to_local(await stack.now(), NY)


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


# ---- snooze -----------------------------------------------------------------------------------------------


async def test_snoozing_again_replaces_the_snooze_end(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    headers = bearer(token(uid))
    now = await stack.now()
    long_until = now + timedelta(days=3)
    asked = long_until.astimezone(timezone(timedelta(hours=5, minutes=45))).isoformat()  # asked at +05:45
    first = await http.post(snooze_path(plan_id), json={"until": asked}, headers=headers)
    assert first.status_code == 200, first.text
    answered = datetime.fromisoformat(first.json()["snoozed_until"])
    assert answered == long_until and answered.utcoffset() == timedelta(0)  # answered in UTC, like a duration
    held = [n for n in first.json()["upcoming"] if "you snoozed reminders until" in n["reason"]]
    assert {n["type"] for n in held} >= {"plan_evening_brief"}, first.json()["upcoming"]

    # A shorter snooze replaces the longer one (it is not the later of the two).
    second = await http.post(snooze_path(plan_id), json={"duration_minutes": 30}, headers=headers)
    assert second.status_code == 200, second.text
    until = datetime.fromisoformat(second.json()["snoozed_until"])
    assert now + timedelta(minutes=30) <= until <= await stack.now() + timedelta(minutes=30)
    assert datetime.fromisoformat((await my_schedule(http, plan_id, uid))["snoozed_until"]) == until


async def test_cancelling_a_snooze_twice_is_200_both_times(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    headers = bearer(token(uid))
    snoozed = await http.post(
        snooze_path(plan_id), json={"until": ((await stack.now()) + timedelta(days=4)).isoformat()}, headers=headers
    )
    assert snoozed.status_code == 200, snoozed.text
    assert any("snoozed" in n["reason"] for n in snoozed.json()["upcoming"])
    for _ in range(2):
        response = await http.delete(snooze_path(plan_id), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["plan_id"] == plan_id and body["snoozed_until"] is None
        assert body["upcoming"] and not any("snoozed" in n["reason"] for n in body["upcoming"])
    assert (await my_schedule(http, plan_id, uid))["snoozed_until"] is None


@pytest.mark.parametrize(
    ("make_body", "field", "words"),
    [
        (lambda now: {"until": (now + timedelta(hours=1)).isoformat(), "duration_minutes": 30}, "body", "either"),
        (lambda now: {}, "body", "either"),
        (lambda now: {"duration_minutes": 7 * 24 * 60 + 1}, "body.duration_minutes", "10080"),
        (lambda now: {"until": (now + timedelta(days=7, minutes=5)).isoformat()}, "body.until", "at most 7 days"),
        (lambda now: {"until": (now - timedelta(minutes=5)).isoformat()}, "body.until", "not in the future"),
        (lambda now: {"until": "2030-01-01T09:00:00"}, "body.until", "timezone"),
        # Absurd times are refused at the edge, before the snooze's own rules (starter.bounds).
        (lambda now: {"until": "0001-01-01T00:00:00+14:00"}, "body.until", "from 2000-01-01 to before 2100-01-01"),
        (lambda now: {"until": "9999-12-31T23:59:59-12:00"}, "body.until", "from 2000-01-01 to before 2100-01-01"),
        (lambda now: {"until": "2030-01-01T09:00:00+23:59"}, "body.until", "offset must be within ±18:00"),
    ],
    ids=[
        "both",
        "neither",
        "duration-over-7-days",
        "until-over-7-days",
        "until-past",
        "until-naive",
        "until-year-1",
        "until-year-9999",
        "until-offset-23:59",
    ],
)
async def test_an_invalid_snooze_is_422_naming_the_field(
    stack: Stack, http: httpx.AsyncClient, make_body: Any, field: str, words: str
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    response = await http.post(snooze_path(plan_id), json=make_body(await stack.now()), headers=bearer(token(uid)))
    error = error_of(response, 422, "invalid_request")
    assert fields_of(error) == [field], error
    assert words in error["fields"][0]["message"]
    assert (await my_schedule(http, plan_id, uid))["snoozed_until"] is None


# ---- reschedule -------------------------------------------------------------------------------------------


async def test_a_rescheduled_session_has_its_brief_on_the_new_date(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    new_date = (await local_now(stack)).date() + timedelta(days=5)
    response = await http.post(
        reschedule_path(plan_id, sid), json={"scheduled_date": new_date.isoformat()}, headers=bearer(token(uid))
    )
    assert response.status_code == 200, response.text
    body = response.json()
    brief = brief_of(body, sid)
    assert f" {(new_date - timedelta(days=1)).isoformat()} 20:00 " in brief["send_at_local"], brief
    assert new_date.strftime("%A") in brief["reason"]
    [hype] = [n for n in of_type(body, "plan_morning_hype") if n["plan_session_id"] == sid]
    assert f" {new_date.isoformat()} " in hype["send_at_local"]
    assert brief_of(await my_schedule(http, plan_id, uid), sid)["send_at"] == brief["send_at"]


async def test_a_start_time_set_by_the_athlete_is_the_reason(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    new_date = (await local_now(stack)).date() + timedelta(days=3)
    change = {"scheduled_date": new_date.isoformat(), "start_time": "09:30"}
    response = await http.post(reschedule_path(plan_id, sid), json=change, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body = response.json()
    brief = brief_of(body, sid)
    assert "09:30, the time you set for this session" in brief["reason"], brief
    [hype] = [n for n in of_type(body, "plan_morning_hype") if n["plan_session_id"] == sid]
    assert f" {new_date.isoformat()} 08:30 " in hype["send_at_local"]  # 60 min before the start the athlete set
    assert "the time you set for this session" in hype["reason"]


async def test_a_reschedule_into_the_past_is_422_naming_the_field(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    headers = bearer(token(uid))
    before = brief_of(await my_schedule(http, plan_id, uid), sid)

    now = await local_now(stack)
    yesterday = now.date() - timedelta(days=1)
    response = await http.post(
        reschedule_path(plan_id, sid), json={"scheduled_date": yesterday.isoformat()}, headers=headers
    )
    error = error_of(response, 422, "invalid_request")
    assert fields_of(error) == ["body.scheduled_date"], error
    assert "in the past" in error["fields"][0]["message"]

    # Today, at a time that has passed (an hour ago, or midnight just after it).
    earlier = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0, microsecond=0))
    change = {"scheduled_date": now.date().isoformat(), "start_time": earlier.strftime("%H:%M")}
    response = await http.post(reschedule_path(plan_id, sid), json=change, headers=headers)
    error = error_of(response, 422, "invalid_request")
    assert fields_of(error) == ["body.start_time"], error
    assert "in the past" in error["fields"][0]["message"]

    assert brief_of(await my_schedule(http, plan_id, uid), sid)["send_at"] == before["send_at"]  # not moved


async def test_a_reschedule_too_far_ahead_or_of_a_completed_session_is_422(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    headers = bearer(token(uid))
    far = (await local_now(stack)).date() + timedelta(days=400)
    response = await http.post(reschedule_path(plan_id, sid), json={"scheduled_date": far.isoformat()}, headers=headers)
    error = error_of(response, 422, "invalid_request")
    assert fields_of(error) == ["body.scheduled_date"] and "more than a year ahead" in error["message"]

    done = {"ruck_id": 777, "completed_at": (await stack.now()).isoformat(), "source": "app", "plan_session_id": sid}
    reported = await http.post(f"/v1/plans/{plan_id}/sessions/completed", json=done, headers=SERVICE)
    assert reported.status_code == 202, reported.text

    async def counted() -> bool:
        return bool((await my_schedule(http, plan_id, uid))["completions"] == 1)

    await wait_for(counted)
    soon = (await local_now(stack)).date() + timedelta(days=3)
    response = await http.post(
        reschedule_path(plan_id, sid), json={"scheduled_date": soon.isoformat()}, headers=headers
    )
    error = error_of(response, 422, "invalid_request")
    assert fields_of(error) == ["path.session_id"] and "already completed" in error["message"]


async def test_a_session_of_another_plan_is_404_session_not_found(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    other_plan, _ = await make_plan(stack, uid, status="paused")  # the same athlete's other plan
    [other_session] = await session_ids(stack, other_plan)
    response = await http.post(
        reschedule_path(plan_id, other_session), json={"start_time": "10:00"}, headers=bearer(token(uid))
    )
    error = error_of(response, 404, "session_not_found")
    assert fields_of(error) == ["path.session_id"]
    assert str(other_session) in error["message"]


async def test_a_start_time_set_by_the_athlete_survives_a_reload_of_the_plan(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    new_date = (await local_now(stack)).date() + timedelta(days=4)
    change = {"scheduled_date": new_date.isoformat(), "start_time": "10:45"}
    response = await http.post(reschedule_path(plan_id, sid), json=change, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    answered = brief_of(response.json(), sid)

    await reload_plan(stack, http, plan_id)
    brief = brief_of(await my_schedule(http, plan_id, uid), sid)
    assert brief["send_at"] == answered["send_at"]
    assert "10:45, the time you set for this session" in brief["reason"], brief


async def test_a_change_no_worker_answers_in_time_is_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An update waits at most UPDATE_TIMEOUT_SECONDS for the workflow (here: no worker on its task queue), then
    the athlete hears a retryable 503 instead of hanging. (A stack of its own: a workflow nobody serves would hold
    the shared stack's time skipping.)"""
    import starter.client
    from starter.client import PlanNotifications

    monkeypatch.setattr(starter.client, "UPDATE_TIMEOUT_SECONDS", 0.5)
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/unserved.db") as own:
        plan_id, uid = await make_plan(own)
        unserved = PlanNotifications(own.client, task_queue=f"nobody-listens-{uuid.uuid4()}")
        await unserved.start_plan(plan_id)
        app = create_app(unserved, service_token=TOKEN, store=own.store, jwt_secret=SECRET)
        async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
            body = {"duration_minutes": 60}
            response = await client.post(snooze_path(plan_id), json=body, headers=bearer(token(uid)))
    error_of(response, 503, "temporarily_unavailable")


async def test_a_plan_without_a_running_workflow_is_404(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await make_plan(stack)  # the athlete's own, never started
    [sid] = await session_ids(stack, plan_id)
    headers = bearer(token(uid))
    for method, path, body in [
        ("POST", snooze_path(plan_id), {"duration_minutes": 60}),
        ("DELETE", snooze_path(plan_id), None),
        ("POST", reschedule_path(plan_id, sid), {"start_time": "23:30"}),
    ]:
        error_of(await http.request(method, path, json=body, headers=headers), 404, "plan_not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"start_time": "7:30"}, "body.start_time"),
        ({"scheduled_date": "tomorrow"}, "body.scheduled_date"),
        ({"start_time": "10:00", "reason": "rain"}, "body.reason"),
    ],
    ids=["nothing", "bad-clock", "bad-date", "unknown-field"],
)
async def test_an_invalid_reschedule_body_is_422_naming_the_field(
    stack: Stack, http: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    plan_id, uid = await make_plan(stack)
    [sid] = await session_ids(stack, plan_id)
    response = await http.post(reschedule_path(plan_id, sid), json=body, headers=bearer(token(uid)))
    assert fields_of(error_of(response, 422, "invalid_request")) == [field]


# ---- a closed plan ----------------------------------------------------------------------------------------


async def test_a_cancelled_plan_answers_409_plan_closed(stack: Stack, http: httpx.AsyncClient) -> None:
    # Loaded first: a cancel that arrives before the workflow's first load is overwritten by the row's status.
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    cancelled = await http.post(f"/v1/plans/{plan_id}/cancel", json={"reason": "changed goals"}, headers=SERVICE)
    assert cancelled.status_code == 202, cancelled.text

    async def ended() -> bool:
        return await stack.plans.execution_status(plan_id) is WorkflowExecutionStatus.COMPLETED

    await wait_for(ended)
    headers = bearer(token(uid))
    error = error_of(
        await http.post(snooze_path(plan_id), json={"duration_minutes": 60}, headers=headers), 409, "plan_closed"
    )
    assert "completed" in error["message"]  # to_workflow: an ended workflow is 409, not 404
    error_of(await http.delete(snooze_path(plan_id), headers=headers), 409, "plan_closed")
    response = await http.post(reschedule_path(plan_id, sid), json={"start_time": "23:30"}, headers=headers)
    error_of(response, 409, "plan_closed")

    # The athlete's preferences can still change: with no running plan they are simply stored.
    patched = await http.patch(PREFERENCES, json={"evening_brief_time": "19:05"}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["plans"] == []
    assert (await http.get(PREFERENCES, headers=headers)).json()["evening_brief_time"] == "19:05"


# ---- PostgreSQL ---------------------------------------------------------------------------------------------


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


# ---- time passes (last: these move the module's clock on) -------------------------------------------------------


async def test_a_reminder_held_by_a_snooze_goes_out_after_it_or_is_dropped(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    brief = brief_of(await my_schedule(http, plan_id, uid), sid)
    until = datetime.fromisoformat(brief["send_at"]) + timedelta(minutes=30)

    response = await http.post(snooze_path(plan_id), json={"until": until.isoformat()}, headers=bearer(token(uid)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert datetime.fromisoformat(body["snoozed_until"]) == until
    held = brief_of(body, sid)
    assert "you snoozed reminders until" in held["reason"], held
    assert datetime.fromisoformat(held["send_at"]) == until  # held to the snooze's end (still useful then)

    await stack.advance_to(until + timedelta(minutes=5))

    async def decided() -> Any:
        rows = [r for r in await stack.ledger(plan_id) if r.notification_id == brief["notification_id"]]
        return rows[0] if rows and rows[0].status.value in ("sent", "skipped") else None

    row = await wait_for(decided)
    assert row.notification_type == "plan_evening_brief"
    if row.status.value == "sent":
        assert row.sent_at is not None and row.sent_at >= until, row
    else:
        assert row.reason and row.reason.startswith("snoozed"), row


async def test_cancelling_a_snooze_lets_what_it_held_go_out_at_once(stack: Stack, http: httpx.AsyncClient) -> None:
    plan_id, uid = await loaded_plan(stack, http)
    [sid] = await session_ids(stack, plan_id)
    headers = bearer(token(uid))
    brief = brief_of(await my_schedule(http, plan_id, uid), sid)
    due = datetime.fromisoformat(brief["send_at"])
    until = due + timedelta(hours=3)
    response = await http.post(snooze_path(plan_id), json={"until": until.isoformat()}, headers=headers)
    assert response.status_code == 200, response.text

    await stack.advance_to(due + timedelta(minutes=10))  # the brief's time has come, but it is held

    async def brief_row() -> Any:
        rows = [r for r in await stack.ledger(plan_id) if r.notification_id == brief["notification_id"]]
        return rows[0] if rows and rows[0].status.value in ("sent", "skipped") else None

    assert await brief_row() is None
    assert datetime.fromisoformat((await my_schedule(http, plan_id, uid))["snoozed_until"]) == until

    cancelled = await http.delete(snooze_path(plan_id), headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["snoozed_until"] is None
    row = await wait_for(brief_row)
    assert row.status.value == "sent", row
    assert row.sent_at is not None and due + timedelta(minutes=10) <= row.sent_at < until, row
