"""The two ways ``cadence_recompute.py`` recomputes every athlete's cadence, and the measurement of both: the naive
baseline (per athlete, one query each for the rucks, the date-only sessions and the zones, then one upsert), the
set-based recompute as the nightly workflow's activity does it (pages per id-range partition, in one process or in
worker processes), and :func:`measure`, which runs them one after the other on the same database."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import concurrent.futures
import cProfile
import gc
import multiprocessing
import os
import random
import resource
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import cast

from _pg import Target
from cadence_fill import AS_OF
from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.cadence_store import LIVE_PLAN_STATUSES, CadenceStore, behavior_row, behavior_updates
from activities.database import make_engine, make_sessionmaker
from activities.db import AppUser, AthleteTimezone, CadenceRow, PlanSessionRow, RuckSession, UserCoachingPlan
from coaching.cadence import LOOKBACK, RuckSample, analyze
from coaching.ids import user_id_partitions

# --- the naive baseline -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    start: int | None
    end: int | None
    confidence: float


async def naive(sessionmaker: async_sessionmaker[AsyncSession], users: Sequence[str]) -> dict[str, Result]:
    """Per athlete: rucks, date-only sessions, zones (+ plan id) — one query each —, analyze, one upsert, commit."""
    since = AS_OF - LOOKBACK
    plan, athlete, tzs = UserCoachingPlan, AppUser, AthleteTimezone
    table = cast(Table, CadenceRow.__table__)
    results: dict[str, Result] = {}
    async with sessionmaker() as session:
        for user in users:
            rucks = (
                await session.execute(
                    select(
                        RuckSession.id, RuckSession.started_at, RuckSession.completed_at, RuckSession.duration_seconds
                    ).where(
                        RuckSession.user_id == user,
                        RuckSession.status == "completed",
                        RuckSession.completed_at >= since,
                        RuckSession.completed_at <= AS_OF,
                    )
                )
            ).all()
            dated = (
                await session.execute(
                    select(PlanSessionRow.session_id, PlanSessionRow.completed_date)
                    .join(plan, PlanSessionRow.user_coaching_plan_id == plan.id)
                    .where(
                        plan.user_id == user,
                        PlanSessionRow.completion_status == "completed",
                        PlanSessionRow.completed_date >= since.date() - timedelta(days=1),
                    )
                )
            ).all()
            history = select(tzs.effective_from, tzs.timezone).where(tzs.user_id == user).subquery()
            zones = (
                await session.execute(
                    select(
                        plan.id,
                        plan.plan_notification_timezone,
                        select(athlete.plan_notification_timezone).where(athlete.id == user).scalar_subquery(),
                        select(
                            func.array_agg(aggregate_order_by(history.c.effective_from, history.c.effective_from))
                        ).scalar_subquery(),
                        select(
                            func.array_agg(aggregate_order_by(history.c.timezone, history.c.effective_from))
                        ).scalar_subquery(),
                    ).where(plan.user_id == user, plan.current_status.in_(LIVE_PLAN_STATUSES))
                )
            ).all()
            if not zones:
                continue
            plan_id, plan_zone, athlete_zone, instants, names = zones[0]
            current = next((z for z in (athlete_zone, plan_zone) if z and z != "UTC"), "UTC")
            instants, names = instants or [], names or []

            samples: list[RuckSample] = []
            for ruck_id, started_at, completed_at, duration in rucks:
                start = started_at
                if start is None and completed_at is not None and duration:
                    start = completed_at - timedelta(seconds=duration)
                if start is not None:
                    samples.append(RuckSample(start, _zone_at(start, instants, names, current), ruck_id=ruck_id))
            for session_ruck_id, day in dated:
                if day is not None:
                    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
                    zone = _zone_at(noon, instants, names, current)
                    samples.append(RuckSample(None, zone, day=day, ruck_id=session_ruck_id))
            analysis = analyze(samples, AS_OF)
            row = behavior_row(plan_id, user, analysis)
            stmt = pg_insert(table).values(row)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["user_id", "plan_id"],
                    set_=behavior_updates(stmt.excluded),
                )
            )
            await session.commit()
            results[user] = Result(
                row["prime_window_start_minute"], row["prime_window_end_minute"], row["confidence_score"]
            )
    return results


def _zone_at(instant: datetime, instants: Sequence[datetime], names: Sequence[str], current: str) -> str:
    """The zone in effect at ``instant``: the last change before it, else the first known, else the current zone."""
    if not instants:
        return current
    return names[max(bisect.bisect_right(instants, instant) - 1, 0)]


# --- the set-based recompute --------------------------------------------------------------------------------------


class TimedStore(CadenceStore):
    """The store under test, unchanged, except that it adds up the time spent loading samples."""

    load_seconds = 0.0

    async def load_samples(self, user_ids: Sequence[str], as_of: datetime) -> dict[str, list[RuckSample]]:
        t0 = perf_counter()
        try:
            return await super().load_samples(user_ids, as_of)
        finally:
            self.load_seconds += perf_counter() - t0


@dataclass
class SetBasedRun:
    athletes: int = 0
    batches: int = 0
    changed: int = 0
    due: float = 0.0
    analyze: float = 0.0  # analyze_athletes, loading included
    save: float = 0.0
    load: float = 0.0  # the loading part of analyze_athletes
    gc: float = 0.0  # cyclic garbage collector pauses, whichever step they fell in
    gc_full: int = 0  # of which full (generation 2) collections


class GcPauses:
    """Adds up the cyclic garbage collector's pauses (through ``gc.callbacks``): measured, the GC is left as it is."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = perf_counter()
        else:
            self.seconds += perf_counter() - self._started
            self.full += info.get("generation") == 2


