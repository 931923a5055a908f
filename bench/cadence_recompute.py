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
import cProfile
import pstats
import sys
from collections.abc import Sequence

from _pg import Target, machine
from _stack import DEFAULT_SERVER
from cadence_fill import AS_OF, prepare
from cadence_runs import Measured, measure, memory

TARGET_SECONDS = 60.0


# --- reporting ----------------------------------------------------------------------------------------------------


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
        f"batch {args.batch_size:,}, seed {args.seed}; {machine()}"
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
        default=DEFAULT_SERVER,
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
