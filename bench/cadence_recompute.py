"""Benchmark of the nightly cadence recompute on PostgreSQL, against a naive one-query-per-athlete baseline.

What it measures
    1. **Fill** (timed apart, not part of the result): a dedicated database (``coach_bench`` by default) is dropped,
       recreated, migrated with the project's Alembic migrations, and filled by one ``COPY`` per table with a seeded
       synthetic population: ``--athletes`` athletes (default 100,000), each with one active plan and ~90 days of rucks
       (3-5 a week; early birds, evening and weekday/weekend athletes, midnight wrappers, noisy, sparse, routine
       shifters, travellers with time-zone history), written in chronological order as a live ``ruck_session`` table
       would be, plus a handful of date-only completed plan sessions each. The database is installed in standalone
       mode, so RuckTracker's tables are the project's stand-ins: every athlete has a ``"user"`` row (filled before the
       plans, which reference it), whose ``plan_notification_timezone`` is the home zone, the default ``UTC`` (the
       plan's zone then counts) or NULL; the zone history goes into the service's ``coach_athlete_timezones``. Then
       ``VACUUM ANALYZE``.
    2. **Naive baseline**, on a seeded random sample (``--baseline-sample``, default 2,000): per athlete, one query for
       the rucks, one for the date-only sessions, one for the time-zone history and current zone (and the plan id),
       :func:`coaching.cadence.analyze`, one upsert into ``coach_cadence_analysis``, one transaction each. It does not
       diff against the stored row (the table is empty then), which if anything flatters it.
    3. ``TRUNCATE coach_cadence_analysis``, so both runs do the same work: insert into an empty table.
    4. **Set-based recompute** of the whole population, exactly as ``CadenceRecomputeWorkflow`` and its
       ``recompute_cadence_batch`` activity do it minus signalling workflows: rounds of one page per id-range
       partition (``--partitions``, the workflow's default 2) run concurrently in one process, each page
       ``athletes_due`` → ``analyze_athletes`` → ``save`` of ``--batch-size``, with
       :class:`activities.cadence_store.CadenceStore` on the project's engine.
    5. ``TRUNCATE`` again, then the same pages shared by ``--workers`` worker processes (default 2: one partition
       each), which is how two worker replicas run the night's activities.

It prints athletes per second for both (the baseline projected to the whole population), the set-based run's split
between its steps, PASS/MISS against the target (whole population under 60 s), whether both runs agree on the
sampled athletes, and the process's RSS after each phase. Figures are printed, never asserted.

Run it (PostgreSQL at 127.0.0.1:5432, user ``postgres``, trust auth, unless ``--server`` says otherwise)::

    make bench
    .venv/bin/python bench/cadence_recompute.py --athletes 100000
    .venv/bin/python bench/cadence_recompute.py --keep          # reuse the filled database (same --athletes/--seed)
    .venv/bin/python bench/cadence_recompute.py --keep --profile var/cadence.prof   # cProfile of the set-based run
    .venv/bin/python bench/cadence_recompute.py --athletes 2000 --baseline-sample 200   # a smoke run, ~15 s
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import concurrent.futures
import cProfile
import gc
import json
import multiprocessing
import os
import platform
import pstats
import random
import resource
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.cadence_store import LIVE_PLAN_STATUSES, CadenceStore, behavior_row, behavior_updates
from activities.database import make_engine, make_sessionmaker
from activities.db import AppUser, AthleteTimezone, CadenceRow, PlanSessionRow, RuckSession, UserCoachingPlan
from activities.migrate import upgrade_database
from coaching.cadence import LOOKBACK, RuckSample, analyze
from coaching.ids import user_id_partitions

#: The nightly run being timed (fixed, so a ``--keep`` database stays valid whatever the day).
AS_OF = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
#: Days of history generated (a little more than the analyzer's lookback, so the cut-off is exercised).
DAYS = LOOKBACK.days + 2
TARGET_SECONDS = 60.0
#: Bump when the generated population (or the schema it is written to) changes, so ``--keep`` refills an older one.
FILL_VERSION = 2

#: (zone, weight): where the athletes live.
ZONES = (
    ("America/New_York", 25),
    ("America/Los_Angeles", 18),
    ("Europe/London", 15),
    ("Asia/Kolkata", 12),
    ("Europe/Berlin", 8),
    ("Asia/Kathmandu", 5),
    ("UTC", 5),
    ("America/Sao_Paulo", 4),
    ("Australia/Lord_Howe", 4),
    ("Asia/Tokyo", 4),
)
#: (pattern, weight): how they ruck.
KINDS = (
    ("early", 22),  # ~05:10 regulars
    ("evening", 20),  # ~18:30
    ("split", 13),  # weekdays ~06:00, weekends ~09:30
    ("midnight", 5),  # ~23:45, wrapping past midnight
    ("noisy", 15),  # any time 05:00-22:00
    ("sparse", 7),  # at most 3 rucks in the whole period
    ("shifter", 10),  # ~06:30, then ~19:00 for the last 14 days
    ("traveller", 8),  # a routine kept in local time through a trip or a move (coach_athlete_timezones rows)
)


# --- population ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Athlete:
    user_id: str
    plan_id: int
    kind: str
    home: str
    per_day: float  # chance of a ruck on a given day
    minute: int  # usual local start (minutes after local midnight)
    other: int  # the weekend start (split) or the new start (shifter)
    jitter: float  # standard deviation of the start, minutes
    #: (first day index, zone) changes after the home zone; empty for most athletes.
    moves: list[tuple[int, str]] = field(default_factory=list)
    sparse_days: frozenset[int] = frozenset()

    def zone_on(self, day: int) -> str:
        current = self.home
        for first, zone in self.moves:
            if day >= first:
                current = zone
        return current


@dataclass
class Population:
    athletes: list[Athlete]
    first_day: date
    #: zone -> epoch second of local midnight of each generated day (offset taken at local noon).
    midnights: dict[str, list[int]]
    #: (plan id, ruck id, local date) of rucks that a plan session records as completed.
    linked: list[tuple[int, int, date]] = field(default_factory=list)
    rucks: int = 0


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def make_population(n: int, seed: int) -> Population:
    rng = random.Random(seed)
    first_day = AS_OF.date() - timedelta(days=DAYS - 1)
    zones = [z for z, _ in ZONES]
    athletes: list[Athlete] = []
    for i in range(n):
        kind = _weighted(rng, KINDS)
        home = _weighted(rng, ZONES)
        shift = rng.randint(-30, 30)  # everyone's routine is their own
        a = Athlete(
            user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            plan_id=i + 1,
            kind=kind,
            home=home,
            per_day=rng.uniform(3.0, 5.0) / 7,
            minute=310 + shift,
            other=0,
            jitter=rng.uniform(5.0, 15.0),
        )
        if kind == "evening":
            a.minute = 1110 + shift
        elif kind == "split":
            a.minute, a.other = 360 + shift // 2, 570 + shift
        elif kind == "midnight":
            a.minute = 1425 + shift // 3
        elif kind == "sparse":
            a.minute = rng.randint(300, 1200)
            a.sparse_days = frozenset(rng.sample(range(DAYS), rng.randint(0, 3)))
        elif kind == "shifter":
            a.minute, a.other = 390 + shift, 1140 + shift
        elif kind == "traveller":
            a.minute = rng.choice((310, 1110)) + shift
            away = rng.choice([z for z in zones if z != home])
            if rng.random() < 0.3:  # moved for good in the last weeks
                a.moves = [(rng.randint(DAYS - 21, DAYS - 5), away)]
            else:  # a trip, then home again
                start = rng.randint(20, DAYS - 25)
                a.moves = [(start, away), (start + rng.randint(5, 12), home)]
        athletes.append(a)
    midnights = {
        zone: [
            int(datetime.combine(first_day + timedelta(days=d), time(12), ZoneInfo(zone)).timestamp()) - 12 * 3600
            for d in range(DAYS + 1)
        ]
        for zone in zones
    }
    return Population(athletes, first_day, midnights)


def ruck_rows(pop: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``ruck_session`` rows in chronological order (day by day, all athletes), as a live table fills up."""
    as_of = int(AS_OF.timestamp())
    recent_from = DAYS - 14
    rnd, gauss, randint = rng.random, rng.gauss, rng.randint
    stamp = datetime.fromtimestamp
    ruck_id = 0
    for d in range(DAYS):
        weekend = (pop.first_day + timedelta(days=d)).weekday() >= 5
        for a in pop.athletes:
            kind = a.kind
            if kind == "sparse":
                if d not in a.sparse_days:
                    continue
            elif kind == "split":
                if rnd() >= (0.8 if weekend else a.per_day * 0.8):
                    continue
            elif rnd() >= a.per_day:
                continue
            if kind == "noisy":
                minute = randint(300, 1320)
            elif kind == "split" and weekend:
                minute = round(gauss(a.other, a.jitter * 2))
            elif kind == "shifter" and d >= recent_from:
                minute = round(gauss(a.other, a.jitter))
            elif kind == "sparse":
                minute = round(gauss(a.minute, 30))
            else:
                minute = round(gauss(a.minute, a.jitter))
            zone = a.zone_on(d) if a.moves else a.home
            start = pop.midnights[zone][d] + minute * 60 + randint(0, 59)
            duration = randint(25 * 60, 100 * 60)
            end = start + duration
            if end > as_of:
                continue
            ruck_id += 1
            roll = rnd()
            distance = round(duration / 3600 * rng.uniform(4.5, 6.5), 2)
            weight = float(randint(8, 30))
            if roll < 0.015:
                yield (ruck_id, a.user_id, "cancelled", stamp(start, UTC), None, None, None, weight)
                continue
            if roll < 0.02:
                yield (ruck_id, a.user_id, "in_progress", stamp(start, UTC), None, None, None, weight)
                continue
            started = None if roll > 0.99 else stamp(start, UTC)  # no start: the duration gives it
            pop.rucks += 1
            if rnd() < 0.05:
                pop.linked.append((a.plan_id, ruck_id, pop.first_day + timedelta(days=d)))
            yield (ruck_id, a.user_id, "completed", started, stamp(end, UTC), duration, distance, weight)


