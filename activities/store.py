"""Database access for the activities: the plan snapshot, the notification ledger, tokens and session updates.

The plan, its sessions, the athlete (``"user"``) and their tokens are RuckTracker's rows, read as RuckTracker writes
them: every column may be NULL, a tone is a display name, a duration target may be a range. The ledger and the
preferences RuckTracker has no column for are the service's own ``coach_*`` tables (see :mod:`activities.db`).

Every method opens its own session and is one transaction, so an activity retry repeats a whole unit of work
or none of it. The ledger methods are idempotent and race-safe: rows are created with ``INSERT … ON CONFLICT
(notification_id) DO NOTHING`` and changed by conditional ``UPDATE``s, so concurrent or repeated calls for one
notification never create a second row and never undo a ``sent``.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import CursorResult, Select, and_, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from activities.db import (
    AppUser,
    AthletePreferences,
    CadenceRow,
    CoachingPlanTemplate,
    NotificationLedgerEntry,
    PlanSessionRow,
    PushDelivery,
    RuckSession,
    UserCoachingPlan,
    UserDeviceToken,
)
from coaching.cadence import WEEKDAYS
from coaching.content import resolve_tone, tone_is_known
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
    ledger_final,
)
from coaching.preferences import OPTIONAL_SWITCHES
from coaching.schedule import FINAL_TYPES, SESSION_REMINDERS
from coaching.timeutil import local_to_utc, validate_timezone

log = logging.getLogger(__name__)

DEFAULT_PLAN_NAME = "Coaching plan"
DEFAULT_TONE = "supportive_friend"


@dataclass(frozen=True)
class LedgerRow:
    """One row of the notification ledger (``coach_notification_ledger``) as the activities see it."""

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


PushOutcome = Literal["sent", "rejected"]


@dataclass(frozen=True)
class PushDeliveryRow:
    """What FCM answered for one device token of one notification (``coach_push_deliveries``)."""

    token_id: str
    outcome: PushOutcome
    message_id: str | None
    error: str | None
    sent_at: datetime


@dataclass
class DeliveryStart:
    """What a delivery attempt reads before it pushes (:meth:`Store.begin_delivery`)."""

    row: LedgerRow
    earlier: list[PushDeliveryRow] = field(default_factory=list)
    blocker: str | None = None
    tokens: list[DeviceToken] = field(default_factory=list)


_DialectInsert = postgresql.Insert | sqlite.Insert


class Store:
    """Typed, transactional access to the service's tables; built once per worker from a sessionmaker."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        push_records: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        """``push_records``: where :meth:`record_push_delivery` writes, a pool of its own so that FCM's answer is made
        durable without waiting for a connection the rest of the worker holds (default: ``sessionmaker``)."""
        self._sessionmaker = sessionmaker
        self._push_records = push_records or sessionmaker

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    @asynccontextmanager
    async def _using(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        """``session`` (a caller's transaction, which commits it), or a transaction of its own."""
        if session is not None:
            yield session
            return
        async with self._sessionmaker.begin() as own:
            yield own

    # ---- a delivery attempt's reads and writes, one transaction each (one connection checkout, one commit) ------

    async def begin_delivery(
        self, plan_id: int, user_id: str, n: PlannedNotification, *, honor_pause: bool = True
    ) -> DeliveryStart:
        """In one transaction: :meth:`ledger_begin`, then (unless the row is already final) what earlier attempts
        recorded per token, :meth:`delivery_blocker` and (unless blocked) the active tokens."""
        async with self._sessionmaker.begin() as session:
            row = await self.ledger_begin(plan_id, user_id, n, in_session=session)
            if ledger_final(row.status, row.reason):
                return DeliveryStart(row=row)
            earlier = await self.push_deliveries(n.notification_id, in_session=session)
            blocker = await self.delivery_blocker(
                plan_id, n.plan_session_id, n.type, honor_pause=honor_pause, in_session=session
            )
            tokens = [] if blocker is not None else await self.active_tokens(user_id, in_session=session)
            return DeliveryStart(row=row, earlier=earlier, blocker=blocker, tokens=tokens)

    async def finish_sent(
        self,
        n: PlannedNotification,
        *,
        payload: dict[str, Any],
        sent_at: datetime,
        reason: str,
        copy_source: str,
    ) -> None:
        """In one transaction: the ledger row 'sent' (:meth:`ledger_finish`) and the session's last notification
        type (and missed state) as RuckTracker shows them; a celebration leaves the session as it is."""
        async with self._sessionmaker.begin() as session:
            await self.ledger_finish(
                n.notification_id,
                LedgerStatus.SENT,
                payload=payload,
                sent_at=sent_at,
                reason=reason,
                copy_source=copy_source,
                in_session=session,
            )
            if n.plan_session_id is not None and n.type is not NotificationType.COMPLETION_CELEBRATION:
                missed = n.facts.get("missed_state") if n.type is NotificationType.MISSED_FOLLOWUP else None
                await self.update_session_notification(
                    n.plan_session_id, last_notification_type=n.type.value, missed_state=missed, in_session=session
                )

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
            user = await session.get(AppUser, plan.user_id)
            own = await session.get(AthletePreferences, plan.user_id)
            behavior = (
                await session.scalars(
                    select(CadenceRow).where(CadenceRow.plan_id == plan_id, CadenceRow.user_id == plan.user_id).limit(1)
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

        prefs = plan_prefs(plan, user, own)
        created_at = plan_created_at(plan, prefs.timezone)
        return PlanSnapshot(
            plan_id=plan.id,
            user_id=plan.user_id,
            status=_plan_status(plan.current_status, plan_id),
            plan_name=template_name or DEFAULT_PLAN_NAME,
            start_date=plan.start_date,
            created_at=created_at,
            prefs=prefs,
            cadence=_cadence(behavior),
            sessions=[_plan_session(row) for row in sessions if _plausible(row, created_at, plan_id)],
            has_device=has_device,
            snoozed_until=_snoozed_until(plan.plan_modifications),
        )

    async def delivery_blocker(
        self,
        plan_id: int,
        plan_session_id: int | None,
        ntype: NotificationType,
        *,
        honor_pause: bool = True,
        in_session: AsyncSession | None = None,
    ) -> str | None:
        """Why the database says this notification must not go out now, or None.

        The workflow learns of changes through signals; this check at send time catches a plan the core API
        cancelled, completed or paused, or a session it removed or completed, without telling us.
        """
        async with self._using(in_session) as session:
            plan = (
                await session.execute(select(UserCoachingPlan.current_status).where(UserCoachingPlan.id == plan_id))
            ).first()
            if plan is None:
                return "plan_removed: the plan no longer exists"
            status = _plan_status(plan[0], plan_id).value
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
            if row[0] in ("completed", "skipped"):  # (NULL is RuckTracker's default, 'planned')
                return f"plan_session_{row[0]}: the session is already {row[0]}"
            return None

    # ---- the ledger ----------------------------------------------------------------------------------------

    async def ledger_begin(
        self, plan_id: int, user_id: str, n: PlannedNotification, *, in_session: AsyncSession | None = None
    ) -> LedgerRow:
        """Create the ledger row of ``n`` as 'scheduled' unless it exists, count this attempt, return the row.

        The caller must look at the returned status: a row already 'sent' or 'skipped' must not be sent again.
        """
        async with self._using(in_session) as session:
            await session.execute(
                dialect_insert(session, NotificationLedgerEntry)
                .values(**_ledger_values(plan_id, user_id, n, LedgerStatus.SCHEDULED, reason=None))
                .on_conflict_do_nothing(index_elements=["notification_id"])
            )
            row = (
                await session.execute(
                    update(NotificationLedgerEntry)
                    .where(NotificationLedgerEntry.notification_id == n.notification_id)
                    .values(attempts=NotificationLedgerEntry.attempts + 1)
                    .returning(NotificationLedgerEntry)
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
        in_session: AsyncSession | None = None,
    ) -> None:
        """Record the outcome of a delivery attempt; a row already 'sent' (or 'shadow') is left exactly as it is.

        ``reason`` and ``copy_source`` describe this attempt and replace earlier values (None clears them). A
        'sent' outcome without ``sent_at`` is stamped with the current time so that sent rows always have one.
        """
        status = LedgerStatus(status)
        if status is LedgerStatus.SENT and sent_at is None:
            sent_at = datetime.now(UTC)
        async with self._using(in_session) as session:
            result = await session.execute(
                update(NotificationLedgerEntry)
                .where(
                    NotificationLedgerEntry.notification_id == notification_id,
                    NotificationLedgerEntry.status.not_in([LedgerStatus.SENT.value, LedgerStatus.SHADOW.value]),
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

        A 'scheduled' or 'failed' row becomes 'skipped', and so does one held by the kill switch (``kill_switch: held``,
        with the new reason); 'sent', 'shadow' and other 'skipped' rows are left as they are.
        Returns the row as it stands afterwards, so the caller sees when the notification was sent after all.
        """
        async with self._sessionmaker.begin() as session:
            await session.execute(
                dialect_insert(session, NotificationLedgerEntry)
                .values(**_ledger_values(plan_id, user_id, n, LedgerStatus.SKIPPED, reason=reason))
                .on_conflict_do_nothing(index_elements=["notification_id"])
            )
            await session.execute(
                update(NotificationLedgerEntry)
                .where(
                    NotificationLedgerEntry.notification_id == n.notification_id,
                    or_(
                        NotificationLedgerEntry.status.in_([LedgerStatus.SCHEDULED.value, LedgerStatus.FAILED.value]),
                        and_(
                            NotificationLedgerEntry.status == LedgerStatus.SKIPPED.value,
                            NotificationLedgerEntry.reason.like("kill\\_switch: held%", escape="\\"),
                        ),
                    ),
                )
                .values(status=LedgerStatus.SKIPPED.value, reason=reason)
                .execution_options(synchronize_session=False)
            )
            row = (
                await session.scalars(
                    _fresh(
                        select(NotificationLedgerEntry).where(
                            NotificationLedgerEntry.notification_id == n.notification_id
                        )
                    )
                )
            ).one()
            return _ledger_row(row)

    async def ai_copy_count(self, user_id: str, start: datetime, end: datetime) -> int:
        """How many of the athlete's notifications due in ``[start, end)`` carry AI copy (the daily AI budget)."""
        async with self._sessionmaker() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(NotificationLedgerEntry)
                .where(
                    NotificationLedgerEntry.user_id == _user_id(user_id),
                    NotificationLedgerEntry.copy_source == "ai",
                    NotificationLedgerEntry.scheduled_for >= start,
                    NotificationLedgerEntry.scheduled_for < end,
                )
            )
            return int(count or 0)

    async def ledger_rows(self, plan_id: int) -> list[LedgerRow]:
        """Every ledger row of a plan, in due order."""
        async with self._sessionmaker.begin() as session:
            rows = await session.scalars(
                select(NotificationLedgerEntry)
                .where(NotificationLedgerEntry.plan_id == plan_id)
                .order_by(NotificationLedgerEntry.scheduled_for, NotificationLedgerEntry.id)
            )
            return [_ledger_row(row) for row in rows]

    # ---- per-token push record -----------------------------------------------------------------------------

    async def push_deliveries(
        self, notification_id: str, *, in_session: AsyncSession | None = None
    ) -> list[PushDeliveryRow]:
        """What earlier attempts recorded for ``notification_id``, token by token (oldest first)."""
        async with self._using(in_session) as session:
            rows = await session.scalars(
                select(PushDelivery).where(PushDelivery.notification_id == notification_id).order_by(PushDelivery.id)
            )
            return [
                PushDeliveryRow(
                    token_id=row.token_id,
                    outcome=cast(PushOutcome, row.outcome),
                    message_id=row.message_id,
                    error=row.error,
                    sent_at=row.sent_at,
                )
                for row in rows
            ]

    async def record_push_delivery(
        self,
        notification_id: str,
        token_id: str,
        outcome: PushOutcome,
        *,
        at: datetime,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Durably record FCM's final answer for one token, in its own transaction (call it as soon as FCM answers).

        The first answer stands: a repeat (a retry that raced a zombie attempt) changes nothing. Until this commits, a
        worker killed now leaves a push that its retry sends again, so it goes through the ``push_records`` pool.
        """
        async with self._push_records.begin() as session:
            await session.execute(
                dialect_insert(session, PushDelivery)
                .values(
                    notification_id=notification_id,
                    token_id=_user_id(token_id),
                    outcome=outcome,
                    message_id=message_id,
                    error=error,
                    sent_at=at,
                )
                .on_conflict_do_nothing(index_elements=["notification_id", "token_id"])
            )

    # ---- device tokens -------------------------------------------------------------------------------------

    async def active_tokens(self, user_id: str, *, in_session: AsyncSession | None = None) -> list[DeviceToken]:
        """The athlete's active push tokens, oldest first, each FCM token only once."""
        async with self._using(in_session) as session:
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
        """Mark session ``plan_session_id`` done by ruck ``ruck_id`` if it belongs to ``plan_id``.

        A session completed elsewhere (another ruck, the core API) keeps its own record, and a ruck already linked to
        another session of the plan (RuckTracker's own completion links the oldest open one) is not linked a second
        time: the session is marked done without it. ``session_id`` references ``ruck_session``, so a ruck that is
        not (or no longer) in that table is not linked either.
        """
        other = aliased(PlanSessionRow)
        linked_elsewhere = exists().where(
            other.user_coaching_plan_id == plan_id, other.session_id == ruck_id, other.id != plan_session_id
        )
        ruck = select(RuckSession.id).where(RuckSession.id == ruck_id, ~linked_elsewhere).scalar_subquery()
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(PlanSessionRow)
                .where(
                    PlanSessionRow.id == plan_session_id,
                    PlanSessionRow.user_coaching_plan_id == plan_id,
                    or_(
                        PlanSessionRow.completion_status.is_(None),
                        PlanSessionRow.completion_status != "completed",
                        PlanSessionRow.session_id == ruck_id,
                    ),
                )
                .values(completion_status="completed", session_id=ruck, completed_date=completed_date)
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
        in_session: AsyncSession | None = None,
    ) -> None:
        """Set the session's last notification type and/or missed state (None leaves a field unchanged)."""
        values: dict[str, Any] = {}
        if last_notification_type is not None:
            values["last_notification_type"] = last_notification_type
        if missed_state is not None:
            values["missed_state"] = missed_state
        if not values:
            return
        async with self._using(in_session) as session:
            await session.execute(
                update(PlanSessionRow)
                .where(PlanSessionRow.id == plan_session_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    async def set_next_notifications(self, plan_id: int, next_by_session: Mapping[int, datetime | None]) -> None:
        """Store each session's next notification time (RuckTracker shows it), set-based; only rows that change."""
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
                        # Rows already right are not rewritten (no dead tuple, no row lock, no trigger).
                        PlanSessionRow.next_notification_at.is_distinct_from(at),
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
    return {
        "notification_id": n.notification_id,
        "user_id": _user_id(user_id),
        "plan_id": plan_id,
        "plan_session_id": n.plan_session_id,
        "notification_type": n.type.value,
        "local_date": n.local_date,
        "status": status.value,
        "reason": reason,
        "scheduled_for": n.send_at,
        "payload": {},
        "attempts": 0,
    }


def _ledger_row(row: NotificationLedgerEntry) -> LedgerRow:
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


def athlete_zone(user_zone: str | None, plan_zone: str | None) -> str:
    """The zone a plan's notifications use: the athlete's (``"user"``) unless it is the default (UTC) or invalid, else
    the plan's (RuckTracker sets it from the phone when the plan is created), else UTC."""
    zones = [_valid_zone(user_zone), _valid_zone(plan_zone)]
    return next((z for z in zones if z and z != "UTC"), "UTC")


def athlete_tone(user_tone: str | None, plan_tone: str | None, plan_id: int | None = None) -> str:
    """The canonical tone id: the athlete's (``"user".coaching_tone``) unless unknown or the default, else the plan's
    ``coaching_personality``, else the default. Both hold the client's display names ('Drill Sergeant')."""
    for name in (user_tone, plan_tone):
        if plan_id is not None and name and not tone_is_known(name):
            log.warning("plan %s: unknown coaching tone %r, ignored", plan_id, name)
    known = [resolve_tone(t).value for t in (user_tone, plan_tone) if t and tone_is_known(t)]
    return next((t for t in known if t != DEFAULT_TONE), DEFAULT_TONE)


#: RuckTracker's own keys in ``"user".plan_notification_prefs`` that mean what a preference of ours means.
_RT_DIGEST_DAY_KEY = "weekly_digest_day"
_RT_DEFAULT_START_KEY = "default_start_minute"


def plan_prefs(plan: UserCoachingPlan, user: AppUser | None, own: AthletePreferences | None) -> NotificationPrefs:
    """The plan's notification preferences: zone, quiet hours, tone and units where RuckTracker keeps them (the
    athlete's ``"user"`` row and the plan row), the rest from the service's ``coach_athlete_preferences``; a value
    that is missing or out of range falls back to its default."""
    values: dict[str, Any] = {
        "timezone": athlete_zone(user.plan_notification_timezone if user else None, plan.plan_notification_timezone),
        "coaching_tone": athlete_tone(user.coaching_tone if user else None, plan.coaching_personality, plan.id),
    }
    if user is not None:
        values.update(
            quiet_hours_start_minute=user.plan_quiet_hours_start,
            quiet_hours_end_minute=user.plan_quiet_hours_end,
            prefer_metric=user.prefer_metric,
        )
        extra = user.plan_notification_prefs if isinstance(user.plan_notification_prefs, dict) else {}
        digest_day = extra.get(_RT_DIGEST_DAY_KEY)
        if isinstance(digest_day, str) and digest_day.strip().capitalize() in WEEKDAYS:
            values["weekly_digest_weekday"] = WEEKDAYS.index(digest_day.strip().capitalize())
        start = extra.get(_RT_DEFAULT_START_KEY)
        if isinstance(start, int) and not isinstance(start, bool):
            values["default_start_minute"] = start
    if own is not None:
        for name in (
            "evening_brief_minute",
            "morning_hype_lead_minutes",
            "weekly_digest_weekday",
            "weekly_digest_minute",
            "daily_cap",
            "default_start_minute",
            *OPTIONAL_SWITCHES.values(),
        ):
            value = getattr(own, name)
            if value is not None:
                values[name] = value
    return _validated_prefs(values, plan.id)


def plan_created_at(plan: UserCoachingPlan, timezone: str) -> datetime:
    """When the plan was created; RuckTracker's ``created_at`` may be NULL, then the local midnight of its start."""
    if plan.created_at is not None:
        return plan.created_at.astimezone(UTC)
    return local_to_utc(plan.start_date, 0, timezone)


def _validated_prefs(values: dict[str, Any], plan_id: int) -> NotificationPrefs:
    """Validate, dropping (to their defaults) the fields whose stored values are out of range.

    The athlete's row is edited by RuckTracker, not only by this service; one bad column must not stop a plan.
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


def _cadence(behavior: CadenceRow | None) -> CadenceSnapshot:
    if behavior is None:
        return CadenceSnapshot()
    return _cadence_from(
        behavior.prime_window_start_minute,
        behavior.prime_window_end_minute,
        behavior.confidence_score,
        {"metadata": behavior.behavior_metadata, "deviations": behavior.deviations},
    )


def _cadence_from(start: Any, end: Any, confidence: Any, row: Mapping[str, Any]) -> CadenceSnapshot:
    """The schedule's view of a ``coach_cadence_analysis`` row; rows without a centre or weekday windows and
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


def _minutes(value: Any) -> float | None:
    """A duration target in minutes: a number, a numeric string, or a range such as ``"40-50"`` (RuckTracker's
    plans write those), which reads as its middle; anything else is None."""
    number = _number(value)
    if number is not None or not isinstance(value, str):
        return number
    match = _RANGE.fullmatch(value.strip().casefold())
    if match is None:
        return None
    low, high = float(match[1]), float(match[2])
    return (low + high) / 2 if low <= high else None


_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*(?:min|mins|minutes)?")


def _plan_session(row: PlanSessionRow) -> PlanSession:
    points = row.coaching_points if isinstance(row.coaching_points, dict) else {}
    duration = _minutes(points.get("target_duration_minutes"))
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
        completion_status=row.completion_status or "planned",
        distance_km=_number(points.get("target_distance_km")),
        duration_minutes=round(duration) if duration is not None else None,
        weight_kg=_number(points.get("target_weight_kg")),
    )
