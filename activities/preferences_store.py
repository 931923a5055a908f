"""Athlete changes in the database: notification preferences and a session moved by the athlete.

Preferences are the athlete's, shared by all their plans, and kept where RuckTracker keeps them: the zone, quiet hours
and tone on the athlete's ``"user"`` row (the tone as the client's display name), the rest in the service's
``coach_athlete_preferences``. The zone and the tone are also written onto the athlete's live plans, because a plan's
own value is used when the athlete's is the default (see :func:`activities.plan_rows.plan_prefs`). A value the database
refuses (a CHECK constraint of RuckTracker's) is :class:`PreferenceRefused`, naming the field: never retried.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import PERSONALITY_DISPLAY_NAMES, AppUser, AthletePreferences, PlanSessionRow, UserCoachingPlan
from activities.plan_rows import SNOOZE_KEY, plan_prefs, plan_session_of
from activities.store_base import as_user_id, dialect_insert, rows_affected
from coaching.models import ChangePreferencesInput, NotificationPrefs, PlanSession, PlanStatus
from coaching.preferences import OPTIONAL_SWITCHES, ChangeRejected
from coaching.tones import display_name

#: Plans an athlete's changes apply to (a paused plan resumes with them).
LIVE_STATUSES = (PlanStatus.ACTIVE.value, PlanStatus.PAUSED.value)

#: ChangePreferencesInput fields kept in ``coach_athlete_preferences`` (same names as its columns).
_OWN_FIELDS = (
    "evening_brief_minute",
    "morning_hype_lead_minutes",
    "weekly_digest_weekday",
    "weekly_digest_minute",
    "daily_cap",
)


class PreferenceRefused(ChangeRejected):
    """The database refused a preference (a constraint of RuckTracker's): a refusal like a rule's, never retried."""


class AthleteNotFound(ChangeRejected):
    """The athlete has no ``"user"`` row: their preferences have nowhere to go (404 ``athlete_not_found``)."""

    def __init__(self, user_id: str) -> None:
        super().__init__("sub", f"no athlete {user_id} in RuckTracker's user table", "athlete_not_found")


class PreferencesStore:
    """Reads and writes what an athlete changes; one transaction per call, safe to repeat."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def live_plans(self, user_id: str) -> list[int]:
        """The athlete's active and paused plans, newest first."""
        async with self._sessionmaker() as session:
            ids = await session.scalars(
                select(UserCoachingPlan.id)
                .where(*_live_plans_of(as_user_id(user_id)))
                .order_by(UserCoachingPlan.id.desc())
            )
            return list(ids)

    async def preferences(self, user_id: str) -> NotificationPrefs:
        """The athlete's preferences as their newest live plan sees them (the athlete's rows alone without one);
        :class:`AthleteNotFound` without a ``"user"`` row."""
        uid = as_user_id(user_id)
        async with self._sessionmaker() as session:
            user = await session.get(AppUser, uid)
            if user is None:
                raise AthleteNotFound(uid)
            own = await session.get(AthletePreferences, uid)
            plan = (
                await session.scalars(
                    select(UserCoachingPlan).where(*_live_plans_of(uid)).order_by(UserCoachingPlan.id.desc()).limit(1)
                )
            ).first()
        # Without a plan, a plan-less placeholder lets the one rule (athlete over plan defaults) decide.
        return plan_prefs(plan or UserCoachingPlan(id=0, user_id=uid), user, own)

    async def plan_preferences(self, plan_id: int) -> NotificationPrefs | None:
        """Plan ``plan_id``'s preferences as a load of the plan reads them, or None without such a plan."""
        async with self._sessionmaker() as session:
            plan = await session.get(UserCoachingPlan, plan_id)
            if plan is None:
                return None
            user = await session.get(AppUser, plan.user_id)
            own = await session.get(AthletePreferences, plan.user_id)
        return plan_prefs(plan, user, own)

    async def save_preferences(self, user_id: str, change: ChangePreferencesInput) -> None:
        """Write ``change`` (only the fields it sets): the athlete's rows, and the zone and tone of the live plans.

        Raises :class:`AthleteNotFound` without a ``"user"`` row and :class:`PreferenceRefused` when a constraint of
        the database refuses a value; nothing is written then.
        """
        uid = as_user_id(user_id)
        user_values: dict[str, Any] = {}
        plan_values: dict[str, Any] = {}
        if change.timezone is not None:
            user_values["plan_notification_timezone"] = change.timezone
            plan_values["plan_notification_timezone"] = change.timezone
        if change.set_quiet_hours:
            user_values["plan_quiet_hours_start"] = change.quiet_hours_start_minute
            user_values["plan_quiet_hours_end"] = change.quiet_hours_end_minute
        if change.coaching_tone is not None:
            tone = display_name(change.coaching_tone)
            user_values["coaching_tone"] = tone
            # RuckTracker's plans accept only the client's nine display names; a tone the client does not offer
            # (minimalist) is the athlete's own, which the plan load prefers over the plan's.
            if tone in PERSONALITY_DISPLAY_NAMES:
                plan_values["coaching_personality"] = tone
        own_values: dict[str, Any] = {
            name: getattr(change, name) for name in _OWN_FIELDS if getattr(change, name) is not None
        }
        for category, column in OPTIONAL_SWITCHES.items():
            if category in change.categories:
                own_values[column] = change.categories[category]
        try:
            async with self._sessionmaker.begin() as session:
                found = await session.execute(
                    update(AppUser)
                    .where(AppUser.id == uid)
                    .values(**user_values or {"id": AppUser.id})
                    .execution_options(synchronize_session=False)
                )
                if rows_affected(found) == 0:
                    raise AthleteNotFound(uid)
                if own_values:
                    insert = dialect_insert(session, AthletePreferences).values(user_id=uid, **own_values)
                    await session.execute(
                        insert.on_conflict_do_update(
                            index_elements=["user_id"], set_={**own_values, "updated_at": func.now()}
                        )
                    )
                if plan_values:
                    await session.execute(
                        update(UserCoachingPlan)
                        .where(*_live_plans_of(uid))
                        .values(**plan_values)
                        .execution_options(synchronize_session=False)
                    )
        except IntegrityError as err:
            written = {"user": user_values, "coach_athlete_preferences": own_values, "user_coaching_plans": plan_values}
            raise _refused(err, written, await _constraint_definition(self._sessionmaker, err)) from None

    async def save_snooze(self, plan_id: int, until: datetime | None) -> bool:
        """Keep the plan's snooze with the plan (None: remove it); False if there is no such plan."""
        async with self._sessionmaker.begin() as session:
            plan = await session.get(UserCoachingPlan, plan_id, with_for_update=True)
            if plan is None:
                return False
            # RuckTracker's column may be NULL (or hand-edited to a non-object): its keys are kept, anything else is {}.
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
            return plan_session_of(row)


#: Which request field a value written to a table column comes from.
_FIELD_OF_COLUMN = {
    "plan_notification_timezone": "timezone",
    "plan_quiet_hours_start": "quiet_hours",
    "plan_quiet_hours_end": "quiet_hours",
    "coaching_tone": "coaching_tone",
    "coaching_personality": "coaching_tone",
}


def _refused(err: IntegrityError, written: dict[str, dict[str, Any]], definition: str) -> PreferenceRefused:
    """Which field a constraint violation is about: the constraint's table (PostgreSQL tells it) narrows the
    candidates to the columns the change wrote there, and the constraint's definition (or name) to those it names.
    The database's own message is not echoed (it may hold the values)."""
    table = getattr(getattr(err.orig, "__cause__", None), "table_name", None)
    columns = written.get(table, {}) if table else {c: v for values in written.values() for c, v in values.items()}
    named = {c for c in columns if c in definition}
    candidates = {_FIELD_OF_COLUMN.get(c, c) for c in (named or columns)}
    field = next(iter(candidates)) if len(candidates) == 1 else "body"
    return PreferenceRefused(field, "the database refused this value (a constraint of RuckTracker's schema)")


async def _constraint_definition(sessionmaker: async_sessionmaker[AsyncSession], err: IntegrityError) -> str:
    """The refusing constraint's definition on PostgreSQL (``CHECK ((coaching_tone)::text <> …)``), else the error's
    text (SQLite names the constraint there)."""
    name = getattr(getattr(err.orig, "__cause__", None), "constraint_name", None)
    if name:
        async with sessionmaker() as session:
            found = await session.scalar(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name LIMIT 1"),
                {"name": name},
            )
        return f"{name} {found or ''}".casefold()
    return str(err.orig).casefold()


def _live_plans_of(user_id: str) -> tuple[ColumnElement[bool], ...]:
    """The conditions for the athlete's (canonical id) active and paused plans."""
    return (UserCoachingPlan.user_id == user_id, UserCoachingPlan.current_status.in_(LIVE_STATUSES))


__all__ = ["LIVE_STATUSES", "AthleteNotFound", "PreferenceRefused", "PreferencesStore"]
