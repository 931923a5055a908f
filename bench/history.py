"""History size of one plan-week: a 3-session week with completions, on the time-skipping server.

One plan (sessions Monday, Wednesday and Friday at 07:00 in New York, each rucked at 07:30 and reported by signal),
started the Sunday before and run to the next Sunday noon; then its history is counted: events, workflow tasks,
timers and activities by type. Run twice in the same run, with the worker configured as deployed without AI or
weather (templates rendered at delivery: no preparation) and with a weather key (copy prepared ahead, the weather
service unreachable, so the template is used); the second is the "prepared ahead" baseline. Target: <= 120 events
per plan-week. Nothing is asserted.

    .venv/bin/python bench/history.py
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
from datetime import date, timedelta
from typing import Any

from _stack import load_note

ZONE = "America/New_York"
WEEK_START = date(2026, 3, 1)  # a Sunday; the sessions are on the 2nd, 4th and 6th


async def plan_week(weather: bool) -> collections.Counter[str]:
    from pydantic import SecretStr

    from activities.demo import create_demo_plan
    from coaching.models import SessionCompletedInput
    from coaching.timeutil import local_to_utc
    from starter.sandbox import local_stack
    from starter.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/history.db"
        extra: dict[str, Any] = {}
        if weather:  # nothing listens there: the weather line is left out, as when OpenWeatherMap is down
            extra = {"openweather_api_key": SecretStr("bench"), "openweather_base_url": "http://127.0.0.1:9"}
        settings = Settings(database_url=url, environment="test", **extra)
        async with local_stack(url, settings=settings) as stack:
            now = await stack.now()
            days = [WEEK_START + timedelta(days=d) for d in (1, 3, 5)]
            shift = (now.date() - WEEK_START).days + 7  # the week from next week on (the server's clock is now)
            days = [d + timedelta(days=shift) for d in days]
            plan_id = await create_demo_plan(
                stack.store,
                timezone=ZONE,
                start_date=days[0] - timedelta(days=1),
                sessions=[{"scheduled_date": d, "scheduled_start_time": "07:00", "planned_week": 1} for d in days],
                created_at=local_to_utc(days[0] - timedelta(days=1), 12 * 60, ZONE),
            )
            await stack.advance_to(local_to_utc(days[0] - timedelta(days=1), 12 * 60, ZONE))
            handle = await stack.plans.start_plan(plan_id)
            for ruck, day in enumerate(days, start=1):
                await stack.advance_to(local_to_utc(day, 7 * 60 + 30, ZONE))
                await stack.plans.session_completed(
                    plan_id, SessionCompletedInput(ruck_id=ruck, completed_at=local_to_utc(day, 7 * 60 + 30, ZONE))
                )
            await stack.advance_to(local_to_utc(days[-1] + timedelta(days=2), 12 * 60, ZONE))
            history = await handle.fetch_history()
    counts: collections.Counter[str] = collections.Counter()
    for event in history.events:
        counts["events"] += 1
        kind = event.WhichOneof("attributes") or ""
        if kind == "workflow_task_completed_event_attributes":
            counts["workflow tasks"] += 1
        elif kind == "timer_started_event_attributes":
            counts["timers"] += 1
        elif kind == "activity_task_scheduled_event_attributes":
            counts["activities"] += 1
            counts[f"  {event.activity_task_scheduled_event_attributes.activity_type.name}"] += 1
    return counts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    from coaching.timeutil import pin_tzdata

    pin_tzdata()
    print(f"history: one plan-week, 3 sessions rucked; {load_note()} at the start")
    lean = await plan_week(weather=False)
    ahead = await plan_week(weather=True)
    rows = ["events", "workflow tasks", "timers", "activities"]
    rows += sorted({k for k in (*lean, *ahead) if k.startswith("  ")})
    print("\n| per plan-week | templates at delivery | prepared ahead (weather on) |\n|---|---|---|")
    for key in rows:
        print(f"| {key} | {lean[key]} | {ahead[key]} |")
    verdict = "PASS" if lean["events"] <= 120 else "MISS"
    print(f"\ntarget <= 120 events per plan-week: {verdict} ({lean['events']} without preparation)")


if __name__ == "__main__":
    asyncio.run(main())
