"""Property-based tests of the HTTP API against its own OpenAPI document, with Schemathesis.

For every operation in :func:`starter.api.openapi_document`, Schemathesis generates requests (valid and invalid) and
sends them over real HTTP to uvicorn in front of a real local stack (time-skipping Temporal, a migrated SQLite
database and a worker), with the service token. Each response must not be a 5xx, must use a status code the document
declares for that operation (one known exception, see :func:`_is_undecodable_body_400`), and must match the
declared schema.

Schemathesis calls are synchronous (``requests``), so the stack and the server run on their own event loop in a
background thread; pytest-asyncio's loop is not involved. Generation is derandomized and bounded, so CI runs the same
requests every time and stays well under a minute.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from activities.demo import create_demo_plan
from coaching.timeutil import to_local
from starter.api import create_app, openapi_document
from starter.sandbox import local_stack
from tests.test_api import NY, TOKEN, serving

#: A fixed seed: Schemathesis's own generation phases (examples, coverage) would otherwise draw a random one per run.
SEED = 20_240_601
schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config(seed=SEED))

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JWT_SECRET = "s" * 32
#: The athlete who owns the demo plans: athlete endpoints are exercised with their valid token too, not only 401s.
ATHLETE = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
ATHLETE_AUTH = {
    "Authorization": "Bearer "
    + jwt.encode({"sub": ATHLETE, "exp": datetime.now(UTC) + timedelta(hours=2)}, JWT_SECRET, algorithm="HS256")
}


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

_clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
_preferences = st.fixed_dictionaries(
    {},
    optional={
        "timezone": st.sampled_from(["UTC", NY, "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]),
        "quiet_hours": st.none() | st.fixed_dictionaries({"start": _clock, "end": _clock}),
        "evening_brief_time": _clock,
        "morning_hype_lead_minutes": st.integers(5, 240),
        "weekly_digest": st.fixed_dictionaries(
            {}, optional={"weekday": st.sampled_from(["monday", "sunday"]), "time": _clock}
        ),
        "daily_cap": st.integers(1, 20),
        "coaching_tone": st.sampled_from(["drill_sergeant", "Supportive Friend", "minimalist"]),
        "categories": st.fixed_dictionaries(
            {},
            optional={"weekly_digest": st.booleans(), "milestone_alert": st.booleans(), "morning_hype": st.booleans()},
        ),
    },
)
#: Times around the edges' bounds (starter.bounds): years at and beyond 2000 and 2100, offsets of real zones and beyond
#: ±18:00, and moments around now (a phone clock a little fast, more than a day ahead, a long ruck).
_offsets = st.sampled_from(["Z", "+05:30", "+05:45", "-05:00", "+14:00", "-12:00", "+18:00", "+23:59", "-23:59"])
_years = st.sampled_from([1, 1999, 2000, 2026, 2099, 2100, 9999])
_absolute = st.builds(lambda year, offset: f"{year:04d}-03-08T12:00:00{offset}", _years, _offsets)
_relative = st.builds(
    lambda minutes: (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(),
    st.sampled_from([-3 * 24 * 60, -2 * 24 * 60 - 10, -90, 0, 7, 24 * 60 - 1, 24 * 60 + 5]),
)
_completion = st.fixed_dictionaries(
    {"ruck_id": st.integers(1, 2**31 + 1), "completed_at": _relative | _absolute},
    optional={
        "started_at": _relative | _absolute,
        "plan_session_id": st.integers(1, 2**31 + 1),
        "duration_seconds": st.sampled_from([0, 3600, 172_800, 172_801, 10**11]),
        "distance_km": st.sampled_from([0.0, 5.2, 1000.0, 1000.5, 1e300]),
        "source": st.sampled_from(["app", "import", "auto_complete"]),
    },
)
VALID_BODIES: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("PATCH", "/v1/me/preferences"): _preferences,
    ("POST", "/v1/me/plans/{plan_id}/snooze"): st.fixed_dictionaries({"duration_minutes": st.integers(1, 7 * 24 * 60)})
    | st.fixed_dictionaries({"until": _relative | _absolute}),
    # (Plausible or not: these reach the plan's workflow when they are within bounds.)
    ("POST", "/v1/plans/{plan_id}/sessions/completed"): _completion,
}
#: Demo plans made before the run, so some generated requests reach a plan that exists (two started, one not).
STARTED_PLANS, UNSTARTED_PLANS = 2, 1
#: Plan ids up to this are the service endpoints'; the ATHLETE's started plans come after them.
RESERVED_IDS, ATHLETE_PLANS = 10, 2
STARTUP_TIMEOUT_SECONDS = 60


class _Server:
    """The stack and uvicorn on their own event loop in a daemon thread, until :meth:`stop`."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.base_url = ""
        self.plan_ids: list[int] = []
        self.athlete_plan_ids: list[int] = []
        self.session_ids: list[int] = []
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="api-schema-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(STARTUP_TIMEOUT_SECONDS):
            raise AssertionError(f"the stack did not start within {STARTUP_TIMEOUT_SECONDS}s")
        if self.error is not None:
            raise AssertionError(f"the stack failed to start: {self.error!r}") from self.error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STARTUP_TIMEOUT_SECONDS)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported by start(), or at teardown
            self.error = err
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with local_stack(self.database_url) as stack:
            # With a JWT secret, the athlete endpoints answer (401 to these requests) instead of 503 not_configured.
            app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret=JWT_SECRET)
            async with serving(app) as url:
                now = await stack.now()
                today = to_local(now, NY).date()
                session = {
                    "scheduled_date": today + timedelta(days=2),
                    "planned_session_type": "Tempo Ruck",
                    "planned_week": 1,
                    "scheduled_start_time": "07:30",
                }
                for n in range(STARTED_PLANS + UNSTARTED_PLANS):
                    plan_id = await create_demo_plan(
                        stack.store, timezone=NY, start_date=today, sessions=[session], created_at=now
                    )
                    if n < STARTED_PLANS:
                        await stack.plans.start_plan(plan_id)
                    self.plan_ids.append(plan_id)
                # The athlete's plans come after ids that generated requests are likely to pick (small numbers), so
                # the service endpoints' cancel and complete rarely end them before the athlete's requests run.
                while len(self.plan_ids) < RESERVED_IDS:
                    self.plan_ids.append(
                        await create_demo_plan(
                            stack.store, timezone=NY, start_date=today, sessions=[session], created_at=now
                        )
                    )
                for _ in range(ATHLETE_PLANS):
                    plan_id = await create_demo_plan(
                        stack.store, user_id=ATHLETE, timezone=NY, start_date=today, sessions=[session], created_at=now
                    )
                    await stack.plans.start_plan(plan_id)
                    self.athlete_plan_ids.append(plan_id)
                    snapshot = await stack.store.load_plan_snapshot(plan_id)
                    assert snapshot is not None
                    self.session_ids.extend(s.id for s in snapshot.sessions)
                self.base_url = url
                self._ready.set()
                await self._stop.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    database: Path = tmp_path_factory.mktemp("api-schema") / "plans.db"
    running = _Server(f"sqlite+aiosqlite:///{database}")
    running.start()
    try:
        yield running
    finally:
        running.stop()
    if running.error is not None:
        raise AssertionError(f"the stack failed while serving: {running.error!r}") from running.error


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only: never through an HTTP(S)_PROXY from the environment
        yield session


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_the_api_conforms_to_its_openapi_document(
    case: schemathesis.Case, data: st.DataObject, server: _Server, http: requests.Session
) -> None:
    parameters = case.path_parameters or {}
    athlete = case.path.startswith("/v1/me/")
    if "plan_id" in parameters and data.draw(st.booleans(), label="use a demo plan"):
        plans = server.athlete_plan_ids if athlete else server.plan_ids
        parameters["plan_id"] = data.draw(st.sampled_from(plans), label="plan_id")
    if "session_id" in parameters and data.draw(st.booleans(), label="use a demo session"):
        parameters["session_id"] = data.draw(st.sampled_from(server.session_ids), label="session_id")
    # Mostly as the athlete: the service token on an athlete endpoint is one more 401.
    as_athlete = athlete and data.draw(st.integers(0, 3), label="as the athlete (unless 0)") != 0
    headers = ATHLETE_AUTH if as_athlete else AUTH
    # Generated bodies are rarely valid for these (an IANA zone, a tone name, a time near now): some are drawn valid
    # (or just around the bounds) instead, so their success answers are checked against the document too.
    valid_bodies = VALID_BODIES.get((case.method, case.path))
    authorized = headers is ATHLETE_AUTH or not athlete
    if valid_bodies is not None and authorized and data.draw(st.booleans(), label="a valid body"):
        case.body = data.draw(valid_bodies, label="body")
    kwargs: dict[str, Any] = {"timeout": 10}
    case.call_and_validate(base_url=server.base_url, session=http, headers=headers, checks=CHECKS, **kwargs)
