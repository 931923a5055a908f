"""The worker: builds the clients once, registers the workflow and activities, and closes everything on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.cadence import CadenceActivities
from activities.cadence_store import CadenceStore
from activities.database import make_engine, make_sessionmaker
from activities.plan_activities import PlanActivities
from activities.push import make_pusher
from activities.store import Store
from starter.schedules import ensure_cadence_schedule
from starter.settings import Settings
from workflows.cadence import CadenceRecomputeWorkflow
from workflows.plan import CoachingPlanWorkflow

logger = logging.getLogger(__name__)


@asynccontextmanager
async def build_worker(client: Client, settings: Settings, **worker_options: Any) -> AsyncIterator[Worker]:
    """A configured worker (not yet running) whose clients are closed when the context exits."""
    engine = make_engine(settings.database_url)
    pusher = make_pusher(
        credentials_json=settings.firebase_credentials,
        credentials_path=settings.firebase_credentials_path,
        project_id=settings.firebase_project_id,
        endpoint=settings.fcm_endpoint,
        timeout_seconds=settings.push_timeout_seconds,
    )
    store = Store(make_sessionmaker(engine))
    cadence = CadenceStore(store.sessionmaker)
    activities = PlanActivities(store=store, pusher=pusher, cadence=cadence)
    cadence_activities = CadenceActivities(cadence=cadence, client=client)
    try:
        yield Worker(
            client,
            task_queue=worker_options.pop("task_queue", settings.task_queue),
            workflows=[CoachingPlanWorkflow, CadenceRecomputeWorkflow],
            activities=[*activities.all(), *cadence_activities.all()],
            **worker_options,
        )
    finally:
        await pusher.close()
        await engine.dispose()


async def run_worker(client: Client, settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or forever), then finish in-flight tasks and close clients."""
    if settings.cadence_schedule:
        await ensure_cadence_schedule(
            client,
            task_queue=settings.task_queue,
            hour_utc=settings.cadence_hour_utc,
            minute=settings.cadence_minute,
            batch_size=settings.cadence_batch_size,
        )
    async with build_worker(client, settings) as worker:
        logger.info(
            "worker polling task queue %s (push via %s)",
            settings.task_queue,
            "fcm" if settings.firebase_credentials or settings.firebase_credentials_path else "outbox",
        )
        async with worker:
            await (stop.wait() if stop else asyncio.Event().wait())
