"""A Slack-compatible incoming webhook on loopback: records every JSON body posted to it; can answer an error."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.server import LoopbackServer


class FakeWebhook(LoopbackServer):
    thread_name = "fake-webhook"

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.status = 200
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                assert self.headers.get("Content-Type", "").startswith("application/json")
                with fake._lock:
                    fake.posts.append(json.loads(body))
                # Slack answers a plain "ok".
                self.send_response(fake.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"{self.origin}/services/T000/B000/XXXX"

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.posts)
