"""HTTP load: `POST /v1/plans/{id}/start` and `POST …/sessions/completed` at a fixed rate, beside a bare loop of
`start_workflow` calls on the same dev server in the same run.

Starts a dev server, a fresh PostgreSQL database with enough plans (one per start request), a `coach worker` and
`coach api` (each its own process), then three open-loop runs at --rate requests/s for --seconds each (requests are
sent on schedule whatever the answers; at most --max-in-flight wait at once, the rest count as not sent):

1. **bare floor**: `client.start_workflow` of a bare workflow (bench/floor.py), unique ids, from this process;
2. `POST /start` of plans not yet started (each starts a workflow);
3. `POST /sessions/completed` on the plans just started (a signal each).

Prints achieved rate, p50/p99 latency and errors (non-2xx, timeouts) for each. Target: p99 <= 50 ms, 0 errors at
100 requests/s for 30 s. Nothing is asserted.

    .venv/bin/python bench/http_load.py --rate 100 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from _stack import (
    ROOT,
    create_plans,
    dev_server,
    fresh_database,
    load_note,
    percentile,
    temporal_address,
    worker_process,
)
from floor import FLOOR_WORKER


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    not_sent: int = 0
    elapsed: float = 0.0
    first_error: str = ""


async def open_loop(name: str, rate: float, seconds: float, limit: int, call: Callable[[int], Awaitable[bool]]) -> Run:
    """Call ``call(i)`` at ``rate`` per second for ``seconds``; ``call`` answers whether it succeeded."""
    run = Run(name)
    gate = asyncio.Semaphore(limit)
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int) -> None:
        began = time.perf_counter()
        try:
            ok = await asyncio.wait_for(call(i), timeout=30)
        except Exception as err:  # a timeout or a refused connection is an error of the run, not of the bench
            ok = False
            run.first_error = run.first_error or repr(err)[:200]
        finally:
            gate.release()
        if ok:
            run.latencies.append(time.perf_counter() - began)
        else:
            run.errors += 1

    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        if gate.locked():
            run.not_sent += 1
            continue
        await gate.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    run.elapsed = time.perf_counter() - start
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(client: object, base: str) -> None:
    for _ in range(600):
        try:
            response = await client.get(f"{base}/healthz")  # type: ignore[attr-defined]
            if response.status_code == 200:
                return
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the HTTP API did not come up")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30, help="length of each run")
    parser.add_argument("--max-in-flight", type=int, default=500, help="requests waiting at once, at most")
    parser.add_argument("--database", default="coach_http", help="PostgreSQL database (dropped and recreated)")
    args = parser.parse_args()
    import httpx

    from coaching.timeutil import pin_tzdata

    pin_tzdata()
    n = int(args.rate * args.seconds)
    print(f"http_load: {args.rate:g} requests/s for {args.seconds:g} s per run; {load_note()} at the start")
    async with dev_server() as env:
        address = temporal_address(env)
        url = await fresh_database(args.database)
        plan_ids = await create_plans(url, n, days_ahead=2, token_prefix="http-device")
        queue = f"bench-http-{uuid.uuid4().hex[:6]}"
        token = secrets.token_urlsafe(24)
        port = free_port()
        variables = {"COACH_DATABASE_URL": url, "COACH_TASK_QUEUE": queue, "TEMPORAL_ADDRESS": address}
        api_env = {**variables, "COACH_SERVICE_TOKEN": token, "COACH_API_PORT": str(port)}
        api_argv = [sys.executable, "-c", "from starter.cli import main; main(['api'])"]
        floor_queue = f"bench-http-floor-{uuid.uuid4().hex[:6]}"
        with (
            worker_process({"TEMPORAL_ADDRESS": address}, [*FLOOR_WORKER, floor_queue]),
            worker_process(variables),
            worker_process(api_env, api_argv),
        ):
            base = f"http://127.0.0.1:{port}"
            limits = httpx.Limits(max_connections=args.max_in_flight, max_keepalive_connections=args.max_in_flight)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:
                await wait_ready(http, base)
                far = time.time() + 7 * 24 * 3600

                async def bare(i: int) -> bool:
                    await env.client.start_workflow(
                        "BareWorkflow", far, id=f"{floor_queue}-{i}", task_queue=floor_queue
                    )
                    return True

                async def start(i: int) -> bool:
                    response = await http.post(f"{base}/v1/plans/{plan_ids[i]}/start")
                    return response.status_code == 202

                completed_at = datetime.now(UTC).isoformat()

                async def completed(i: int) -> bool:
                    body = {"ruck_id": 1_000_000 + i, "completed_at": completed_at}
                    response = await http.post(f"{base}/v1/plans/{plan_ids[i]}/sessions/completed", json=body)
                    return response.status_code == 202

                runs = []
                for name, call in (
                    ("bare start_workflow (floor)", bare),
                    ("POST /start", start),
                    ("POST /sessions/completed", completed),
                ):
                    runs.append(await open_loop(name, args.rate, args.seconds, args.max_in_flight, call))
                    print(f"{name} done ({load_note()})")

    print("\n| run | achieved req/s | p50 ms | p99 ms | errors | not sent |\n|---|---|---|---|---|---|")
    for run in runs:
        done = len(run.latencies)
        p50, p99 = 1000 * percentile(run.latencies, 50), 1000 * percentile(run.latencies, 99)
        achieved = done / run.elapsed if run.elapsed else 0.0
        print(f"| {run.name} | {achieved:.1f} | {p50:.0f} | {p99:.0f} | {run.errors} | {run.not_sent} |")
        if run.first_error:
            print(f"|   first error: {run.first_error} | | | | | |")
    for run in runs[1:]:
        p99 = 1000 * percentile(run.latencies, 99)
        verdict = "PASS" if p99 <= 50 and not run.errors and not run.not_sent else "MISS"
        print(f"target {run.name}: p99 <= 50 ms and 0 errors: {verdict}")
    print(f"{load_note()} at the end")


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
    sys.stdout.flush()
    os._exit(0)
