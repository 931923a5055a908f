"""The reconciler: the database is the source of truth for which plans run, their status, and completed rucks.

Store queries on all three databases (SQLite, PostgreSQL standalone, RuckTracker's schema with its legacy rows); the
passes themselves on the time-skipping server with the real workflow and activities (on SQLite and RuckTracker's
schema); the schedule on the dev server.
"""

from __future__ import annotations

import ast
import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.db import PlanRuck, PlanRun, RuckSession, UserCoachingPlan
from activities.demo import create_demo_plan, ensure_athlete
from activities.reconcile import completion
from activities.reconcile_store import NewRuck, ReconcileStore
from activities.store import Store
from coaching import ids
from coaching.models import LedgerStatus, NotificationType, PlanStatus, ReconcileInput, ReconcileResult
from coaching.timeutil import to_local
from starter.sandbox import Stack, local_stack, wait_for
from starter.schedules import ensure_reconcile_schedule
from tests import rucktracker
from workflows.plan import CoachingPlanWorkflow
from workflows.reconcile import ReconcileWorkflow

Sessions = async_sessionmaker[AsyncSession]
TZ = "America/Chicago"
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def test_signal_names_are_the_workflows() -> None:
    """Activities signal the plan workflow by name: the names must be its handlers'."""
    assert CoachingPlanWorkflow.__temporal_workflow_definition.name == ids.PLAN_WORKFLOW_TYPE  # type: ignore[attr-defined]
    signals = CoachingPlanWorkflow.__temporal_workflow_definition.signals  # type: ignore[attr-defined]
    for name in (
        ids.SIGNAL_SESSION_COMPLETED,
        ids.SIGNAL_PLAN_PAUSED,
        ids.SIGNAL_PLAN_RESUMED,
        ids.SIGNAL_PLAN_CANCELLED,
        ids.SIGNAL_PLAN_COMPLETED,
        ids.SIGNAL_CADENCE_UPDATED,
    ):
        assert name in signals, name


# ---- the store -------------------------------------------------------------------------------------------------


async def plan(store: Store, **kwargs: Any) -> int:
    kwargs.setdefault("created_at", NOW - timedelta(days=1))
    return await create_demo_plan(
        store, timezone=TZ, start_date=date(2026, 12, 3), sessions=[{"scheduled_date": "2026-12-03"}], **kwargs
    )


async def add_ruck(db: Sessions, user_id: str, completed_at: datetime, **values: Any) -> int:
    async with db.begin() as session:
        await ensure_athlete(session, user_id, {})
        ruck = RuckSession(
            user_id=user_id,
            status=values.pop("status", "completed"),
            started_at=values.pop("started_at", completed_at - timedelta(minutes=50)),
            completed_at=completed_at,
            ruck_weight_kg=values.pop("ruck_weight_kg", 11.0),
            **values,
        )
        session.add(ruck)
        await session.flush()
        return ruck.id


async def owner(db: Sessions, plan_id: int) -> str:
    async with db() as session:
        found = await session.scalar(select(UserCoachingPlan.user_id).where(UserCoachingPlan.id == plan_id))
    assert found is not None
    return str(found)


async def set_status(db: Sessions, plan_id: int, status: str) -> None:
    async with db.begin() as session:
        await session.execute(
            update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(current_status=status)
        )


