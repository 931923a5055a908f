"""The notification ledger (``coach_notification_ledger``) and the per-token push record (``coach_push_deliveries``).

Both are keyed by the notification's business key: the ledger holds one row per notification that came due (its
status, copy and payload), the push record one row per device token FCM answered for. The ledger methods are
idempotent and race-safe: rows are created with ``INSERT … ON CONFLICT (notification_id) DO NOTHING`` and changed by
conditional ``UPDATE``s, so concurrent or repeated calls for one notification never create a second row and never undo
a ``sent``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal, cast

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import NotificationLedgerEntry, PushDelivery
from activities.store_base import TableStore, as_user_id, dialect_insert, rows_affected
from coaching.models import LedgerStatus, PlannedNotification

log = logging.getLogger(__name__)


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


PushOutcome = Literal["sent", "rejected"]


@dataclass(frozen=True)
class PushDeliveryRow:
    """What FCM answered for one device token of one notification (``coach_push_deliveries``)."""

    token_id: str
    outcome: PushOutcome
    message_id: str | None
    error: str | None
    sent_at: datetime


class LedgerStore(TableStore):
    """The ledger's rows and the per-token push record of each notification."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        push_records: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        """``push_records``: where :meth:`record_push_delivery` writes, a pool of its own so that FCM's answer is made
        durable without waiting for a connection the rest of the worker holds (default: ``sessionmaker``)."""
        super().__init__(sessionmaker)
        self._push_records = push_records or sessionmaker

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
            if rows_affected(result) == 0:
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
                    NotificationLedgerEntry.user_id == as_user_id(user_id),
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
                    token_id=as_user_id(token_id),
                    outcome=outcome,
                    message_id=message_id,
                    error=error,
                    sent_at=at,
                )
                .on_conflict_do_nothing(index_elements=["notification_id", "token_id"])
            )


def _fresh(stmt: Select[Any]) -> Select[Any]:
    # Rows changed by UPDATE statements in this session must be re-read, not served from the identity map.
    return stmt.execution_options(populate_existing=True)


def _ledger_values(
    plan_id: int, user_id: str, n: PlannedNotification, status: LedgerStatus, *, reason: str | None
) -> dict[str, Any]:
    return {
        "notification_id": n.notification_id,
        "user_id": as_user_id(user_id),
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
