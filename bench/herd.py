"""The herd: N plans whose morning hype comes due in the same minute, beside the bare floor in the same run.

Starts a Temporal dev server, a fresh PostgreSQL database and the FCM fake (in this process); then two phases, each
with its own worker process on its own task queue:

1. **floor**: N bare workflows (one timer to the same second, one no-op activity; bench/floor.py);
2. **pipeline**: N plans (one athlete, one device and one session each, in UTC) started through the client as the
   core API starts them, a `coach worker` with PostgreSQL and firebase-admin pushing to the FCM fake; every plan's
   morning hype is due at the same minute.

Lateness is the FCM fake's receipt (polled every 0.1 s) or the floor activity's start, minus the due time. Worker and
dev-server CPU are read from /proc from just before the due time until the last delivery. Prints fan-out, lateness
p50/p95/p99, CPU per notification and the ratios to the floor; nothing is asserted.

    .venv/bin/python bench/herd.py --plans 200
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from _stack import (
    cpu_seconds,
    dev_server,
    fcm_env,
    fresh_database,
    load_note,
    percentile,
    temporal_address,
    wait_until,
    worker_process,
)
from floor import FLOOR_WORKER

MORNING_HYPE_LEAD = timedelta(minutes=60)  # NotificationPrefs.morning_hype_lead_minutes, the default


@dataclass
class Phase:
    name: str
    n: int
    lateness: list[float] = field(default_factory=list)
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    span: float = 0.0
    start_rate: float = 0.0
    missing: int = 0

    @property
    def fan_out(self) -> float:
        return len(self.lateness) / self.span if self.span > 0 else float("nan")

    def per_notification_ms(self, cpu: float) -> float:
        return 1000 * cpu / max(1, len(self.lateness))


async def _start_all(count: int, start: Any, concurrency: int = 20) -> float:
    """Run ``start(i)`` for every i with bounded concurrency; starts per second."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with gate:
            return await start(i)

    began = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.monotonic() - began)


def _server_cpu(env: Any) -> float:
    return cpu_seconds(env.pid) if env.pid else 0.0


async def floor_phase(env: Any, n: int) -> Phase:
    phase = Phase("floor", n)
    task_queue = f"bench-floor-{uuid.uuid4().hex[:6]}"
    with worker_process({"TEMPORAL_ADDRESS": temporal_address(env)}, [*FLOOR_WORKER, task_queue]) as worker:
        due = math.ceil(time.time() + 15 + n / 40)
        handles: list[Any] = []

        async def start(i: int) -> None:
            handles.append(
                await env.client.start_workflow(
                    "BareWorkflow", float(due), id=f"bench-floor-{task_queue}-{i}", task_queue=task_queue
                )
            )

        phase.start_rate = await _start_all(n, start)
        await wait_until(due - 2)
        cpu0, srv0 = cpu_seconds(worker.pid), _server_cpu(env)
        results = await asyncio.gather(*(h.result() for h in handles))
        cpu1, srv1 = cpu_seconds(worker.pid), _server_cpu(env)
    phase.lateness = [float(r) - due for r in results]
    phase.span = max(phase.lateness)
    phase.worker_cpu, phase.server_cpu = cpu1 - cpu0, srv1 - srv0
    return phase


async def _create_plans(url: str, n: int, due: datetime) -> list[int]:
    from activities.database import make_engine, make_sessionmaker
    from activities.demo import create_demo_plan
    from activities.store import Store

    start = due + MORNING_HYPE_LEAD
    engine = make_engine(url)
    store = Store(make_sessionmaker(engine))
    try:
        gate = asyncio.Semaphore(10)

        async def one(i: int) -> int:
            async with gate:
                return await create_demo_plan(
                    store,
                    timezone="UTC",
                    start_date=start.date(),
                    sessions=[{"scheduled_date": start.date(), "scheduled_start_time": start.strftime("%H:%M")}],
                    fcm_token=f"herd-device-{i}",
                )

        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await engine.dispose()


