"""Benchmark of one reconciler pass on PostgreSQL: database time per query and phase, against a naive baseline.

The issue's target: one reconcile pass over 100,000 athletes with live plans and 2,000 new rucks takes under 2 s of
database time, with the query plans printed.

What it does
    1. **Fill** (timed apart, not part of the result): a throwaway database (``coach_bench_reconcile``) is created on
       the server (``--dsn``), migrated with ``upgrade_database(url, "standalone")`` (RuckTracker's tables as
       stand-ins, the service's ``coach_*`` tables and its two ``ix_coach_ruck_session_*`` indexes) and filled by
       ``COPY``: ``--athletes`` athletes (default 100,000), each a ``"user"`` row with one live plan (95 % active, 5 %
       paused; 20 % also have an older cancelled or completed plan) and 3 ``plan_sessions``, and ~``--history-rucks``
       rucks each (default 40) over 90 days in ``ruck_session``, written in chronological order as a live table fills
       up (2 % cancelled or in progress). The steady state of a reconciler that ran a minute ago: every plan has its
       ``coach_plan_runs`` row (live ones running with ``status_seen`` = their status, old ones ended), and every
       completed ruck was told to the plan it belongs to (``coach_plan_rucks``, ~3.3 M rows: not the rucks from before
       an athlete's plans). Then ``VACUUM ANALYZE``.
    2. **A minute's worth of change** on top, re-created before every pass (each run with its own seed): ``--new-rucks``
       completed rucks (default 2,000) in the last two minutes across random athletes (plus 5 % still in progress),
       ``--status-changes`` plans (default 100) paused, resumed, cancelled or completed, ``--new-plans`` new athletes
       with a plan and no run (default 50). The statistics are those of the steady state, as in production.
    3. **Set-based pass**, ``--runs`` times (default 5): exactly what the reconciler's three activities do through
       :class:`activities.reconcile_store.ReconcileStore` (the real code), minus the Temporal calls (every signal
       "succeeds"): ``plans_to_start`` paged until empty with ``record_started``, ``status_changes`` paged until empty
       with ``record_ended``/``record_seen``, ``new_rucks`` in pages of 500 over the last 48 h with ``record_rucks``
       after each page (``ReconcileInput``'s defaults). Each run is done twice on the same state: once for the **wall
       time** of each call (SQLAlchemy + asyncpg, commits included) and the database's own count of the time it spent
       executing statements (``pg_stat_database.active_time``, parse, plan, execute and commit), once with every
       statement first run under ``EXPLAIN (ANALYZE, BUFFERS, TIMING OFF)`` (writes inside a rolled-back savepoint)
       for the **database time** of each query: planning + execution, what the target counts, and the shared buffers
       it touched (the work done, whatever the machine's load). The last run's plans are taken again with timing on
       and printed.
    4. **Naive baseline** on a random sample of live plans (``--baseline-sample``, default 2,000): one query for the
       live plans, then per plan one query for its run row and status and one for its athlete's completed rucks of the
       last 48 h not yet told; wall and database time are projected to every live plan. Reads only: the writes (the
       same few thousand rows either way) are left out, which flatters it.

It prints a line per run, the median and max per query and per phase, the query plans, and a summary: PASS/MISS
against the target (database time per pass under 2 s, on the median) and the speed-up over the naive way. Figures are
printed, never asserted; they are wall-clock figures, so a busy machine inflates them (the load average is printed),
the buffer counts do not move. The database is dropped at the end, also on error, unless ``--keep`` (which reuses it
the next time if it holds the same population).

Run it (PostgreSQL at 127.0.0.1:5432, user ``postgres``, trust auth, unless ``--dsn`` says otherwise)::

    .venv/bin/python bench/reconcile.py                      # 100,000 athletes, ~4 M rucks; ~3 min, the fill ~1.5 min
    .venv/bin/python bench/reconcile.py --athletes 5000      # a smoke run, under a minute
    .venv/bin/python bench/reconcile.py --keep               # keep the database; the next --keep run reuses it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import sys
import uuid
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Executable, and_, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from activities.database import make_engine, make_sessionmaker
from activities.db import PlanRuck, PlanRun, RuckSession, UserCoachingPlan
from activities.migrate import upgrade_database

# The activities' own constants, so the pass here is the activities' pass (private ones included, on purpose).
from activities.reconcile import _TERMINAL, FUTURE_SKEW, _reason
from activities.reconcile_store import LIVE, ReconcileStore, plan_status_expr
from coaching.models import ReconcileInput

#: The pass being timed (fixed, so a ``--keep`` database stays valid whatever the day).
AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
#: Days of ruck history.
DAYS = 90
#: The minute's worth of new rucks completed in this window before AS_OF; the history ends before it.
RECENT = timedelta(minutes=2)
TARGET_SECONDS = 2.0
#: Bump when the generated population (or the schema it is written to) changes, so ``--keep`` refills an older one.
FILL_VERSION = 1
DATABASE = "coach_bench_reconcile"
#: The reconciler's defaults: page size 500, lookback 48 h, at most 2,000 starts and 5,000 rucks per pass.
INPUT = ReconcileInput()

PLAN_COLUMNS = [
    "id",
    "user_id",
    "coaching_plan_id",
    "coaching_personality",
    "start_date",
    "current_week",
    "current_status",
    "plan_notification_timezone",
    "created_at",
    "updated_at",
]
SESSION_COLUMNS = [
    "user_coaching_plan_id",
    "planned_week",
    "planned_session_type",
    "completion_status",
    "scheduled_date",
    "completed_date",
]
RUCK_COLUMNS = [
    "id",
    "user_id",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
    "distance_km",
    "ruck_weight_kg",
]
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "UTC")
TONES = ("Supportive Friend", "Drill Sergeant", "Session Analyst", "Nature Lover")

_T = TypeVar("_T")


# --- population ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Athlete:
    user_id: str
    plan_id: int  # the live plan
    status: str
    created_at: datetime  # of the live plan
    rucks_per_day: float
    #: An older plan, cancelled or completed: (id, status, created, ended).
    old: tuple[int, str, datetime, datetime] | None = None


def make_population(n: int, seed: int) -> list[Athlete]:
    rng = random.Random(seed)
    with_old = [rng.random() < 0.2 for _ in range(n)]
    old_ids = iter(range(1, sum(with_old) + 1))  # the older plans were created first: the lower ids
    next_live = sum(with_old) + 1
    athletes: list[Athlete] = []
    for i in range(n):
        status = "paused" if rng.random() < 0.05 else "active"
        a = Athlete(
            user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            plan_id=next_live + i,
            status=status,
            # A few hundred plans began within the lookback: their earlier rucks there are not theirs.
            created_at=AS_OF - timedelta(days=rng.uniform(1.0, 240.0)),
            rucks_per_day=rng.uniform(0.5, 1.5),
        )
        if with_old[i]:
            ended = AS_OF - timedelta(days=rng.uniform(3.0, 85.0))
            created = ended - timedelta(days=rng.uniform(30.0, 120.0))
            a.old = (next(old_ids), rng.choice(("cancelled", "completed")), created, ended)
            a.created_at = ended + timedelta(hours=rng.uniform(1.0, 48.0))
        athletes.append(a)
    return athletes


def plan_rows(athletes: Sequence[Athlete], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for a in athletes:
        if a.old:
            old_id, old_status, created, ended = a.old
            yield (old_id, a.user_id, 1, rng.choice(TONES), created.date(), 8, old_status, "UTC", created, ended)
    for a in athletes:
        week = max(1, (AS_OF - a.created_at).days // 7 + 1)
        tz = rng.choice(ZONES)
        yield (a.plan_id, a.user_id, 1, rng.choice(TONES), a.created_at.date(), week, a.status, tz, a.created_at, None)


def session_rows(plans: Sequence[tuple[int, datetime]], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Three sessions per plan: one completed (date only), two planned in the next days."""
    today = AS_OF.date()
    for plan_id, created_at in plans:
        week = max(1, (AS_OF - created_at).days // 7 + 1)
        done = today - timedelta(days=rng.randint(1, 6))
        yield (plan_id, week, "base_ruck", "completed", done, done)
        for ahead in (rng.randint(0, 2), rng.randint(3, 6)):
            yield (plan_id, week, rng.choice(("tempo_ruck", "long_ruck")), "planned", today + timedelta(ahead), None)


def ruck(
    ruck_id: int, user_id: str, completed: float, rng: random.Random, status: str = "completed"
) -> tuple[Any, ...]:
    duration = rng.randint(25 * 60, 100 * 60)
    started = datetime.fromtimestamp(completed - duration, UTC)
    distance = round(duration / 3600 * rng.uniform(4.5, 6.5), 2)
    weight = float(rng.randint(8, 30))
    if status != "completed":
        return (ruck_id, user_id, status, started, None, None, None, weight)
    return (ruck_id, user_id, status, started, datetime.fromtimestamp(completed, UTC), duration, distance, weight)


def history_rows(athletes: Sequence[Athlete], per_athlete: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``ruck_session`` rows over the last DAYS days, day by day and in completion order, as a live table fills up;
    the last one ends before the minute's worth."""
    cum: list[float] = []
    total = 0.0
    for a in athletes:
        total += a.rucks_per_day
        cum.append(total)
    users = [a.user_id for a in athletes]
    per_day = len(athletes) * per_athlete / DAYS
    end = (AS_OF - RECENT).timestamp()
    ruck_id = 0
    for d in range(DAYS):
        day_start = end - (DAYS - d) * 86400
        k = max(0, round(rng.gauss(per_day, per_day**0.5)))
        who = rng.choices(users, cum_weights=cum, k=k)
        when = sorted(rng.uniform(day_start, day_start + 86400) for _ in range(k))
        for user_id, completed in zip(who, when, strict=True):
            ruck_id += 1
            roll = rng.random()
            status = "cancelled" if roll < 0.015 else "in_progress" if roll < 0.02 else "completed"
            yield ruck(ruck_id, user_id, completed, rng, status)


async def fill(conn: asyncpg.Connection, athletes: Sequence[Athlete], args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed + 7)
    times: dict[str, float] = {}
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET maintenance_work_mem = '512MB'")
    t0 = perf_counter()
    await conn.copy_records_to_table(
        "coaching_plan_templates",
        records=[(1, "get-faster", "Get Faster", 12)],
        columns=["id", "plan_id", "name", "duration_weeks"],
    )
    # "user" first: user_coaching_plans.user_id references it.
    await conn.copy_records_to_table(
        "user", records=((a.user_id, "UTC") for a in athletes), columns=["id", "plan_notification_timezone"]
    )
    await conn.copy_records_to_table("user_coaching_plans", records=plan_rows(athletes, rng), columns=PLAN_COLUMNS)
    await conn.copy_records_to_table(
        "plan_sessions",
        records=session_rows([(a.plan_id, a.created_at) for a in athletes], rng),
        columns=SESSION_COLUMNS,
    )
    times["users, plans, sessions"] = perf_counter() - t0

    # ruck_session's secondary indexes are built after the COPY: a sorted build takes seconds where 4 M inserts into
    # two user_id indexes take minutes. Their definitions are read back from the migrated database (the migration's).
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'ruck_session' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    t0 = perf_counter()
    await conn.copy_records_to_table(
        "ruck_session", records=history_rows(athletes, args.history_rucks, rng), columns=RUCK_COLUMNS
    )
    times["ruck_session"] = perf_counter() - t0
    t0 = perf_counter()
    for index in indexes:
        await conn.execute(index["indexdef"])
    times[f"its {len(indexes)} indexes"] = perf_counter() - t0

    # The steady state: every plan has its run (the live ones running, the old ones ended) ...
    t0 = perf_counter()
    runs: list[tuple[Any, ...]] = []
    for a in athletes:
        if a.old:
            old_id, old_status, created, ended = a.old
            reason = _reason(old_status)
            runs.append((old_id, a.user_id, old_status, created, ended, reason, ended))
        started = a.created_at + timedelta(seconds=rng.uniform(1.0, 60.0))
        runs.append((a.plan_id, a.user_id, a.status, started, None, None, started))
    runs.sort()
    await conn.copy_records_to_table(
        "coach_plan_runs",
        records=runs,
        columns=["plan_id", "user_id", "status_seen", "started_at", "ended_at", "end_reason", "updated_at"],
    )
    # ... and every completed ruck was told to the plan it belongs to (a live plan since it was created, an old one
    # while it lived), in key order so the primary key is built sequentially.
    await conn.execute(
        """
        INSERT INTO coach_plan_rucks (plan_id, ruck_id, signalled_at, source)
        SELECT p.id, r.id, r.completed_at + interval '30 seconds', 'reconciler'
        FROM ruck_session r JOIN user_coaching_plans p ON p.user_id = r.user_id
        WHERE r.status = 'completed' AND r.completed_at >= p.created_at
          AND (p.current_status IN ('active', 'paused') OR r.completed_at <= p.updated_at)
        ORDER BY p.id, r.id
        """
    )
    times["coach_plan_runs, coach_plan_rucks"] = perf_counter() - t0
    for table in ("coaching_plan_templates", "user_coaching_plans", "plan_sessions", "ruck_session"):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return times


# --- database setup and the minute's worth ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Steady:
    """What the steady state holds: rows above these ids are the minute's worth."""

    max_ruck: int
    max_plan: int
    athletes: int
    live_plans: int
    rucks: int
    completed_rucks: int
    told: int
    runs: int


async def prepare(target: Target, args: argparse.Namespace) -> Steady:
    """Create, migrate and fill the bench database, unless ``--keep`` finds it filled the same way."""
    wanted = {
        "version": FILL_VERSION,
        "athletes": args.athletes,
        "history_rucks": args.history_rucks,
        "seed": args.seed,
        "as_of": AS_OF.isoformat(),
    }
    admin = await asyncpg.connect(f"{target.server}/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if args.keep and exists:
            conn = await asyncpg.connect(target.dsn)
            try:
                found = steady = None
                if await conn.fetchval("SELECT to_regclass('bench_meta') IS NOT NULL"):
                    found = await conn.fetchval("SELECT value FROM bench_meta WHERE key = 'fill'")
                    steady = await conn.fetchval("SELECT value FROM bench_meta WHERE key = 'steady'")
            finally:
                await conn.close()
            if found and steady and json.loads(found) == wanted:
                print(f"--keep: reusing {target.database} ({args.athletes:,} athletes, seed {args.seed})")
                return Steady(**json.loads(steady))
            print(f"--keep: {target.database} holds another population ({found}); refilling")
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.close()

    t0 = perf_counter()
    await upgrade_database(target.url, "standalone")
    t_migrate = perf_counter() - t0
    conn = await asyncpg.connect(target.dsn)
    try:
        t0 = perf_counter()
        athletes = make_population(args.athletes, args.seed)
        t_population = perf_counter() - t0
        times = await fill(conn, athletes, args)
        t0 = perf_counter()
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
        t_vacuum = perf_counter() - t0
        # What the minute's worth is undone to before each pass.
        await conn.execute(
            "CREATE TABLE bench_plan_state AS SELECT id, current_status, updated_at FROM user_coaching_plans"
        )
        await conn.execute("ALTER TABLE bench_plan_state ADD PRIMARY KEY (id)")
        await conn.execute("CREATE TABLE bench_run_state AS SELECT * FROM coach_plan_runs")
        await conn.execute("ALTER TABLE bench_run_state ADD PRIMARY KEY (plan_id)")
        await conn.execute("ANALYZE bench_plan_state, bench_run_state")
        row = await conn.fetchrow(
            """
            SELECT (SELECT max(id) FROM ruck_session) AS max_ruck,
                   (SELECT max(id) FROM user_coaching_plans) AS max_plan,
                   (SELECT count(*) FROM "user") AS athletes,
                   (SELECT count(*) FROM user_coaching_plans
                    WHERE current_status IN ('active', 'paused')) AS live_plans,
                   (SELECT count(*) FROM ruck_session) AS rucks,
                   (SELECT count(*) FROM ruck_session WHERE status = 'completed') AS completed_rucks,
                   (SELECT count(*) FROM coach_plan_rucks) AS told, (SELECT count(*) FROM coach_plan_runs) AS runs
            """
        )
        steady = Steady(**dict(row))
        await conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
        await conn.execute(
            "INSERT INTO bench_meta VALUES ('fill', $1), ('steady', $2)",
            json.dumps(wanted),
            json.dumps(steady.__dict__),
        )
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    print(
        f"fill: migrations {t_migrate:.1f} s, population {t_population:.1f} s, "
        + ", ".join(f"{what} {s:.1f} s" for what, s in times.items())
        + f", VACUUM ANALYZE {t_vacuum:.1f} s; database {size}"
    )
    return steady


@dataclass(frozen=True)
class Change:
    new_rucks: int
    in_progress: int
    changed: dict[str, int]
    new_plans: int
    #: New rucks whose athlete's plan stays live: what the pass should tell.
    expected_rucks: int


async def reset(conn: asyncpg.Connection, steady: Steady) -> None:
    """Undo the minute's worth and what a pass wrote, back to the steady state (then VACUUM the tables touched)."""
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM coach_plan_rucks WHERE ruck_id > $1 OR plan_id > $2", steady.max_ruck, steady.max_plan
        )
        # No plan session points at these rucks: skip the foreign key's trigger, which would look for them in
        # plan_sessions (session_id has no index) once per ruck.
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("DELETE FROM ruck_session WHERE id > $1", steady.max_ruck)
        await conn.execute("SET LOCAL session_replication_role = DEFAULT")
        await conn.execute("DELETE FROM coach_plan_runs WHERE plan_id > $1", steady.max_plan)
        await conn.execute("DELETE FROM plan_sessions WHERE user_coaching_plan_id > $1", steady.max_plan)
        await conn.execute(
            'WITH gone AS (DELETE FROM user_coaching_plans WHERE id > $1 RETURNING user_id) DELETE FROM "user" '
            "WHERE id IN (SELECT user_id FROM gone)",
            steady.max_plan,
        )
        await conn.execute(
            "UPDATE user_coaching_plans p SET current_status = s.current_status, updated_at = s.updated_at "
            "FROM bench_plan_state s WHERE p.id = s.id AND (p.current_status, p.updated_at) IS DISTINCT FROM "
            "(s.current_status, s.updated_at)"
        )
        await conn.execute(
            "UPDATE coach_plan_runs r SET user_id = s.user_id, status_seen = s.status_seen, started_at = s.started_at, "
            "ended_at = s.ended_at, end_reason = s.end_reason, updated_at = s.updated_at FROM bench_run_state s "
            "WHERE r.plan_id = s.plan_id AND r.updated_at IS DISTINCT FROM s.updated_at"
        )
        await conn.execute(
            "INSERT INTO coach_plan_runs SELECT * FROM bench_run_state s "
            "WHERE NOT EXISTS (SELECT 1 FROM coach_plan_runs r WHERE r.plan_id = s.plan_id)"
        )
    await conn.execute(
        'VACUUM coach_plan_rucks, ruck_session, coach_plan_runs, plan_sessions, user_coaching_plans, "user"'
    )


async def apply_change(conn: asyncpg.Connection, steady: Steady, seed: int, args: argparse.Namespace) -> Change:
    """The minute's worth on top of the steady state: new rucks, plans paused/resumed/cancelled/completed, new plans."""
    rng = random.Random(seed)
    live = await conn.fetch(
        "SELECT id, user_id::text AS user_id, current_status FROM user_coaching_plans "
        "WHERE id <= $1 AND current_status IN ('active', 'paused') ORDER BY id",
        steady.max_plan,
    )
    # Plans changing status: 40 % paused, 30 % resumed, 20 % cancelled, 10 % completed.
    active = [r for r in live if r["current_status"] == "active"]
    paused = [r for r in live if r["current_status"] == "paused"]
    n = args.status_changes
    moves = {"paused": round(n * 0.4), "cancelled": round(n * 0.2), "completed": round(n * 0.1)}
    resumed = rng.sample(paused, min(len(paused), n - sum(moves.values())))
    picked = iter(rng.sample(active, min(len(active), sum(moves.values()))))
    updates: list[tuple[int, str, datetime]] = [(r["id"], "active", AS_OF - timedelta(seconds=20)) for r in resumed]
    for status, count in moves.items():
        for r in [next(picked, None) for _ in range(count)]:
            if r is not None:
                updates.append((r["id"], status, AS_OF - timedelta(seconds=rng.uniform(0, 60))))
    ended_users = {r["user_id"] for r in live if any(u[0] == r["id"] and u[1] in _TERMINAL for u in updates)}

    # New rucks completed in the last two minutes, across random athletes, and some started and not completed.
    who = rng.choices(live, k=args.new_rucks)
    end = AS_OF.timestamp()
    when = sorted(rng.uniform(end - RECENT.total_seconds(), end) for _ in who)
    rows = [ruck(steady.max_ruck + i + 1, r["user_id"], t, rng) for i, (r, t) in enumerate(zip(who, when, strict=True))]
    in_progress = round(args.new_rucks * 0.05)
    for r in rng.choices(live, k=in_progress):
        rows.append(ruck(steady.max_ruck + len(rows) + 1, r["user_id"], end, rng, "in_progress"))

    # New athletes with a plan, which no workflow runs yet.
    new_users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.new_plans)]
    new_plans = [
        (steady.max_plan + i + 1, u, 1, "Supportive Friend", AS_OF.date(), 1, "active", "UTC", created, created)
        for i, u in enumerate(new_users)
        for created in [AS_OF - timedelta(seconds=rng.uniform(0, 60))]
    ]
    async with conn.transaction():
        await conn.executemany(
            "UPDATE user_coaching_plans SET current_status = $2, updated_at = $3 WHERE id = $1", updates
        )
        await conn.copy_records_to_table("ruck_session", records=rows, columns=RUCK_COLUMNS)
        await conn.copy_records_to_table(
            "user", records=[(u, "UTC") for u in new_users], columns=["id", "plan_notification_timezone"]
        )
        await conn.copy_records_to_table("user_coaching_plans", records=new_plans, columns=PLAN_COLUMNS)
        await conn.copy_records_to_table(
            "plan_sessions", records=session_rows([(p[0], p[8]) for p in new_plans], rng), columns=SESSION_COLUMNS
        )
    changed: dict[str, int] = {}
    for _, status, _ in updates:
        changed[status] = changed.get(status, 0) + 1
    return Change(
        new_rucks=args.new_rucks,
        in_progress=in_progress,
        changed=changed,
        new_plans=len(new_plans),
        expected_rucks=sum(1 for r in who if r["user_id"] not in ended_users),
    )


