"""Record workflow histories for the replay tests (tests/histories/*.json).

Runs representative plans on the time-skipping server with the real activities and saves each history. Commit the
files; they must keep replaying after every change to the workflow.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from coaching.models import SessionCompletedInput, WorkflowConfig
from coaching.timeutil import local_to_utc, to_local
from starter.sandbox import local_stack

OUT = Path(__file__).resolve().parent.parent / "tests" / "histories"
TZ = "America/New_York"


async def record(name: str, *, complete: bool, cancel: bool, can_after: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = WorkflowConfig(search_attributes=False, continue_as_new_after_events=can_after)
        async with local_stack(f"sqlite+aiosqlite:///{tmp}/h.db", config=config) as stack:
            day = to_local(await stack.now(), TZ).date() + timedelta(days=1)
            plan_id = await stack.store.create_demo_plan(
                timezone=TZ,
                start_date=day,
                sessions=[
                    {
                        "scheduled_date": day + timedelta(days=2 * i),
                        "planned_session_type": "Tempo Ruck",
                        "planned_week": 1,
                        "scheduled_start_time": "06:00",
                    }
                    for i in range(4)
                ],
                quiet_hours=(22 * 60, 6 * 60 + 30),
                created_at=await stack.now(),
            )
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
            history = await stack.client.get_workflow_handle(
                handle.id, run_id=handle.first_execution_run_id
            ).fetch_history()
            (OUT / f"{name}.json").write_text(history.to_json())
            sys.stdout.write(f"recorded {name}: {len(history.events)} events\n")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    await record("plan_completed_paused_cancelled", complete=True, cancel=True)
    await record("plan_running_missed", complete=False, cancel=False)
    await record("plan_continued_as_new", complete=True, cancel=False, can_after=100)


if __name__ == "__main__":
    asyncio.run(main())
