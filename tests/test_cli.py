"""`coach` on bad input: exit 2 with a message naming the problem, exit 1 for a plan that cannot run; no tracebacks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.demo import create_demo_plan
from activities.migrate import upgrade_database
from starter.sandbox import start_environment
from starter.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Nothing listens here: commands that get as far as connecting fail fast instead of finding a stray server.
UNREACHABLE = {"TEMPORAL_ADDRESS": "127.0.0.1:1"}


def coach(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **UNREACHABLE, **(env or {})},
    )


@pytest.mark.parametrize("plan_id", ["-5", "0", "abc", "2147483648", "9223372036854775807"])
def test_plan_ids_must_be_whole_numbers_within_rucktrackers_32_bit_ids(plan_id: str) -> None:
    result = coach("plan", "start", plan_id)
    assert result.returncode == 2
    assert "argument plan_id" in result.stderr and repr(plan_id) in result.stderr
    assert "Traceback" not in result.stderr


POISON = [
    (["--ruck-id", "3000000000"], "argument --ruck-id: '3000000000' is not a valid id"),
    (["--completed-at", "9999-12-31T23:59:59-23:59"], "error: --completed-at: the UTC offset"),
    (["--completed-at", "2099-01-01T00:00:00+05:45"], "error: --completed-at: must not be after"),
    (["--duration-seconds", "100000000000"], "error: --duration-seconds: must be from 0 to 172,800"),
    (["--distance-km", "1000.5"], "error: --distance-km: must be a finite number from 0 to 1,000"),
    (["--distance-km", "nan"], "error: --distance-km: "),
]


@pytest.mark.parametrize(
    ("args", "says"), POISON, ids=["ruck-id", "offset", "far-ahead", "duration", "distance", "nan"]
)
def test_a_poison_completion_is_bad_input_naming_the_option(args: list[str], says: str) -> None:
    """Checked before connecting (nothing listens at TEMPORAL_ADDRESS here), so it is reported as bad input."""
    result = coach("plan", "completed", "3", "--ruck-id", "4", *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["plan", "pause", "3", "--reason", "x" * 501], "error: --reason: must be at most 500 characters"),
        (["plan", "start", "3", "--wait", "601"], "argument --wait: '601' is not from 0 to 600"),
    ],
    ids=["reason", "wait"],
)
def test_other_bounded_options_are_bad_input(args: list[str], says: str) -> None:
    result = coach(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_bad_completion_time_names_the_flag() -> None:
    # Checked before connecting, so it is reported as bad input even with no server.
    result = coach("plan", "completed", "3", "--ruck-id", "4", "--completed-at", "yesterday")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --completed-at: 'yesterday' is not an ISO 8601 time")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a directory"),
        (b'{"description": "caf\xe9"}', "not UTF-8 text"),
        (b"[1, 2]", "the scenario must be a JSON object, not an array"),
    ],
    ids=["directory", "not-utf8", "json-array"],
)
def test_simulate_refuses_unreadable_scenarios(tmp_path: Path, content: bytes | None, message: str) -> None:
    target = tmp_path
    if content is not None:
        target = tmp_path / "scenario.json"
        target.write_bytes(content)
    result = coach("simulate", str(target))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {target}: ") and message in result.stderr
    assert "Traceback" not in result.stderr


async def _create_plan(database_url: str) -> int:
    from activities.database import make_engine, make_sessionmaker
    from activities.store import Store

    engine = make_engine(database_url)
    try:
        start = date.today() + timedelta(days=2)
        return await create_demo_plan(
            Store(make_sessionmaker(engine)),
            timezone="America/New_York",
            start_date=start,
            sessions=[{"scheduled_date": start, "scheduled_start_time": "06:00", "planned_session_type": "Ruck"}],
        )
    finally:
        await engine.dispose()


async def test_starting_a_missing_plan_reports_the_failure(tmp_path: Path) -> None:
    from worker import build_worker

    database_url = f"sqlite+aiosqlite:///{tmp_path}/coach.db"
    await upgrade_database(database_url)
    task_queue = f"coaching-cli-test-{uuid.uuid4().hex[:8]}"
    env = await start_environment(time_skipping=False)
    try:
        settings = Settings(database_url=database_url, environment="test", task_queue=task_queue)
        child_env = {
            **os.environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "COACH_DATABASE_URL": database_url,
            "COACH_TASK_QUEUE": task_queue,
        }

        async def run_coach(*args: str) -> tuple[int, str, str]:
            # Asynchronously, so the worker below keeps running the workflow meanwhile.
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "starter.cli",
                *args,
                cwd=ROOT,
                env=child_env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode is not None
            return process.returncode, out.decode(), err.decode()

        async with build_worker(env.client, settings, task_queue=task_queue) as worker, worker:
            # Not in the database: refused like the HTTP API's 404, and no workflow is started.
            code, out, err = await run_coach("plan", "start", "999")
            assert (code, out) == (2, ""), err
            assert err.strip() == "error: plan 999: plan_not_found: no such row in user_coaching_plans"
            code, out, err = await run_coach("plan", "status", "999")
            assert (code, out) == (1, "")
            assert err.strip() == "error: plan 999: no running notification workflow (start it first)"
            # A plan that exists is reported running as soon as its workflow has loaded it: told to wait up to ten
            # minutes, it returns (run_coach gives up after one) once the load is in the history, not at the timeout.
            plan_id = await _create_plan(database_url)
            code, out, err = await run_coach("plan", "start", str(plan_id), "--wait", "600")
            assert code == 0, err
            assert out.strip() == f"plan {plan_id}: workflow coaching-plan-{plan_id} running"
            assert await _loaded(env, plan_id)
            code, out, err = await run_coach("plan", "status", str(plan_id))
            assert code == 0, err
            assert out.startswith(f"Plan {plan_id}: active (America/New_York)")
    finally:
        await env.shutdown()


async def _loaded(env: Any, plan_id: int) -> bool:
    """The plan's load_plan activity completed (the event the CLI waited for)."""
    async for event in env.client.get_workflow_handle(f"coaching-plan-{plan_id}").fetch_history_events():
        if event.HasField("activity_task_completed_event_attributes"):
            return True
    return False