async def minute(target: Target, steady: Steady, seed: int, args: argparse.Namespace) -> Change:
    """Back to the steady state, then a minute's worth on top (on a connection closed before the pass)."""
    conn = await asyncpg.connect(target.dsn)
    try:
        await reset(conn, steady)
        change = await apply_change(conn, steady, seed, args)
        await conn.execute("CHECKPOINT")
        return change
    finally:
        await conn.close()


async def idle(admin: asyncpg.Connection, database: str) -> float:
    """Wait until no session is connected to the bench database (so each one's statistics are flushed, at its exit);
    then its ``pg_stat_database.active_time`` in ms."""
    for _ in range(100):
        if not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", database
        ):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    return float(await admin.fetchval("SELECT active_time FROM pg_stat_database WHERE datname = $1", database))


# --- measuring ------------------------------------------------------------------------------------------------------

_PLANNING = re.compile(r"Planning Time: ([\d.]+) ms")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
#: The top node's buffers (its children's and parallel workers' included), the first line of the plan that has them.
_BUFFERS = re.compile(r"^\s*Buffers: shared((?: \w+=\d+)+)", re.MULTILINE)


@dataclass
class Statement:
    """One statement of a pass, as the database ran it under EXPLAIN ANALYZE (an executemany: each row's summed)."""

    label: str
    phase: str
    read: bool
    planning_ms: float
    execution_ms: float
    executions: int
    #: Shared buffers the execution touched (hit, read, dirtied, written): the work done, whatever the machine's load.
    buffers: int
    plan: str | None = None  # with timing, when asked for

    @property
    def ms(self) -> float:
        return self.planning_ms + self.execution_ms


