"""How long `coach` takes before it does anything: import time, and `coach plan status` end to end.

Prints, beside `python -c pass` (the interpreter's own start-up) in the same run: the wall time of importing what
`coach plan status` imports (median of --repeat runs), which heavy SDKs that pulls in (none of the OpenAI SDK,
firebase-admin or SQLAlchemy should be there), and the wall time of `coach plan status <id>` against a dev server with
a worker and one running plan (SQLite). Target: `coach plan status` <= 1 s. Nothing is asserted.

    .venv/bin/python bench/cli_import.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from _stack import ROOT, dev_server, load_note, temporal_address, worker_process

HEAVY = ("openai", "firebase_admin", "sqlalchemy", "google.cloud", "temporalio.worker")
_CLI_IMPORTS = "import starter.cli, starter.client, starter.temporal"


def wall(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Median wall seconds and median CPU seconds (user + system: less sensitive to a busy machine) of running
    ``argv``, and the last run's stdout."""
    times, cpu, out = [], [], ""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
        times.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = done.stdout if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
    return statistics.median(times), statistics.median(cpu), out


async def status_wall(repeat: int) -> tuple[float, float, str]:
    """Median wall seconds of `coach plan status` for a running plan on a dev server, with its worker."""
    from activities.database import make_engine, make_sessionmaker
    from activities.demo import create_demo_plan
    from activities.migrate import upgrade_database
    from activities.store import Store
    from starter.client import PlanNotifications
    from starter.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/cli.db"
        await upgrade_database(url)
        engine = make_engine(url)
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        plan_id = await create_demo_plan(
            Store(make_sessionmaker(engine)),
            timezone="UTC",
            start_date=tomorrow,
            sessions=[{"scheduled_date": tomorrow, "scheduled_start_time": "07:00"}],
        )
        await engine.dispose()
        async with dev_server() as env:
            queue = f"bench-cli-{uuid.uuid4().hex[:6]}"
            address = temporal_address(env)
            variables = {"COACH_DATABASE_URL": url, "COACH_TASK_QUEUE": queue, "TEMPORAL_ADDRESS": address}
            with worker_process(variables):
                api = PlanNotifications(env.client, Settings(database_url=url).workflow_config(), task_queue=queue)
                await api.start_plan(plan_id)
                for _ in range(300):  # until the worker has loaded the plan (its first status answers)
                    status = await api.status(plan_id)
                    if status.upcoming:
                        break
                    await asyncio.sleep(0.1)
                cli_env = {**os.environ, **variables}
                coach = [sys.executable, "-c", "from starter.cli import main; main()", "plan", "status", str(plan_id)]
                return await asyncio.to_thread(wall, coach, repeat, cli_env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (the median is printed)")
    parser.add_argument("--no-status", action="store_true", help="skip `coach plan status` (no dev server)")
    args = parser.parse_args()
    print(f"cli_import: {load_note()} at the start")
    floor = wall([sys.executable, "-c", "pass"], args.repeat)
    imports = wall([sys.executable, "-c", _CLI_IMPORTS], args.repeat)
    probe = f"import sys, json; {_CLI_IMPORTS}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    *_, loaded = wall([sys.executable, "-c", probe], 1)
    print("\n| | wall s (median) | CPU s (median) |\n|---|---|---|")
    print(f"| `python -c pass` (floor) | {floor[0]:.2f} | {floor[1]:.2f} |")
    print(f"| import what `coach plan status` imports | {imports[0]:.2f} | {imports[1]:.2f} |")
    if not args.no_status:
        status, status_cpu, out = asyncio.run(status_wall(args.repeat))
        verdict = "PASS" if status <= 1 else "MISS"
        print(f"| `coach plan status` against a dev server | {status:.2f} ({verdict}: <= 1 s) | {status_cpu:.2f} |")
        if not out.startswith("Plan "):
            print(f"(the status command did not answer as expected: {out})")
    print(f"\nheavy modules imported by the CLI's status path: {', '.join(json.loads(loaded or '[]')) or 'none'}")
    print(f"{load_note()} at the end")


if __name__ == "__main__":
    main()
