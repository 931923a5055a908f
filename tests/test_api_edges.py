"""The HTTP API's edges over real HTTP (uvicorn on loopback, a real local stack): authentication before the body, the
body limit, bounded inputs, bounded and printable error answers, clean logs, database refusals as 422, and the JWT
claims a production configuration requires.

"Not read" is proven by events, not by time: the server answers a request whose body the client has not finished
sending (it could not have waited for it), and a counter in front of the application shows how many body bytes it
asked the server for. The checks that need no server: ``test_api_edges_settings.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from activities.analytics_store import AnalyticsStore
from activities.database import make_engine, make_sessionmaker
from activities.demo import create_demo_plan
from activities.store import Store
from coaching.models import SessionCompletedInput
from starter.api import create_app, openapi_document
from starter.api.errors import MAX_ECHO_CHARS, MAX_FIELD_ERRORS, ApiError, database_input
from starter.bounds import MAX_ID, OutOfBounds
from starter.sandbox import Stack, local_stack, wait_for
from tests.api_edges_helpers import ISSUER, Server, error_code, exchange, post_head, serve, signals_of, started_plan
from tests.test_api import NY, TOKEN, error_of
from tests.test_api_athlete import SECRET, ledger_row, token

SERVICE = {"Authorization": f"Bearer {TOKEN}"}
#: The small limit of the second server, so a body over it stays well under the server's read buffer (64 KiB) and
#: the whole exchange is deterministic.
SMALL_LIMIT = 4096
FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('edges')}/plans.db") as s:
        yield s


@pytest.fixture(scope="module")
async def server(stack: Stack) -> AsyncIterator[Server]:
    app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret=SECRET)
    async with serve(app) as running:
        yield running


@pytest.fixture(scope="module")
async def small(stack: Stack) -> AsyncIterator[Server]:
    """The same API with a 4 KiB body limit."""
    app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret=SECRET, max_body_bytes=SMALL_LIMIT)
    async with serve(app) as running:
        yield running


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


# ---- authentication before the body, and the body limit ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/v1/plans/1/sessions/completed", None),
        ("/v1/plans/1/pause", "Bearer wrong-service-token"),
        ("/v1/me/preferences", "Bearer not.a.jwt"),
        ("/v1/me/notifications/p1:evening_brief:s-:2026-11-23/events", None),
    ],
)
async def test_an_unauthenticated_body_is_never_read(server: Server, path: str, authorization: str | None) -> None:
    """50 MB announced, 16 KiB sent: the 401 comes without the rest (and closes the connection, so the rest would
    not be received either); the application read none of it."""
    server.counter.read = 0
    method = "PATCH" if path == "/v1/me/preferences" else "POST"
    head = post_head(path, FIFTY_MB, authorization).replace("POST", method, 1)
    answer = await exchange(server.url, head, [b"{" + b" " * (16 * 1024)])
    assert (answer.status, error_code(answer)) == (401, "unauthorized")
    assert answer.headers["connection"] == "close" and answer.headers["www-authenticate"] == "Bearer"
    assert server.counter.read == 0


def _secured_operations() -> list[tuple[str, str]]:
    """Every operation the OpenAPI document says needs a bearer token, with its path parameters filled in."""
    operations = []
    for path, methods in openapi_document()["paths"].items():
        for method, operation in methods.items():
            if operation.get("security"):
                filled = path.replace("{notification_id}", "p1:evening_brief:s-:2026-11-23")
                operations.append((method.upper(), filled.replace("{plan_id}", "1").replace("{session_id}", "1")))
    return operations


async def test_every_secured_operation_authenticates_before_reading_the_body(server: Server) -> None:
    """No route is left out (e.g. one of a router added later): each refuses an unauthenticated 50 MB body unread."""
    operations = _secured_operations()
    assert len(operations) >= 14
    for method, path in operations:
        server.counter.read = 0
        head = post_head(path, FIFTY_MB).replace("POST", method, 1)
        answer = await exchange(server.url, head, [b" " * 1024])
        assert (answer.status, error_code(answer)) == (401, "unauthorized"), (method, path)
        assert server.counter.read == 0, (method, path)


async def test_eight_concurrent_unauthenticated_bodies_are_answered_without_being_read(server: Server) -> None:
    server.counter.read = 0
    head = post_head("/v1/plans/1/sessions/completed", FIFTY_MB)
    answers = await asyncio.gather(*(exchange(server.url, head, [b" " * 8192]) for _ in range(8)))
    assert [a.status for a in answers] == [401] * 8
    assert server.counter.read == 0


async def test_a_body_announced_over_the_limit_is_413_before_it_is_read(server: Server) -> None:
    server.counter.read = 0
    answer = await exchange(server.url, post_head("/v1/plans/1/pause", FIFTY_MB, f"Bearer {TOKEN}"), [b"{"])
    assert (answer.status, error_code(answer)) == (413, "request_too_large")
    assert "65,536 bytes" in answer.json()["error"]["message"] and answer.headers["connection"] == "close"
    assert server.counter.read == 0


async def test_a_body_without_a_length_is_cut_off_at_the_limit(small: Server, stack: Stack) -> None:
    """Chunked, 5 KiB sent and never finished: the server answers 413 once past the 4 KiB limit instead of waiting
    for the body's end; nothing reached the workflow."""
    plan_id = await started_plan(stack)
    small.counter.read = 0
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"  # 1 KiB chunks of blanks (valid JSON whitespace), no last chunk
    answer = await exchange(small.url, post_head(f"/v1/plans/{plan_id}/pause", None, f"Bearer {TOKEN}"), [chunk] * 5)
    assert (answer.status, error_code(answer)) == (413, "request_too_large")
    assert answer.headers["connection"] == "close"
    assert SMALL_LIMIT < small.counter.read <= 5 * 1024
    assert await signals_of(stack, plan_id) == 0


