"""`coach run` (`make run`) started twice in the same directory, as a newcomer restarts it: the same service token,
JWT secret and demo athlete (tokens printed by the first run still work on the second), the demo athlete's id
printed, a learned window from the seeded rucks in the schedule, and the dev server's output in var/, not the
terminal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.test_run import free_port

pytestmark = pytest.mark.devserver


def _start(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    run = subprocess.Popen(
        [sys.executable, "-m", "starter.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the terminal as the newcomer sees it: both streams
        text=True,
    )
    assert run.stdout is not None
    printed: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = run.stdout.readline()
        if not line:
            break
        printed.append(line)
        if line.startswith("Logs:"):
            break
    return run, "".join(printed)


def _stop(run: subprocess.Popen[str]) -> None:
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=60) == 0


def test_a_restart_keeps_the_secrets_and_the_terminal_quiet(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "COACH_DEV_SERVER_PORT": str(free_port()),
        "COACH_DEV_SERVER_UI_PORT": str(free_port()),
        "COACH_API_PORT": str(free_port()),
        "COACH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/var/coach.db",
    }
    env.pop("TEMPORAL_ADDRESS", None)
    for name in ("COACH_SERVICE_TOKEN", "COACH_JWT_SECRET"):
        env.pop(name, None)
    first, text = _start(tmp_path, env)
    try:
        exports = re.search(r"export COACH_API=(\S+) COACH_SERVICE_TOKEN=(\S+) ATHLETE_JWT=(\S+)", text)
        athlete = re.search(r"Demo athlete id:\s+([0-9a-f-]{36})\s+\(.*cadence analyze \1\)", text)
        assert exports and athlete, text
        # The seeded rucks (05:20 ± a few minutes) give the Sunday Long Ruck, which has no start time, its time.
        assert re.search(r"Long Ruck \(05:\d\d, your usual Sunday start", text), text
        # Nothing of the dev server's banner or logs in the window: they are in var/.
        assert "Temporal CLI" not in text and "Temporal Server:" not in text and " INFO " not in text, text
    finally:
        _stop(first)
    assert "Temporal Server:" in (tmp_path / "var" / "temporal-dev.log").read_text()
    assert " INFO " in (tmp_path / "var" / "coach-run.log").read_text()
    assert (tmp_path / "var" / "dev-secrets.json").stat().st_mode & 0o077 == 0  # this user's only

    second, again = _start(tmp_path, env)
    try:
        _, token, athlete_token = exports.groups()
        assert f"COACH_SERVICE_TOKEN={token} " in again and f"Demo athlete id:  {athlete.group(1)}" in again
        now_url = re.search(r"export COACH_API=(\S+)", again)
        assert now_url, again
        # The first run's tokens, as printed then, work on the second run's API.
        plans = httpx.get(
            f"{now_url.group(1)}/v1/me/preferences", headers={"Authorization": f"Bearer {athlete_token}"}, timeout=10
        )
        assert plans.status_code == 200, plans.text
        plan = re.search(r"Demo plan id:\s+(\d+)", again)
        assert plan, again
        schedule = httpx.get(
            f"{now_url.group(1)}/v1/plans/{plan.group(1)}/schedule",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert schedule.status_code == 200, schedule.text
    finally:
        _stop(second)
