"""Demo data: an athlete, a plan with its sessions and a device token, written the way RuckTracker writes them.

Used only by ``coach run`` (the demo plan), the simulator and the tests; production code never imports it. Rows follow
RuckTracker's shapes so they are valid on its schema too: the tone is stored as the client's display name
('Drill Sergeant'), the plan's ``plan_modifications`` carry RuckTracker's keys, the targets sit in ``coaching_points``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import (
    PERSONALITY_DISPLAY_NAMES,
    AppUser,
    AthletePreferences,
    CoachingPlanTemplate,
    PlanSessionRow,
    UserCoachingPlan,
    UserDeviceToken,
    UserId,
)
from activities.plan_rows import DEFAULT_TONE
from activities.store import Store
from activities.store_base import as_user_id, dialect_insert, rows_affected
from coaching.models import PlanStatus
from coaching.timeutil import validate_timezone
from coaching.tones import display_name

DEMO_TEMPLATE_SLUG = "get-faster"
DEMO_TEMPLATE_NAME = "Get Faster at Rucking"
DEMO_TEMPLATE_WEEKS = 8
DEMO_DEVICE_ID = "demo-device"

#: Preference overrides of :func:`create_demo_plan` by the athlete's column in ``"user"`` (RuckTracker's) …
_USER_COLUMNS = {
    "timezone": "plan_notification_timezone",
    "plan_notification_timezone": "plan_notification_timezone",
    "quiet_hours_start_minute": "plan_quiet_hours_start",
    "plan_quiet_hours_start": "plan_quiet_hours_start",
    "quiet_hours_end_minute": "plan_quiet_hours_end",
    "plan_quiet_hours_end": "plan_quiet_hours_end",
    "prefer_metric": "prefer_metric",
    "notification_prefs": "plan_notification_prefs",
    "plan_notification_prefs": "plan_notification_prefs",
}
#: … and by the service's own (``coach_athlete_preferences``), under their NotificationPrefs names.
_OWN_COLUMNS = frozenset(
    {
        "evening_brief_minute",
        "morning_hype_lead_minutes",
        "weekly_digest_weekday",
        "weekly_digest_minute",
        "daily_cap",
        "default_start_minute",
        "weekly_digest_enabled",
        "milestones_enabled",
    }
)


async def create_demo_plan(
    store: Store | async_sessionmaker[AsyncSession],
    *,
    user_id: str | None = None,
    timezone: str,
    start_date: date,
    sessions: list[dict[str, Any]],
    tone: str = DEFAULT_TONE,
    quiet_hours: tuple[int, int] | None = None,
    fcm_token: str | None = "demo-device-token",
    created_at: datetime | None = None,
    status: PlanStatus | str = PlanStatus.ACTIVE,
    **preferences: Any,
) -> int:
    """Create a plan with its sessions, the athlete and a device token; returns the plan id.

    The athlete's row is created or updated (so several plans can share one), the 'get-faster' template is created
    if missing, and ``fcm_token`` (unless None) becomes the athlete's active token on device ``demo-device``.
    ``preferences`` set the athlete's preferences by :class:`~coaching.models.NotificationPrefs` name
    (``daily_cap``, ``evening_brief_minute``, ``prefer_metric``, …) or by RuckTracker's column name
    (``plan_quiet_hours_start``).

    Each session dict has ``scheduled_date`` (date or ISO string) and optionally ``planned_session_type``,
    ``planned_week`` (default: counted from ``start_date``), ``scheduled_start_time`` ('HH:MM', a minute of the day,
    or a ``time``), ``target_distance_km``, ``target_duration_minutes`` (a number or a range such as "40-50"),
    ``target_weight_kg`` (or ``distance_km``/``duration_minutes``/``weight_kg``), ``completion_status``, ``notes``
    and ``coaching_points``.
    """
    validate_timezone(timezone)
    sessionmaker = store.sessionmaker if isinstance(store, Store) else store
    uid = as_user_id(user_id) if user_id is not None else str(uuid.uuid4())
    stored_tone = display_name(tone)
    user_values: dict[str, Any] = {
        "coaching_tone": stored_tone,
        "plan_notification_timezone": timezone,
        "plan_quiet_hours_start": quiet_hours[0] if quiet_hours else None,
        "plan_quiet_hours_end": quiet_hours[1] if quiet_hours else None,
    }
    own_values: dict[str, Any] = {}
    for key, value in preferences.items():
        if key in _USER_COLUMNS:
            user_values[_USER_COLUMNS[key]] = value
        elif key.removeprefix("plan_") in _OWN_COLUMNS:
            own_values[key.removeprefix("plan_")] = value
        else:
            raise TypeError(f"create_demo_plan() got an unexpected preference {key!r}")
    session_rows = [_demo_session(spec, start_date, timezone) for spec in sessions]

    async with sessionmaker.begin() as session:
        await ensure_athlete(session, uid, user_values)
        if own_values:
            await session.execute(
                dialect_insert(session, AthletePreferences)
                .values(user_id=uid, **own_values)
                .on_conflict_do_update(index_elements=["user_id"], set_={**own_values, "updated_at": func.now()})
            )
        template_id = await _demo_template(session)
        plan = UserCoachingPlan(
            user_id=uid,
            coaching_plan_id=template_id,
            # A tone the client does not offer (minimalist) is the athlete's own; the plan row keeps a valid name.
            coaching_personality=stored_tone if stored_tone in PERSONALITY_DISPLAY_NAMES else "Supportive Friend",
            start_date=start_date,
            current_week=1,
            current_status=PlanStatus(status).value,
            plan_modifications={"plan_type": DEMO_TEMPLATE_SLUG, "user_timezone": timezone},
            plan_notification_timezone=timezone,
            created_at=created_at or datetime.now(UTC),
        )
        session.add(plan)
        await session.flush()
        for row in session_rows:
            row.user_coaching_plan_id = plan.id
        session.add_all(session_rows)
        if fcm_token is not None:
            await add_device_token(session, uid, fcm_token)
        await session.flush()
        return plan.id


async def ensure_athlete(session: AsyncSession, user_id: str, values: Mapping[str, Any]) -> None:
    """Set the athlete's ``"user"`` columns, creating the row (as RuckTracker's sign-up does) if it is missing.

    On RuckTracker's own schema a new athlete also needs what its sign-up writes beside the columns the service maps:
    the Supabase ``auth.users`` and ``profiles`` rows (``user_device_tokens`` references ``profiles``) and the
    ``"user"`` row's required ``username`` and ``email``; they are added when those tables and columns exist.
    """
    found = await session.execute(
        update(AppUser)
        .where(AppUser.id == user_id)
        .values(**(dict(values) or {"id": AppUser.id}))
        .execution_options(synchronize_session=False)
    )
    if rows_affected(found):
        return
    connection = await session.connection()
    tables, user_columns = await connection.run_sync(
        lambda c: (set(sa.inspect(c).get_table_names()), {col["name"] for col in sa.inspect(c).get_columns("user")})
    )
    required: dict[str, Any] = {"id": user_id}
    handle = f"athlete_{user_id[:8]}"
    if "username" in user_columns:
        required["username"] = handle
    if "email" in user_columns:
        required["email"] = f"{handle}@example.invalid"
    if connection.dialect.name == "postgresql":
        if await connection.run_sync(lambda c: sa.inspect(c).has_table("users", schema="auth")):
            await session.execute(
                sa.text("INSERT INTO auth.users (id) VALUES (:id) ON CONFLICT DO NOTHING"), {"id": user_id}
            )
        if "profiles" in tables:
            await session.execute(
                sa.text("INSERT INTO profiles (id) VALUES (:id) ON CONFLICT DO NOTHING"), {"id": user_id}
            )
    columns = [sa.column("id", UserId), *(sa.column(name) for name in required if name != "id")]
    await session.execute(sa.insert(sa.table("user", *columns)).values(**required))
    if values:
        await session.execute(
            update(AppUser).where(AppUser.id == user_id).values(**values).execution_options(synchronize_session=False)
        )


async def add_device_token(
    session: AsyncSession, user_id: str, fcm_token: str, device_id: str = DEMO_DEVICE_ID
) -> None:
    """Register ``fcm_token`` as the athlete's active token on ``device_id``, as ``POST /api/device-token`` does."""
    token_values = {"fcm_token": fcm_token, "device_type": "ios", "is_active": True}
    await session.execute(
        dialect_insert(session, UserDeviceToken)
        .values(id=str(uuid.uuid4()), user_id=user_id, device_id=device_id, **token_values)
        .on_conflict_do_update(index_elements=["user_id", "device_id"], set_={**token_values, "updated_at": func.now()})
    )


