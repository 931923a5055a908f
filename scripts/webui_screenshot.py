"""Screenshot the Temporal Web UI's page of the demo plan, as a newcomer sees it after `make run`.

Starts `coach run` in a scratch directory (its own ports, payloads encrypted with a fresh development key, so the
page is decoded through the HTTP API's codec server), lets the demo plan send its kickoff, then takes headless
Chromium screenshots (Debian's ``chromium``; ``apt-get install chromium``) of the plan's workflow page and the
workflow list, and stops everything. Usage::

    python scripts/webui_screenshot.py [OUT_DIR]      # default: ./var/screenshots

Prints the files written. Look at ``workflow.png``: the summary line (plan, time zone, tone) and the current details
(the next notifications, their times and why; what went out lately and why) answer "why did this go out then, and
why not that" without a database query.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise SystemExit("chromium not found: apt-get update && apt-get install -y chromium")


def screenshot(browser: str, url: str, out: Path, profile: Path) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1600,2200",
            "--virtual-time-budget=20000",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )


def wait_for_ui(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the Web UI did not answer at {url}")


def main(out_dir: Path) -> int:
    browser = chromium()
    out_dir.mkdir(parents=True, exist_ok=True)
    ui_port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "COACH_DEV_SERVER_PORT": str(free_port()),
            "COACH_DEV_SERVER_UI_PORT": str(ui_port),
            "COACH_API_PORT": str(free_port()),
            "COACH_DATABASE_URL": f"sqlite+aiosqlite:///{scratch}/var/coach.db",
            "COACH_DEV_PAYLOAD_KEYS_FILE": f"{scratch}/var/payload-keys",
        }
        env.pop("TEMPORAL_ADDRESS", None)
        run = subprocess.Popen(
            [sys.executable, "-m", "starter.cli", "run"],
            cwd=scratch,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert run.stdout is not None
            printed = []
            for line in run.stdout:
                printed.append(line)
                if line.startswith("Press Ctrl-C"):
                    break
            text = "".join(printed)
            match = re.search(r"Open it:\s+(\S+)", text)
            if not match:
                raise SystemExit(f"coach run did not start:\n{text}")
            page = match.group(1)
            ui = f"http://localhost:{ui_port}"
            wait_for_ui(ui, time.monotonic() + 60)
            time.sleep(3)  # the kickoff goes out: the page then shows something sent as well as what is next
            shots = {
                "workflow.png": page,
                "workflows.png": f"{ui}/namespaces/default/workflows",
            }
            for name, url in shots.items():
                screenshot(browser, url, out_dir / name, Path(scratch) / "chromium")
                sys.stdout.write(f"{out_dir / name}  ({url})\n")
        finally:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("var/screenshots")))