@dataclass
class Call:
    label: str
    phase: str
    seconds: float
    rows: int


class Recorder:
    """Labels each store call; in ``explain`` mode, runs each statement first under EXPLAIN ANALYZE on the same
    connection and transaction (a write inside a savepoint rolled back), then lets it run for real."""

    def __init__(self, engine: AsyncEngine, *, explain: bool, plans: bool = False) -> None:
        self.explain, self.plans = explain, plans
        self.label, self.phase = "", ""
        self.calls: list[Call] = []
        self.statements: list[Statement] = []
        if explain:
            event.listen(engine.sync_engine, "before_cursor_execute", self._before)

    async def call(self, label: str, phase: str, work: Awaitable[_T]) -> _T:
        self.label, self.phase = label, phase
        t0 = perf_counter()
        result = await work
        seconds = perf_counter() - t0
        self.calls.append(Call(label, phase, seconds, len(result) if isinstance(result, list) else 0))
        return result

    def _before(
        self, conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
    ) -> None:
        cursor = conn.connection.cursor()
        read = statement.lstrip()[:6].upper() == "SELECT"
        sets = list(parameters) if executemany else [parameters]
        planning = execution = 0.0
        buffers = 0
        plan: str | None = None
        if not read:
            cursor.execute("SAVEPOINT bench_explain")
        for params in sets:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement, params)
            text = "\n".join(str(row[0]) for row in cursor.fetchall())
            planning += _ms(_PLANNING, text)
            execution += _ms(_EXECUTION, text)
            buffers += _buffers(text)
        if not read:
            cursor.execute("ROLLBACK TO SAVEPOINT bench_explain")
            cursor.execute("RELEASE SAVEPOINT bench_explain")
        elif self.plans:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, sets[0])
            plan = "\n".join(str(row[0]) for row in cursor.fetchall())
        cursor.close()
        self.statements.append(Statement(self.label, self.phase, read, planning, execution, len(sets), buffers, plan))


