"""The HTTP API over real HTTP: uvicorn on loopback, in front of a real local stack (time-skipping Temporal, a migrated
SQLite database and a worker running the real workflow and activities).

One stack and one server serve the whole module; each test makes its own plan, so the tests stay independent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import WorkflowExecutionStatus

from activities.database import make_engine, make_sessionmaker
from activities.demo import create_demo_plan
from activities.store import Store
from coaching.timeutil import to_local
from starter.api import create_app, make_server, openapi_document
from starter.sandbox import Stack, local_stack, wait_for
from tests.test_workflow import _kickoff_done

NY = "America/New_York"
TOKEN = "test-service-token-0123456789abcdef"
UNKNOWN_PLAN = 987_654_321


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields its base URL."""
    server = make_server(app, host="127.0.0.1", port=0, log_level="warning")
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            raise AssertionError(f"uvicorn stopped before it started: {task.exception()!r}")
        return server.started

    try:
        await wait_for(started)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Api:
    stack: Stack
    http: httpx.AsyncClient

    async def make_plan(self, days_ahead: int = 2, start: str = "07:30") -> int:
        now = await self.stack.now()
        today = to_local(now, NY).date()
        return await create_demo_plan(
            self.stack.store,
            timezone=NY,
            start_date=today,
            sessions=[
                {
                    "scheduled_date": today + timedelta(days=days_ahead),
                    "planned_session_type": "Tempo Ruck",
                    "planned_week": 1,
                    "scheduled_start_time": start,
                }
            ],
            created_at=now,
        )

    async def started_plan(self) -> int:
        plan_id = await self.make_plan()
        assert (await self.http.post(f"/v1/plans/{plan_id}/start")).status_code == 202
        return plan_id

    async def loaded_plan(self) -> int:
        """A started plan whose workflow has loaded it (its schedule lists upcoming notifications) and whose kickoff's
        delivery is back: a cancel that withdraws a delivery in the very moment it completes trips the time-skipping
        test server (ACTIVITY_UNKNOWN, the workflow task never completes; seen in CI), which the real server takes."""
        plan_id = await self.started_plan()
        await wait_for(lambda: self.upcoming(plan_id))
        await wait_for(lambda: _kickoff_done(self.stack, plan_id))
        return plan_id

    async def upcoming(self, plan_id: int) -> list[dict[str, Any]]:
        return list((await self.schedule(plan_id))["upcoming"])

    async def schedule(self, plan_id: int) -> dict[str, Any]:
        response = await self.http.get(f"/v1/plans/{plan_id}/schedule")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