async def test_plans_to_start_are_the_live_plans_without_a_workflow(
    store: Store, db_sessionmaker: Sessions, schema: str
) -> None:
    runs = ReconcileStore(db_sessionmaker)
    legacy = await runs.plans_to_start(after=0, limit=100)
    if schema == "rucktracker":  # RuckTracker's own active plans (not its cancelled one) are the service's too
        ids_ = rucktracker.PLAN_IDS
        expected = [ids_["imperial_active"], ids_["calcutta_active"], ids_["prefs_active"]]
        assert [p.plan_id for p in legacy] == expected
        assert {p.status for p in legacy} == {"active"}
        await runs.record_started([(p.plan_id, p.user_id, p.status) for p in legacy], NOW)
    else:
        assert legacy == []

    active = await plan(store)
    paused = await plan(store, status=PlanStatus.PAUSED)
    await plan(store, status=PlanStatus.COMPLETED)
    found = await runs.plans_to_start(after=0, limit=100)
    assert [(p.plan_id, p.status) for p in found] == [(active, "active"), (paused, "paused")]
    assert [p.plan_id for p in await runs.plans_to_start(after=active, limit=100)] == [paused]
    assert [p.plan_id for p in await runs.plans_to_start(after=0, limit=1)] == [active]

    await runs.record_started([(active, found[0].user_id, "active")], NOW)
    assert [p.plan_id for p in await runs.plans_to_start(after=0, limit=100)] == [paused]
    # A workflow that ended while the plan was live (e.g. a plan that is over) is not started again ...
    await runs.record_ended(active, "active", "over", NOW)
    assert [p.plan_id for p in await runs.plans_to_start(after=0, limit=100)] == [paused]
    # ... one that ended cancelled is, when the plan is live again in the database.
    await runs.record_ended(active, "cancelled", "cancelled", NOW)
    assert [p.plan_id for p in await runs.plans_to_start(after=0, limit=100)] == [active, paused]
    await runs.record_started([(active, found[0].user_id, "active")], NOW + timedelta(minutes=1))
    async with db_sessionmaker() as session:
        row = await session.get(PlanRun, active)
    assert row is not None and row.ended_at is None and row.end_reason is None and row.status_seen == "active"


async def test_status_changes_compare_the_database_with_what_the_workflow_saw(
    store: Store, db_sessionmaker: Sessions
) -> None:
    runs = ReconcileStore(db_sessionmaker)
    kept, paused, cancelled, removed, ended = [await plan(store) for _ in range(5)]
    users = {p: await owner(db_sessionmaker, p) for p in (kept, paused, cancelled, removed, ended)}
    await runs.record_started([(p, u, "active") for p, u in users.items()], NOW)
    assert await runs.status_changes(after=0, limit=100) == []

    await set_status(db_sessionmaker, paused, "paused")
    await set_status(db_sessionmaker, cancelled, "cancelled")
    await set_status(db_sessionmaker, ended, "completed")
    await runs.record_ended(ended, "completed", "done", NOW)  # already over: nothing to tell
    async with db_sessionmaker.begin() as session:
        await session.execute(delete(UserCoachingPlan).where(UserCoachingPlan.id == removed))
    changes = await runs.status_changes(after=0, limit=100)
    assert [(c.plan_id, c.seen, c.now) for c in changes] == [
        (paused, "active", "paused"),
        (cancelled, "active", "cancelled"),
        (removed, "active", "removed"),
    ]
    assert [c.plan_id for c in await runs.status_changes(after=paused, limit=1)] == [cancelled]
    await runs.record_seen({paused: "paused"})
    assert [c.plan_id for c in await runs.status_changes(after=0, limit=100)] == [cancelled, removed]


async def test_new_rucks_of_running_plans_once(store: Store, db_sessionmaker: Sessions, schema: str) -> None:
    runs = ReconcileStore(db_sessionmaker)
    running = await plan(store)
    not_started = await plan(store)
    user, other = await owner(db_sessionmaker, running), await owner(db_sessionmaker, not_started)
    await runs.record_started([(running, user, "active")], NOW)
    old = await add_ruck(db_sessionmaker, user, NOW - timedelta(days=3))  # before the lookback
    before_plan = await add_ruck(db_sessionmaker, user, NOW - timedelta(days=1, hours=2))  # before the plan
    first = await add_ruck(db_sessionmaker, user, NOW - timedelta(hours=5), distance_km=6.4, duration_seconds=3000)
    second = await add_ruck(db_sessionmaker, user, NOW - timedelta(hours=1))
    await add_ruck(db_sessionmaker, user, NOW - timedelta(minutes=20), status="in_progress")
    await add_ruck(db_sessionmaker, user, NOW + timedelta(hours=3))  # a phone clock gone wrong: not yet
    await add_ruck(db_sessionmaker, other, NOW - timedelta(hours=1))  # its plan has no workflow yet

    since, until = NOW - timedelta(hours=48), NOW + timedelta(minutes=5)
    found = await runs.new_rucks(since=since, until=until, limit=100)
    assert [(r.plan_id, r.ruck_id) for r in found] == [(running, first), (running, second)]
    assert (found[0].distance_km, found[0].duration_seconds, found[0].user_id) == (6.4, 3000, user)
    assert old not in {r.ruck_id for r in found} and before_plan not in {r.ruck_id for r in found}
    assert [r.ruck_id for r in await runs.new_rucks(since=since, until=until, limit=1)] == [first]

    await runs.record_rucks([(running, first, "reconciler"), (running, first, "reconciler")], NOW)
    assert [r.ruck_id for r in await runs.new_rucks(since=since, until=until, limit=100)] == [second]
    await set_status(db_sessionmaker, running, "cancelled")
    assert await runs.new_rucks(since=since, until=until, limit=100) == []
    async with db_sessionmaker() as session:
        told = (await session.scalars(select(PlanRuck).where(PlanRuck.plan_id == running))).all()
    assert [(t.ruck_id, t.source) for t in told] == [(first, "reconciler")]


