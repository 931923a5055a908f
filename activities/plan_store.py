"""The plan's rows: its snapshot for the workflow, the database's last word before a send, and what the service
writes back onto RuckTracker's plan and session rows (a completion, the next notification time, the status).

The plan, its sessions, the athlete (``"user"``) and their tokens are RuckTracker's rows, read as RuckTracker writes
them (see :mod:`activities.plan_rows`); the athlete's own preferences and learned cadence come from the service's
``coach_*`` tables. Every method is one transaction (or part of the caller's, where it takes ``in_session``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from activities.db import (
    AppUser,
    AthletePreferences,
    CadenceRow,
    CoachingPlanTemplate,
    PlanSessionRow,
    RuckSession,
    UserCoachingPlan,
    UserDeviceToken,
)
from activities.plan_rows import (
    cadence_of,
    plan_created_at,
    plan_prefs,
    plan_session_of,
    plan_status_of,
    plausible_session,
    snoozed_until_of,
)
from activities.store_base import TableStore, rows_affected
from coaching.models import NotificationType, PlanSnapshot, PlanStatus
from coaching.schedule import FINAL_TYPES, SESSION_REMINDERS

log = logging.getLogger(__name__)

DEFAULT_PLAN_NAME = "Coaching plan"


class PlanStore(TableStore):
    """Reads and writes of the plan, its sessions and its status."""

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
            status=plan_status_of(plan.current_status, plan_id),
            plan_name=template_name or DEFAULT_PLAN_NAME,
            start_date=plan.start_date,
            created_at=created_at,
            prefs=prefs,
            cadence=cadence_of(behavior),
            sessions=[plan_session_of(row) for row in sessions if plausible_session(row, created_at, plan_id)],
            has_device=has_device,
            snoozed_until=snoozed_until_of(plan.plan_modifications),
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
            status = plan_status_of(plan[0], plan_id).value
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
            if rows_affected(result) == 0:
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