async def stack(module_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(module_database_url) as s:
        yield s


@pytest.fixture(scope="module")
async def base_url(stack: Stack) -> AsyncIterator[str]:
    async with serving(create_app(stack.plans, service_token=TOKEN, store=stack.store)) as url:
        yield url


@pytest.fixture
async def anonymous(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture
async def api(stack: Stack, base_url: str) -> AsyncIterator[Api]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
        yield Api(stack, client)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def completion(ruck_id: Any, completed_at: datetime | str, **extra: Any) -> dict[str, Any]:
    at = completed_at.isoformat() if isinstance(completed_at, datetime) else completed_at
    return {"ruck_id": ruck_id, "completed_at": at, "source": "app", **extra}


async def signals_processed(stack: Stack, plan_id: int, count: int) -> bool:
    """``count`` signals are in the workflow's history and a workflow task completed after the last of them."""
    last_signal, done_after = 0, False
    async for event in stack.plans.handle(plan_id).fetch_history_events():
        if event.HasField("workflow_execution_signaled_event_attributes"):
            last_signal, done_after = event.event_id, False
            count -= 1
        elif last_signal and event.HasField("workflow_task_completed_event_attributes"):
            done_after = True
    return count <= 0 and done_after


# ---- the plan endpoints -----------------------------------------------------------------------------------


async def test_a_started_plan_shows_its_upcoming_notifications_with_reasons(api: Api) -> None:
    plan_id = await api.make_plan()
    started = await api.http.post(f"/v1/plans/{plan_id}/start")
    assert started.status_code == 202, started.text
    assert started.json()["workflow_id"] == f"coaching-plan-{plan_id}"

    async def loaded() -> dict[str, Any] | None:
        body = await api.schedule(plan_id)
        return body if body["upcoming"] else None  # the workflow loads the plan first

    body = await wait_for(loaded)
    assert body["plan_id"] == plan_id and body["status"] == "active" and body["timezone"] == NY
    notifications = body["upcoming"]
    types = {n["type"] for n in notifications}
    assert {"plan_evening_brief", "plan_morning_hype"} <= types
    assert all(n["reason"] and n["send_at"] and n["send_at_local"] for n in notifications)


async def test_starting_twice_returns_the_same_run(api: Api) -> None:
    plan_id = await api.make_plan()
    first = await api.http.post(f"/v1/plans/{plan_id}/start")
    second = await api.http.post(f"/v1/plans/{plan_id}/start")
    assert first.status_code == second.status_code == 202
    assert first.json()["run_id"] and first.json() == second.json()


async def test_starting_a_plan_that_is_not_in_the_database_is_404(api: Api) -> None:
    """Its workflow would only fail ("does not exist"): the core API hears so at once, and nothing is started."""
    response = await api.http.post("/v1/plans/987654321/start")
    error_of(response, 404, "plan_not_found")
    error_of(await api.http.get("/v1/plans/987654321/schedule"), 404, "plan_not_found")


@pytest.mark.parametrize(
    ("content", "field", "says"),
    [
        (b'{"ruck_id": 1,, }', "body", "not valid JSON at character"),
        (b'{"ruck_id": 1, "completed_at": "2026-11-24T07:05:00"}', "body.completed_at", "must be timezone-aware"),
    ],
)
async def test_validation_messages_are_plain(api: Api, content: bytes, field: str, says: str) -> None:
    """The field is named in the request's terms and the message is the reason (no "Value error, " prefix, no
    character offset as a field)."""
    response = await api.http.post(
        "/v1/plans/1/sessions/completed", content=content, headers={"Content-Type": "application/json"}
    )
    [problem] = error_of(response, 422, "invalid_request")["fields"]
    assert problem["field"] == field and problem["message"].startswith(says), problem


async def test_the_same_ruck_reported_twice_is_celebrated_once(api: Api) -> None:
    plan_id = await api.make_plan(days_ahead=1)
    assert (await api.http.post(f"/v1/plans/{plan_id}/start")).status_code == 202
    done = completion(4242, await api.stack.now(), distance_km=5.2, duration_seconds=3600)
    for _ in range(2):
        response = await api.http.post(f"/v1/plans/{plan_id}/sessions/completed", json=done)
        assert response.status_code == 202, response.text
        assert response.json() == {
            "plan_id": plan_id,
            "workflow_id": f"coaching-plan-{plan_id}",
            "accepted": "session_completed",
        }

    async def celebrations() -> list[str]:
        rows = await api.stack.ledger(plan_id)
        return [r.notification_id for r in rows if r.notification_type == "plan_completion_celebration"]

    await wait_for(celebrations)
    await wait_for(lambda: signals_processed(api.stack, plan_id, 2))
    assert len(await celebrations()) == 1
    assert (await api.schedule(plan_id))["completions"] == 1


async def test_pause_shows_in_the_schedule_and_resume_undoes_it(api: Api) -> None:
    plan_id = await api.started_plan()

    async def status_is(expected: str) -> bool:
        return (await api.schedule(plan_id))["status"] == expected

    paused = await api.http.post(f"/v1/plans/{plan_id}/pause", json={"reason": "injured"})
    assert paused.status_code == 202 and paused.json()["accepted"] == "pause"
    await wait_for(lambda: status_is("paused"))
    assert (await api.http.post(f"/v1/plans/{plan_id}/resume")).status_code == 202  # no body: the reason is optional
    await wait_for(lambda: status_is("active"))


async def test_sessions_changed_is_accepted(api: Api) -> None:
    plan_id = await api.started_plan()
    response = await api.http.post(f"/v1/plans/{plan_id}/sessions/changed", json={"reason": "moved"})
    assert response.status_code == 202 and response.json()["accepted"] == "sessions_changed"
    await wait_for(lambda: signals_processed(api.stack, plan_id, 1))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "schedule", None),
        ("POST", "pause", None),
        ("POST", "sessions/changed", {}),
        ("POST", "sessions/completed", completion(7, "2026-03-08T12:00:00Z")),
    ],
)
async def test_a_plan_without_a_workflow_is_404(api: Api, method: str, path: str, body: Any) -> None:
    response = await api.http.request(method, f"/v1/plans/{UNKNOWN_PLAN}/{path}", json=body)
    error = error_of(response, 404, "plan_not_found")
    assert str(UNKNOWN_PLAN) in error["message"]