def _ms(pattern: re.Pattern[str], text: str) -> float:
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


def _buffers(text: str) -> int:
    found = _BUFFERS.search(text.split("\nPlanning:")[0])
    return sum(int(part.split("=")[1]) for part in found.group(1).split()) if found else 0


@dataclass
class Outcome:
    started: int = 0
    status_changes: int = 0
    ended: int = 0
    rucks: int = 0


async def one_pass(store: ReconcileStore, rec: Recorder) -> Outcome:
    """The reconciler's three activities, their database side only (every Temporal call "succeeds")."""
    out = Outcome()
    now, inp = AS_OF, INPUT

    # 1. starts (ReconcileActivities.reconcile_starts)
    after = 0
    while out.started < inp.max_starts:
        limit = min(inp.page_size, inp.max_starts - out.started)
        page = await rec.call("plans_to_start", "starts", store.plans_to_start(after=after, limit=limit))
        if not page:
            break
        started = [(p.plan_id, p.user_id, p.status) for p in page]
        await rec.call("record_started", "starts", store.record_started(started, now))
        out.started += len(page)
        after = page[-1].plan_id
    else:
        await rec.call("plans_to_start", "starts", store.plans_to_start(after=after, limit=1))

    # 2. statuses (reconcile_statuses)
    after = 0
    while True:
        changes = await rec.call("status_changes", "statuses", store.status_changes(after=after, limit=inp.page_size))
        if not changes:
            break
        seen: dict[int, str] = {}
        for c in changes:
            if c.now in _TERMINAL:
                ended = store.record_ended(c.plan_id, c.now, _reason(c.now), now)
                await rec.call("record_ended", "statuses", ended)
                out.ended += 1
            else:
                seen[c.plan_id] = c.now
        await rec.call("record_seen", "statuses", store.record_seen(seen))
        out.status_changes += len(changes)
        after = changes[-1].plan_id

    # 3. rucks (reconcile_rucks)
    since = now - timedelta(hours=inp.ruck_lookback_hours)
    while out.rucks < inp.max_rucks:
        limit = min(inp.page_size, inp.max_rucks - out.rucks)
        rucks = await rec.call("new_rucks", "rucks", store.new_rucks(since=since, until=now + FUTURE_SKEW, limit=limit))
        if not rucks:
            break
        told = [(r.plan_id, r.ruck_id, "reconciler") for r in rucks]
        await rec.call("record_rucks", "rucks", store.record_rucks(told, now))
        out.rucks += len(rucks)
        if len(rucks) < limit:
            break
        since = rucks[-1].completed_at
    return out