def session_rows(pop: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``plan_sessions``: the completed ones linked to a ruck, one date-only completion and one planned session each."""
    start_date = AS_OF.date() - timedelta(days=DAYS + 14)

    def week(day: date) -> int:
        return max(1, (day - start_date).days // 7 + 1)

    session_id = 0
    for plan_id, ruck_id, day in pop.linked:
        session_id += 1
        yield (session_id, plan_id, ruck_id, week(day), "base_ruck", "completed", day, day)
    for a in pop.athletes:
        done = pop.first_day + timedelta(days=rng.randrange(DAYS))
        planned = AS_OF.date() + timedelta(days=rng.randint(0, 3))
        session_id += 1
        yield (session_id, a.plan_id, None, week(done), "base_ruck", "completed", done, done)
        session_id += 1
        yield (session_id, a.plan_id, None, week(planned), "tempo_ruck", "planned", planned, None)


async def fill(conn: asyncpg.Connection, pop: Population, seed: int) -> dict[str, int]:
    rng = random.Random(seed + 7)
    start_date = AS_OF.date() - timedelta(days=DAYS + 14)
    current_week = (AS_OF.date() - start_date).days // 7 + 1
    await conn.execute("SET synchronous_commit = off")
    await conn.copy_records_to_table(
        "coaching_plan_templates",
        records=[(1, "get-faster", "Get Faster", 12)],
        columns=["id", "plan_id", "name", "duration_weeks"],
    )
    # RuckTracker's athletes first: user_coaching_plans.user_id references "user".id.
    athletes = []
    for a in pop.athletes:
        roll = rng.random()
        if roll < 0.5:
            athletes.append((a.user_id, a.home))  # the athlete's own zone
        elif roll < 0.8:
            athletes.append((a.user_id, "UTC"))  # the column default: the plan's zone wins
        else:
            athletes.append((a.user_id, None))  # never set: the plan's zone
    await conn.copy_records_to_table("user", records=athletes, columns=["id", "plan_notification_timezone"])
    await conn.copy_records_to_table(
        "user_coaching_plans",
        records=(
            # The tone as RuckTracker stores it: a client display name (its CHECK accepts only those).
            (a.plan_id, a.user_id, 1, start_date, current_week, "active", a.home, "Supportive Friend")
            for a in pop.athletes
        ),
        columns=[
            "id",
            "user_id",
            "coaching_plan_id",
            "start_date",
            "current_week",
            "current_status",
            "plan_notification_timezone",
            "coaching_personality",
        ],
    )
    history: list[tuple[int, str, str, datetime]] = []
    for a in pop.athletes:
        if a.moves or rng.random() < 0.3:  # travellers, and some whose zone was recorded when their plan began
            history.append((len(history) + 1, a.user_id, a.home, datetime.combine(start_date, time(), UTC)))
            for day, zone in a.moves:
                history.append(
                    (len(history) + 1, a.user_id, zone, datetime.fromtimestamp(pop.midnights[zone][day], UTC))
                )
    await conn.copy_records_to_table(
        "coach_athlete_timezones", records=history, columns=["id", "user_id", "timezone", "effective_from"]
    )
    await conn.copy_records_to_table(
        "ruck_session",
        records=ruck_rows(pop, rng),
        columns=[
            "id",
            "user_id",
            "status",
            "started_at",
            "completed_at",
            "duration_seconds",
            "distance_km",
            "ruck_weight_kg",
        ],
    )
    await conn.copy_records_to_table(
        "plan_sessions",
        records=session_rows(pop, rng),
        columns=[
            "id",
            "user_coaching_plan_id",
            "session_id",
            "planned_week",
            "planned_session_type",
            "completion_status",
            "scheduled_date",
            "completed_date",
        ],
    )
    counts: dict[str, int] = {}
    for table in (
        "coaching_plan_templates",
        "user_coaching_plans",
        "coach_athlete_timezones",
        "ruck_session",
        "plan_sessions",
    ):
        # coalesce: a small population may have no zone history at all.
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce((SELECT max(id) FROM {table}), 1))"
        )
    for table in ('"user"', "user_coaching_plans", "coach_athlete_timezones", "ruck_session", "plan_sessions"):
        counts[table.strip('"')] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


# --- database setup -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    server: str  # postgresql://user@host:port
    database: str

    @property
    def dsn(self) -> str:
        return f"{self.server}/{self.database}"

    @property
    def url(self) -> str:
        return "postgresql+asyncpg://" + self.dsn.split("://", 1)[1]


async def prepare(target: Target, args: argparse.Namespace) -> None:
    """Drop, recreate, migrate and fill the bench database, unless ``--keep`` finds it filled the same way."""
    wanted = {"version": FILL_VERSION, "athletes": args.athletes, "seed": args.seed, "as_of": AS_OF.isoformat()}
    admin = await asyncpg.connect(f"{target.server}/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if args.keep and exists:
            conn = await asyncpg.connect(target.dsn)
            try:
                found = None
                if await conn.fetchval("SELECT to_regclass('bench_meta') IS NOT NULL"):
                    found = await conn.fetchval("SELECT value FROM bench_meta WHERE key = 'fill'")
            finally:
                await conn.close()
            if found and json.loads(found) == wanted:
                print(f"--keep: reusing {target.database} ({args.athletes:,} athletes, seed {args.seed})")
                return
            print(f"--keep: {target.database} holds another population ({found}); refilling")
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.close()

    t0 = perf_counter()
    await upgrade_database(target.url)
    t_migrate = perf_counter() - t0
    conn = await asyncpg.connect(target.dsn)
    try:
        t0 = perf_counter()
        pop = make_population(args.athletes, args.seed)
        counts = await fill(conn, pop, args.seed)
        t_fill = perf_counter() - t0
        t0 = perf_counter()
        await conn.execute("VACUUM ANALYZE")
        t_vacuum = perf_counter() - t0
        await conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        await conn.execute("INSERT INTO bench_meta VALUES ('fill', $1)", json.dumps(wanted))
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    print(
        f"fill: migrations {t_migrate:.1f} s, generate + COPY {t_fill:.1f} s, VACUUM ANALYZE {t_vacuum:.1f} s; "
        f"database {size}"
    )
    print("      " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))
    print(f"      completed rucks {pop.rucks:,} (~{pop.rucks / max(args.athletes, 1):.0f} per athlete)")


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


# --- reporting ----------------------------------------------------------------------------------------------------


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


def report(args: argparse.Namespace, m: Measured) -> None:
    run, n = m.run, m.population
    print()
    print(f"{'':26}{'athletes':>10}{'seconds':>10}{'athletes/s':>12}   {f'all {n:,} athletes':>22}")
    if m.sample:
        rate = m.sample / m.naive_seconds
        label = "naive, per athlete"
        print(f"{label:26}{m.sample:>10,}{m.naive_seconds:>10.1f}{rate:>12,.0f}   {n / rate:>10,.0f} s projected")
    rate_set = run.athletes / m.set_seconds
    verdict = "PASS" if m.set_seconds < TARGET_SECONDS and run.athletes >= n else "MISS"
    label = f"set-based, {args.partitions}x pages of {args.batch_size:,}"
    print(
        f"{label:26}{run.athletes:>10,}{m.set_seconds:>10.1f}{rate_set:>12,.0f}"
        f"   {m.set_seconds:>10,.1f} s measured  {verdict} (target < {TARGET_SECONDS:.0f} s)"
    )
    if m.workers:
        rate_w = m.workers_athletes / m.workers_seconds
        verdict_w = "PASS" if m.workers_seconds < TARGET_SECONDS and m.workers_athletes >= n else "MISS"
        label = f"set-based, {m.workers} processes"
        print(
            f"{label:26}{m.workers_athletes:>10,}{m.workers_seconds:>10.1f}{rate_w:>12,.0f}"
            f"   {m.workers_seconds:>10,.1f} s measured  {verdict_w} (target < {TARGET_SECONDS:.0f} s)"
        )
    if m.sample:
        print(f"speed-up of set-based over naive: {rate_set / (m.sample / m.naive_seconds):.1f}x")
    other = m.set_seconds - run.due - run.analyze - run.save
    print(
        f"set-based split (summed over concurrent pages): athletes_due {run.due:.1f} s | "
        f"analyze_athletes {run.analyze:.1f} s "
        f"(loading samples {run.load:.1f} s, analyze() {run.analyze - run.load:.1f} s) | save {run.save:.1f} s"
        + (f" | other {other:.1f} s" if other > 0.05 else "")
    )
    print(f"  garbage-collector pauses within those: {run.gc:.1f} s ({run.gc_full} full collections)")
    print(f"  {run.changed:,} plans' cadence changed (would be signalled)")
    if m.sample:
        print(f"naive and set-based agree (window, confidence) on {m.agree:,} of {m.sample:,} sampled athletes")


async def main(args: argparse.Namespace) -> None:
    target = Target(args.server.rstrip("/"), args.database)
    print(
        f"cadence recompute bench: {args.athletes:,} athletes, as of {AS_OF:%Y-%m-%d %H:%M} UTC, "
        f"batch {args.batch_size:,}, seed {args.seed}; Python {platform.python_version()}, {os.cpu_count()} CPU(s)"
    )
    await prepare(target, args)
    memory("fill")
    profiler = cProfile.Profile() if args.profile else None
    report(args, await measure(target, args, profiler))
    if profiler:
        profiler.dump_stats(args.profile)
        print(f"\ncProfile of the set-based run written to {args.profile}; top 25 by own time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--athletes", type=int, default=100_000, help="population size (default 100,000)")
    p.add_argument("--baseline-sample", type=int, default=2000, help="athletes in the naive run (0: skip it)")
    p.add_argument("--batch-size", type=int, default=2000, help="page size of the set-based run (the worker's)")
    p.add_argument("--workers", type=int, default=2, help="also run it in N worker processes (0/1: skip)")
    p.add_argument("--partitions", type=int, default=2, help="id ranges paged concurrently (the workflow's default)")
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--keep", action="store_true", help="reuse the database if it holds this population already")
    p.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env BENCH_POSTGRES)",
    )
    p.add_argument("--database", default="coach_bench", help="dropped and recreated unless --keep")
    p.add_argument("--profile", metavar="FILE", help="cProfile the set-based run into FILE (slows it down)")
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.athletes < 1 or arguments.batch_size < 1 or arguments.baseline_sample < 0:
        sys.exit("--athletes and --batch-size must be positive, --baseline-sample not negative")
    asyncio.run(main(arguments))