async def _demo_template(session: AsyncSession) -> int | None:
    found = await session.scalar(
        select(CoachingPlanTemplate.id).where(CoachingPlanTemplate.plan_id == DEMO_TEMPLATE_SLUG)
    )
    if found is not None:  # RuckTracker's database has its templates (with columns the service does not map)
        return found
    await session.execute(
        dialect_insert(session, CoachingPlanTemplate)
        .values(
            plan_id=DEMO_TEMPLATE_SLUG,
            name=DEMO_TEMPLATE_NAME,
            duration_weeks=DEMO_TEMPLATE_WEEKS,
            base_structure={},
            is_active=True,
        )
        .on_conflict_do_nothing(index_elements=["plan_id"])
    )
    return await session.scalar(
        select(CoachingPlanTemplate.id).where(CoachingPlanTemplate.plan_id == DEMO_TEMPLATE_SLUG)
    )


_SESSION_KEYS = frozenset(
    {
        "scheduled_date",
        "planned_session_type",
        "planned_week",
        "scheduled_start_time",
        "completion_status",
        "notes",
        "coaching_points",
        "target_distance_km",
        "target_duration_minutes",
        "target_weight_kg",
        "distance_km",
        "duration_minutes",
        "weight_kg",
    }
)


async def add_demo_sessions(store: Store, plan_id: int, sessions: list[dict[str, Any]], *, timezone: str) -> list[int]:
    """Add sessions (the dicts of :func:`create_demo_plan`) to a plan, as the core API does when a plan changes;
    returns their ids in order. The caller signals ``sessions_changed``."""
    async with store.sessionmaker.begin() as session:
        plan = await session.get(UserCoachingPlan, plan_id)
        if plan is None:
            raise ValueError(f"plan {plan_id} does not exist")
        rows = [_demo_session(spec, plan.start_date, timezone) for spec in sessions]
        for row in rows:
            row.user_coaching_plan_id = plan_id
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