def test_completion_bounds_what_the_database_holds() -> None:
    """A ruck's row is RuckTracker's: values that would make no sense in a signal are left out, never passed on."""
    done = NOW
    ruck = NewRuck(1, 7, "u", done - timedelta(minutes=45), done, None, 5.5)
    signal = completion(ruck)
    assert (signal.ruck_id, signal.duration_seconds, signal.distance_km) == (7, 2700, 5.5)
    assert signal.source.value == "database"
    absurd = completion(NewRuck(1, 8, "u", datetime(1, 1, 1, tzinfo=UTC), done, 10**11, -3.0))
    assert (absurd.started_at, absurd.duration_seconds, absurd.distance_km) == (None, None, None)
    after = completion(NewRuck(1, 9, "u", done + timedelta(hours=1), done, None, None))
    assert (after.started_at, after.duration_seconds) == (None, None)


# ---- passes on the time-skipping server ----------------------------------------------------------------------


@pytest.fixture
async def stack(stack_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(stack_database_url) as s:
        yield s


async def reconcile(stack: Stack, **options: Any) -> ReconcileResult:
    return await stack.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(**options),
        id=f"reconcile-{uuid.uuid4().hex[:8]}",
        task_queue=stack.task_queue,
    )


async def workflow_status(client: Client, plan_id: int) -> WorkflowExecutionStatus | None:
    return (await client.get_workflow_handle(ids.plan_workflow_id(plan_id)).describe()).status


async def test_a_pass_starts_tells_and_celebrates_with_no_call_from_the_core_api(stack: Stack) -> None:
    now = await stack.now()
    today = to_local(now, TZ).date()
    sessions = [{"scheduled_date": today + timedelta(days=d), "scheduled_start_time": "07:00"} for d in (1, 3)]
    plan_id = await create_demo_plan(
        stack.store, timezone=TZ, start_date=today, sessions=sessions, created_at=now - timedelta(minutes=1)
    )
    pause_me = await create_demo_plan(stack.store, timezone=TZ, start_date=today, sessions=sessions, created_at=now)
    first = await reconcile(stack)
    assert first.starts.started >= 2 and not first.starts.more
    assert await workflow_status(stack.client, plan_id) is WorkflowExecutionStatus.RUNNING

    async def kickoff_sent() -> bool:
        return any(r.notification_type == NotificationType.KICKOFF_PRIMER.value for r in await stack.ledger(plan_id))

    await wait_for(kickoff_sent)
    again = await reconcile(stack)  # nothing new: nothing started or told twice
    assert (again.starts.started, again.statuses.signalled, again.rucks.rucks) == (0, 0, 0)

    # A ruck the core API never reported, completed a minute ago: the next pass tells the plan, once.
    user = (await stack.store.load_plan_snapshot(plan_id)).user_id  # type: ignore[union-attr]
    ruck = await add_ruck(stack.store.sessionmaker, user, await stack.now() - timedelta(minutes=1), distance_km=5.0)
    told = await reconcile(stack)
    assert told.rucks.rucks == 1

    async def celebrated() -> list[Any]:
        rows = await stack.ledger(plan_id)
        return [
            r for r in rows if r.notification_type == "plan_completion_celebration" and r.status is LedgerStatus.SENT
        ]

    (celebration,) = await wait_for(celebrated)
    assert str(ruck) in celebration.notification_id
    assert (await reconcile(stack)).rucks.rucks == 0

    # Paused in the database: the workflow hears it; resumed: it hears that too.
    await set_status(stack.store.sessionmaker, pause_me, "paused")
    assert (await reconcile(stack)).statuses.signalled == 1
    handle = stack.plans.handle(pause_me)

    async def status_is(expected: PlanStatus) -> bool:
        return (await handle.query(CoachingPlanWorkflow.status)).status is expected

    await wait_for(lambda: status_is(PlanStatus.PAUSED))
    await set_status(stack.store.sessionmaker, pause_me, "active")
    assert (await reconcile(stack)).statuses.signalled == 1
    await wait_for(lambda: status_is(PlanStatus.ACTIVE))

    # Cancelled in the database: the workflow ends, and records it; live again: started again.
    await set_status(stack.store.sessionmaker, pause_me, "cancelled")
    cancelled = await reconcile(stack)
    assert cancelled.statuses.ended == 1
    assert (await handle.result()).final_status is PlanStatus.CANCELLED
    async with stack.store.sessionmaker() as session:
        run = await session.get(PlanRun, pause_me)
    assert run is not None and run.ended_at is not None and run.status_seen == "cancelled"
    await set_status(stack.store.sessionmaker, pause_me, "active")
    assert (await reconcile(stack)).starts.started == 1
    await wait_for(lambda: status_is(PlanStatus.ACTIVE))

    # Deleted from the database: its workflow is cancelled.
    async with stack.store.sessionmaker.begin() as session:
        await session.execute(delete(UserCoachingPlan).where(UserCoachingPlan.id == plan_id))
    assert (await reconcile(stack)).statuses.ended == 1
    assert (await stack.plans.handle(plan_id).result()).final_status is PlanStatus.CANCELLED


