"""Notification analytics: who owns a plan or a notification, the app's events, and the effectiveness report.

Kept apart from :class:`activities.store.Store` (the workflow's data layer): these are the HTTP API's reads and
writes. Every query is set-based and runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, cast, exists, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from activities.db import (
    AppUser,
    NotificationEvent,
    NotificationLedgerEntry,
    RuckSession,
    UserCoachingPlan,
    UTCDateTime,
)
from activities.plan_rows import athlete_tone, athlete_zone
from activities.store_base import dialect_insert
from coaching.timeutil import to_local

#: How long after a notification a completed ruck still counts as following it.
FOLLOW_UP_HOURS = 24


@dataclass(frozen=True)
class EffectivenessRow:
    """One group of the report: sent notifications of one type, tone, local hour of sending and copy source."""

    notification_type: str
    tone: str
    #: The hour of day the notification reached the athlete, in their zone (today's zone: the ledger keeps none).
    hour_local: int
    copy_source: str | None
    sent: int
    opened: int
    cta_tapped: int
    followed_by_session: int

    @property
    def followed_by_session_share(self) -> float:
        return self.followed_by_session / self.sent if self.sent else 0.0


def _canonical(user_id: str) -> str:
    return str(uuid.UUID(str(user_id)))


def _quarter_hour(dialect: str, column: Any) -> ColumnElement[datetime]:
    """``column`` (UTC) truncated to its quarter hour: every zone's offset is a whole number of quarter hours (even
    +05:45), so the quarter's start gives the local hour of everything in it, in any zone. Read back as an aware
    UTC datetime on both databases (the column's own type)."""
    quarter: ColumnElement[Any]
    if dialect == "postgresql":
        quarter = func.date_bin(
            literal_column("interval '15 minutes'"), column, literal_column("timestamptz '2000-01-01 00:00+00'")
        )
    else:
        # SQLite stores UTC wall time as text ("YYYY-MM-DD HH:MM:SS.ffffff"), see activities.db.UTCDateTime.
        minute = cast(func.strftime("%M", column), Integer).op("/")(15) * 15  # SQLite's integer division
        quarter = func.strftime("%Y-%m-%d %H:", column).op("||")(func.printf("%02d:00", minute))
    return type_coerce(quarter, UTCDateTime())


def _within_follow_up(dialect: str, sent_at: Any, completed_at: Any) -> ColumnElement[bool]:
    """``sent_at < completed_at <= sent_at + 24 h``, spelled per dialect."""
    if dialect == "postgresql":
        limit = sent_at + literal_column(f"interval '{FOLLOW_UP_HOURS} hours'")
        return and_(completed_at > sent_at, completed_at <= limit)
    # julianday() is a float: rounded to whole milliseconds, exactly 24 h compares as exactly 24 h.
    millis = func.round((func.julianday(completed_at) - func.julianday(sent_at)) * 86_400_000)
    return and_(millis > 0, millis <= FOLLOW_UP_HOURS * 3_600_000)


class AnalyticsStore:
    """The HTTP API's data access, built from the service's sessionmaker."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def plan_owner(self, plan_id: int) -> str | None:
        """The user id of plan ``plan_id`` (canonical form), or None if there is no such plan."""
        async with self._sessionmaker() as session:
            owner = await session.scalar(select(UserCoachingPlan.user_id).where(UserCoachingPlan.id == plan_id))
        return None if owner is None else _canonical(owner)

    async def notification_owner(self, notification_id: str) -> tuple[str, str] | None:
        """The user id (canonical form) and ledger status of ``notification_id``, or None if there is no such row."""
        async with self._sessionmaker() as session:
            row = (
                await session.execute(
                    select(NotificationLedgerEntry.user_id, NotificationLedgerEntry.status).where(
                        NotificationLedgerEntry.notification_id == notification_id
                    )
                )
            ).first()
        return None if row is None else (_canonical(row[0]), row[1])

    async def record_event(self, notification_id: str, user_id: str, event: str, occurred_at: datetime) -> bool:
        """Store the event once; True if it is new, False if this notification already had it."""
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                dialect_insert(session, NotificationEvent)
                .values(
                    notification_id=notification_id,
                    user_id=_canonical(user_id),
                    event=event,
                    occurred_at=occurred_at,
                )
                .on_conflict_do_nothing(index_elements=["notification_id", "event"])
                .returning(NotificationEvent.id)
            )
            return result.first() is not None

    async def events(self, notification_id: str) -> list[tuple[str, datetime]]:
        """The stored events of one notification, ``(event, occurred_at)`` in event order."""
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(NotificationEvent.event, NotificationEvent.occurred_at)
                .where(NotificationEvent.notification_id == notification_id)
                .order_by(NotificationEvent.event)
            )
            return [(event, at) for event, at in rows]

    async def effectiveness(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[EffectivenessRow]:
        """Sent notifications (``since <= sent_at < until``) grouped by type, tone, local hour and copy source.

        One grouped query (by zone and quarter hour, turned into local hours here): opens and CTA taps are joined
        by ``notification_id`` (at most one row each, by the unique key), and a notification counts as followed by
        a session when a ``completed`` ruck of the same athlete has ``completed_at`` within 24 hours after
        ``sent_at``. Tones (display names) are resolved by the plan load's rule afterwards, merging groups whose names
        resolve to the same tone.
        """
        async with self._sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            ledger = NotificationLedgerEntry
            opened = aliased(NotificationEvent)
            tapped = aliased(NotificationEvent)
            quarter = _quarter_hour(dialect, ledger.sent_at).label("quarter")
            user_zone = AppUser.plan_notification_timezone
            plan_zone = UserCoachingPlan.plan_notification_timezone
            followed = exists().where(
                RuckSession.user_id == ledger.user_id,
                RuckSession.status == "completed",
                _within_follow_up(dialect, ledger.sent_at, RuckSession.completed_at),
            )
            conditions: list[ColumnElement[bool]] = [ledger.status == "sent", ledger.sent_at.is_not(None)]
            if since is not None:
                conditions.append(ledger.sent_at >= since)
            if until is not None:
                conditions.append(ledger.sent_at < until)
            keys = (
                ledger.notification_type,
                AppUser.coaching_tone,
                UserCoachingPlan.coaching_personality,
                user_zone,
                plan_zone,
                quarter,
            )
            stmt = (
                select(
                    *keys,
                    ledger.copy_source,
                    func.count(ledger.id),
                    func.count(opened.id),
                    func.count(tapped.id),
                    func.coalesce(func.sum(case((followed, 1), else_=0)), 0),
                )
                .select_from(ledger)
                .outerjoin(AppUser, AppUser.id == ledger.user_id)
                .outerjoin(UserCoachingPlan, UserCoachingPlan.id == ledger.plan_id)
                .outerjoin(opened, and_(opened.notification_id == ledger.notification_id, opened.event == "opened"))
                .outerjoin(tapped, and_(tapped.notification_id == ledger.notification_id, tapped.event == "cta_tapped"))
                .where(*conditions)
                .group_by(*keys, ledger.copy_source)
            )
            rows: Sequence[Any] = (await session.execute(stmt)).all()

        merged: dict[tuple[str, str, int, str | None], list[int]] = {}
        for ntype, user_tone, plan_tone, user_tz, plan_tz, quarter_start, source, *counts in rows:
            # The athlete's zone and tone by the same rules as a plan load.
            local_hour = to_local(quarter_start, athlete_zone(user_tz, plan_tz)).hour
            key = (ntype, athlete_tone(user_tone, plan_tone), local_hour, source)
            total = merged.setdefault(key, [0, 0, 0, 0])
            for i, count in enumerate(counts):
                total[i] += int(count)
        return [
            EffectivenessRow(ntype, tone, hour_value, source, *counts)
            for (ntype, tone, hour_value, source), counts in sorted(
                merged.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], item[0][3] or "")
            )
        ]
