"""The athlete's changes to one plan over real HTTP: snoozing it (``/v1/me/plans/{id}/snooze``), moving one of
its sessions (``.../sessions/{id}/reschedule``), and a plan that is closed.

uvicorn on loopback in front of a real local stack of this module's own (time-skipping Temporal, a migrated SQLite
database and a worker running the real workflow and activities). Each test makes its own athlete and plan, so the
tests stay independent. Dates are built from the stack's clock (the Temporal test server's), never the host's; the
two tests that skip time come last, after every test that needs the clock near the plans it made.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from coaching.timeutil import to_local
from starter.api import create_app
from starter.sandbox import Stack, local_stack, wait_for
from tests.api_preferences_helpers import (
    PREFERENCES,
    SERVICE,
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
from tests.test_api import NY, TOKEN, error_of, serving
from tests.test_api_athlete import SECRET, bearer, make_plan, token


async def local_now(stack: Stack) -> datetime:
    return to_local(await stack.now(), NY)


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