async def test_an_ordinary_client_gets_413_as_json_and_a_body_within_the_limit_is_served(
    small: Server, stack: Stack
) -> None:
    plan_id = await started_plan(stack)
    async with httpx.AsyncClient(base_url=small.url, headers=SERVICE, timeout=10) as client:
        over = await client.post(f"/v1/plans/{plan_id}/pause", content=b" " * (SMALL_LIMIT + 1) + b"{}")
        error_of(over, 413, "request_too_large")
        within = json.dumps({"reason": "injured"}).encode().ljust(SMALL_LIMIT)  # padded to exactly the limit
        accepted = await client.post(
            f"/v1/plans/{plan_id}/pause", content=within, headers={"Content-Type": "application/json"}
        )
    assert accepted.status_code == 202, accepted.text
    await wait_for(lambda: _paused(stack, plan_id))


async def _paused(stack: Stack, plan_id: int) -> bool:
    return (await stack.plans.status(plan_id)).status.value == "paused"


# ---- bounded inputs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", f"/v1/plans/{MAX_ID + 1}/schedule", None, "path.plan_id"),
        ("POST", f"/v1/plans/{MAX_ID + 1}/start", None, "path.plan_id"),
        ("POST", "/v1/plans/9223372036854775807/pause", None, "path.plan_id"),
        ("POST", "/v1/plans/1/sessions/completed", {"ruck_id": 3_000_000_000}, "body.ruck_id"),
        (
            "POST",
            "/v1/plans/1/sessions/completed",
            {"ruck_id": 1, "plan_session_id": MAX_ID + 1},
            "body.plan_session_id",
        ),
    ],
)
async def test_ids_beyond_32_bits_are_422_never_503(
    http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None, field: str
) -> None:
    if body is not None:
        body = {"completed_at": "2026-03-08T12:00:00Z", **body}
    response = await http.request(method, path, json=body, headers=SERVICE)
    error = error_of(response, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == [field]
    assert "2147483647" in error["fields"][0]["message"]


async def test_the_largest_id_is_a_plan_that_does_not_exist(http: httpx.AsyncClient) -> None:
    error_of(await http.get(f"/v1/plans/{MAX_ID}/schedule", headers=SERVICE), 404, "plan_not_found")
    error_of(await http.post(f"/v1/plans/{MAX_ID}/start", headers=SERVICE), 404, "plan_not_found")


POISON = [
    ({"completed_at": "9999-12-31T23:59:59-23:59"}, "body.completed_at"),
    ({"completed_at": "9999-12-31T23:59:59Z"}, "body.completed_at"),
    ({"started_at": "0001-01-01T00:00:00+14:00"}, "body.started_at"),
    ({"duration_seconds": 100_000_000_000}, "body.duration_seconds"),
    ({"duration_seconds": 172_801}, "body.duration_seconds"),
    ({"distance_km": 1000.5}, "body.distance_km"),
    ({"completed_at": "1999-12-31T23:59:59Z"}, "body.completed_at"),
]


@pytest.mark.parametrize(("fields", "field"), POISON)
async def test_a_poison_completion_is_422_and_never_reaches_the_workflow(
    stack: Stack, http: httpx.AsyncClient, fields: dict[str, Any], field: str
) -> None:
    plan_id = await started_plan(stack)
    now = await stack.now()
    body = {"ruck_id": 5, "completed_at": now.isoformat(), **fields}
    response = await http.post(f"/v1/plans/{plan_id}/sessions/completed", json=body, headers=SERVICE)
    error = error_of(response, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == [field], error
    assert await signals_of(stack, plan_id) == 0


@pytest.mark.parametrize(
    ("shift", "extra", "field"),
    [
        (timedelta(days=1, minutes=1), {}, "body.completed_at"),
        (timedelta(0), {"started_at": timedelta(minutes=1)}, "body.started_at"),  # starts after it ended
        (timedelta(0), {"started_at": -timedelta(days=2, minutes=1)}, "body.started_at"),  # a 2-day-plus ruck
    ],
    ids=["ends-over-a-day-ahead", "starts-after-its-end", "longer-than-2-days"],
)
async def test_times_out_of_the_rucks_bounds_are_422(
    stack: Stack, http: httpx.AsyncClient, shift: timedelta, extra: dict[str, timedelta], field: str
) -> None:
    plan_id = await started_plan(stack)
    end = await stack.now() + shift
    body: dict[str, Any] = {"ruck_id": 6, "completed_at": end.isoformat()}
    body.update({name: (end + delta).isoformat() for name, delta in extra.items()})
    response = await http.post(f"/v1/plans/{plan_id}/sessions/completed", json=body, headers=SERVICE)
    error = error_of(response, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == [field], error
    assert await signals_of(stack, plan_id) == 0


async def test_a_phone_clock_minutes_fast_is_accepted_and_celebrated_at_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """The ruck claims to end 7 minutes from now: accepted, and celebrated while the (time-skipping, so not moving on
    its own) clock is still before that claimed end."""
    plan_id = await started_plan(stack)
    claimed_end = await stack.now() + timedelta(minutes=7)
    kolkata = claimed_end.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+05:30").tzinfo)
    body = {"ruck_id": 7007, "completed_at": kolkata.isoformat(), "duration_seconds": 3000}
    response = await http.post(f"/v1/plans/{plan_id}/sessions/completed", json=body, headers=SERVICE)
    assert response.status_code == 202, response.text

    async def celebrated() -> list[Any]:
        rows = await stack.ledger(plan_id)
        return [r for r in rows if r.notification_type == "plan_completion_celebration" and r.status == "sent"]

    [celebration] = await wait_for(celebrated)
    assert celebration.sent_at is not None and celebration.sent_at < claimed_end
    assert await stack.now() < claimed_end


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/v1/reports/effectiveness?since=0001-01-01T00:00:00%2B23:59", None, "query.since"),
        ("GET", "/v1/reports/effectiveness?until=9999-12-31T23:59:59-23:59", None, "query.until"),
        ("GET", "/v1/reports/effectiveness?since=2026-01-01T00:00:00%2B18:30", None, "query.since"),
        (
            "POST",
            "/v1/me/notifications/{nid}/events",
            {"event": "opened", "occurred_at": "0001-01-01T00:00:00+23:59"},
            "body.occurred_at",
        ),
        (
            "POST",
            "/v1/me/notifications/{nid}/events",
            {"event": "opened", "occurred_at": "2999-01-01T00:00:00Z"},
            "body.occurred_at",
        ),
        ("POST", "/v1/me/plans/{plan}/snooze", {"until": "9999-12-31T23:59:59-23:59"}, "body.until"),
        ("POST", "/v1/me/plans/{plan}/snooze", {"until": "0001-01-01T00:00:00+14:00"}, "body.until"),
        ("POST", "/v1/me/plans/{plan}/sessions/1/reschedule", {"scheduled_date": "0001-01-01"}, "body.scheduled_date"),
        ("POST", "/v1/me/plans/{plan}/sessions/1/reschedule", {"scheduled_date": "9999-12-31"}, "body.scheduled_date"),
    ],
)
async def test_extreme_times_anywhere_are_422_never_500(
    stack: Stack, http: httpx.AsyncClient, method: str, path: str, body: Any, field: str
) -> None:
    athlete = "8d0e3c1a-1111-4222-8333-944455556666"
    plan_id = await started_plan(stack, athlete)
    nid = await ledger_row(stack.store, plan_id, athlete)
    headers = SERVICE if path.startswith("/v1/reports") else {"Authorization": f"Bearer {token(athlete)}"}
    response = await http.request(method, path.format(nid=nid, plan=plan_id), json=body, headers=headers)
    error = error_of(response, 422, "invalid_request")
    assert [f["field"] for f in error["fields"]] == [field], error


async def test_an_event_from_a_device_clock_a_little_fast_is_recorded(stack: Stack, http: httpx.AsyncClient) -> None:
    athlete = "8d0e3c1a-2222-4222-8333-944455556666"
    plan_id = await started_plan(stack, athlete)
    nid = await ledger_row(stack.store, plan_id, athlete)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    response = await http.post(
        f"/v1/me/notifications/{nid}/events",
        json={"event": "opened", "occurred_at": soon.isoformat()},
        headers={"Authorization": f"Bearer {token(athlete)}"},
    )
    assert response.status_code == 202, response.text
    assert await AnalyticsStore(stack.store.sessionmaker).events(nid) == [("opened", soon)]


async def test_the_python_client_refuses_out_of_bounds_before_sending(stack: Stack) -> None:
    plan_id = await started_plan(stack)
    now = await stack.now()
    cases = [
        (
            "ruck_id",
            stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=3_000_000_000, completed_at=now)),
        ),
        (
            "completed_at",
            stack.plans.session_completed(
                plan_id, SessionCompletedInput(ruck_id=1, completed_at=now + timedelta(days=2))
            ),
        ),
        (
            "duration_seconds",
            stack.plans.session_completed(
                plan_id, SessionCompletedInput(ruck_id=1, completed_at=now, duration_seconds=10**11)
            ),
        ),
        ("plan_id", stack.plans.pause(MAX_ID + 1)),
        ("plan_id", stack.plans.start_plan(0)),
        ("reason", stack.plans.cancel(plan_id, "changed\x00goals")),
        ("reason", stack.plans.sessions_changed(plan_id, "x" * 501)),
    ]
    for field, call in cases:
        with pytest.raises(ValueError, match=rf"^{field}: ") as caught:
            await call
        assert isinstance(caught.value, OutOfBounds) and caught.value.field == field
    assert await signals_of(stack, plan_id) == 0
    assert (await stack.plans.status(plan_id)).status.value == "active"