async def test_a_plan_whose_workflow_ended_is_409(api: Api) -> None:
    plan_id = await api.started_plan()
    await api.stack.plans.handle(plan_id).terminate(reason="test")
    error_of(await api.http.post(f"/v1/plans/{plan_id}/pause"), 409, "plan_closed")
    error_of(await api.http.get(f"/v1/plans/{plan_id}/schedule"), 409, "plan_closed")


async def test_a_cancelled_plan_answers_409_to_signals_and_keeps_its_final_schedule(api: Api) -> None:
    # Loaded first: a cancel that arrives before the workflow's first load is currently overwritten by the row's
    # status (workflows/plan.py: plan_cancelled does not set status_signalled), which is not what this tests.
    plan_id = await api.loaded_plan()
    assert (await api.http.post(f"/v1/plans/{plan_id}/cancel", json={"reason": "changed goals"})).status_code == 202

    async def completed() -> bool:
        return await api.stack.plans.execution_status(plan_id) is WorkflowExecutionStatus.COMPLETED

    await wait_for(completed)
    error = error_of(await api.http.post(f"/v1/plans/{plan_id}/resume"), 409, "plan_closed")
    assert "completed" in error["message"]
    assert (await api.schedule(plan_id))["status"] == "cancelled"


# ---- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {TOKEN[:-1]}X", f"Basic {TOKEN}", TOKEN],
    ids=["missing", "wrong", "same-length", "not-bearer", "no-scheme"],
)
async def test_the_service_endpoints_need_the_service_token(
    anonymous: httpx.AsyncClient, api: Api, authorization: str | None
) -> None:
    plan_id = await api.started_plan()
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [("GET", "schedule"), ("POST", "start"), ("POST", "pause")]:
        response = await anonymous.request(method, f"/v1/plans/{plan_id}/{path}", headers=headers)
        error_of(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    # Nothing reached the workflow: it is still active.
    assert (await api.schedule(plan_id))["status"] == "active"


# ---- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan_id", "body", "field"),
    [
        (1, completion(1, "2026-03-08T12:00:00"), "body.completed_at"),
        (1, completion(-5, "2026-03-08T12:00:00Z"), "body.ruck_id"),
        (1, completion(0, "2026-03-08T12:00:00Z"), "body.ruck_id"),
        (1, completion(2**63, "2026-03-08T12:00:00Z"), "body.ruck_id"),
        (1, completion(2**31, "2026-03-08T12:00:00Z"), "body.ruck_id"),  # RuckTracker's ids are 32-bit
        (1, completion(1, "9999-12-31T23:59:59-23:59"), "body.completed_at"),
        (1, completion(1, "2026-03-08T12:00:00Z", duration_seconds=10**11), "body.duration_seconds"),
        (1, completion(1, "yesterday"), "body.completed_at"),
        (1, completion(1, "2026-03-08T12:00:00Z", distance_km=-1), "body.distance_km"),
        (1, completion(1, "2026-03-08T12:00:00Z", source="carrier-pigeon"), "body.source"),
        (1, {"completed_at": "2026-03-08T12:00:00Z"}, "body.ruck_id"),
        (0, completion(1, "2026-03-08T12:00:00Z"), "path.plan_id"),
        (-3, completion(1, "2026-03-08T12:00:00Z"), "path.plan_id"),
        (2**31, completion(1, "2026-03-08T12:00:00Z"), "path.plan_id"),
    ],
)
async def test_invalid_completions_are_422_naming_the_field(api: Api, plan_id: int, body: Any, field: str) -> None:
    response = await api.http.post(f"/v1/plans/{plan_id}/sessions/completed", json=body)
    error = error_of(response, 422, "invalid_request")
    assert field in [f["field"] for f in error["fields"]], error
    assert all(f["message"] for f in error["fields"])