@dataclass
class PassResult:
    outcome: Outcome
    calls: list[Call]
    statements: list[Statement]
    wall: float = 0.0
    active_ms: float = 0.0  # pg_stat_database.active_time over the pass


async def timed_pass(target: Target, admin: asyncpg.Connection, *, explain: bool, plans: bool = False) -> PassResult:
    """One pass on an engine of its own (as a worker's: make_engine's defaults), closed afterwards."""
    before = await idle(admin, target.database)
    engine = make_engine(target.url)
    try:
        rec = Recorder(engine, explain=explain, plans=plans)
        store = ReconcileStore(make_sessionmaker(engine))
        t0 = perf_counter()
        outcome = await one_pass(store, rec)
        wall = perf_counter() - t0
    finally:
        await engine.dispose()
    after = await idle(admin, target.database)
    return PassResult(outcome, rec.calls, rec.statements, wall, after - before)


# --- the naive baseline -------------------------------------------------------------------------------------------


async def naive(sessionmaker: async_sessionmaker[AsyncSession], rec: Recorder, sample_size: int, seed: int) -> int:
    """The live plans (one query), then per sampled plan its run row and status, and its athlete's rucks of the
    lookback not yet told: one query each. Returns the number of live plans."""
    since = AS_OF - timedelta(hours=INPUT.ruck_lookback_hours)
    until = AS_OF + FUTURE_SKEW
    status = plan_status_expr()
    plan, run, ruck_, told = UserCoachingPlan, PlanRun, RuckSession, PlanRuck
    async with sessionmaker() as session:

        async def rows(stmt: Executable) -> list[Any]:
            return list(await session.execute(stmt))

        live = select(plan.id, plan.user_id, plan.created_at).where(status.in_(LIVE)).order_by(plan.id)
        plans = await rec.call("live plans", "naive list", rows(live))
        sample = sorted(random.Random(seed).sample(plans, min(sample_size, len(plans))))
        for plan_id, user_id, created_at in sample:
            run_row = (
                select(plan.id, status, run.status_seen, run.ended_at)
                .outerjoin(run, run.plan_id == plan.id)
                .where(plan.id == plan_id)
            )
            await rec.call("run row + status", "naive per plan", rows(run_row))
            recent = (
                select(ruck_.id, ruck_.started_at, ruck_.completed_at, ruck_.duration_seconds, ruck_.distance_km)
                .outerjoin(told, and_(told.plan_id == plan_id, told.ruck_id == ruck_.id))
                .where(
                    ruck_.user_id == user_id,
                    ruck_.status == "completed",
                    ruck_.completed_at >= (max(since, created_at) if created_at else since),
                    ruck_.completed_at <= until,
                    told.ruck_id.is_(None),
                )
                .order_by(ruck_.completed_at, ruck_.id)
            )
            await rec.call("recent rucks not told", "naive per plan", rows(recent))
    return len(plans)


