"""Memory of one worker holding N idle plans, and how fast plans start, beside the bare floor in the same run.

Starts a dev server and a fresh PostgreSQL database, writes N plans (one session 30 days ahead each, so every plan
loads, records its schedule and sleeps), starts them through the client (50 at a time, as the reconciler or the core
API would), waits until the worker's CPU settles, then prints the worker's RSS (and the dev server's), plans started
per second (start RPCs) and settled per second (until the worker is idle). The floor: N idle bare workflows on a
worker with the same tuning (bench/floor.py). Target: 10,000 plans, worker RSS <= 300 MB, all started in <= 5 min.

    .venv/bin/python bench/memory.py --plans 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from typing import Any

from _stack import (
    cpu_seconds,
    create_plans,
    dev_server,
    fresh_database,
    load_note,
    rss_mb,
    temporal_address,
    worker_process,
)
from floor import FLOOR_WORKER


async def settle(pid: int, quiet: float = 0.05, window: float = 5.0, limit: float = 1800) -> float:
    """Wait until process ``pid`` uses less than ``quiet`` of a core over ``window`` seconds; seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        before = cpu_seconds(pid)
        await asyncio.sleep(window)
        if (cpu_seconds(pid) - before) / window < quiet:
            break
    return time.monotonic() - began - window


async def start_all(count: int, start: Any, concurrency: int = 50) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await start(i)

    began = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.monotonic() - began


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=10_000, help="idle plans (and bare workflows)")
    parser.add_argument("--database", default="coach_memory", help="PostgreSQL database (dropped and recreated)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE", help="extra worker env")
    args = parser.parse_args()
    n = args.plans
    from coaching.timeutil import pin_tzdata
    from starter.client import PlanNotifications
    from starter.settings import Settings

    pin_tzdata()
    print(f"memory: {n} idle plans; {load_note()} at the start")
    rows: list[tuple[str, str, str]] = []
    async with dev_server() as env:
        address = temporal_address(env)
        server_rss0 = rss_mb(env.pid) if env.pid else 0.0

        queue = f"bench-idle-{uuid.uuid4().hex[:6]}"
        with worker_process({"TEMPORAL_ADDRESS": address}, [*FLOOR_WORKER, queue]) as floor:
            await asyncio.sleep(3)
            floor_rss0 = rss_mb(floor.pid)
            floor_start = await start_all(
                n, lambda i: env.client.start_workflow("IdleWorkflow", id=f"{queue}-{i}", task_queue=queue)
            )
            floor_settle = await settle(floor.pid)
            floor_rss = rss_mb(floor.pid)
        server_rss_floor = rss_mb(env.pid) if env.pid else 0.0

        url = await fresh_database(args.database)
        plan_ids = await create_plans(url, n, days_ahead=30, token_prefix="memory-device")
        queue = f"bench-memory-{uuid.uuid4().hex[:6]}"
        variables = {"COACH_DATABASE_URL": url, "COACH_TASK_QUEUE": queue, "TEMPORAL_ADDRESS": address}
        variables.update(dict(item.split("=", 1) for item in args.worker_env))
        with worker_process(variables) as worker:
            await asyncio.sleep(5)
            rss0 = rss_mb(worker.pid)
            api = PlanNotifications(env.client, Settings(database_url=url).workflow_config(), task_queue=queue)
            began = time.monotonic()
            started = await start_all(n, lambda i: api.start_plan(plan_ids[i]))
            await settle(worker.pid)
            settled = time.monotonic() - began
            rss = rss_mb(worker.pid)
        server_rss = rss_mb(env.pid) if env.pid else 0.0
        cache = os.environ.get("COACH_WORKER_MAX_CACHED_WORKFLOWS") or str(Settings().worker_max_cached_workflows)

    rows.append(("worker RSS idle, before any workflow (MB)", f"{rss0:.0f}", f"{floor_rss0:.0f}"))
    rows.append((f"worker RSS with {n} idle (MB)", f"{rss:.0f}", f"{floor_rss:.0f}"))
    rows.append(("workflows started per second (start RPCs)", f"{n / started:.1f}", f"{n / floor_start:.1f}"))
    rows.append(("settled per second (until the worker idles)", f"{n / settled:.1f}", f"{n / floor_settle:.1f}"))
    rows.append(
        ("dev server RSS growth (MB)", f"{server_rss - server_rss_floor:.0f}", f"{server_rss_floor - server_rss0:.0f}")
    )
    print(f"\nworker cache: max_cached_workflows={cache}\n")
    print("| | plans | bare floor |\n|---|---|---|")
    for label, a, b in rows:
        print(f"| {label} | {a} | {b} |")
    projected = 10_000 / (n / settled)
    print(
        f"\ntargets: worker RSS <= 300 MB: {'PASS' if rss <= 300 else 'MISS'} ({rss:.0f} MB with {n}); "
        f"10,000 started in <= 5 min: {'PASS' if projected <= 300 else 'MISS'} ({projected:.0f} s at this rate)"
    )
    print(f"{load_note()} at the end")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
