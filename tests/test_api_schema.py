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
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from coaching.timeutil import to_local
from starter.api import create_app, openapi_document
from starter.sandbox import local_stack
from tests.test_api import NY, TOKEN, serving

#: A fixed seed: Schemathesis's own generation phases (examples, coverage) would otherwise draw a random one per run.
SEED = 20_240_601
schema = schemathesis.openapi.from_dict(openapi_document(), config=schemathesis.Config(seed=SEED))

AUTH = {"Authorization": f"Bearer {TOKEN}"}


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
#: Demo plans made before the run, so some generated requests reach a plan that exists (two started, one not).
STARTED_PLANS, UNSTARTED_PLANS = 2, 1
STARTUP_TIMEOUT_SECONDS = 60


class _Server:
    """The stack and uvicorn on their own event loop in a daemon thread, until :meth:`stop`."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.base_url = ""
        self.plan_ids: list[int] = []
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
            app = create_app(stack.plans, service_token=TOKEN, store=stack.store, jwt_secret="s" * 32)
            async with serving(app) as url:
                now = await stack.now()
                today = to_local(now, NY).date()
                for n in range(STARTED_PLANS + UNSTARTED_PLANS):
                    session = {
                        "scheduled_date": today + timedelta(days=2),
                        "planned_session_type": "Tempo Ruck",
                        "planned_week": 1,
                        "scheduled_start_time": "07:30",
                    }
                    plan_id = await stack.store.create_demo_plan(
                        timezone=NY, start_date=today, sessions=[session], created_at=now
                    )
                    if n < STARTED_PLANS:
                        await stack.plans.start_plan(plan_id)
                    self.plan_ids.append(plan_id)
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
    if "plan_id" in (case.path_parameters or {}) and data.draw(st.booleans(), label="use a demo plan"):
        assert case.path_parameters is not None
        case.path_parameters["plan_id"] = data.draw(st.sampled_from(server.plan_ids), label="plan_id")
    kwargs: dict[str, Any] = {"timeout": 10}
    case.call_and_validate(base_url=server.base_url, session=http, headers=AUTH, checks=CHECKS, **kwargs)