def test_cadence_analyze_rejects_a_user_id_that_is_not_a_uuid() -> None:
    result = coach("cadence", "analyze", "bob")
    assert result.returncode == 2
    assert result.stderr.startswith("error: USER_ID: 'bob' is not a user id") and "Traceback" not in result.stderr


async def test_cadence_analyze_prints_the_window_the_confidence_and_why(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from activities.cadence_store import CadenceStore
    from activities.database import make_engine, make_sessionmaker
    from activities.db import RuckSession
    from activities.store import Store
    from coaching.timeutil import local_to_utc

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    await upgrade_database(url)
    engine = make_engine(url)
    user_id = str(uuid.uuid4())
    today = datetime.now(UTC).date()
    try:
        store = Store(make_sessionmaker(engine))
        await create_demo_plan(
            store, user_id=user_id, timezone="Asia/Kolkata", start_date=today, sessions=[{"scheduled_date": today}]
        )
        async with store.sessionmaker.begin() as session:
            await session.execute(
                insert(RuckSession),
                [
                    {
                        "user_id": user_id,
                        "status": "completed",
                        "started_at": local_to_utc(today - timedelta(days=d), 5 * 60 + 40, "Asia/Kolkata"),
                        "completed_at": local_to_utc(today - timedelta(days=d), 6 * 60 + 30, "Asia/Kolkata"),
                    }
                    for d in range(1, 13)
                ],
            )
    finally:
        await engine.dispose()

    result = await asyncio.to_thread(coach, "cadence", "analyze", user_id, env={"COACH_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "prime window: 05:25–05:55, usually 05:40; confidence 0.71 (used for reminders" in out
    assert "rucks with a start time: 12" in out and "why:" in out and "12 rucks with a start time" in out
    # Read-only without --apply: nothing is stored, so the athlete is still due for the nightly recompute.
    engine = make_engine(url)
    try:
        due = await CadenceStore(make_sessionmaker(engine)).athletes_due(datetime.now(UTC), after=None, limit=5)
    finally:
        await engine.dispose()
    assert due == [user_id]


def test_coach_api_refuses_to_serve_without_a_service_token() -> None:
    result = coach("api", env={"COACH_SERVICE_TOKEN": ""})
    assert result.returncode == 2
    assert result.stderr.startswith("error: COACH_SERVICE_TOKEN:") and "Traceback" not in result.stderr


@pytest.mark.parametrize("athlete_token", ["header.payload.signature", None])
def test_the_run_summary_prints_a_demo_athlete_token_only_when_the_run_made_the_secret(
    capsys: pytest.CaptureFixture[str], athlete_token: str | None
) -> None:
    """With COACH_JWT_SECRET configured (maybe the real Supabase secret) no token signed with it is printed."""

    from coaching.models import PlanStatus, PlanStatusResult
    from starter.cli_run import print_run_summary

    status = PlanStatusResult(
        plan_id=7, status=PlanStatus.ACTIVE, timezone="UTC", upcoming=[], completions=0, sent=0, skipped=0
    )
    print_run_summary(
        Settings(), "default", 7, "UTC", status, ("http://127.0.0.1:8080", "service-token-0123456789", athlete_token)
    )
    printed = capsys.readouterr().out
    assert "export COACH_API=http://127.0.0.1:8080 COACH_SERVICE_TOKEN=service-token-0123456789" in printed
    if athlete_token is None:
        assert "ATHLETE_JWT" not in printed and "sign the demo athlete's token yourself" in printed
    else:
        assert f"ATHLETE_JWT={athlete_token}" in printed and f"Bearer {athlete_token}" in printed
