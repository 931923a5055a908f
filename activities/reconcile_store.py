"""The reconciler's reads and writes: what the database says about plans and rucks, against what the service knows.

RuckTracker's tables are the source of truth. The service keeps two small tables of its own to compare against:
``coach_plan_runs`` (a workflow was started for the plan, and the plan status it last saw) and ``coach_plan_rucks``
(the completed rucks each plan was told about). Every read is one set-based, keyset-paged query, so a pass over
100,000 live plans costs a few index and sequential scans, not a query per plan (see ``bench/reconcile.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import PlanRuck, PlanRun, RuckSession, UserCoachingPlan
from activities.store_base import dialect_insert
from coaching.models import PlanStatus

#: Plan statuses that keep a workflow running.
LIVE = (PlanStatus.ACTIVE.value, PlanStatus.PAUSED.value)
#: ``status_seen`` of a plan whose row was deleted.
REMOVED = "removed"


def plan_status_expr() -> ColumnElement[str]:
    """``user_coaching_plans.current_status`` as the service reads it: NULL (RuckTracker's default) or an unknown value
    is 'active', as when a plan is loaded (see :func:`activities.plan_rows.plan_status_of`)."""
    known = [s.value for s in PlanStatus]
    return case((UserCoachingPlan.current_status.in_(known), UserCoachingPlan.current_status), else_=literal("active"))


@dataclass(frozen=True)
class PlanToStart:
    plan_id: int
    user_id: str
    status: str


@dataclass(frozen=True)
class StatusChange:
    plan_id: int
    #: The status the plan's workflow last saw.
    seen: str
    #: The status in the database now; :data:`REMOVED` when the plan's row is gone.
    now: str


@dataclass(frozen=True)
class NewRuck:
    plan_id: int
    ruck_id: int
    user_id: str
    started_at: datetime | None
    completed_at: datetime
    duration_seconds: int | None
    distance_km: float | None


class ReconcileStore:
    """Built once per worker from the shared sessionmaker."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def plans_to_start(self, *, after: int, limit: int) -> list[PlanToStart]:
        """Live plans (by id, after ``after``) without a workflow: never started, or ended when the plan was
        cancelled or completed and live again in the database since."""
        status = plan_status_expr()
        run = PlanRun
        stmt = (
            select(UserCoachingPlan.id, UserCoachingPlan.user_id, status)
            .outerjoin(run, run.plan_id == UserCoachingPlan.id)
            .where(
                UserCoachingPlan.id > after,
                status.in_(LIVE),
                or_(run.plan_id.is_(None), and_(run.ended_at.is_not(None), run.status_seen.not_in(LIVE))),
            )
            .order_by(UserCoachingPlan.id)
            .limit(limit)
        )
        async with self._sessionmaker() as session:
            return [PlanToStart(plan_id, str(user_id), str(s)) for plan_id, user_id, s in await session.execute(stmt)]

    async def status_changes(self, *, after: int, limit: int) -> list[StatusChange]:
        """Running plans (by id, after ``after``) whose status in the database is not the one their workflow saw,
        or whose row is gone."""
        status = plan_status_expr()
        run = PlanRun
        stmt = (
            select(run.plan_id, run.status_seen, status, UserCoachingPlan.id)
            .outerjoin(UserCoachingPlan, UserCoachingPlan.id == run.plan_id)
            .where(
                run.plan_id > after,
                run.ended_at.is_(None),
                or_(UserCoachingPlan.id.is_(None), status != run.status_seen),
            )
            .order_by(run.plan_id)
            .limit(limit)
        )
        async with self._sessionmaker() as session:
            return [
                StatusChange(plan_id, seen, REMOVED if exists is None else str(now))
                for plan_id, seen, now, exists in await session.execute(stmt)
            ]

    async def new_rucks(self, *, since: datetime, until: datetime, limit: int) -> list[NewRuck]:
        """Completed rucks (completed in [since, until]) of athletes whose live plan runs and has not been told of
        them, oldest first; a ruck completed before the plan was created is not the plan's."""
        ruck, plan, run, told = RuckSession, UserCoachingPlan, PlanRun, PlanRuck
        stmt = (
            select(
                plan.id,
                ruck.id,
                ruck.user_id,
                ruck.started_at,
                ruck.completed_at,
                ruck.duration_seconds,
                ruck.distance_km,
            )
            .join(plan, plan.user_id == ruck.user_id)
            .join(run, and_(run.plan_id == plan.id, run.ended_at.is_(None)))
            .outerjoin(told, and_(told.plan_id == plan.id, told.ruck_id == ruck.id))
            .where(
                ruck.status == "completed",
                ruck.completed_at >= since,
                ruck.completed_at <= until,
                plan_status_expr().in_(LIVE),
                or_(plan.created_at.is_(None), ruck.completed_at >= plan.created_at),
                told.ruck_id.is_(None),
            )
            .order_by(ruck.completed_at, ruck.id, plan.id)
            .limit(limit)
        )
        async with self._sessionmaker() as session:
            return [
                NewRuck(plan_id, ruck_id, str(user_id), started, completed, duration, distance)
                for plan_id, ruck_id, user_id, started, completed, duration, distance in await session.execute(stmt)
                if completed is not None
            ]

    async def record_started(self, plans: Iterable[tuple[int, str | None, str]], at: datetime) -> None:
        """A workflow runs for each (plan, user, status it saw): a new row, or a restarted one's reset."""
        rows = [{"plan_id": p, "user_id": u, "status_seen": s, "started_at": at} for p, u, s in plans]
        if not rows:
            return
        async with self._sessionmaker.begin() as session:
            stmt = dialect_insert(session, PlanRun)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["plan_id"],
                    set_={
                        "status_seen": stmt.excluded.status_seen,
                        "user_id": stmt.excluded.user_id,
                        "started_at": stmt.excluded.started_at,
                        "ended_at": None,
                        "end_reason": None,
                        "updated_at": func.now(),
                    },
                ),
                rows,
            )

    async def record_seen(self, statuses: Mapping[int, str]) -> None:
        """The plans' workflows were told of these statuses."""
        async with self._sessionmaker.begin() as session:
            for status, plan_ids in _group(statuses).items():
                await session.execute(
                    update(PlanRun)
                    .where(PlanRun.plan_id.in_(plan_ids))
                    .values(status_seen=status, updated_at=func.now())
                    .execution_options(synchronize_session=False)
                )

    async def record_ended(self, plan_id: int, status: str, reason: str, at: datetime) -> None:
        """The plan's workflow ended (``status`` as it last saw it, and why)."""
        async with self._sessionmaker.begin() as session:
            stmt = dialect_insert(session, PlanRun).values(
                plan_id=plan_id, status_seen=status, started_at=at, ended_at=at, end_reason=reason[:500]
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["plan_id"],
                    set_={"status_seen": status, "ended_at": at, "end_reason": reason[:500], "updated_at": func.now()},
                )
            )

    async def forget_runs(self, plan_ids: Sequence[int]) -> None:
        """These plans have no running workflow after all (it ended unrecorded): the next pass starts live ones."""
        if not plan_ids:
            return
        async with self._sessionmaker.begin() as session:
            await session.execute(delete(PlanRun).where(PlanRun.plan_id.in_(list(plan_ids))))

    async def record_rucks(self, rucks: Iterable[tuple[int, int, str]], at: datetime) -> None:
        """Each (plan, ruck, source) was told to the plan (or dropped): never again."""
        rows = [{"plan_id": p, "ruck_id": r, "source": s, "signalled_at": at} for p, r, s in rucks]
        if not rows:
            return
        async with self._sessionmaker.begin() as session:
            await session.execute(
                dialect_insert(session, PlanRuck).on_conflict_do_nothing(index_elements=["plan_id", "ruck_id"]), rows
            )


def _group(statuses: Mapping[int, str]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for plan_id, status in statuses.items():
        grouped.setdefault(status, []).append(plan_id)
    return grouped


__all__ = ["LIVE", "REMOVED", "NewRuck", "PlanToStart", "ReconcileStore", "StatusChange", "plan_status_expr"]
