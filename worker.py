"""The worker: builds the clients once, registers the workflow and activities, and closes everything on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities import metrics
from activities.ai_copy import AiCopywriter, make_client
from activities.anomaly import AnomalyActivities, AnomalyStore, BrakeHook, kill_switch_brake
from activities.cadence import CadenceActivities
from activities.cadence_store import CadenceStore
from activities.database import make_engine, make_sessionmaker
from activities.plan_activities import PlanActivities
from activities.push import make_pusher
from activities.reconcile import ReconcileActivities
from activities.reconcile_store import ReconcileStore
from activities.rollout import RolloutFlags
from activities.store import Store
from activities.weather import WeatherService
from coaching.models import WorkflowConfig
from coaching.timeutil import pin_tzdata
from starter.schedules import ensure_anomaly_schedule, ensure_cadence_schedule, ensure_reconcile_schedule
from starter.settings import Settings, anomaly_input, reconcile_input
from workflows.anomaly import AnomalyWatchWorkflow
from workflows.cadence import CadenceRecomputeWorkflow
from workflows.plan import CoachingPlanWorkflow
from workflows.reconcile import ReconcileWorkflow

logger = logging.getLogger(__name__)


@asynccontextmanager
async def build_worker(
    client: Client,
    settings: Settings,
    *,
    workflow_config: WorkflowConfig | None = None,
    brake: BrakeHook | None = None,
    **worker_options: Any,
) -> AsyncIterator[Worker]:
    """A configured worker (not yet running) whose clients are closed when the context exits. ``workflow_config``
    overrides what the plan workflows get from ``settings`` (tests and the simulator use it); ``brake`` is the anomaly
    watch's brake hook (see :mod:`activities.anomaly`)."""
    workflow_config = workflow_config or settings.workflow_config()
    pin_tzdata()  # the same zone data on every worker, so a replay computes the same times
    engine = make_engine(
        settings.database_url, pool_size=settings.db_pool_size_for_worker(), pre_ping=settings.db_pool_pre_ping
    )
    pusher = make_pusher(
        credentials_json=settings.firebase_credentials,
        credentials_path=settings.firebase_credentials_path,
        project_id=settings.firebase_project_id,
        endpoint=settings.fcm_endpoint,
        timeout_seconds=settings.push_timeout_seconds,
        max_concurrency=settings.push_max_concurrency,
    )
    # FCM's answer for a token is recorded through a pool of its own, one connection per FCM request slot: in a burst
    # the main pool is busy, and until the record commits a worker killed then would have that push sent again.
    push_record_engine = make_engine(
        settings.database_url, pool_size=settings.push_max_concurrency, max_overflow=settings.push_max_concurrency
    )
    store = Store(make_sessionmaker(engine), push_records=make_sessionmaker(push_record_engine))
    cadence = CadenceStore(store.sessionmaker)
    openai_client = (
        make_client(
            settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.ai_budget_seconds,
        )
        if settings.openai_api_key
        else None
    )
    http = httpx.AsyncClient()
    weather = (
        WeatherService(
            http,
            settings.openweather_api_key.get_secret_value(),
            store.sessionmaker,
            base_url=settings.openweather_base_url,
            cache_ttl=timedelta(minutes=settings.weather_cache_ttl_minutes),
        )
        if settings.openweather_api_key
        else None
    )
    activities = PlanActivities(
        store=store,
        pusher=pusher,
        cadence=cadence,
        copywriter=(
            AiCopywriter(openai_client, model=settings.ai_model, budget_seconds=settings.ai_budget_seconds)
            if openai_client
            else None
        ),
        weather=weather,
        ai_daily_budget=settings.ai_daily_budget,
        config=workflow_config,
        # Read through OpenFeature at send time: a change reaches this worker within the cache's TTL.
        rollout=RolloutFlags.on_table(store.sessionmaker, ttl_seconds=settings.rollout_cache_ttl_seconds),
        kill_switch_retry_seconds=settings.rollout_kill_switch_retry_seconds,
    )
    cadence_activities = CadenceActivities(cadence=cadence, client=client)
    task_queue = worker_options.pop("task_queue", settings.task_queue)
    # A stopping worker lets running activities finish (a push on the wire is answered and recorded here) before it
    # cancels them; Temporal's default, 0, cancelled in-flight pushes that then went out anyway and were retried.
    worker_options.setdefault("graceful_shutdown_timeout", timedelta(seconds=settings.worker_shutdown_grace_seconds))
    for option, value in settings.worker_tuning().items():
        worker_options.setdefault(option, value)
    reconcile_activities = ReconcileActivities(
        store=ReconcileStore(store.sessionmaker),
        client=client,
        task_queue=task_queue,
        config=workflow_config,
    )
    anomaly_activities = AnomalyActivities(
        store=AnomalyStore(store.sessionmaker),
        http=http,
        webhook_url=settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None,
        brake_factor=settings.anomaly_brake_factor,
        # Used only when COACH_ANOMALY_BRAKE_FACTOR is set: by default the brake is the rollout kill switch.
        brake=brake or kill_switch_brake(store.sessionmaker),
    )
    try:
        yield Worker(
            client,
            task_queue=task_queue,
            workflows=[CoachingPlanWorkflow, CadenceRecomputeWorkflow, ReconcileWorkflow, AnomalyWatchWorkflow],
            activities=[
                *activities.all(),
                *cadence_activities.all(),
                *reconcile_activities.all(),
                *anomaly_activities.all(),
            ],
            **worker_options,
        )
    finally:
        await pusher.close()
        if openai_client is not None:
            await openai_client.close()
        await http.aclose()
        await engine.dispose()
        await push_record_engine.dispose()


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
    if settings.reconcile_interval_seconds:
        await ensure_reconcile_schedule(
            client,
            task_queue=settings.task_queue,
            every=timedelta(seconds=settings.reconcile_interval_seconds),
            input=reconcile_input(settings),
        )
    if settings.anomaly_interval_minutes:
        await ensure_anomaly_schedule(
            client,
            task_queue=settings.task_queue,
            every=timedelta(minutes=settings.anomaly_interval_minutes),
            input=anomaly_input(settings),
        )
    async with build_worker(client, settings) as worker:
        logger.info(
            "worker polling task queue %s (push via %s)",
            settings.task_queue,
            "fcm" if settings.firebase_credentials or settings.firebase_credentials_path else "outbox",
        )
        with metrics.serving(settings.metrics_address, busy_ok=True):
            gauge = asyncio.create_task(_refresh_plans_gauge(settings))
            try:
                async with worker:
                    await (stop.wait() if stop else asyncio.Event().wait())
            finally:
                gauge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gauge


async def _refresh_plans_gauge(settings: Settings) -> None:
    """Keep ``coach_plans{status}`` up to date from the database (a failed read keeps the last values)."""
    engine = make_engine(settings.database_url)
    try:
        store = metrics.PlanCounts(make_sessionmaker(engine))
        while True:
            try:
                metrics.plans(await store.by_status())
            except Exception as err:  # a gauge must never stop the worker
                logger.warning("plans gauge not refreshed: %s", type(err).__name__)
            await asyncio.sleep(settings.plans_gauge_interval_seconds)
    finally:
        await engine.dispose()
