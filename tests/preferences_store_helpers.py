"""Rows read back and written directly, a plan maker and sample athletes, shared by the PreferencesStore tests
(``test_preferences_store*.py``) and the API's preference tests.

A row reads as a dict of its columns without the timestamps, so a test compares a whole row before and after a
write. The ``prefs_store`` fixture is in ``conftest.py``.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import AppUser, AthletePreferences, PlanSessionRow, UserCoachingPlan
from activities.demo import create_demo_plan, ensure_athlete
from activities.store import Store

Sessions = async_sessionmaker[AsyncSession]

START = date(2026, 3, 9)
NY = "America/New_York"
BERLIN = "Europe/Berlin"
TIMESTAMPS = {"created_at", "updated_at"}
#: The columns of ``coach_athlete_preferences`` besides its key, all NULL ("not set") in a new row.
OWN_COLUMNS = (
    "evening_brief_minute",
    "morning_hype_lead_minutes",
    "weekly_digest_weekday",
    "weekly_digest_minute",
    "daily_cap",
    "default_start_minute",
    "weekly_digest_enabled",
    "milestones_enabled",
)


def _columns(row: Any) -> dict[str, Any]:
    """A row's column values, without the timestamps (an UPDATE may bump ``updated_at``)."""
    return {attr.key: getattr(row, attr.key) for attr in inspect(type(row)).column_attrs if attr.key not in TIMESTAMPS}


def own(user_id: str, **values: Any) -> dict[str, Any]:
    """A ``coach_athlete_preferences`` row as ``own_row`` reads it: ``values`` set, every other column NULL."""
    unknown = set(values) - set(OWN_COLUMNS)
    assert not unknown, unknown
    return {"user_id": user_id, **dict.fromkeys(OWN_COLUMNS), **values}


async def user_row(db: Sessions, user_id: str) -> dict[str, Any] | None:
    """The athlete's ``"user"`` row (RuckTracker's), or None."""
    async with db() as session:
        row = await session.get(AppUser, user_id)
        return _columns(row) if row is not None else None


async def own_row(db: Sessions, user_id: str) -> dict[str, Any] | None:
    """The athlete's ``coach_athlete_preferences`` row (the service's), or None."""
    async with db() as session:
        row = await session.get(AthletePreferences, user_id)
        return _columns(row) if row is not None else None


async def athlete_rows(db: Sessions, user_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both rows of an athlete's preferences: ``"user"`` and ``coach_athlete_preferences``."""
    return await user_row(db, user_id), await own_row(db, user_id)


async def row_count(db: Sessions, model: type[Any]) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def counts(db: Sessions) -> tuple[int, int]:
    """How many ``"user"`` and ``coach_athlete_preferences`` rows there are (RuckTracker's schema starts with some)."""
    return await row_count(db, AppUser), await row_count(db, AthletePreferences)


async def plan_row(db: Sessions, plan_id: int) -> dict[str, Any]:
    async with db() as session:
        row = await session.get(UserCoachingPlan, plan_id)
        assert row is not None
        return _columns(row)


async def session_rows(db: Sessions, plan_id: int) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.scalars(
            select(PlanSessionRow).where(PlanSessionRow.user_coaching_plan_id == plan_id).order_by(PlanSessionRow.id)
        )
        return [_columns(row) for row in rows]


async def session_row(db: Sessions, plan_session_id: int) -> dict[str, Any]:
    async with db() as session:
        row = await session.get(PlanSessionRow, plan_session_id)
        assert row is not None
        return _columns(row)


async def set_user(db: Sessions, user_id: str, **values: Any) -> None:
    """Change the athlete's ``"user"`` columns directly, as RuckTracker would."""
    async with db.begin() as session:
        await session.execute(update(AppUser).where(AppUser.id == user_id).values(**values))


async def set_own(db: Sessions, user_id: str, **values: Any) -> None:
    """Change the athlete's existing ``coach_athlete_preferences`` row directly."""
    async with db.begin() as session:
        await session.execute(update(AthletePreferences).where(AthletePreferences.user_id == user_id).values(**values))


async def add_athlete(db: Sessions, user_id: str, **values: Any) -> None:
    """An athlete in ``"user"`` without any plan (as RuckTracker's sign-up leaves them)."""
    async with db.begin() as session:
        await ensure_athlete(session, user_id, values)


async def set_session(db: Sessions, plan_session_id: int, **values: Any) -> None:
    async with db.begin() as session:
        await session.execute(update(PlanSessionRow).where(PlanSessionRow.id == plan_session_id).values(**values))


async def make_plan(store: Store, user_id: str, **kwargs: Any) -> int:
    """A plan with two sessions (18:00 on START+1, no time on START+3) for ``user_id``."""
    sessions = kwargs.pop(
        "sessions",
        [
            {
                "scheduled_date": START + timedelta(days=1),
                "planned_session_type": "Hill Ruck",
                "scheduled_start_time": "18:00",
            },
            {"scheduled_date": START + timedelta(days=3), "planned_session_type": "Long Ruck"},
        ],
    )
    kwargs.setdefault("timezone", NY)
    return await create_demo_plan(store, user_id=user_id, start_date=START, sessions=sessions, **kwargs)


def new_user() -> str:
    return str(uuid.uuid4())


#: RuckTracker's own keys in ``"user".plan_notification_prefs``: read as fallbacks only (Friday = 4, 08:00), and a key
#: of its own the service knows nothing about. Never written by the service.
RT_PREFS: dict[str, Any] = {"weekly_digest_day": "Friday", "default_start_minute": 480, "rt_theme": "dark"}

#: An athlete with every preference away from its default: the service's own row wins over RuckTracker's fallbacks.
RICH_ATHLETE: dict[str, Any] = {
    "quiet_hours": (22 * 60, 6 * 60),
    "evening_brief_minute": 21 * 60 + 30,
    "morning_hype_lead_minutes": 90,
    "weekly_digest_weekday": 2,
    "weekly_digest_minute": 17 * 60,
    "daily_cap": 6,
    "default_start_minute": 7 * 60,
    "milestones_enabled": False,
    "prefer_metric": False,
    "notification_prefs": RT_PREFS,
}
#: Its ``coach_athlete_preferences`` row.
RICH_OWN: dict[str, Any] = {
    "evening_brief_minute": 21 * 60 + 30,
    "morning_hype_lead_minutes": 90,
    "weekly_digest_weekday": 2,
    "weekly_digest_minute": 17 * 60,
    "daily_cap": 6,
    "default_start_minute": 7 * 60,
    "milestones_enabled": False,
}
