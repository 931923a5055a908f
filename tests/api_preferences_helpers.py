"""A stack behind real HTTP and the helpers shared by the tests of the athlete's changes over it
(``test_api_preferences*.py``).

The fixtures ``stack`` (time-skipping Temporal, a migrated database and a worker running the real workflow and
activities), ``base_url`` (uvicorn on loopback in front of it) and ``http`` (a client, per test) are imported by each
test module that uses them; the first two are module-scoped, so each such module has a stack of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from activities.db import PlanSessionRow
from activities.demo import ensure_athlete
from starter.api import create_app
from starter.sandbox import Stack, local_stack, wait_for
from tests.test_api import TOKEN, serving
from tests.test_api_athlete import SECRET, bearer, make_plan, token

SERVICE = {"Authorization": f"Bearer {TOKEN}"}
PREFERENCES = "/v1/me/preferences"


@pytest.fixture(scope="module", name="stack")
async def stack_fixture(module_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(module_database_url) as s:
        yield s


@pytest.fixture(scope="module", name="base_url")
async def base_url_fixture(stack: Stack) -> AsyncIterator[str]:
    app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret=SECRET)
    async with serving(app) as url:
        yield url


@pytest.fixture(name="http")
async def http_fixture(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


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
