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

import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
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


class DevTools:
    """The least of the Chrome DevTools Protocol over a WebSocket (stdlib only): send a command, read its answer."""

    def __init__(self, ws_url: str) -> None:
        parts = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += self.sock.recv(4096)
        if b" 101 " not in answer.split(b"\r\n", 1)[0]:
            raise SystemExit(f"DevTools refused the WebSocket: {answer[:200]!r}")
        self.buffer = answer.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict[str, object]:
        self.next_id += 1
        data = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        mask = os.urandom(4)
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        while True:
            message = json.loads(self._frame())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"DevTools {method}: {message['error']}")
                return dict(message.get("result", {}))

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise SystemExit("DevTools closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _frame(self) -> bytes:
        payload = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload += self._read(length)
            if first & 0x80:  # FIN
                return payload


def screenshot(browser: str, url: str, out: Path, profile: Path, wait_for: str, tab: str | None = None) -> None:
    """Open ``url`` in headless Chromium (clicking the tab named ``tab``), wait (real time) until the page shows
    ``wait_for``, save a PNG (and the page's text beside it)."""
    port = free_port()
    chrome = subprocess.Popen(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "--window-size=1600,2400",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                    pages = [t for t in json.load(answer) if t.get("type") == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("chromium's DevTools did not answer")
            time.sleep(0.5)
        tools = DevTools(pages[0]["webSocketDebuggerUrl"])
        tools.call("Page.navigate", url=url)
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline:
            time.sleep(2)
            if tab is not None:
                tools.call("Runtime.evaluate", expression=_CLICK % json.dumps(tab))
            result = tools.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
            text = str(dict(result.get("result", {})).get("value", ""))  # type: ignore[call-overload]
            if wait_for in text:
                break
        else:
            sys.stderr.write(f"warning: {url} never showed {wait_for!r}; the screenshot shows what it did\n")
        time.sleep(5)  # the last requests (the codec's decodes) land and the Markdown renders
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        out.write_bytes(base64.b64decode(str(shot["data"])))
        (out.with_suffix(".txt")).write_text(text)
    finally:
        chrome.terminate()
        try:
            chrome.wait(timeout=30)
        except subprocess.TimeoutExpired:
            chrome.kill()


#: Click the first link, button or tab whose text starts with the given one (the Web UI's tabs are links).
_CLICK = """[...document.querySelectorAll('a,button,[role=tab]')]
  .find(e => e.innerText && e.innerText.trim().startsWith(%s))?.click()"""


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
                # The event history: timers and activities named for their notifications, payloads decoded.
                "workflow.png": (page, "deliver · ", "Event History"),
                # User Metadata: the summary and the current details (next notifications and why; lately and why).
                "workflow-details.png": (page, "Current Details", "User Metadata"),
                "workflows.png": (f"{ui}/namespaces/default/workflows", "coaching-plan-", None),
            }
            for name, (url, wait_for, tab) in shots.items():
                screenshot(browser, url, out_dir / name, Path(scratch) / "chromium", wait_for, tab)
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