async def naive_pass(target: Target, sample: int, seed: int, *, explain: bool) -> tuple[PassResult, int]:
    engine = make_engine(target.url)
    try:
        rec = Recorder(engine, explain=explain)
        t0 = perf_counter()
        live = await naive(make_sessionmaker(engine), rec, sample, seed)
        wall = perf_counter() - t0
    finally:
        await engine.dispose()
    return PassResult(Outcome(), rec.calls, rec.statements, wall), live


# --- reporting ------------------------------------------------------------------------------------------------------

READS = ("plans_to_start", "status_changes", "new_rucks")
LABELS = (*READS, "record_started", "record_ended", "record_seen", "record_rucks")
PHASES = ("starts", "statuses", "rucks")


def _sum_db(p: PassResult, *, label: str | None = None, phase: str | None = None, read: bool | None = None) -> float:
    """Database seconds of a pass's statements (all, or those of one label, phase, or reads/writes)."""
    return (
        sum(
            s.ms
            for s in p.statements
            if label in (None, s.label) and phase in (None, s.phase) and read in (None, s.read)
        )
        / 1000
    )


def _sum_wall(p: PassResult, *, label: str | None = None, phase: str | None = None) -> float:
    return sum(c.seconds for c in p.calls if label in (None, c.label) and phase in (None, c.phase))


