"""A local fake of the OpenAI Chat Completions API (`POST /v1/chat/completions`).

It speaks the real wire format, so the real `openai.AsyncOpenAI` client can be pointed at it with
`base_url=fake.base_url` (which ends in `/v1`). Every request is recorded (headers and JSON body), whatever
the answer, and the answer is switchable:

* `"ok"`: a real-shaped `chat.completion` whose message content is `{"title": ..., "body": ...}` as JSON
  (set with `reply(title, body)`), or any raw content string (`reply_raw(text)`, e.g. fenced JSON);
* `"malformed"`: content that is not JSON;
* `"overlong"`: valid JSON whose title and body exceed the 50/120-character limits;
* `"refusal"`: `content: null` and a `refusal` message, as structured outputs do;
* `"slow"`: waits `delay` seconds (released early by `stop()`), then answers like "ok";
* `"rate_limited"`: 429 with `Retry-After` and OpenAI's `rate_limit_exceeded` error body;
* `"server_error"`: 500 with OpenAI's `server_error` body.

Use it as a context manager; it serves on 127.0.0.1 with an ephemeral port from a background thread.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from tests.fakes.server import LoopbackServer

Behaviour = Literal["ok", "malformed", "overlong", "refusal", "slow", "rate_limited", "server_error"]

RATE_LIMIT_BODY: dict[str, Any] = {
    "error": {
        "message": (
            "Rate limit reached for gpt-4o-mini in organization org-test on requests per min (RPM): Limit 3, "
            "Used 3, Requested 1. Please try again in 20s."
        ),
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
SERVER_ERROR_BODY: dict[str, Any] = {
    "error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}


@dataclass
class RecordedRequest:
    """One request the fake received (any path, any outcome)."""

    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any  # the parsed JSON, or None when it was not JSON


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    behaviour: Behaviour = "ok"
    content: str = json.dumps({"title": "Pack up tonight", "body": "Tomorrow's ruck is set. Lay out your gear."})
    delay: float = 2.0
    retry_after: str = "20"
    requests: list[RecordedRequest] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class FakeOpenAI(LoopbackServer):
    """The fake server. Switch its behaviour; read back what it received.

    >>> with FakeOpenAI() as api:
    ...     api.reply("Move out", "Ruck day. 8 km under load.")
    ...     api.set_behaviour("rate_limited")
    """

    thread_name = "fake-openai"

    def __init__(self) -> None:
        self._state = _State()
        super().__init__(_make_handler(self._state))

    # ---- lifecycle -----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to pass as the client's `base_url`."""
        return f"{self.origin}/v1"

    def _before_stop(self) -> None:
        self._state.released.set()  # let any "slow" handler finish now

    # ---- configuration -------------------------------------------------------------------------------------

    def set_behaviour(self, behaviour: Behaviour) -> None:
        with self._state.lock:
            self._state.behaviour = behaviour

    def reply(self, title: str, body: str) -> None:
        """Answer successfully with this title and body (as the JSON the schema asks for)."""
        self.reply_raw(json.dumps({"title": title, "body": body}))

    def reply_raw(self, content: str) -> None:
        """Answer successfully with this exact message content (fenced JSON, placeholders, ...)."""
        with self._state.lock:
            self._state.behaviour = "ok"
            self._state.content = content

    def set_delay(self, seconds: float) -> None:
        """How long a "slow" answer stalls (to provoke client timeouts)."""
        with self._state.lock:
            self._state.delay = seconds

    def set_retry_after(self, value: str) -> None:
        with self._state.lock:
            self._state.retry_after = value

    # ---- observation ---------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in arrival order (a copy)."""
        with self._state.lock:
            return list(self._state.requests)


def _completion(state: _State, model: str, content: str | None, refusal: str | None = None) -> dict[str, Any]:
    with state.lock:
        number = next(state.counter)
    return {
        "id": f"chatcmpl-fake{number:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 180,
            "completion_tokens": 32,
            "total_tokens": 212,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default per-request stderr logging."""

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _error(self, status: int, message: str, kind: str, code: str | None = None) -> None:
            self._reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = None
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.requests.append(RecordedRequest(path, dict(self.headers.items()), raw, body))
                behaviour, content = state.behaviour, state.content
                delay, retry_after = state.delay, state.retry_after
            if path != "/v1/chat/completions":
                self._error(404, f"Invalid URL (POST {path})", "invalid_request_error")
                return
            if not self.headers.get("Authorization", "").startswith("Bearer "):
                self._error(401, "You didn't provide an API key.", "invalid_request_error")
                return
            if not isinstance(body, dict) or "model" not in body or not body.get("messages"):
                self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
                return
            model = str(body["model"])
            if behaviour == "slow":
                state.released.wait(delay)
                behaviour = "ok"
            if behaviour == "rate_limited":
                self._reply(429, RATE_LIMIT_BODY, {"Retry-After": retry_after, "x-ratelimit-remaining-requests": "0"})
            elif behaviour == "server_error":
                self._reply(500, SERVER_ERROR_BODY)
            elif behaviour == "malformed":
                self._reply(200, _completion(state, model, '{"title": "Move out", "body": "Ruck day'))
            elif behaviour == "overlong":
                overlong = json.dumps({"title": "Go " * 30, "body": "Keep going strong today. " * 10})
                self._reply(200, _completion(state, model, overlong))
            elif behaviour == "refusal":
                self._reply(200, _completion(state, model, None, "I'm sorry, I can't help with that."))
            else:
                self._reply(200, _completion(state, model, content))

    return Handler
