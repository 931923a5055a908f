"""Demo plans shared by the data layer's tests (``test_store*.py``): three sessions around ``START`` in New
York, and the athlete and session ids of a plan.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.demo import create_demo_plan
from activities.store import Store

Sessions = async_sessionmaker[AsyncSession]

START = date(2026, 3, 9)
NY = "America/New_York"


async def demo_plan(store: Store, **kwargs: Any) -> int:
    sessions = kwargs.pop(
        "sessions",
        [
            {
                "scheduled_date": START + timedelta(days=2),
                "planned_session_type": "Hill Ruck",
                "scheduled_start_time": 18 * 60,
                "target_duration_minutes": 44.6,
            },
            {
                "scheduled_date": START,
                "planned_session_type": "Tempo Ruck",
                "scheduled_start_time": "05:30",
                "target_distance_km": 5,
                "target_weight_kg": "9.5",
            },
            {"scheduled_date": START + timedelta(days=9), "planned_session_type": "Long Ruck"},
        ],
    )
    kwargs.setdefault("timezone", NY)
    return await create_demo_plan(store, start_date=START, sessions=sessions, **kwargs)


async def plan_user(store: Store, plan_id: int) -> tuple[str, list[int]]:
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    return snapshot.user_id, [s.id for s in snapshot.sessions]
