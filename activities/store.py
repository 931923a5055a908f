"""Database access for the activities: the plan snapshot, the notification ledger, tokens and session updates.

Every method opens its own session and is one transaction, so an activity retry repeats a whole unit of work
or none of it. The ledger methods are idempotent and race-safe: rows are created with ``INSERT … ON CONFLICT
(notification_id) DO NOTHING`` and changed by conditional ``UPDATE``s, so concurrent or repeated calls for one
notification never create a second row and never undo a ``sent``.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, Select, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import (
    CoachingPlanTemplate,
    PlanNotificationAudit,
    PlanSessionRow,
    UserCoachingPlan,
    UserDeviceToken,
    UserPlanBehavior,
    UserProfile,
)
from coaching.cadence import WEEKDAYS
from coaching.models import (
    CadenceSnapshot,
    CadenceWindow,
    LedgerStatus,
    NotificationPrefs,
    NotificationType,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
    PlanStatus,
)
from coaching.preferences import OPTIONAL_SWITCHES
from coaching.schedule import FINAL_TYPES, SESSION_REMINDERS
from coaching.timeutil import validate_timezone

log = logging.getLogger(__name__)

DEFAULT_PLAN_NAME = "Coaching plan"
DEFAULT_TONE = "supportive_friend"
DEMO_TEMPLATE_SLUG = "get-faster"
DEMO_TEMPLATE_NAME = "Get Faster at Rucking"
DEMO_TEMPLATE_WEEKS = 8
DEMO_DEVICE_ID = "demo-device"


@dataclass(frozen=True)
class LedgerRow:
    """One row of the notification ledger (``plan_notification_audit``) as the activities see it."""

    notification_id: str
    status: LedgerStatus
    reason: str | None
    copy_source: str | None
    payload: dict[str, Any]
    sent_at: datetime | None
    attempts: int
    plan_session_id: int | None
    notification_type: str
    local_date: date
    scheduled_for: datetime


@dataclass(frozen=True)
class DeviceToken:
    """An active push token of an athlete."""

    id: str
    fcm_token: str
    device_type: str | None


_DialectInsert = postgresql.Insert | sqlite.Insert


class Store:
    """Typed, transactional access to the service's tables; built once per worker from a sessionmaker."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    # ---- plan snapshot -------------------------------------------------------------------------------------

    async def load_plan_snapshot(self, plan_id: int) -> PlanSnapshot | None:
        """Everything the workflow needs about plan ``plan_id``, or None if the plan does not exist."""
        async with self._sessionmaker.begin() as session:
            found = (
                await session.execute(
                    select(UserCoachingPlan, CoachingPlanTemplate.name)
                    .outerjoin(CoachingPlanTemplate, CoachingPlanTemplate.id == UserCoachingPlan.coaching_plan_id)
                    .where(UserCoachingPlan.id == plan_id)
                )
            ).first()
            if found is None:
                return None
            plan, template_name = found
            profile = await session.get(UserProfile, plan.user_id)
            behavior = (
                await session.scalars(
                    select(UserPlanBehavior)
                    .where(
                        UserPlanBehavior.user_coaching_plan_id == plan_id,
                        UserPlanBehavior.user_id == plan.user_id,
                    )
                    .limit(1)
                )
            ).first()
            sessions = (
                await session.scalars(
                    select(PlanSessionRow)
                    .where(PlanSessionRow.user_coaching_plan_id == plan_id)
                    # NULLS LAST spelled out: SQLite and PostgreSQL sort NULL at opposite ends by default.
                    .order_by(PlanSessionRow.scheduled_date.asc().nulls_last(), PlanSessionRow.id)
                )
            ).all()
            has_device = bool(
                await session.scalar(
                    select(exists().where(UserDeviceToken.user_id == plan.user_id, UserDeviceToken.is_active.is_(True)))
                )
            )

        created_at = plan.created_at.astimezone(UTC)
        return PlanSnapshot(
            plan_id=plan.id,
            user_id=plan.user_id,
            status=_plan_status(plan.current_status, plan_id),
            plan_name=template_name or DEFAULT_PLAN_NAME,
            start_date=plan.start_date,
            created_at=created_at,
            prefs=_prefs(plan, profile),
            cadence=_cadence(behavior),
            sessions=[_plan_session(row) for row in sessions if _plausible(row, created_at, plan_id)],
            has_device=has_device,
            snoozed_until=_snoozed_until(plan.plan_modifications),
        )

    async def delivery_blocker(
        self, plan_id: int, plan_session_id: int | None, ntype: NotificationType, *, honor_pause: bool = True
    ) -> str | None:
        """Why the database says this notification must not go out now, or None.

        The workflow learns of changes through signals; this check at send time catches a plan the core API
        cancelled, completed or paused, or a session it removed or completed, without telling us.
        """
        async with self._sessionmaker() as session:
            status = await session.scalar(select(UserCoachingPlan.current_status).where(UserCoachingPlan.id == plan_id))
            if status is None:
                return "plan_removed: the plan no longer exists"
            if status == "cancelled" or (status == "completed" and ntype not in FINAL_TYPES):
                return f"plan_{status}: the plan is {status} in the database"
            if status == "paused" and honor_pause and ntype is not NotificationType.COMPLETION_CELEBRATION:
                # Only when the workflow has had no pause/resume signal: a signal is newer than the row.
                return "plan_paused: the plan is paused in the database"
            if plan_session_id is None or ntype not in SESSION_REMINDERS:
                return None
            row = (
                await session.execute(
                    select(PlanSessionRow.completion_status).where(
                        PlanSessionRow.id == plan_session_id, PlanSessionRow.user_coaching_plan_id == plan_id
                    )
                )
            ).first()
            if row is None:
                return "plan_session_removed: the session is no longer part of the plan"
            if row[0] in ("completed", "skipped"):
                return f"plan_session_{row[0]}: the session is already {row[0]}"
            return None

    # ---- the ledger ----------------------------------------------------------------------------------------

    async def ledger_begin(self, plan_id: int, user_id: str, n: PlannedNotification) -> LedgerRow:
        """Create the ledger row of ``n`` as 'scheduled' unless it exists, count this attempt, return the row.

        The caller must look at the returned status: a row already 'sent' or 'skipped' must not be sent again.
        """
        async with self._sessionmaker.begin() as session:
            await session.execute(
                dialect_insert(session, PlanNotificationAudit)
                .values(**_ledger_values(plan_id, user_id, n, LedgerStatus.SCHEDULED, reason=None))
                .on_conflict_do_nothing(index_elements=["notification_id"])
            )
            row = (
                await session.execute(
                    update(PlanNotificationAudit)
                    .where(PlanNotificationAudit.notification_id == n.notification_id)
                    .values(attempts=PlanNotificationAudit.attempts + 1)
                    .returning(PlanNotificationAudit)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one()
            return _ledger_row(row)

    async def ledger_finish(
        self,
        notification_id: str,
        status: LedgerStatus,
        *,
        payload: dict[str, Any],
        sent_at: datetime | None,
        reason: str | None = None,
        copy_source: str | None = None,
    ) -> None:
        """Record the outcome of a delivery attempt; a row already 'sent' is left exactly as it is.

        ``reason`` and ``copy_source`` describe this attempt and replace earlier values (None clears them). A
        'sent' outcome without ``sent_at`` is stamped with the current time so that sent rows always have one.
        """
        status = LedgerStatus(status)
        if status is LedgerStatus.SENT and sent_at is None:
            sent_at = datetime.now(UTC)
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(PlanNotificationAudit)
                .where(
                    PlanNotificationAudit.notification_id == notification_id,
                    PlanNotificationAudit.status != LedgerStatus.SENT.value,
                )
                .values(
                    status=status.value,
                    payload=payload,
                    sent_at=sent_at,
                    reason=reason,
                    copy_source=copy_source,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                log.debug("ledger_finish(%s, %s): row missing or already sent; unchanged", notification_id, status)

    async def ledger_skip(self, plan_id: int, user_id: str, n: PlannedNotification, reason: str) -> LedgerRow:
        """Record ``n`` as skipped for ``reason`` (creating its row if needed) unless it was already sent.

        A 'scheduled' or 'failed' row becomes 'skipped'; 'sent' and 'skipped' rows are left as they are.
        Returns the row as it stands afterwards, so the caller sees when the notification was sent after all.
        """
        async with self._sessionmaker.begin() as session:
            await session.execute(
                dialect_insert(session, PlanNotificationAudit)
                .values(**_ledger_values(plan_id, user_id, n, LedgerStatus.SKIPPED, reason=reason))
                .on_conflict_do_nothing(index_elements=["notification_id"])
            )
            await session.execute(
                update(PlanNotificationAudit)
                .where(
                    PlanNotificationAudit.notification_id == n.notification_id,
                    PlanNotificationAudit.status.in_([LedgerStatus.SCHEDULED.value, LedgerStatus.FAILED.value]),
                )
                .values(status=LedgerStatus.SKIPPED.value, reason=reason)
                .execution_options(synchronize_session=False)
            )
            row = (
                await session.scalars(
                    _fresh(
                        select(PlanNotificationAudit).where(PlanNotificationAudit.notification_id == n.notification_id)
                    )
                )
            ).one()
            return _ledger_row(row)

    async def ai_copy_count(self, user_id: str, start: datetime, end: datetime) -> int:
        """How many of the athlete's notifications due in ``[start, end)`` carry AI copy (the daily AI budget)."""
        async with self._sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(PlanNotificationAudit)
                .where(
                    PlanNotificationAudit.user_id == _user_id(user_id),
                    PlanNotificationAudit.copy_source == "ai",
                    PlanNotificationAudit.scheduled_for >= start,
                    PlanNotificationAudit.scheduled_for < end,
                )
            )
            return int(count or 0)

    async def ledger_rows(self, plan_id: int) -> list[LedgerRow]:
        """Every ledger row of a plan, in due order."""
        async with self._sessionmaker.begin() as session:
            rows = await session.scalars(
                select(PlanNotificationAudit)
                .where(PlanNotificationAudit.user_coaching_plan_id == plan_id)
                .order_by(PlanNotificationAudit.scheduled_for, PlanNotificationAudit.id)
            )
            return [_ledger_row(row) for row in rows]

    # ---- device tokens -------------------------------------------------------------------------------------

    async def active_tokens(self, user_id: str) -> list[DeviceToken]:
        """The athlete's active push tokens, oldest first, each FCM token only once."""
        async with self._sessionmaker.begin() as session:
            rows = await session.scalars(
                select(UserDeviceToken)
                .where(UserDeviceToken.user_id == _user_id(user_id), UserDeviceToken.is_active.is_(True))
                .order_by(UserDeviceToken.created_at, UserDeviceToken.id)
            )
            tokens: list[DeviceToken] = []
            seen: set[str] = set()
            for row in rows:
                if row.fcm_token in seen:
                    continue
                seen.add(row.fcm_token)
                tokens.append(DeviceToken(id=row.id, fcm_token=row.fcm_token, device_type=row.device_type))
            return tokens

    async def deactivate_tokens(self, token_ids: list[str]) -> int:
        """Mark tokens inactive (FCM reported them unregistered); returns how many were active before."""
        ids = sorted({parsed for parsed in (_maybe_uuid(t) for t in token_ids) if parsed is not None})
        if not ids:
            return 0
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(UserDeviceToken)
                .where(UserDeviceToken.id.in_(ids), UserDeviceToken.is_active.is_(True))
                .values(is_active=False)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    # ---- plan sessions and plans ---------------------------------------------------------------------------

    async def record_completion(self, plan_id: int, plan_session_id: int, ruck_id: int, completed_date: date) -> None:
        """Mark session ``plan_session_id`` done by ruck ``ruck_id`` if it belongs to ``plan_id``."""
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(PlanSessionRow)
                .where(
                    PlanSessionRow.id == plan_session_id,
                    PlanSessionRow.user_coaching_plan_id == plan_id,
                    # A session completed elsewhere (another ruck, the core API) keeps its own record.
                    or_(PlanSessionRow.completion_status != "completed", PlanSessionRow.session_id == ruck_id),
                )
                .values(completion_status="completed", session_id=ruck_id, completed_date=completed_date)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                log.warning(
                    "plan %s has no open session %s; completion by ruck %s not recorded",
                    plan_id,
                    plan_session_id,
                    ruck_id,
                )

    async def update_session_notification(
        self,
        plan_session_id: int,
        *,
        last_notification_type: str | None = None,
        missed_state: str | None = None,
    ) -> None:
        """Set the session's last notification type and/or missed state (None leaves a field unchanged)."""
        values: dict[str, Any] = {}
        if last_notification_type is not None:
            values["last_notification_type"] = last_notification_type
        if missed_state is not None:
            values["missed_state"] = missed_state
        if not values:
            return
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(PlanSessionRow)
                .where(PlanSessionRow.id == plan_session_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def set_next_notifications(self, plan_id: int, next_by_session: Mapping[int, datetime | None]) -> None:
        """Store each session's next notification time (RuckTracker shows it), set-based."""
        by_value: dict[datetime | None, list[int]] = defaultdict(list)
        for session_id, at in next_by_session.items():
            # Aware datetimes hash by instant, so equal times in different zones share one UPDATE.
            by_value[at].append(int(session_id))
        if not by_value:
            return
        async with self._sessionmaker.begin() as session:
            for at, session_ids in by_value.items():
                await session.execute(
                    update(PlanSessionRow)
                    .where(
                        PlanSessionRow.user_coaching_plan_id == plan_id,
                        PlanSessionRow.id.in_(sorted(session_ids)),
                    )
                    .values(next_notification_at=at)
                    .execution_options(synchronize_session=False)
                )

    async def set_plan_status(self, plan_id: int, status: PlanStatus | str) -> None:
        """Set ``user_coaching_plans.current_status`` (validated against :class:`PlanStatus`)."""
        value = PlanStatus(status).value
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(UserCoachingPlan)
                .where(UserCoachingPlan.id == plan_id)
                .values(current_status=value)
                .execution_options(synchronize_session=False)
            )

    # ---- demo data -----------------------------------------------------------------------------------------

    async def create_demo_plan(
        self,
        *,
        user_id: str | None = None,
        timezone: str,
        start_date: date,
        sessions: list[dict[str, Any]],
        tone: str = DEFAULT_TONE,
        quiet_hours: tuple[int, int] | None = None,
        fcm_token: str | None = "demo-device-token",
        created_at: datetime | None = None,
        **profile_overrides: Any,
    ) -> int:
        """Create a plan with its sessions, the athlete's profile and a device token; returns the plan id.

        For the demo, the simulator and tests. The profile is upserted (so several plans can share a user),
        the 'get-faster' template is created if missing, and ``fcm_token`` (unless None) becomes the user's
        active token on device ``demo-device``. ``profile_overrides`` set profile columns, by column name
        (``plan_daily_cap``) or by :class:`NotificationPrefs` field name (``daily_cap``).

        Each session dict has ``scheduled_date`` (date or ISO string) and optionally ``planned_session_type``,
        ``planned_week`` (default: counted from ``start_date``), ``scheduled_start_time`` ('HH:MM', a minute
        of the day, or a ``time``), ``target_distance_km``, ``target_duration_minutes``, ``target_weight_kg``
        (or ``distance_km``/``duration_minutes``/``weight_kg``), ``completion_status``, ``notes`` and
        ``coaching_points``.
        """
        validate_timezone(timezone)
        uid = _user_id(user_id) if user_id is not None else str(uuid.uuid4())
        profile_values: dict[str, Any] = {
            "coaching_tone": tone,
            "plan_notification_timezone": timezone,
            "plan_quiet_hours_start": quiet_hours[0] if quiet_hours else None,
            "plan_quiet_hours_end": quiet_hours[1] if quiet_hours else None,
            **_profile_columns(profile_overrides),
        }
        session_rows = [_demo_session(spec, start_date, timezone) for spec in sessions]

        async with self._sessionmaker.begin() as session:
            await session.execute(
                dialect_insert(session, UserProfile)
                .values(user_id=uid, **profile_values)
                .on_conflict_do_update(index_elements=["user_id"], set_={**profile_values, "updated_at": func.now()})
            )
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
            template_id = await session.scalar(
                select(CoachingPlanTemplate.id).where(CoachingPlanTemplate.plan_id == DEMO_TEMPLATE_SLUG)
            )
            plan = UserCoachingPlan(
                user_id=uid,
                coaching_plan_id=template_id,
                coaching_personality=tone,
                start_date=start_date,
                current_week=1,
                current_status=PlanStatus.ACTIVE.value,
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
                token_values = {"fcm_token": fcm_token, "device_type": "ios", "is_active": True}
                await session.execute(
                    dialect_insert(session, UserDeviceToken)
                    .values(id=str(uuid.uuid4()), user_id=uid, device_id=DEMO_DEVICE_ID, **token_values)
                    .on_conflict_do_update(
                        index_elements=["user_id", "device_id"],
                        set_={**token_values, "updated_at": func.now()},
                    )
                )
            await session.flush()
            return plan.id


# ---- helpers -----------------------------------------------------------------------------------------------


def dialect_insert(session: AsyncSession, entity: Any) -> _DialectInsert:
    """A dialect-specific INSERT, because ``ON CONFLICT`` is spelled per dialect in SQLAlchemy."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(entity)
    if name == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"database dialect {name!r} is not supported (use PostgreSQL or SQLite)")


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _fresh(stmt: Select[Any]) -> Select[Any]:
    # Rows changed by UPDATE statements in this session must be re-read, not served from the identity map.
    return stmt.execution_options(populate_existing=True)


def _user_id(value: str) -> str:
    """The canonical (lower-case, hyphenated) form; SQLite compares user ids as text, so the form matters."""
    return str(uuid.UUID(str(value)))


def _maybe_uuid(value: str) -> str | None:
    try:
        return _user_id(value)
    except ValueError:
        log.warning("ignoring device token id %r: not a UUID", value)
        return None


def _ledger_values(
    plan_id: int, user_id: str, n: PlannedNotification, status: LedgerStatus, *, reason: str | None
) -> dict[str, Any]:
    plan_session: Any = None
    if n.plan_session_id is not None:
        # A session deleted (or moved to another plan) since the schedule was computed would fail the foreign
        # key and make the activity retry forever; the notification id still names the session.
        plan_session = (
            select(PlanSessionRow.id)
            .where(PlanSessionRow.id == n.plan_session_id, PlanSessionRow.user_coaching_plan_id == plan_id)
            .scalar_subquery()
        )
    return {
        "notification_id": n.notification_id,
        "user_id": _user_id(user_id),
        "user_coaching_plan_id": plan_id,
        "plan_session_id": plan_session,
        "notification_type": n.type.value,
        "local_date": n.local_date,
        "status": status.value,
        "reason": reason,
        "scheduled_for": n.send_at,
        "payload": {},
        "attempts": 0,
    }


def _ledger_row(row: PlanNotificationAudit) -> LedgerRow:
    return LedgerRow(
        notification_id=row.notification_id,
        status=LedgerStatus(row.status),
        reason=row.reason,
        copy_source=row.copy_source,
        payload=dict(row.payload or {}),
        sent_at=row.sent_at,
        attempts=row.attempts,
        plan_session_id=row.plan_session_id,
        notification_type=row.notification_type,
        local_date=row.local_date,
        scheduled_for=row.scheduled_for,
    )


#: Session dates further than this from the plan's creation are data errors, not plans (a year typed as 2926).
_PLAUSIBLE_BEFORE = timedelta(days=366)
_PLAUSIBLE_AFTER = timedelta(days=3 * 366)


def _plausible(row: PlanSessionRow, created_at: datetime, plan_id: int) -> bool:
    day = row.scheduled_date
    if day is None:
        return True
    created = created_at.date()
    if created - _PLAUSIBLE_BEFORE <= day <= created + _PLAUSIBLE_AFTER:
        return True
    log.warning("plan %s: ignoring session %s dated %s, too far from the plan's creation", plan_id, row.id, day)
    return False


def _plan_status(value: str | None, plan_id: int) -> PlanStatus:
    try:
        return PlanStatus(value or "active")
    except ValueError:
        log.warning("plan %s: unknown current_status %r, treated as active", plan_id, value)
        return PlanStatus.ACTIVE


#: The key of ``user_coaching_plans.plan_modifications`` that holds an athlete's snooze (ISO 8601, UTC).
SNOOZE_KEY = "notification_snoozed_until"


def _snoozed_until(modifications: Any) -> datetime | None:
    raw = modifications.get(SNOOZE_KEY) if isinstance(modifications, dict) else None
    try:
        until = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return until if until is not None and until.utcoffset() is not None else None


def _valid_zone(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return validate_timezone(name)
    except ValueError:
        log.warning("ignoring invalid time zone %r in the database", name)
        return None


def athlete_zone(profile_zone: str | None, plan_zone: str | None) -> str:
    """The zone a plan's notifications use: the profile's unless it is the default (UTC) or invalid, else the
    plan's, else UTC."""
    zones = [_valid_zone(profile_zone), _valid_zone(plan_zone)]
    return next((z for z in zones if z and z != "UTC"), "UTC")


def _prefs(plan: UserCoachingPlan, profile: UserProfile | None) -> NotificationPrefs:
    # The profile's columns are NOT NULL with defaults ('UTC', 'supportive_friend'), so a default value there
    # is indistinguishable from "never set": it only wins when the plan has nothing more specific.
    timezone = athlete_zone(profile.plan_notification_timezone if profile else None, plan.plan_notification_timezone)
    tones = [profile.coaching_tone if profile else None, plan.coaching_personality]
    tone = next((t for t in tones if t and t != DEFAULT_TONE), DEFAULT_TONE)

    values: dict[str, Any] = {"timezone": timezone, "coaching_tone": tone}
    if profile is not None:
        values.update(
            quiet_hours_start_minute=profile.plan_quiet_hours_start,
            quiet_hours_end_minute=profile.plan_quiet_hours_end,
            evening_brief_minute=profile.plan_evening_brief_minute,
            morning_hype_lead_minutes=profile.plan_morning_hype_lead_minutes,
            weekly_digest_weekday=profile.plan_weekly_digest_weekday,
            weekly_digest_minute=profile.plan_weekly_digest_minute,
            daily_cap=profile.plan_daily_cap,
            default_start_minute=profile.plan_default_start_minute,
            prefer_metric=profile.prefer_metric,
        )
        extra = profile.plan_notification_prefs if isinstance(profile.plan_notification_prefs, dict) else {}
        for key in OPTIONAL_SWITCHES.values():  # the optional categories' switches
            if isinstance(extra.get(key), bool):
                values[key] = extra[key]
    return _validated_prefs(values, plan.id)


def _validated_prefs(values: dict[str, Any], plan_id: int) -> NotificationPrefs:
    """Validate, dropping (to their defaults) the fields whose stored values are out of range.

    The profile is edited by RuckTracker, not by this service; one bad column must not stop a plan's workflow.
    """
    values = {k: v for k, v in values.items() if v is not None}
    while True:
        try:
            return NotificationPrefs.model_validate(values)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]} & values.keys()
            if not bad:
                raise
            log.warning(
                "plan %s: ignoring invalid notification preferences %s",
                plan_id,
                {k: values[k] for k in sorted(bad)},
            )
            for key in bad:
                del values[key]


def _cadence(behavior: UserPlanBehavior | None) -> CadenceSnapshot:
    if behavior is None:
        return CadenceSnapshot()
    return _cadence_from(
        behavior.prime_window_start_minute,
        behavior.prime_window_end_minute,
        behavior.confidence_score,
        {"metadata": behavior.behavior_metadata, "deviations": behavior.deviations},
    )


def _cadence_from(start: Any, end: Any, confidence: Any, row: Mapping[str, Any]) -> CadenceSnapshot:
    """The schedule's view of a ``user_plan_behavior`` row; RuckTracker's rows (no centre, no weekday windows) and
    hand-edited ones read as far as they are valid, never failing a plan."""

    def minute(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1439 else None

    def unit(value: Any) -> float:
        number = _number(value)
        return min(number, 1.0) if number is not None else 0.0

    metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    weekday_windows: dict[int, CadenceWindow] = {}
    raw_windows = metadata.get("weekday_windows")
    for name, raw in raw_windows.items() if isinstance(raw_windows, dict) else []:
        if name in WEEKDAYS and isinstance(raw, dict):
            try:
                weekday_windows[WEEKDAYS.index(name)] = CadenceWindow.model_validate(raw)
            except ValidationError:
                continue
    deviations = row.get("deviations") if isinstance(row.get("deviations"), list) else []
    assert isinstance(deviations, list)
    sample_size = _number(metadata.get("sample_size"))
    return CadenceSnapshot(
        window_start_minute=minute(start),
        window_end_minute=minute(end),
        confidence=unit(confidence),
        centre_minute=minute(metadata.get("central_minute")),
        weekday_windows=weekday_windows,
        sample_size=int(sample_size) if sample_size is not None else 0,
        deviations=[d["kind"] for d in deviations if isinstance(d, dict) and isinstance(d.get("kind"), str)],
    )


def _number(value: Any) -> float | None:
    """A non-negative finite number from JSON (numbers may arrive as strings), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _plan_session(row: PlanSessionRow) -> PlanSession:
    points = row.coaching_points if isinstance(row.coaching_points, dict) else {}
    duration = _number(points.get("target_duration_minutes"))
    start = row.scheduled_start_time
    metadata = row.notification_metadata if isinstance(row.notification_metadata, dict) else {}
    return PlanSession(
        id=row.id,
        planned_week=row.planned_week,
        planned_session_type=row.planned_session_type,
        scheduled_date=row.scheduled_date,
        scheduled_start_minute=start.hour * 60 + start.minute if start is not None else None,
        # Set when the athlete chose this session's time (a reschedule): their choice beats the learned window.
        start_fixed=metadata.get("start_source") == "athlete",
        completion_status=row.completion_status,
        distance_km=_number(points.get("target_distance_km")),
        duration_minutes=round(duration) if duration is not None else None,
        weight_kg=_number(points.get("target_weight_kg")),
    )


# Profile columns that create_demo_plan accepts, and the NotificationPrefs names that map to them.
_PROFILE_COLUMNS = frozenset(
    {
        "display_name",
        "coaching_tone",
        "prefer_metric",
        "plan_notification_timezone",
        "plan_quiet_hours_start",
        "plan_quiet_hours_end",
        "plan_evening_brief_minute",
        "plan_morning_hype_lead_minutes",
        "plan_weekly_digest_weekday",
        "plan_weekly_digest_minute",
        "plan_daily_cap",
        "plan_default_start_minute",
        "plan_notification_prefs",
    }
)
_PROFILE_ALIASES = {
    "timezone": "plan_notification_timezone",
    "quiet_hours_start_minute": "plan_quiet_hours_start",
    "quiet_hours_end_minute": "plan_quiet_hours_end",
    "evening_brief_minute": "plan_evening_brief_minute",
    "morning_hype_lead_minutes": "plan_morning_hype_lead_minutes",
    "weekly_digest_weekday": "plan_weekly_digest_weekday",
    "weekly_digest_minute": "plan_weekly_digest_minute",
    "daily_cap": "plan_daily_cap",
    "default_start_minute": "plan_default_start_minute",
    "notification_prefs": "plan_notification_prefs",
}


def _profile_columns(overrides: Mapping[str, Any]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for key, value in overrides.items():
        column = _PROFILE_ALIASES.get(key, key)
        if column not in _PROFILE_COLUMNS:
            raise TypeError(f"create_demo_plan() got an unexpected profile override {key!r}")
        columns[column] = value
    return columns


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