async def set_based(store: TimedStore, batch_size: int, partitions: int) -> SetBasedRun:
    """The ``recompute_cadence_batch`` activity's body, page after page, without signalling workflows."""
    run = SetBasedRun()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    try:
        await _pages(store, batch_size, partitions, run)
    finally:
        gc.callbacks.remove(pauses)
    run.load, run.gc, run.gc_full = store.load_seconds, pauses.seconds, pauses.full
    return run


async def _pages(store: TimedStore, batch_size: int, partitions: int, run: SetBasedRun) -> None:
    """As ``CadenceRecomputeWorkflow`` does it: rounds of one page per id-range partition, run concurrently."""
    ranges = user_id_partitions(partitions)
    cursors: list[str | None] = [lower for lower, _ in ranges]
    live = list(range(len(ranges)))

    async def page(i: int) -> list[str]:
        t0 = perf_counter()
        users = await store.athletes_due(AS_OF, after=cursors[i], before=ranges[i][1], limit=batch_size)
        t1 = perf_counter()
        analyses = await store.analyze_athletes(users, AS_OF)
        t2 = perf_counter()
        changes = await store.save(analyses)
        t3 = perf_counter()
        run.due, run.analyze, run.save = run.due + t1 - t0, run.analyze + t2 - t1, run.save + t3 - t2
        run.athletes += len(users)
        run.batches += 1
        run.changed += len(changes)
        return users

    while live:
        pages = await asyncio.gather(*(page(i) for i in live))
        for i, users in zip(list(live), pages, strict=True):
            if len(users) < batch_size:
                live.remove(i)
            else:
                cursors[i] = users[-1]


# --- measuring both -----------------------------------------------------------------------------------------------


def memory(phase: str) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    with open("/proc/self/statm") as statm:
        now = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    print(f"  memory after {phase}: RSS {now:,.0f} MiB, peak RSS {peak:,.0f} MiB")


@dataclass
class Measured:
    population: int
    sample: int = 0
    naive_seconds: float = 0.0
    set_seconds: float = 0.0
    run: SetBasedRun = field(default_factory=SetBasedRun)
    agree: int = 0
    workers: int = 0
    workers_athletes: int = 0
    workers_seconds: float = 0.0