async def test_a_plan_whose_workflow_vanished_is_started_again(stack: Stack) -> None:
    """A run row whose workflow is gone (terminated by an operator): the pass forgets it and the next starts it."""
    now = await stack.now()
    today = to_local(now, TZ).date()
    plan_id = await create_demo_plan(
        stack.store,
        timezone=TZ,
        start_date=today,
        sessions=[{"scheduled_date": today + timedelta(days=2)}],
        created_at=now - timedelta(hours=1),
    )
    await reconcile(stack)
    handle = stack.plans.handle(plan_id)
    await handle.terminate("operator")
    user = (await stack.store.load_plan_snapshot(plan_id)).user_id  # type: ignore[union-attr]
    # (Time may have been skipped while the workflow slept: the ruck is a minute before the server's now.)
    await add_ruck(stack.store.sessionmaker, user, await stack.now() - timedelta(minutes=1))
    lost = await reconcile(stack)
    assert (lost.rucks.rucks, lost.rucks.forgotten) == (0, 1)
    found = await reconcile(stack)
    assert found.starts.started == 1 and found.rucks.rucks == 1
    assert await workflow_status(stack.client, plan_id) is WorkflowExecutionStatus.RUNNING


async def test_a_pass_is_bounded(stack: Stack) -> None:
    now = await stack.now()
    today = to_local(now, TZ).date()
    plans = [
        await create_demo_plan(stack.store, timezone=TZ, start_date=today, sessions=[], created_at=now)
        for _ in range(3)
    ]
    first = await reconcile(stack, max_starts=2, page_size=1)
    assert (first.starts.started, first.starts.more) == (2, True)
    while (await reconcile(stack, max_starts=2, page_size=1)).starts.more:  # the rest, two per pass
        pass
    for plan_id in plans:
        assert await workflow_status(stack.client, plan_id) is WorkflowExecutionStatus.RUNNING


# ---- the schedule ---------------------------------------------------------------------------------------------


@pytest.mark.devserver
async def test_the_schedule_is_created_once_and_keeps_a_pause(dev_server: WorkflowEnvironment) -> None:
    client = dev_server.client
    options = {"task_queue": "reconcile-test", "every": timedelta(seconds=60), "input": ReconcileInput()}
    handle = await ensure_reconcile_schedule(client, **options)  # type: ignore[arg-type]
    try:
        await handle.pause(note="operator: investigating")
        again = await ensure_reconcile_schedule(client, **{**options, "every": timedelta(seconds=30)})  # type: ignore[arg-type]
        described = await again.describe()
        assert described.schedule.state.paused is True
        assert described.schedule.spec.intervals[0].every == timedelta(seconds=30)
        assert described.id == ids.RECONCILE_SCHEDULE_ID
    finally:
        await handle.delete()


def test_the_reconciler_activities_never_import_the_workflow_class() -> None:
    import activities.reconcile as module

    tree = ast.parse(inspect.getsource(module))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
    }
    assert not {m for m in imported if m and m.split(".")[0] in ("workflows", "starter")}