@pytest.mark.parametrize(
    ("method", "path", "content", "field"),
    [
        ("GET", "/v1/plans/0/schedule", None, "path.plan_id"),
        ("POST", "/v1/plans/abc/start", None, "path.plan_id"),
        ("POST", "/v1/plans/1/pause", b'{"reason": ', "body"),
        ("POST", "/v1/plans/1/pause", b'{"reason": "' + b"x" * 501 + b'"}', "body.reason"),
        ("POST", "/v1/plans/1/sessions/completed", b"[]", "body"),
        (
            "POST",
            "/v1/plans/1/sessions/completed",
            b'{"ruck_id": 1, "completed_at": "2026-03-08T12:00:00Z", "distance_km": Infinity}',
            "body.distance_km",
        ),
    ],
)
async def test_malformed_requests_are_422(api: Api, method: str, path: str, content: bytes | None, field: str) -> None:
    headers = {"Content-Type": "application/json"} if content is not None else {}
    response = await api.http.request(method, path, content=content, headers=headers)
    error = error_of(response, 422, "invalid_request")
    assert any(f["field"] == field or f["field"].startswith(f"{field}.") for f in error["fields"]), error


async def test_unknown_routes_and_methods_answer_json_errors(api: Api) -> None:
    error_of(await api.http.get("/v1/nowhere"), 404, "not_found")
    error_of(await api.http.get("/v1/plans/1/start"), 405, "method_not_allowed")


# ---- operations -------------------------------------------------------------------------------------------


async def test_health_and_readiness(anonymous: httpx.AsyncClient) -> None:
    health = await anonymous.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "temporal": "ok"}}


async def test_readiness_names_an_unreachable_database(stack: Stack) -> None:
    engine = make_engine("postgresql+asyncpg://coach@127.0.0.1:1/nowhere")  # port 1: refused at once
    try:
        app = create_app(stack.plans, service_token=TOKEN, store=Store(make_sessionmaker(engine)))
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            ready = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await engine.dispose()
    assert ready.status_code == 503, ready.text
    checks = ready.json()["checks"]
    assert checks["temporal"] == "ok" and checks["database"].startswith("unavailable")


async def test_a_database_outage_is_503_not_500(stack: Stack) -> None:
    """Starting a plan checks the plan exists; with the database down that is a retryable 503, as for Temporal."""
    engine = make_engine("postgresql+asyncpg://coach@127.0.0.1:1/nowhere")  # port 1: refused at once
    try:
        app = create_app(stack.plans, service_token=TOKEN, store=Store(make_sessionmaker(engine)))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with serving(app) as url, httpx.AsyncClient(base_url=url, headers=headers) as client:
            started = await client.post("/v1/plans/1/start")
    finally:
        await engine.dispose()
    assert "database" in error_of(started, 503, "temporarily_unavailable")["message"]


async def test_the_openapi_document_is_served_and_dumpable(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    served = response.json()
    assert served == openapi_document()
    assert served["info"]["title"] and served["info"]["version"] == "1.0.0"
    assert {"/v1/plans/{plan_id}/start", "/v1/plans/{plan_id}/schedule", "/readyz"} <= set(served["paths"])


def test_a_short_service_token_is_refused(stack: Stack) -> None:
    with pytest.raises(ValueError, match="service_token"):
        create_app(stack.plans, service_token="short")


async def test_a_body_that_is_not_utf8_is_an_invalid_request_not_a_400(api: Api) -> None:
    response = await api.http.post("/v1/plans/1/pause", content=b"\xff", headers={"Content-Type": "application/json"})
    error = error_of(response, 422, "invalid_request")
    assert error["fields"] == [{"field": "body", "message": "the body is not valid UTF-8 JSON"}]


def test_the_committed_openapi_document_is_current() -> None:
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("dump_openapi", root / "scripts" / "dump_openapi.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (root / "docs" / "openapi.json").read_text()
    assert committed == module.render(), "docs/openapi.json is stale: run python scripts/dump_openapi.py"
