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
import os
import random
import statistics
import sys
from collections.abc import Sequence
from datetime import timedelta
from time import perf_counter
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from _pg import Target, admin_connection, drop_database, load_average, machine
from _stack import DEFAULT_SERVER
from reconcile_fill import AS_OF, DAYS, Change, Steady, minute, prepare
from reconcile_report import Outcome, PassResult, Recorder, report_plans, report_runs, sum_buffers, sum_db, sum_wall
from sqlalchemy import Executable, and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.database import make_engine, make_sessionmaker
from activities.db import PlanRuck, PlanRun, RuckSession, UserCoachingPlan

# The activities' own constants, so the pass here is the activities' pass (private ones included, on purpose).
from activities.reconcile import _TERMINAL, FUTURE_SKEW, _reason
from activities.reconcile_store import LIVE, ReconcileStore, plan_status_expr
from coaching.models import ReconcileInput

TARGET_SECONDS = 2.0
DATABASE = "coach_bench_reconcile"
#: The reconciler's defaults: page size 500, lookback 48 h, at most 2,000 starts and 5,000 rucks per pass.
INPUT = ReconcileInput()


# --- the set-based pass -------------------------------------------------------------------------------------------


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


# --- the run and its summary --------------------------------------------------------------------------------------


async def run(target: Target, args: argparse.Namespace) -> None:
    steady = await prepare(target, args)
    print(
        f"steady state: {steady.athletes:,} athletes, {steady.live_plans:,} live plans, {steady.runs:,} runs, "
        f"{steady.rucks:,} rucks ({steady.completed_rucks:,} completed), {steady.told:,} told (coach_plan_rucks)"
    )
    async with admin_connection(target.server) as admin:
        version = await admin.fetchval("SHOW server_version")
        settings = dict(
            await admin.fetch(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather')"
            )
        )
        print(f"PostgreSQL {version}; " + ", ".join(f"{k} {v}" for k, v in sorted(settings.items())))
        walls, explains, change = await set_based_runs(target, admin, steady, args)

    # The naive way, on the state of run 1.
    await minute(target, steady, args.seed + 100, args)
    naive_wall = naive_db = 0.0
    sample = 0
    if args.baseline_sample:
        nw, live = await naive_pass(target, args.baseline_sample, args.seed + 1, explain=False)
        ne, _ = await naive_pass(target, args.baseline_sample, args.seed + 1, explain=True)
        sample = min(args.baseline_sample, live)
        per_plan_wall = sum_wall(nw, phase="naive per plan") / sample
        per_plan_db = sum_db(ne, phase="naive per plan") / sample
        naive_wall = sum_wall(nw, phase="naive list") + per_plan_wall * live
        naive_db = sum_db(ne, phase="naive list") + per_plan_db * live
        print()
        print(
            f"naive, {sample:,} sampled plans of {live:,}: per plan {per_plan_db * 1e3:.3f} ms DB, "
            f"{per_plan_wall * 1e3:.3f} ms wall (2 queries); projected to all: DB {naive_db:.1f} s, "
            f"wall {naive_wall:.1f} s"
        )

    db = [sum_db(p) for p in explains]
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
        f"{statistics.median(sum_buffers(p) for p in explains):,.0f} buffers"
    )
    if sample:
        print(f"naive, projected           DB {naive_db:.1f} s, wall {naive_wall:.1f} s ({sample:,} plans sampled)")
        print(
            f"speed-up                   DB {naive_db / statistics.median(db):.0f}x, "
            f"wall {naive_wall / statistics.median(wall):.0f}x"
        )
    print(f"load average               {load_average()} ({os.cpu_count()} CPUs)")


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
            f"DB {sum_db(explained) * 1000:,.0f} ms | server active {wall.active_ms:,.0f} ms | "
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
        f"{machine()}, load average {load_average()}"
    )
    try:
        await run(target, args)
    finally:
        if not args.keep:
            await drop_database(target)
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
        default=DEFAULT_SERVER,
        help="PostgreSQL server, without a database (env BENCH_POSTGRES)",
    )
    p.add_argument("--database", default=DATABASE, help=f"created and dropped (default {DATABASE})")
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.athletes < 1 or arguments.runs < 1 or arguments.new_rucks < 0 or arguments.history_rucks < 0:
        sys.exit("--athletes and --runs must be positive, --new-rucks and --history-rucks not negative")
    asyncio.run(main(arguments))
