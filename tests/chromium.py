"""Headless Chromium (Debian's `chromium`) for the tests of the HTML pages the CLI writes: load a page, return the
DOM after its scripts ran and the console lines Chromium logged. Under CI a missing browser fails the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed (apt-get install -y chromium); CI must run the HTML tests")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def dump_dom(page: Path | str, profile: Path, budget_ms: int = 2000) -> tuple[str, list[str]]:
    """The DOM of ``page`` (a file or a URL) once loaded, and the console messages and uncaught errors Chromium
    logged for it."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            page.as_uri() if isinstance(page, Path) else page,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return result.stdout, console