# ---- error answers: bounded and printable ------------------------------------------------------------------------


async def test_a_flood_of_unknown_keys_lists_the_first_20_and_counts_the_rest(http: httpx.AsyncClient) -> None:
    athlete = "8d0e3c1a-3333-4222-8333-944455556666"
    flood = {f"unknown_{n}": n for n in range(300)}
    response = await http.patch("/v1/me/preferences", json=flood, headers={"Authorization": f"Bearer {token(athlete)}"})
    error = error_of(response, 422, "invalid_request")
    assert len(error["fields"]) == MAX_FIELD_ERRORS
    assert error["message"] == "the request is invalid (300 problems; the first 20 are listed … and 280 more)"
    assert len(response.content) < 3000


async def test_a_long_key_is_echoed_at_most_100_characters(http: httpx.AsyncClient) -> None:
    athlete = "8d0e3c1a-4444-4222-8333-944455556666"
    key = "k" * 20_000
    response = await http.patch(
        "/v1/me/preferences", json={key: 1}, headers={"Authorization": f"Bearer {token(athlete)}"}
    )
    [problem] = error_of(response, 422, "invalid_request")["fields"]
    assert problem["field"] == "body." + "k" * (MAX_ECHO_CHARS - 1) + "…"
    assert len(response.content) < 500


