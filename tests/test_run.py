"""The README's run command as a user meets it: `coach run` in a fresh directory prints the Web UI address and the
demo plan id, the UI answers, `coach plan status` from a second process shows the schedule, Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.devserver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_coach_run_prints_true_addresses_and_stops_cleanly(tmp_path: Path) -> None:
    port, ui_port, metrics_port, sdk_metrics_port = free_port(), free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "COACH_DEV_SERVER_PORT": str(port),
        "COACH_DEV_SERVER_UI_PORT": str(ui_port),
        "COACH_METRICS_ADDRESS": f"0.0.0.0:{metrics_port}",
        "COACH_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{sdk_metrics_port}",
        "COACH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/var/coach.db",
    }
    env.pop("TEMPORAL_ADDRESS", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "starter.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert run.stdout is not None
        printed: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(printed)
        assert f"Temporal Web UI:  http://localhost:{ui_port}" in text, text
        match = re.search(r"Demo plan id:\s+(\d+)", text)
        assert match, text
        plan_id = match.group(1)
        assert "plan_evening_brief" in text and "plan_morning_hype" in text
        api = re.search(r"HTTP API:\s+(http://\S+)\s+\(docs \S+; service token (\S+)\)", text)
        assert api, text
        url, token = api.group(1), api.group(2)
        schedule = httpx.get(
            f"{url}/v1/plans/{plan_id}/schedule", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert schedule.status_code == 200 and schedule.json()["status"] == "active", schedule.text
        assert httpx.get(f"{url}/v1/plans/{plan_id}/schedule", timeout=10).status_code == 401
        # The printed curl example works as printed: a ruck finished just now, accepted and then celebrated.
        example = re.search(r"sessions/completed .*-d '(\{.*\})'", text)
        assert example, text
        completed = httpx.post(
            f"{url}/v1/plans/{plan_id}/sessions/completed",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            content=example.group(1),
            timeout=10,
        )
        assert completed.status_code == 202, completed.text
        # The demo athlete's printed token works on the athlete endpoints, and their snooze example as printed.
        athlete = re.search(r"Demo athlete:\s+token (\S+)", text)
        assert athlete, text
        me = {"Authorization": f"Bearer {athlete.group(1)}"}
        assert httpx.get(f"{url}/v1/me/preferences", headers=me, timeout=10).json()["timezone"]
        snooze = re.search(r"/snooze .*-d '(\{.*\})'", text)
        assert snooze, text
        snoozed = httpx.post(
            f"{url}/v1/me/plans/{plan_id}/snooze",
            headers={**me, "Content-Type": "application/json"},
            content=snooze.group(1),
            timeout=30,
        )
        assert snoozed.status_code == 200 and snoozed.json()["snoozed_until"], snoozed.text

        assert httpx.get(f"http://localhost:{ui_port}/", timeout=10).status_code == 200
        # The metrics addresses, as printed, answer: the service's, the Temporal SDK's and the API's.
        printed_metrics = re.search(r"Metrics:\s+service (\S+)\s+Temporal SDK (\S+)\s+HTTP API (\S+)", text)
        assert printed_metrics, text
        assert printed_metrics.groups() == (
            f"http://localhost:{metrics_port}/metrics",
            f"http://127.0.0.1:{sdk_metrics_port}/metrics",
            f"{url}/metrics",
        )
        assert "coach_notifications_total" in httpx.get(printed_metrics.group(1), timeout=10).text
        assert "temporal_" in httpx.get(printed_metrics.group(2), timeout=10).text
        assert "coach_http_requests_total" in httpx.get(printed_metrics.group(3), timeout=10).text
        status = subprocess.run(
            [sys.executable, "-m", "starter.cli", "plan", "status", plan_id],
            env={**env, "TEMPORAL_ADDRESS": f"localhost:{port}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert f"Plan {plan_id}: active" in status.stdout and "plan_evening_brief" in status.stdout
        exports = re.search(r"export COACH_API=(\S+) COACH_SERVICE_TOKEN=(\S+) ATHLETE_JWT=(\S+)", text)
        assert exports and exports.groups() == (url, token, athlete.group(1)), text
    finally:
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 0
    assert "Stopped: the worker, the HTTP API and the embedded Temporal server." in run.stdout.read()
    with socket.socket() as sock:  # the embedded dev server went with it
        assert sock.connect_ex(("127.0.0.1", port)) != 0