async def pipeline_phase(env: Any, url: str, fcm: Any, n: int, worker_env: dict[str, str]) -> Phase:
    from starter.client import PlanNotifications
    from starter.settings import Settings

    phase = Phase("pipeline", n)
    task_queue = f"bench-herd-{uuid.uuid4().hex[:6]}"
    env_vars = {**fcm_env(fcm, url, temporal_address(env), task_queue), **worker_env}
    with worker_process(env_vars) as worker:
        # Plans are written first, then started; the due minute leaves time for both at a pessimistic rate.
        now = datetime.now(UTC)
        due = (now + timedelta(seconds=60 + n / 4)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        plan_ids = await _create_plans(url, n, due)
        api = PlanNotifications(env.client, Settings(database_url=url).workflow_config(), task_queue=task_queue)
        phase.start_rate = await _start_all(n, lambda i: api.start_plan(plan_ids[i]))
        if datetime.now(UTC) > due - timedelta(seconds=5):
            print(f"warning: the plans took until {datetime.now(UTC):%H:%M:%S} to start, due {due:%H:%M:%S}")
        await wait_until(due.timestamp() - 2)
        cpu0, srv0 = cpu_seconds(worker.pid), _server_cpu(env)
        arrived: dict[str, float] = {}
        deadline = due.timestamp() + 45 * 60  # the hype is stale 45 min after its time (MAX_LATENESS)
        seen = 0
        while len(arrived) < n and time.time() < deadline:
            received = fcm.received
            stamp = time.time()
            for message in received[seen:]:
                data = message.message.get("data", {})
                if data.get("type") == "plan_morning_hype":
                    arrived.setdefault(data.get("notification_id", ""), stamp)
            seen = len(received)
            await asyncio.sleep(0.1)
        cpu1, srv1 = cpu_seconds(worker.pid), _server_cpu(env)
    phase.lateness = [t - due.timestamp() for t in arrived.values()]
    phase.missing = n - len(arrived)
    phase.span = max(phase.lateness, default=0.0)
    phase.worker_cpu, phase.server_cpu = cpu1 - cpu0, srv1 - srv0
    return phase


def report(floor: Phase, full: Phase) -> None:
    def row(label: str, value: Any, base: Any, ratio: str = "") -> None:
        print(f"| {label} | {value} | {base} | {ratio} |")

    print("\n| | pipeline | bare floor | ratio |\n|---|---|---|---|")
    row("notifications", f"{len(full.lateness)} of {full.n}", f"{len(floor.lateness)} of {floor.n}")
    row("workflows started per second", f"{full.start_rate:.1f}", f"{floor.start_rate:.1f}")
    row("fan-out (notifications/s)", f"{full.fan_out:.1f}", f"{floor.fan_out:.1f}")
    for p in (50, 95, 99):
        a, b = percentile(full.lateness, p), percentile(floor.lateness, p)
        row(f"lateness p{p} (s)", f"{a:.1f}", f"{b:.1f}", f"{a / b:.2f}x" if b > 0 else "")
    wa, wb = full.per_notification_ms(full.worker_cpu), floor.per_notification_ms(floor.worker_cpu)
    row("worker CPU per notification (ms)", f"{wa:.1f}", f"{wb:.1f}", f"{wa / wb:.2f}x" if wb else "")
    sa, sb = full.per_notification_ms(full.server_cpu), floor.per_notification_ms(floor.server_cpu)
    row("dev server CPU per notification (ms)", f"{sa:.1f}", f"{sb:.1f}", f"{sa / sb:.2f}x" if sb else "")
    p99, base99 = percentile(full.lateness, 99), percentile(floor.lateness, 99)
    print(
        f"\ntargets: p99 lateness <= 1.5x the floor's: {'PASS' if p99 <= 1.5 * base99 else 'MISS'} "
        f"({p99:.1f} s vs {1.5 * base99:.1f} s); worker CPU per notification <= 30 ms: "
        f"{'PASS' if wa <= 30 else 'MISS'} ({wa:.1f} ms)"
    )
    if full.missing:
        print(f"{full.missing} morning hype(s) did not reach the FCM fake within 45 min of their due time")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=1000, help="plans (and bare workflows) due in the same minute")
    parser.add_argument("--database", default="coach_herd", help="PostgreSQL database (dropped and recreated)")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the pipeline's worker, e.g. COACH_DB_POOL_PRE_PING=true (repeatable)",
    )
    args = parser.parse_args()
    worker_env = dict(item.split("=", 1) for item in args.worker_env)

    from coaching.timeutil import pin_tzdata
    from tests.fakes.fcm import FakeFcm

    pin_tzdata()
    print(f"herd: {args.plans} plans due in the same minute; {load_note()} at the start")
    async with dev_server() as env:
        url = await fresh_database(args.database)
        with FakeFcm() as fcm:
            floor = await floor_phase(env, args.plans)
            print(f"floor done ({load_note()})")
            full = await pipeline_phase(env, url, fcm, args.plans, worker_env)
    report(floor, full)
    print(f"\n{load_note()} at the end")


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)  # gRPC (google-auth's, from the FCM fake's credentials) can abort during interpreter teardown
