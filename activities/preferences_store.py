"""Athlete changes in the database: notification preferences and a session moved by the athlete.

Preferences are the athlete's (``user_profiles``), shared by all their plans. The time zone and the tone are also
written onto the athlete's live plans, because a plan's own value wins over the profile's default when the plan is
loaded (see ``activities.store._prefs``): a change to "UTC" or to the default tone must not be shadowed by them.
The optional categories live in ``plan_notification_prefs`` (JSON), beside RuckTracker's own keys, which are kept.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import PlanSessionRow, UserCoachingPlan, UserProfile
from activities.store import SNOOZE_KEY, _plan_session, _prefs, _user_id, dialect_insert
from coaching.models import ChangePreferencesInput, NotificationPrefs, PlanSession, PlanStatus
from coaching.preferences import OPTIONAL_SWITCHES

#: Plans an athlete's changes apply to (a paused plan resumes with them).
LIVE_STATUSES = (PlanStatus.ACTIVE.value, PlanStatus.PAUSED.value)

_COLUMNS = {
    "timezone": "plan_notification_timezone",
    "evening_brief_minute": "plan_evening_brief_minute",
    "morning_hype_lead_minutes": "plan_morning_hype_lead_minutes",
    "weekly_digest_weekday": "plan_weekly_digest_weekday",
    "weekly_digest_minute": "plan_weekly_digest_minute",
    "daily_cap": "plan_daily_cap",
    "coaching_tone": "coaching_tone",
}


class PreferencesStore:
    """Reads and writes what an athlete changes; one transaction per call, safe to repeat."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def live_plans(self, user_id: str) -> list[int]:
        """The athlete's active and paused plans, newest first."""
        async with self._sessionmaker() as session:
            ids = await session.scalars(
                select(UserCoachingPlan.id)
                .where(*_live_plans_of(_user_id(user_id)))
                .order_by(UserCoachingPlan.id.desc())
            )
            return list(ids)

    async def preferences(self, user_id: str) -> NotificationPrefs:
        """The athlete's preferences as their newest live plan sees them (the profile alone without one)."""
        uid = _user_id(user_id)
        async with self._sessionmaker() as session:
            profile = await session.get(UserProfile, uid)
            plan = (
                await session.scalars(
                    select(UserCoachingPlan).where(*_live_plans_of(uid)).order_by(UserCoachingPlan.id.desc()).limit(1)
                )
            ).first()
        # Without a plan, a plan-less placeholder lets the one rule (profile over plan defaults) decide.
        return _prefs(plan or UserCoachingPlan(id=0, user_id=uid), profile)

    async def plan_preferences(self, plan_id: int) -> NotificationPrefs | None:
        """Plan ``plan_id``'s preferences as a load of the plan reads them, or None without such a plan."""
        async with self._sessionmaker() as session:
            plan = await session.get(UserCoachingPlan, plan_id)
            if plan is None:
                return None
            profile = await session.get(UserProfile, plan.user_id)
        return _prefs(plan, profile)

    async def save_preferences(self, user_id: str, change: ChangePreferencesInput) -> None:
        """Write ``change`` (only the fields it sets): the profile, and the zone and tone of the live plans."""
        uid = _user_id(user_id)
        values: dict[str, Any] = {
            column: getattr(change, name) for name, column in _COLUMNS.items() if getattr(change, name) is not None
        }
        if change.set_quiet_hours:
            values["plan_quiet_hours_start"] = change.quiet_hours_start_minute
            values["plan_quiet_hours_end"] = change.quiet_hours_end_minute
        async with self._sessionmaker.begin() as session:
            profile = await session.get(UserProfile, uid, with_for_update=True)
            if change.categories:
                current = profile.plan_notification_prefs if profile is not None else None
                # Anything but a JSON object (a hand-edited row) reads as empty, as it does when a plan is loaded.
                stored = dict(current) if isinstance(current, dict) else {}
                for category, key in OPTIONAL_SWITCHES.items():
                    if category in change.categories:
                        stored[key] = change.categories[category]
                values["plan_notification_prefs"] = stored
            if values:
                insert = dialect_insert(session, UserProfile).values(user_id=uid, **values)
                await session.execute(insert.on_conflict_do_update(index_elements=["user_id"], set_=values))
            plan_values: dict[str, Any] = {}
            if change.timezone is not None:
                plan_values["plan_notification_timezone"] = change.timezone
            if change.coaching_tone is not None:
                plan_values["coaching_personality"] = change.coaching_tone
            if plan_values:
                await session.execute(
                    update(UserCoachingPlan)
                    .where(*_live_plans_of(uid))
                    .values(**plan_values)
                    .execution_options(synchronize_session=False)
                )

    async def save_snooze(self, plan_id: int, until: datetime | None) -> bool:
        """Keep the plan's snooze with the plan (None: remove it); False if there is no such plan."""
        async with self._sessionmaker.begin() as session:
            plan = await session.get(UserCoachingPlan, plan_id, with_for_update=True)
            if plan is None:
                return False
            modifications = dict(plan.plan_modifications) if isinstance(plan.plan_modifications, dict) else {}
            if until is None:
                modifications.pop(SNOOZE_KEY, None)
            else:
                modifications[SNOOZE_KEY] = until.astimezone(UTC).isoformat()
            plan.plan_modifications = modifications
            return True

    async def reschedule_session(
        self, plan_id: int, plan_session_id: int, scheduled_date: date, start_minute: int | None
    ) -> PlanSession | None:
        """Move the session; a start time given is the athlete's own (it beats the learned window). None: no such
        session in this plan."""
        async with self._sessionmaker.begin() as session:
            row = await session.scalar(
                select(PlanSessionRow)
                .where(PlanSessionRow.id == plan_session_id, PlanSessionRow.user_coaching_plan_id == plan_id)
                .with_for_update()
            )
            if row is None:
                return None
            row.scheduled_date = scheduled_date
            if start_minute is not None:
                row.scheduled_start_time = time(start_minute // 60, start_minute % 60)
                metadata = dict(row.notification_metadata) if isinstance(row.notification_metadata, dict) else {}
                metadata["start_source"] = "athlete"
                row.notification_metadata = metadata
            await session.flush()
            return _plan_session(row)


def _live_plans_of(user_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions for the athlete's (canonical id) active and paused plans."""
    return (UserCoachingPlan.user_id == user_id, UserCoachingPlan.current_status.in_(LIVE_STATUSES))


__all__ = ["LIVE_STATUSES", "PreferencesStore"]
