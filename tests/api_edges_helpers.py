"""A server and a raw HTTP client for the API's edge tests (``test_api_edges*.py``).

uvicorn on loopback behind a counter of the body bytes the application asked for; a request whose body is sent (or
not) at the test's pace; started plans and the signals that reached them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from activities.demo import create_demo_plan
from coaching.timeutil import to_local
from starter.api import make_server
from starter.sandbox import Stack, wait_for
from tests.test_api import NY


class BodyCounter:
    """ASGI wrapper in front of the application: the body bytes it asked the server for, i.e. what it read."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@dataclass
class Server:
    url: str
    counter: BodyCounter


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[Server]:
    counter = BodyCounter(app)
    server = make_server(counter, host="127.0.0.1", port=0, log_level="warning")  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: _started(server, task))
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Server(f"http://127.0.0.1:{port}", counter)
    finally:
        server.should_exit = True
        await task


async def _started(server: Any, task: asyncio.Task[None]) -> bool:
    if task.done():
        raise AssertionError(f"uvicorn stopped before it started: {task.exception()!r}")
    return bool(server.started)


async def started_plan(stack: Stack, user_id: str | None = None) -> int:
    now = await stack.now()
    today = to_local(now, NY).date()
    plan_id = await create_demo_plan(
        stack.store,
        user_id=user_id,
        timezone=NY,
        start_date=today,
        sessions=[{"scheduled_date": today + timedelta(days=2), "scheduled_start_time": "07:30"}],
        created_at=now,
    )
    await stack.plans.start_plan(plan_id)
    return plan_id


async def signals_of(stack: Stack, plan_id: int) -> int:
    """How many signals reached the plan's workflow."""
    count = 0
    async for event in stack.plans.handle(plan_id).fetch_history_events():
        count += event.HasField("workflow_execution_signaled_event_attributes")
    return count


# ---- raw HTTP: a request whose body is sent (or not) at the test's pace ------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def exchange(url: str, head: str, body: Iterable[bytes] = ()) -> Answer:
    """Send ``head`` (request line and headers) and then ``body`` (nothing more: a body the head announces as longer
    is never finished), and read the answer. A server that waited for the rest of the body would never answer (the
    guard below would fail the test)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        for chunk in body:
            writer.write(chunk)
        await writer.drain()
        return await asyncio.wait_for(_read_answer(reader), timeout=30)
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    status = int((await reader.readline()).split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


def post_head(path: str, length: int | None, authorization: str | None = None) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return "\n".join(lines) + "\n"


def error_code(answer: Answer) -> str:
    assert answer.headers["content-type"].startswith("application/json")
    return str(answer.json()["error"]["code"])


#: The issuer of the production configuration (Supabase Auth).
ISSUER = "https://project-ref.supabase.co/auth/v1"