@pytest.mark.parametrize(
    "raw_key",
    ['"bad\\u0000key"', '"\\u001b[31mred"', '"line\\nbreak"', '"\\ud800"'],
    ids=["nul", "escape", "newline", "lone-surrogate"],
)
async def test_control_characters_are_never_echoed(http: httpx.AsyncClient, raw_key: str) -> None:
    athlete = "8d0e3c1a-5555-4222-8333-944455556666"
    response = await http.patch(
        "/v1/me/preferences",
        content=("{" + raw_key + ": 1}").encode(),
        headers={"Authorization": f"Bearer {token(athlete)}", "Content-Type": "application/json"},
    )
    [problem] = error_of(response, 422, "invalid_request")["fields"]
    assert problem["field"].startswith("body")
    for unprintable in ("\\u0000", "\\u001b", "\\n", "\\ud800"):
        assert unprintable not in response.text
    assert not any(ord(c) < 32 for c in response.text)


async def test_a_nul_in_a_notification_id_is_422_naming_it_and_never_echoed(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    athlete = "8d0e3c1a-6666-4222-8333-944455556666"
    response = await http.post(
        "/v1/me/notifications/p1:evening_brief%00:s-:2026-11-23/events",
        json={"event": "opened"},
        headers={"Authorization": f"Bearer {token(athlete)}"},
    )
    [problem] = error_of(response, 422, "invalid_request")["fields"]
    assert problem == {"field": "path.notification_id", "message": "must not contain control characters (such as NUL)"}


async def test_nothing_unprintable_or_from_the_database_reaches_the_log(
    stack: Stack, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    """Bad requests with NUL bytes and line breaks, an unexpected error quoting them, and a database that fails (its
    driver's error carries the statement and its parameters): every log line is printable, no input starts a line of
    its own, and the API's lines hold neither the statement nor its parameters."""
    caplog.set_level(logging.DEBUG)
    athlete = "8d0e3c1a-7777-4222-8333-944455556666"
    bearer = {"Authorization": f"Bearer {token(athlete)}"}
    await http.post("/v1/me/notifications/a%00b%0AERROR%20forged/events", json={"event": "opened"}, headers=bearer)
    await http.post("/v1/plans/1/pause", json={"reason": "a\x00b\nERROR forged"}, headers=SERVICE)

    async def boom() -> None:
        raise RuntimeError("quoted input: a\x00b\nERROR forged log line")

    app = create_app(stack.plans, service_token=TOKEN, store=stack.store)
    app.add_api_route("/v1/boom", boom)
    # A database without the service's tables: every query fails (503), its error quoting the query's parameters.
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/not-migrated.db")
    broken = create_app(stack.plans, service_token=TOKEN, store=Store(make_sessionmaker(engine)), jwt_secret=SECRET)
    try:
        async with serve(app) as served, httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            error_of(await client.get("/v1/boom"), 500, "internal_error")
        async with serve(broken) as served, httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            response = await client.post(
                "/v1/me/notifications/p1:some-marker/events", json={"event": "opened"}, headers=bearer
            )
            error_of(response, 503, "temporarily_unavailable")
    finally:
        await engine.dispose()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("starter")]
    assert any("RuntimeError: quoted input" in line for line in ours)
    assert any("database call failed: OperationalError" in line for line in ours)
    for record in caplog.records:
        line = record.getMessage()
        assert not any(ord(c) < 32 and c != "\n" for c in line), line
        assert not any(part.startswith("ERROR forged") for part in line.split("\n")), line
    for line in ours:
        assert "SELECT" not in line and "parameters" not in line and athlete not in line, line


# ---- database refusals (PostgreSQL, RuckTracker's schema) --------------------------------------------------------


@pytest.fixture
async def rucktracker_store(rucktracker_database: Any) -> AsyncIterator[Store]:
    url = await rucktracker_database.ensure()
    engine = make_engine(url)
    try:
        yield Store(make_sessionmaker(engine))
    finally:
        await engine.dispose()
        await rucktracker_database.reset()


@pytest.mark.postgres
@pytest.mark.rucktracker
async def test_a_value_the_database_refuses_is_422_naming_the_field(
    stack: Stack, rucktracker_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """A CHECK the database has (added here, named as PostgreSQL names a column's CHECK) refuses the event's time: the
    athlete hears 422 on ``body.occurred_at``, not 503 "retry later", and nothing is stored."""
    caplog.set_level(logging.DEBUG)
    athlete = "8d0e3c1a-8888-4222-8333-944455556666"
    today = datetime.now(UTC).date()
    plan_id = await create_demo_plan(
        rucktracker_store, user_id=athlete, timezone=NY, start_date=today, sessions=[{"scheduled_date": today}]
    )
    nid = await ledger_row(rucktracker_store, plan_id, athlete)
    async with rucktracker_store.sessionmaker.begin() as session:
        await session.execute(
            text(
                "ALTER TABLE coach_notification_events ADD CONSTRAINT coach_notification_events_occurred_at_check "
                "CHECK (occurred_at >= '2020-01-01') NOT VALID"
            )
        )
    app = create_app(stack.plans, service_token=TOKEN, store=rucktracker_store, jwt_secret=SECRET)
    try:
        async with serve(app) as served, httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            response = await client.post(
                f"/v1/me/notifications/{nid}/events",
                json={"event": "opened", "occurred_at": "2019-06-01T08:00:00+05:45"},
                headers={"Authorization": f"Bearer {token(athlete)}"},
            )
    finally:
        async with rucktracker_store.sessionmaker.begin() as session:
            await session.execute(
                text(
                    "ALTER TABLE coach_notification_events DROP CONSTRAINT coach_notification_events_occurred_at_check"
                )
            )
    [problem] = error_of(response, 422, "invalid_request")["fields"]
    assert problem["field"] == "body.occurred_at" and "database refused" in problem["message"]
    assert await AnalyticsStore(rucktracker_store.sessionmaker).events(nid) == []
    assert not any("2019-06-01" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
@pytest.mark.rucktracker
async def test_database_input_makes_refusals_422_and_leaves_outages_alone(rucktracker_store: Store) -> None:
    analytics = AnalyticsStore(rucktracker_store.sessionmaker)
    # A NUL byte (SQLSTATE 22021) and an id beyond the 32-bit column (22000): the request's fault, named.
    for field, call in [
        ("path.notification_id", analytics.notification_owner("p1:evening_brief\x00:s-:2026-11-23")),
        ("path.plan_id", analytics.plan_owner(2**40)),
    ]:
        with pytest.raises(ApiError) as caught:
            with database_input(field):
                await call
        assert caught.value.status_code == 422 and caught.value.fields is not None
        assert [f.field for f in caught.value.fields] == [field]
    # The database out of reach is not: it stays an outage (503 by its handler).
    engine = make_engine("postgresql+asyncpg://coach@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(OSError):
            with database_input("path.plan_id"):
                await AnalyticsStore(make_sessionmaker(engine)).plan_owner(1)
    finally:
        await engine.dispose()


# ---- JWT issuer, audience and role -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def strict(stack: Stack) -> AsyncIterator[Server]:
    """The API configured like production on Supabase: iss, aud and role required."""
    app = create_app(
        stack.plans,
        service_token=TOKEN,
        store=stack.store,
        jwt_secret=SECRET,
        jwt_issuer=ISSUER,
        jwt_audience="authenticated",
        jwt_role="authenticated",
    )
    async with serve(app) as running:
        yield running


SUPABASE = {"iss": ISSUER, "aud": "authenticated", "role": "authenticated"}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (SUPABASE, None),
        ({**SUPABASE, "aud": ["authenticated", "other"]}, None),
        ({**SUPABASE, "role": None}, "no 'role' claim"),
        ({**SUPABASE, "role": "anon"}, "role is not 'authenticated'"),
        ({**SUPABASE, "role": "service_role"}, "role is not 'authenticated'"),
        ({**SUPABASE, "aud": None}, "no 'aud' claim"),
        ({**SUPABASE, "aud": "anon"}, "audience is not 'authenticated'"),
        ({**SUPABASE, "iss": None}, "no 'iss' claim"),
        ({**SUPABASE, "iss": "https://evil.example/auth/v1"}, f"issuer is not {ISSUER!r}"),
    ],
    ids=["supabase", "aud-list", "no-role", "anon", "service-role", "no-aud", "wrong-aud", "no-iss", "wrong-iss"],
)
async def test_configured_issuer_audience_and_role_are_required_and_checked(
    stack: Stack, strict: Server, claims: dict[str, Any], reason: str | None
) -> None:
    athlete = "8d0e3c1a-9999-4222-8333-944455556666"
    plan_id = await started_plan(stack, athlete)
    headers = {"Authorization": f"Bearer {token(athlete, **claims)}"}
    async with httpx.AsyncClient(base_url=strict.url, timeout=10) as client:
        response = await client.get(f"/v1/me/plans/{plan_id}/schedule", headers=headers)
    if reason is None:
        assert response.status_code == 200, response.text
    else:
        assert reason in error_of(response, 401, "unauthorized")["message"]