def _demo_session(spec: Mapping[str, Any], start_date: date, timezone: str) -> PlanSessionRow:
    unknown = set(spec) - _SESSION_KEYS
    if unknown:
        raise ValueError(f"unknown plan session keys {sorted(unknown)}; expected some of {sorted(_SESSION_KEYS)}")
    day = spec.get("scheduled_date")
    scheduled = date.fromisoformat(day) if isinstance(day, str) else day
    if scheduled is not None and not isinstance(scheduled, date):
        raise ValueError(f"scheduled_date must be a date or an ISO string, not {day!r}")
    week = spec.get("planned_week")
    if week is None:
        week = max(1, (scheduled - start_date).days // 7 + 1) if scheduled is not None else 1

    points: dict[str, Any] = dict(spec.get("coaching_points") or {})
    for target, alias in (
        ("target_distance_km", "distance_km"),
        ("target_duration_minutes", "duration_minutes"),
        ("target_weight_kg", "weight_kg"),
    ):
        value = spec.get(target, spec.get(alias))
        if value is not None:
            points[target] = value

    return PlanSessionRow(
        planned_week=int(week),
        planned_session_type=str(spec.get("planned_session_type") or "Ruck"),
        completion_status=str(spec.get("completion_status") or "planned"),
        notes=spec.get("notes"),
        scheduled_date=scheduled,
        scheduled_start_time=_start_time(spec.get("scheduled_start_time")),
        scheduled_timezone=timezone,
        coaching_points=points,
        notification_metadata={},
    )


def _start_time(value: Any) -> time | None:
    """'HH:MM' (or 'HH:MM:SS'), a minute of the day, or a ``time``."""
    if value is None or isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 1439:
            raise ValueError(f"scheduled_start_time minute {value} is outside 0..1439")
        return time(value // 60, value % 60)
    if isinstance(value, str):
        return time.fromisoformat(value)
    raise ValueError(f"scheduled_start_time must be 'HH:MM', a minute of the day or a time, not {value!r}")


__all__ = [
    "DEMO_DEVICE_ID",
    "DEMO_TEMPLATE_NAME",
    "DEMO_TEMPLATE_SLUG",
    "add_demo_sessions",
    "add_device_token",
    "create_demo_plan",
]