def _fmt(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:>9,.1f} {max(values) * 1000:>9,.1f}"


def _buf(p: PassResult, *, label: str | None = None, phase: str | None = None) -> int:
    return sum(s.buffers for s in p.statements if label in (None, s.label) and phase in (None, s.phase))


def report_runs(walls: Sequence[PassResult], explains: Sequence[PassResult]) -> None:
    print()
    print(
        f"{'per pass, ms':<18}{'calls':>6}{'rows':>7}   {'DB median':>9} {'DB max':>9}   "
        f"{'wall med':>9} {'wall max':>9}   {'buffers':>9}"
    )
    for label in LABELS:
        calls = [sum(1 for c in p.calls if c.label == label) for p in walls]
        rows = [sum(c.rows for c in p.calls if c.label == label) for p in walls]
        db = [_sum_db(p, label=label) for p in explains]
        wall = [_sum_wall(p, label=label) for p in walls]
        buffers = statistics.median(_buf(p, label=label) for p in explains)
        row_text = f"{statistics.median(rows):>7,.0f}" if label in READS else f"{'':>7}"
        print(f"{label:<18}{statistics.median(calls):>6.0f}{row_text}   {_fmt(db)}   {_fmt(wall)}   {buffers:>9,.0f}")
    print()
    for phase in PHASES:
        db = [_sum_db(p, phase=phase) for p in explains]
        wall = [_sum_wall(p, phase=phase) for p in walls]
        buffers = statistics.median(_buf(p, phase=phase) for p in explains)
        print(f"{'phase ' + phase:<31}   {_fmt(db)}   {_fmt(wall)}   {buffers:>9,.0f}")
    db = [_sum_db(p) for p in explains]
    wall = [p.wall for p in walls]
    buffers = statistics.median(_buf(p) for p in explains)
    print(f"{'whole pass':<31}   {_fmt(db)}   {_fmt(wall)}   {buffers:>9,.0f}")
    active = [p.active_ms / 1000 for p in walls]
    print(f"{'  server active time (pg_stat)':<31}   {'':>19}   {_fmt(active)}")
    reads = [_sum_db(p, read=True) for p in explains]
    print(f"{'  of which the three reads':<31}   {_fmt(reads)}")
    print(
        "(DB: planning + execution under EXPLAIN ANALYZE; wall: the store call, commit included; buffers: shared "
        "buffers touched, the same whatever the machine's load)"
    )

    last = explains[-1]
    print(
        "new_rucks per page (last run): "
        + ", ".join(f"{s.ms:.1f} ms/{s.buffers:,}" for s in last.statements if s.label == "new_rucks")
        + " buffers; record_rucks per page: "
        + ", ".join(f"{s.ms:.1f} ms" for s in last.statements if s.label == "record_rucks")
    )


def report_plans(explain: PassResult) -> None:
    for label in READS:
        calls = [s for s in explain.statements if s.label == label and s.plan]
        if not calls:
            continue
        slowest = max(calls, key=lambda s: s.ms)
        print()
        print(f"--- {label}: the slowest of {len(calls)} call(s), EXPLAIN (ANALYZE, BUFFERS) ---")
        print(slowest.plan)