async def measure(target: Target, args: argparse.Namespace, profiler: cProfile.Profile | None) -> Measured:
    """The naive baseline on a sample, TRUNCATE, then the set-based recompute of everyone; then compare the two."""
    engine = make_engine(target.url)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with engine.begin() as conn:
            version = (await conn.exec_driver_sql("SHOW server_version")).scalar()
            await conn.exec_driver_sql("TRUNCATE coach_cadence_analysis")
            live = select(UserCoachingPlan.user_id).where(UserCoachingPlan.current_status.in_(LIVE_PLAN_STATUSES))
            ids = [str(u) for u in (await conn.execute(live.order_by(UserCoachingPlan.user_id))).scalars()]
        print(f"PostgreSQL {version}; {len(ids):,} athletes with a live plan")
        sample = sorted(random.Random(args.seed + 1).sample(ids, min(args.baseline_sample, len(ids))))
        print(
            "order: naive baseline on a random sample first, then TRUNCATE coach_cadence_analysis, then the "
            "set-based recompute of everyone; both insert into an empty coach_cadence_analysis, both on a cache "
            "warmed by the fill"
        )
        m = Measured(population=len(ids), sample=len(sample))

        baseline: dict[str, Result] = {}
        if sample:
            t0 = perf_counter()
            baseline = await naive(sessionmaker, sample)
            m.naive_seconds = perf_counter() - t0
            print(f"naive baseline: {len(sample):,} athletes in {m.naive_seconds:.1f} s")
            memory("naive baseline")
            async with engine.begin() as conn:
                await conn.exec_driver_sql("TRUNCATE coach_cadence_analysis")

        store = TimedStore(sessionmaker)
        t0 = perf_counter()
        if profiler:
            profiler.enable()
        m.run = await set_based(store, args.batch_size, args.partitions)
        if profiler:
            profiler.disable()
        m.set_seconds = perf_counter() - t0
        print(f"set-based: {m.run.athletes:,} athletes in {m.set_seconds:.1f} s ({m.run.batches} pages)")
        memory("set-based recompute")

        if args.workers > 1:
            # The deployment shape for a bigger night: the workflow's partitions taken by several worker processes.
            async with engine.begin() as conn:
                await conn.exec_driver_sql("TRUNCATE coach_cadence_analysis")
            m.workers = args.workers
            m.workers_athletes, m.workers_seconds = await in_worker_processes(target.url, args)
            print(
                f"set-based in {args.workers} processes: {m.workers_athletes:,} athletes in {m.workers_seconds:.1f} s"
            )

        if baseline:
            columns = (
                CadenceRow.user_id,
                CadenceRow.prime_window_start_minute,
                CadenceRow.prime_window_end_minute,
                CadenceRow.confidence_score,
            )
            async with sessionmaker() as session:
                rows = await session.execute(select(*columns).where(CadenceRow.user_id.in_(list(baseline))))
                stored = {str(user): Result(start, end, confidence) for user, start, end, confidence in rows}
            m.agree = sum(1 for user, result in baseline.items() if stored.get(user) == result)
    finally:
        await engine.dispose()
    return m


def _partition_process(url: str, lower: str | None, upper: str | None, batch_size: int) -> int:
    """One worker process's share: the pages of one id range (what a worker does with the workflow's activities)."""

    async def run() -> int:
        engine = make_engine(url)
        try:
            store = CadenceStore(make_sessionmaker(engine))
            done, after = 0, lower
            while True:
                users, _ = await store.recompute_page(AS_OF, after=after, before=upper, limit=batch_size)
                done += len(users)
                if len(users) < batch_size:
                    return done
                after = users[-1]
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def in_worker_processes(url: str, args: argparse.Namespace) -> tuple[int, float]:
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        # Start the processes (and their imports) before the clock does.
        await asyncio.gather(*(loop.run_in_executor(pool, abs, 0) for _ in range(args.workers)))
        t0 = perf_counter()
        done = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _partition_process, url, lower, upper, args.batch_size)
                for lower, upper in user_id_partitions(args.workers)
            )
        )
        return sum(done), perf_counter() - t0
