"""Record workflow histories for the replay tests (tests/histories/*.json).

Runs representative plans on the time-skipping server with the real activities and saves each history. Commit the
files; they must keep replaying after every change to the workflow.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from temporalio.client import WorkflowHandle

from activities.db import RuckSession
from activities.demo import create_demo_plan
from coaching.models import CadenceSnapshot, CadenceUpdatedInput, SessionCompletedInput, WorkflowConfig
from coaching.timeutil import local_to_utc, to_local, zone
from starter.sandbox import Stack, local_stack
from workflows.plan import CoachingPlanWorkflow

OUT = Path(__file__).resolve().parent.parent / "tests" / "histories"
TZ = "America/New_York"


async def save(name: str, handle: WorkflowHandle[Any, Any]) -> None:
    """Write the run's history to tests/histories/NAME.json."""
    history = await handle.fetch_history()
    (OUT / f"{name}.json").write_text(history.to_json())
    sys.stdout.write(f"recorded {name}: {len(history.events)} events\n")


@asynccontextmanager
async def recording_stack(config: WorkflowConfig | None = None) -> AsyncIterator[Stack]:
    """A local stack on a throwaway SQLite database (search attributes off unless ``config`` says otherwise)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/h.db"
        async with local_stack(url, config=config or WorkflowConfig(search_attributes=False)) as stack:
            yield stack


async def tempo_plan(
    stack: Stack, day: date, count: int, *, start_time: str | None = None, week: int | None = None, **options: Any
) -> int:
    """A demo plan in TZ starting on ``day`` with ``count`` Tempo Rucks every other day from it."""
    sessions: list[dict[str, Any]] = []
    for i in range(count):
        session: dict[str, Any] = {"scheduled_date": day + timedelta(days=2 * i), "planned_session_type": "Tempo Ruck"}
        if week is not None:
            session["planned_week"] = week
        if start_time is not None:
            session["scheduled_start_time"] = start_time
        sessions.append(session)
    options.setdefault("created_at", await stack.now())
    return await create_demo_plan(stack.store, timezone=TZ, start_date=day, sessions=sessions, **options)


async def record(name: str, *, complete: bool, cancel: bool, can_after: int = 10_000) -> None:
    config = WorkflowConfig(search_attributes=False, continue_as_new_after_events=can_after)
    async with recording_stack(config) as stack:
        day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 4, start_time="06:00", week=1, quiet_hours=(22 * 60, 6 * 60 + 30))
        handle = await stack.plans.start_plan(plan_id)
        if complete:
            await stack.plans.session_completed(
                plan_id,
                SessionCompletedInput(ruck_id=77, completed_at=local_to_utc(day, 6 * 60 + 40, TZ)),
            )
            await stack.plans.session_completed(
                plan_id,
                SessionCompletedInput(ruck_id=77, completed_at=local_to_utc(day, 6 * 60 + 40, TZ)),
            )
        await stack.plans.pause(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=1), 12 * 60, TZ))
        await stack.plans.resume(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=4), 12 * 60, TZ))
        if cancel:
            await stack.plans.cancel(plan_id)
            await handle.result()
        # The first run's history: for a plan that continued as new, that run ends in ContinuedAsNew.
        await save(name, stack.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id))


async def record_adaptive_cadence(name: str) -> None:
    """A plan under the adaptive-cadence patch: sessions without a start time, a ruck history, a completed ruck
    (which refreshes the cadence) and a nightly-style cadence_updated signal."""
    async with recording_stack() as stack:
        now = await stack.now()
        today = to_local(now, TZ).date()
        day = today + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 3, created_at=now)
        snapshot = await stack.store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        async with stack.store.sessionmaker.begin() as session:
            await session.execute(
                insert(RuckSession),
                [
                    {
                        "id": 500 + back,
                        "user_id": snapshot.user_id,
                        "status": "completed",
                        "started_at": local_to_utc(today - timedelta(days=back), 5 * 60 + 10, TZ),
                        "completed_at": local_to_utc(today - timedelta(days=back), 6 * 60, TZ),
                    }
                    for back in range(1, 15)
                ],
            )
        handle = await stack.plans.start_plan(plan_id)
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=500, completed_at=local_to_utc(today, 6 * 60, TZ))
        )
        await stack.advance_to(local_to_utc(day, 12 * 60, TZ))
        await stack.client.get_workflow_handle_for(CoachingPlanWorkflow.run, handle.id).signal(
            CoachingPlanWorkflow.cadence_updated,
            CadenceUpdatedInput(
                cadence=CadenceSnapshot(
                    window_start_minute=17 * 60,
                    window_end_minute=18 * 60,
                    centre_minute=17 * 60 + 30,
                    confidence=0.9,
                    sample_size=40,
                )
            ),
        )
        await stack.advance_to(local_to_utc(day + timedelta(days=5), 12 * 60, TZ))
        await stack.plans.cancel(plan_id)
        await handle.result()
        await save(name, handle)


async def record_prepared_content(name: str) -> None:
    """A plan under the prepare-content patch: copy prepared ahead by the (fake) AI, one preparation made stale by a
    moved session, one AI answer slower than the lead time (template on time)."""
    from pydantic import SecretStr
    from sqlalchemy import update

    from activities.db import PlanSessionRow
    from starter.settings import Settings

    sys.path.insert(0, str(OUT.parent.parent))  # the repo root: the fakes live in tests/
    from tests.fakes.openai_api import FakeOpenAI

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI() as ai:
        url = f"sqlite+aiosqlite:///{tmp}/h.db"
        settings = Settings(
            database_url=url, environment="test", openai_api_key=SecretStr("sk-test"), openai_base_url=ai.base_url
        )
        config = settings.workflow_config(search_attributes=False)
        async with local_stack(url, settings=settings, config=config) as stack:
            day = to_local(await stack.now(), TZ).date() + timedelta(days=2)
            plan_id = await tempo_plan(stack, day, 2, start_time="07:30", week=1)
            handle = await stack.plans.start_plan(plan_id)
            await stack.advance_to(local_to_utc(day - timedelta(days=1), 19 * 60 + 50, TZ))
            async with stack.store.sessionmaker.begin() as session:
                await session.execute(
                    update(PlanSessionRow)
                    .where(PlanSessionRow.user_coaching_plan_id == plan_id, PlanSessionRow.scheduled_date == day)
                    .values(scheduled_start_time=local_to_utc(day, 9 * 60, TZ).astimezone(zone(TZ)).time())
                )
            await stack.plans.sessions_changed(plan_id, "moved to 09:00")
            await stack.advance_to(local_to_utc(day, 12 * 60, TZ))
            await stack.plans.cancel(plan_id)
            await handle.result()
            await save(name, handle)


async def record_cancelled_before_load(name: str) -> None:
    """A plan cancelled before its first load finished (patch terminal-signal-wins)."""
    async with recording_stack() as stack:
        day = to_local(await stack.now(), TZ).date() + timedelta(days=2)
        plan_id = await tempo_plan(stack, day, 1, start_time="07:00")
        handle = await stack.plans.start_plan(plan_id)
        await stack.plans.cancel(plan_id)
        await handle.result()
        await save(name, handle)


async def record_athlete_changes(name: str) -> None:
    """An athlete's updates: preferences (brief time, digest off, refused accountability switch), a snooze that holds
    a brief, its cancellation, a session moved (and a refused move into the past), a ruck celebrated."""
    from coaching.models import Category, ChangePreferencesInput, RescheduleSessionInput, SnoozeInput
    from coaching.preferences import ChangeRejected

    async with recording_stack() as stack:
        day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 3, start_time="07:00")
        handle = await stack.plans.start_plan(plan_id)
        await stack.plans.change_preferences(
            plan_id,
            ChangePreferencesInput(evening_brief_minute=19 * 60, categories={Category.WEEKLY_DIGEST: False}),
        )
        for refused in (
            stack.plans.change_preferences(plan_id, ChangePreferencesInput(categories={Category.MORNING_HYPE: False})),
            stack.plans.reschedule_session(
                plan_id, RescheduleSessionInput(plan_session_id=1, scheduled_date=day - timedelta(days=3))
            ),
        ):
            try:
                await refused
            except ChangeRejected:
                pass
        await stack.plans.snooze(plan_id, SnoozeInput(until=local_to_utc(day, 6 * 60 + 30, TZ)))
        await stack.advance_to(local_to_utc(day, 8 * 60, TZ))
        await stack.plans.snooze(plan_id, SnoozeInput(duration_minutes=24 * 60))
        await stack.plans.cancel_snooze(plan_id)
        await stack.plans.reschedule_session(
            plan_id,
            RescheduleSessionInput(plan_session_id=2, scheduled_date=day + timedelta(days=3), start_minute=18 * 60),
        )
        await stack.plans.session_completed(
            plan_id,
            SessionCompletedInput(ruck_id=88, completed_at=local_to_utc(day + timedelta(days=3), 19 * 60, TZ)),
        )
        await stack.advance_to(local_to_utc(day + timedelta(days=4), 12 * 60, TZ))
        await stack.plans.cancel(plan_id)
        await handle.result()
        await save(name, handle)


async def record_reconciled(name: str) -> None:
    """A plan driven by the reconciler alone (patch record-plan-end): started by a pass, a ruck found in ruck_session,
    a pause and resume made in the database, then cancelled there; the workflow records its end."""
    import uuid

    from sqlalchemy import update

    from activities.db import UserCoachingPlan
    from coaching.models import ReconcileInput
    from workflows.reconcile import ReconcileWorkflow

    async with recording_stack() as stack:

        async def reconcile() -> None:
            await stack.client.execute_workflow(
                ReconcileWorkflow.run,
                ReconcileInput(),
                id=f"reconcile-{uuid.uuid4().hex[:8]}",
                task_queue=stack.task_queue,
            )

        async def set_status(status: str) -> None:
            async with stack.store.sessionmaker.begin() as session:
                await session.execute(
                    update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(current_status=status)
                )
            await reconcile()

        day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 3, start_time="07:00")
        await reconcile()
        handle = stack.plans.handle(plan_id)
        snapshot = await stack.store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        await stack.advance_to(local_to_utc(day, 8 * 60, TZ))
        async with stack.store.sessionmaker.begin() as session:
            await session.execute(
                insert(RuckSession).values(
                    id=900,
                    user_id=snapshot.user_id,
                    status="completed",
                    started_at=local_to_utc(day, 7 * 60, TZ),
                    completed_at=local_to_utc(day, 7 * 60 + 50, TZ),
                    distance_km=6.0,
                )
            )
        await reconcile()
        await set_status("paused")
        await stack.advance_to(local_to_utc(day + timedelta(days=1), 12 * 60, TZ))
        await set_status("active")
        await stack.advance_to(local_to_utc(day + timedelta(days=3), 12 * 60, TZ))
        await set_status("cancelled")
        await handle.result()
        await save(name, handle)


async def record_robust(name: str) -> None:
    """A plan under the robust-plans patch: poison completions dropped, one a few minutes ahead of the clock
    celebrated at once, a pause written only to the database and its resume there, deliveries side by side, and
    the plan ending by itself 14 days after its last session."""
    from sqlalchemy import update

    from activities.db import UserCoachingPlan
    from coaching import ids

    async with recording_stack() as stack:

        async def set_status(status: str) -> None:
            async with stack.store.sessionmaker.begin() as session:
                await session.execute(
                    update(UserCoachingPlan).where(UserCoachingPlan.id == plan_id).values(current_status=status)
                )

        day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 3, start_time="07:00")
        handle = await stack.plans.start_plan(plan_id)
        raw = stack.client.get_workflow_handle(handle.id)
        for poison in (
            {"ruck_id": 1, "completed_at": "9999-12-31T23:59:59+00:00"},
            {"ruck_id": 2, "completed_at": "2026-01-01T00:00:00+00:00", "duration_seconds": 10**11},
            None,
        ):
            await raw.signal(ids.SIGNAL_SESSION_COMPLETED, poison)
        await stack.advance_to(local_to_utc(day, 8 * 60, TZ))
        ahead = await stack.now() + timedelta(minutes=5)
        await stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=42, completed_at=ahead))
        await stack.advance_to(local_to_utc(day + timedelta(days=1), 12 * 60, TZ))
        await set_status("paused")
        await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60, TZ))
        await set_status("active")
        await stack.advance_to(local_to_utc(day + timedelta(days=20), 12 * 60, TZ))
        await handle.result()
        await save(name, handle)


async def record_timing_rules(name: str) -> None:
    """A plan under the timing-rules-v2 patch: created at 23:50 (the brief due at 20:00 is skipped, before_plan), a
    pause and resume around a session (its follow-up skipped, the escalation not counting it), a ruck finished just
    now celebrated in quiet hours, an old import skipped as ruck_too_old, and the plan ending by itself."""
    async with recording_stack() as stack:
        now = await stack.now()
        evening = local_to_utc(to_local(now, TZ).date(), 23 * 60 + 50, TZ)
        if evening <= now:
            evening += timedelta(days=1)
        await stack.advance_to(evening)
        day = to_local(evening, TZ).date() + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 4, start_time="07:00", quiet_hours=(22 * 60, 6 * 60 + 30))
        handle = await stack.plans.start_plan(plan_id)
        # (Signals away from timer times: the time-skipping server mishandles one landing as a timer fires.)
        await stack.advance_to(local_to_utc(day, 23 * 60 + 15, TZ))
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=51, completed_at=local_to_utc(day, 23 * 60 + 5, TZ))
        )
        await stack.advance_to(local_to_utc(day + timedelta(days=1), 12 * 60 + 30, TZ))
        await stack.plans.pause(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60 + 30, TZ))
        await stack.plans.resume(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=5), 12 * 60 + 30, TZ))
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=52, completed_at=local_to_utc(day + timedelta(days=4), 7 * 60, TZ))
        )
        await stack.advance_to(local_to_utc(day + timedelta(days=30), 12 * 60, TZ))
        await handle.result()
        await save(name, handle)


async def record_explained(name: str) -> None:
    """A plan as the Web UI explains it (issue 14): started with its static summary, every timer and activity named,
    current details set. No patch: the summaries are metadata of the same commands (every older history replays)."""
    async with recording_stack() as stack:
        day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
        plan_id = await tempo_plan(stack, day, 2, start_time="06:00", week=1, quiet_hours=(22 * 60, 6 * 60 + 30))
        handle = await stack.plans.start_plan(plan_id, timezone=TZ, tone="drill_sergeant")
        await stack.advance_to(local_to_utc(day, 7 * 60, TZ))
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=77, completed_at=local_to_utc(day, 6 * 60 + 40, TZ))
        )
        await stack.plans.pause(plan_id)
        await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60, TZ))
        await stack.plans.cancel(plan_id)
        await handle.result()
        await save(name, handle)


RECORDINGS: dict[str, Callable[[str], Awaitable[None]]] = {
    # Recorded before the adaptive-cadence patch: they prove running plans of that time still replay.
    "plan_completed_paused_cancelled": lambda n: record(n, complete=True, cancel=True),
    "plan_running_missed": lambda n: record(n, complete=False, cancel=False),
    "plan_continued_as_new": lambda n: record(n, complete=True, cancel=False, can_after=100),
    "plan_adaptive_cadence": record_adaptive_cadence,
    "plan_cancelled_before_load": record_cancelled_before_load,
    "plan_prepared_content": record_prepared_content,
    # Recorded before snoozes were stored with the plan (patch stored-snooze); recorded again under a new name after.
    "plan_athlete_changes": record_athlete_changes,
    "plan_athlete_changes_stored_snooze": record_athlete_changes,
    # Under the record-plan-end patch: the reconciler drives the plan, and its end is recorded for it.
    "plan_reconciled": record_reconciled,
    # Under the robust-plans patch (poison payloads, concurrent deliveries, database pause, plans that end).
    "plan_robust": record_robust,
    # Under the timing-rules-v2 patch (RULES_V2: before_plan, pause periods, a fresh ruck in quiet hours, old imports).
    "plan_timing_rules": record_timing_rules,
    # Issue 14: static summary, named timers and activities (metadata only: no patch).
    "plan_explained": record_explained,
}


async def main(names: list[str]) -> None:
    """Record the named histories, or those not yet committed. Re-recording an old one replaces a history of
    the workflow as it was with one of today's code, so it is never done implicitly."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or [n for n in RECORDINGS if not (OUT / f"{n}.json").exists()]:
        await RECORDINGS[name](name)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
