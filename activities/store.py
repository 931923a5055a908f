"""The workflow's data layer: :class:`Store`, every family store in one object, and the transactions that span
families.

Each family of tables has its own store (:mod:`activities.plan_store`, :mod:`activities.ledger_store`,
:mod:`activities.token_store`, on :mod:`activities.store_base`); :class:`Store` inherits them all, so the worker
builds one object on one sessionmaker and callers keep calling ``store.load_plan_snapshot(...)`` or
``store.ledger_rows(...)``. What a delivery attempt reads before it pushes, and what it writes once sent, crosses
families and is one transaction each (:meth:`Store.begin_delivery`, :meth:`Store.finish_sent`).

Every method opens its own session and is one transaction, so an activity retry repeats a whole unit of work or none
of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.ledger_store import LedgerRow, LedgerStore, PushDeliveryRow
from activities.plan_store import PlanStore
from activities.token_store import DeviceToken, DeviceTokenStore
from coaching.models import LedgerStatus, NotificationType, PlannedNotification, ledger_final


@dataclass
class DeliveryStart:
    """What a delivery attempt reads before it pushes (:meth:`Store.begin_delivery`)."""

    row: LedgerRow
    earlier: list[PushDeliveryRow] = field(default_factory=list)
    blocker: str | None = None
    tokens: list[DeviceToken] = field(default_factory=list)


class Store(PlanStore, LedgerStore, DeviceTokenStore):
    """Typed, transactional access to the service's tables; built once per worker from a sessionmaker."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        push_records: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        """``push_records``: the pool FCM's answers are recorded through (see :class:`LedgerStore`)."""
        LedgerStore.__init__(self, sessionmaker, push_records=push_records)

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