async def run(target: Target, args: argparse.Namespace) -> None:
    steady = await prepare(target, args)
    print(
        f"steady state: {steady.athletes:,} athletes, {steady.live_plans:,} live plans, {steady.runs:,} runs, "
        f"{steady.rucks:,} rucks ({steady.completed_rucks:,} completed), {steady.told:,} told (coach_plan_rucks)"
    )
    admin = await asyncpg.connect(f"{target.server}/postgres")
    try:
        version = await admin.fetchval("SHOW server_version")
        settings = dict(
            await admin.fetch(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather')"
            )
        )
        print(f"PostgreSQL {version}; " + ", ".join(f"{k} {v}" for k, v in sorted(settings.items())))
        walls, explains, change = await set_based_runs(target, admin, steady, args)
    finally:
        await admin.close()

    # The naive way, on the state of run 1.
    await minute(target, steady, args.seed + 100, args)
    naive_wall = naive_db = 0.0
    sample = 0
    if args.baseline_sample:
        nw, live = await naive_pass(target, args.baseline_sample, args.seed + 1, explain=False)
        ne, _ = await naive_pass(target, args.baseline_sample, args.seed + 1, explain=True)
        sample = min(args.baseline_sample, live)
        per_plan_wall = _sum_wall(nw, phase="naive per plan") / sample
        per_plan_db = _sum_db(ne, phase="naive per plan") / sample
        naive_wall = _sum_wall(nw, phase="naive list") + per_plan_wall * live
        naive_db = _sum_db(ne, phase="naive list") + per_plan_db * live
        print()
        print(
            f"naive, {sample:,} sampled plans of {live:,}: per plan {per_plan_db * 1e3:.3f} ms DB, "
            f"{per_plan_wall * 1e3:.3f} ms wall (2 queries); projected to all: DB {naive_db:.1f} s, "
            f"wall {naive_wall:.1f} s"
        )

    db = [_sum_db(p) for p in explains]
    wall = [p.wall for p in walls]
    active = [p.active_ms / 1000 for p in walls]
    over = sum(1 for d in db if d >= TARGET_SECONDS)
    verdict = "MISS" if statistics.median(db) >= TARGET_SECONDS else f"PASS ({over} run(s) over)" if over else "PASS"
    ended = sum(n for status, n in change.changed.items() if status in _TERMINAL)
    print()
    print("=== summary ===")
    print(f"athletes                   {steady.athletes:,} (+{change.new_plans} new this minute)")
    print(
        f"live plans                 {steady.live_plans:,} +{change.new_plans} new -{ended} ended this minute "
        f"({steady.runs:,} runs; {steady.told:,} rucks told)"
    )
    print(
        f"rucks                      {steady.rucks:,} in ruck_session; {change.new_rucks:,} new completed this minute"
    )
    print(
        f"set-based pass, DB time    median {statistics.median(db):.3f} s, max {max(db):.3f} s over {len(db)} runs"
        f"   target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    print(
        f"  server active time       median {statistics.median(active):.3f} s, max {max(active):.3f} s; "
        f"wall median {statistics.median(wall):.3f} s, max {max(wall):.3f} s; "
        f"{statistics.median(_buf(p) for p in explains):,.0f} buffers"
    )
    if sample:
        print(f"naive, projected           DB {naive_db:.1f} s, wall {naive_wall:.1f} s ({sample:,} plans sampled)")
        print(
            f"speed-up                   DB {naive_db / statistics.median(db):.0f}x, "
            f"wall {naive_wall / statistics.median(wall):.0f}x"
        )
    print(f"load average               {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")


async def set_based_runs(
    target: Target, admin: asyncpg.Connection, steady: Steady, args: argparse.Namespace
) -> tuple[list[PassResult], list[PassResult], Change]:
    walls: list[PassResult] = []
    explains: list[PassResult] = []
    print()
    print(
        f"{args.runs} runs; each: reset + the minute's worth, the pass timed (wall); reset + the same minute's worth, "
        "the pass under EXPLAIN ANALYZE (database time)"
    )
    for i in range(args.runs):
        seed = args.seed + 100 + i
        change = await minute(target, steady, seed, args)
        wall = await timed_pass(target, admin, explain=False)
        await minute(target, steady, seed, args)
        explained = await timed_pass(target, admin, explain=True, plans=i == args.runs - 1)
        walls.append(wall)
        explains.append(explained)
        o = wall.outcome
        print(
            f"  run {i + 1}: started {o.started}, status changes {o.status_changes} ({o.ended} ended), "
            f"rucks told {o.rucks:,} (expected {change.expected_rucks:,}) | "
            f"DB {_sum_db(explained) * 1000:,.0f} ms | server active {wall.active_ms:,.0f} ms | "
            f"wall {wall.wall * 1000:,.0f} ms"
        )
    print(
        f"minute's worth: {change.new_rucks:,} new completed rucks (+{change.in_progress} in progress), "
        f"status changes {change.changed}, {change.new_plans} new plans"
    )
    report_runs(walls, explains)
    report_plans(explains[-1])
    return walls, explains, change


async def main(args: argparse.Namespace) -> None:
    target = Target(args.dsn.rstrip("/"), args.database)
    print(
        f"reconcile bench: {args.athletes:,} athletes, ~{args.history_rucks} rucks each over {DAYS} days, "
        f"{args.new_rucks:,} new rucks, as of {AS_OF:%Y-%m-%d %H:%M} UTC, seed {args.seed}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), load average "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    try:
        await run(target, args)
    finally:
        if not args.keep:
            admin = await asyncpg.connect(f"{target.server}/postgres")
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
            finally:
                await admin.close()
            print(f"dropped {target.database}")


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--athletes", type=int, default=100_000, help="athletes with a live plan (default 100,000)")
    p.add_argument("--history-rucks", type=int, default=40, help="rucks per athlete over 90 days (default 40)")
    p.add_argument("--new-rucks", type=int, default=2000, help="new completed rucks this minute (default 2,000)")
    p.add_argument("--status-changes", type=int, default=100, help="plans paused/resumed/ended this minute")
    p.add_argument("--new-plans", type=int, default=50, help="new plans without a run this minute")
    p.add_argument("--runs", type=int, default=5, help="passes timed (default 5)")
    p.add_argument("--baseline-sample", type=int, default=2000, help="plans in the naive baseline (0: skip it)")
    p.add_argument("--seed", type=int, default=20261125)
    p.add_argument("--keep", action="store_true", help="keep the database (and reuse it if it holds this population)")
    p.add_argument(
        "--dsn",
        default=os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database (env BENCH_POSTGRES)",
    )
    p.add_argument("--database", default=DATABASE, help=f"created and dropped (default {DATABASE})")
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.athletes < 1 or arguments.runs < 1 or arguments.new_rucks < 0 or arguments.history_rucks < 0:
        sys.exit("--athletes and --runs must be positive, --new-rucks and --history-rucks not negative")
    asyncio.run(main(arguments))
