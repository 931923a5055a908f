"""Database side of the cadence analyzer: set-based reads of many athletes' history, and the results' upsert.

Every method works on a batch of athletes with a fixed number of queries (never one query per athlete), so the
nightly recompute of a whole population is a few round trips per thousand athletes.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import AppUser, AthleteTimezone, CadenceRow, PlanSessionRow, RuckSession, UserCoachingPlan
from activities.plan_rows import cadence_from, valid_zone
from activities.store_base import dialect_insert
from coaching.cadence import LOOKBACK, CadenceAnalysis, RuckSample, analyze
from coaching.models import CadenceSnapshot

#: Plans whose athletes are worth learning about (a paused plan resumes with a current window).
LIVE_PLAN_STATUSES = ("active", "paused")
#: Athletes without new rucks are still re-analysed this often, so a drop in frequency is noticed.
RECHECK_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class CadenceChange:
    """A plan whose stored cadence changed in a way the schedule can see."""

    plan_id: int
    user_id: str
    cadence: CadenceSnapshot


class CadenceStore:
    """Reads and writes for the analyzer; built once per worker from the shared sessionmaker."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def athletes_due(
        self, as_of: datetime, *, after: str | None, limit: int, before: str | None = None
    ) -> list[str]:
        """The next page (by user id, after ``after``) of athletes with a live plan whose cadence needs computing:
        never computed, older than :data:`RECHECK_AFTER`, or with a ruck completed since their last computation."""
        plan, behavior, ruck = UserCoachingPlan, CadenceRow, RuckSession
        new_ruck = exists().where(
            ruck.user_id == plan.user_id,
            ruck.status == "completed",
            ruck.completed_at > behavior.last_recomputed_at,
        )
        stmt = (
            select(plan.user_id)
            .outerjoin(behavior, and_(behavior.plan_id == plan.id, behavior.user_id == plan.user_id))
            .where(
                plan.current_status.in_(LIVE_PLAN_STATUSES),
                or_(
                    behavior.id.is_(None),
                    behavior.last_recomputed_at.is_(None),
                    behavior.last_recomputed_at < as_of - RECHECK_AFTER,
                    new_ruck,
                ),
            )
            .group_by(plan.user_id)
            .order_by(plan.user_id)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(plan.user_id > after)
        if before is not None:
            stmt = stmt.where(plan.user_id <= before)
        async with self._sessionmaker() as session:
            return [str(u) for u in (await session.scalars(stmt)).all()]

    async def load_samples(self, user_ids: Sequence[str], as_of: datetime) -> dict[str, list[RuckSample]]:
        """Each athlete's completed rucks (and date-only completed sessions) of the lookback, each with the zone the
        athlete was in at the time: four queries for the whole batch."""
        if not user_ids:
            return {}
        since = as_of - LOOKBACK
        ids = list(user_ids)
        async with self._sessionmaker() as session:
            rucks = await self._recent_rucks(session, ids, since, as_of)
            dated = (
                await session.execute(
                    select(UserCoachingPlan.user_id, PlanSessionRow.session_id, PlanSessionRow.completed_date).where(
                        PlanSessionRow.user_coaching_plan_id == UserCoachingPlan.id,
                        UserCoachingPlan.user_id.in_(ids),
                        PlanSessionRow.completion_status == "completed",
                        PlanSessionRow.completed_date >= since.date() - timedelta(days=1),
                    )
                )
            ).all()
            history = (
                await session.execute(
                    select(AthleteTimezone.user_id, AthleteTimezone.effective_from, AthleteTimezone.timezone)
                    .where(AthleteTimezone.user_id.in_(ids))
                    .order_by(AthleteTimezone.user_id, AthleteTimezone.effective_from)
                )
            ).all()
            current = await self._current_zones(session, ids)

        zones = _ZoneHistory(history, current)
        out: dict[str, list[RuckSample]] = {u: [] for u in ids}
        at, fixed = zones.at, zones.fixed
        for user, ruck_id, start in rucks:
            if start is None:
                continue  # neither a start nor a duration: no time of day to learn from
            tz = fixed(user)
            out[user].append(RuckSample(start, tz if tz is not None else at(user, start), None, ruck_id))
        for user_id, session_ruck_id, completed_date in dated:
            if completed_date is None:
                continue
            user = str(user_id)
            noon = datetime(completed_date.year, completed_date.month, completed_date.day, 12, tzinfo=UTC)
            out[user].append(RuckSample(None, zones.at(user, noon), day=completed_date, ruck_id=session_ruck_id))
        return out

    async def _recent_rucks(
        self, session: AsyncSession, ids: list[str], since: datetime, as_of: datetime
    ) -> Sequence[tuple[str, int, datetime | None]]:
        """(user id, ruck id, start) of the batch's completed rucks; the start is ``started_at``, else
        ``completed_at`` minus ``duration_seconds``, else None.

        The biggest read of the nightly job (~50 rows per athlete): on PostgreSQL it goes straight through asyncpg
        with the ids as one array parameter and the start computed by the server, several times faster than the
        ORM's per-row processing.
        """
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            raw = await connection.get_raw_connection()
            rows: Sequence[Any] = await raw.driver_connection.fetch(  # type: ignore[union-attr]
                "SELECT user_id::text, id,"
                " coalesce(started_at, completed_at - make_interval(secs => nullif(duration_seconds, 0)))"
                " FROM ruck_session WHERE user_id = ANY($1::uuid[]) AND status = 'completed'"
                " AND completed_at >= $2 AND completed_at <= $3",
                ids,
                since,
                as_of,
            )
            return rows
        result = await session.execute(
            select(
                RuckSession.user_id,
                RuckSession.id,
                RuckSession.started_at,
                RuckSession.completed_at,
                RuckSession.duration_seconds,
            ).where(
                RuckSession.user_id.in_(ids),
                RuckSession.status == "completed",
                RuckSession.completed_at >= since,
                RuckSession.completed_at <= as_of,
            )
        )
        return [
            (
                str(user),
                ruck_id,
                started or (completed - timedelta(seconds=duration) if completed and duration else None),
            )
            for user, ruck_id, started, completed, duration in result
        ]

    async def _current_zones(self, session: AsyncSession, ids: list[str]) -> dict[str, str]:
        """The zone each athlete is in now, as the plan snapshot resolves it (the athlete's, else the live plan's)."""
        zones: dict[str, str] = {}
        plans = await session.execute(
            select(UserCoachingPlan.user_id, UserCoachingPlan.plan_notification_timezone).where(
                UserCoachingPlan.user_id.in_(ids), UserCoachingPlan.current_status.in_(LIVE_PLAN_STATUSES)
            )
        )
        for user_id, tz in plans:
            if (zone := valid_zone(tz)) and zone != "UTC":
                zones[str(user_id)] = zone
        athletes = await session.execute(
            select(AppUser.id, AppUser.plan_notification_timezone).where(AppUser.id.in_(ids))
        )
        for user_id, tz in athletes:
            if (zone := valid_zone(tz)) and zone != "UTC":
                zones[str(user_id)] = zone
        return zones

    async def save(self, analyses: Mapping[str, CadenceAnalysis]) -> list[CadenceChange]:
        """Upsert each athlete's analysis into ``coach_cadence_analysis`` for every live plan of theirs; return the
        plans whose cadence, as the schedule sees it, changed (those workflows are told)."""
        if not analyses:
            return []
        with _collector_paused():
            return await self._save(analyses)

    async def _save(self, analyses: Mapping[str, CadenceAnalysis]) -> list[CadenceChange]:
        ids = list(analyses)
        async with self._sessionmaker.begin() as session:
            plans = (
                await session.execute(
                    select(UserCoachingPlan.id, UserCoachingPlan.user_id).where(
                        UserCoachingPlan.user_id.in_(ids), UserCoachingPlan.current_status.in_(LIVE_PLAN_STATUSES)
                    )
                )
            ).all()
            if not plans:
                return []
            owner = {plan_id: str(user_id) for plan_id, user_id in plans}
            previous: dict[int, CadenceSnapshot] = {}
            newer: set[int] = set()
            for plan_id, start, end, confidence, metadata, deviations, computed_at in await session.execute(
                select(
                    CadenceRow.plan_id,
                    CadenceRow.prime_window_start_minute,
                    CadenceRow.prime_window_end_minute,
                    CadenceRow.confidence_score,
                    CadenceRow.behavior_metadata,
                    CadenceRow.deviations,
                    CadenceRow.last_recomputed_at,
                ).where(CadenceRow.plan_id.in_(list(owner)))
            ):
                previous[plan_id] = cadence_from(
                    start, end, confidence, {"metadata": metadata, "deviations": deviations}
                )
                if computed_at is not None and computed_at > analyses[owner[plan_id]].as_of:
                    # Analysed since (after a ruck) from newer history: this older analysis neither wins nor signals.
                    newer.add(plan_id)
            rows: list[dict[str, Any]] = []
            changes: list[CadenceChange] = []
            for plan_id, user_id in plans:
                if plan_id in newer:
                    continue
                row = behavior_row(plan_id, str(user_id), analyses[str(user_id)])
                rows.append(row)
                # Compared as stored (two-decimal confidence): what the workflow gets is what a reload would read.
                stored = cadence_from(
                    row["prime_window_start_minute"], row["prime_window_end_minute"], row["confidence_score"], row
                )
                if previous.get(plan_id) != stored:
                    changes.append(CadenceChange(plan_id, str(user_id), stored))
            table = CadenceRow.__table__
            stmt = dialect_insert(session, table)
            if rows:
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["user_id", "plan_id"],
                        set_=behavior_updates(stmt.excluded),
                        # Also in the statement, for a refresh that commits between the read above and this write.
                        where=or_(
                            table.c.last_recomputed_at.is_(None),
                            table.c.last_recomputed_at <= stmt.excluded.last_recomputed_at,
                        ),
                    ),
                    rows,
                )
        return changes

    async def stored(self, plan_id: int) -> CadenceSnapshot | None:
        """The plan's cadence as stored (what a reload of the plan would read), or None without a row."""
        found = await self.stored_changes([plan_id])
        return found[0].cadence if found else None

    async def stored_changes(self, plan_ids: Sequence[int]) -> list[CadenceChange]:
        """The stored cadence of each of these plans that has a row, as changes to tell their workflows."""
        if not plan_ids:
            return []
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(
                    CadenceRow.plan_id,
                    CadenceRow.user_id,
                    CadenceRow.prime_window_start_minute,
                    CadenceRow.prime_window_end_minute,
                    CadenceRow.confidence_score,
                    CadenceRow.behavior_metadata,
                    CadenceRow.deviations,
                )
                .where(CadenceRow.plan_id.in_(list(plan_ids)))
                .order_by(CadenceRow.plan_id)
            )
            return [
                CadenceChange(
                    plan_id,
                    str(user_id),
                    cadence_from(start, end, confidence, {"metadata": metadata, "deviations": deviations}),
                )
                for plan_id, user_id, start, end, confidence, metadata, deviations in rows
            ]

    async def analyze_athletes(self, user_ids: Sequence[str], as_of: datetime) -> dict[str, CadenceAnalysis]:
        # A page makes ~100k small acyclic objects (rows, samples): with the collector on, every few thousand of them
        # trigger a collection that walks them all again, which cost more than the work itself (see bench/). They
        # hold no cycles; whatever else makes cycles meanwhile is collected right after.
        with _collector_paused():
            samples = await self.load_samples(user_ids, as_of)
        # CPU-bound (~0.3 ms per athlete): off the event loop, so the worker's other tasks and heartbeats go on and
        # a concurrent page's database round trips overlap with it.
        return await asyncio.to_thread(_analyze_all, samples, as_of)

    async def recompute_page(
        self, as_of: datetime, *, after: str | None, before: str | None, limit: int
    ) -> tuple[list[str], list[CadenceChange]]:
        """One page of the nightly recompute: the next ``limit`` athletes due in (after, before], analysed and
        stored; returns them and the plans whose cadence changed."""
        users = await self.athletes_due(as_of, after=after, before=before, limit=limit)
        return users, await self.save(await self.analyze_athletes(users, as_of))

    async def note_timezone(self, user_id: str, timezone: str, at: datetime) -> bool:
        """Record that the athlete is in ``timezone`` from ``at`` on, unless that is already what is known then."""
        async with self._sessionmaker.begin() as session:
            known = (
                await session.execute(
                    select(AthleteTimezone.timezone)
                    .where(AthleteTimezone.user_id == user_id, AthleteTimezone.effective_from <= at)
                    .order_by(AthleteTimezone.effective_from.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            if known == timezone:
                return False
            stmt = dialect_insert(session, AthleteTimezone).values(
                user_id=user_id, timezone=timezone, effective_from=at
            )
            await session.execute(stmt.on_conflict_do_nothing(index_elements=["user_id", "effective_from"]))
        return True


def _analyze_all(samples: Mapping[str, list[RuckSample]], as_of: datetime) -> dict[str, CadenceAnalysis]:
    with _collector_paused():
        return {user: analyze(found, as_of) for user, found in samples.items()}


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _ZoneHistory:
    """The zone in effect at an instant: the last change before it; before the first known change, the first zone
    (the best guess for the time before we knew); with no history at all, the athlete's current zone, else UTC."""

    def __init__(self, history: Sequence[Any], current: Mapping[str, str]) -> None:
        self._changes: dict[str, tuple[list[datetime], list[str]]] = defaultdict(lambda: ([], []))
        for user_id, effective_from, timezone in history:
            if valid_zone(timezone):
                instants, zones = self._changes[str(user_id)]
                instants.append(effective_from)
                zones.append(timezone)
        self._current = current

    def fixed(self, user_id: str) -> str | None:
        """The athlete's zone when it has never changed (most athletes), else None: then ask :meth:`at`."""
        found = self._changes.get(user_id)
        if not found or not found[0]:
            return self._current.get(user_id, "UTC")
        return found[1][0] if len(found[1]) == 1 else None

    def at(self, user_id: str, instant: datetime) -> str:
        found = self._changes.get(user_id)
        if not found or not found[0]:
            return self._current.get(user_id, "UTC")
        instants, zones = found
        return zones[max(bisect.bisect_right(instants, instant) - 1, 0)]


def behavior_row(plan_id: int, user_id: str, analysis: CadenceAnalysis) -> dict[str, Any]:
    snap = analysis.snapshot
    return {
        "user_id": user_id,
        "plan_id": plan_id,
        "prime_window_start_minute": snap.window_start_minute,
        "prime_window_end_minute": snap.window_end_minute,
        "confidence_score": round(snap.confidence, 2),
        "weekday_pattern": analysis.weekday_pattern,
        "deviations": [d.model_dump(mode="json") for d in analysis.deviations],
        "metadata": analysis.metadata(),
        "last_recomputed_at": analysis.as_of,
    }


#: The coach_cadence_analysis columns behavior_row fills (the first two are the upsert key).
BEHAVIOR_COLUMNS = (
    "user_id",
    "plan_id",
    "prime_window_start_minute",
    "prime_window_end_minute",
    "confidence_score",
    "weekday_pattern",
    "deviations",
    "metadata",
    "last_recomputed_at",
)

#: What an upsert rewrites: all but the key (user, plan).
BEHAVIOR_UPDATED = BEHAVIOR_COLUMNS[2:]


def behavior_updates(excluded: Any) -> dict[str, Any]:
    """The SET of a coach_cadence_analysis upsert from its EXCLUDED row: everything but the key, and updated_at."""
    return {**{c: excluded[c] for c in BEHAVIOR_UPDATED}, "updated_at": excluded.last_recomputed_at}


__all__ = [
    "CadenceChange",
    "CadenceStore",
    "behavior_row",
    "BEHAVIOR_COLUMNS",
    "BEHAVIOR_UPDATED",
    "LIVE_PLAN_STATUSES",
    "RECHECK_AFTER",
]
