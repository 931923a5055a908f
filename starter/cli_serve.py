"""`coach worker` and `coach api`: the service's two long-running processes in production (``coach run`` runs both
in one process for development, through :func:`start_http` and :func:`worker.run_worker`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
from typing import Any

from starter.cli_args import UsageError
from starter.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``coach worker`` and ``coach api`` on the top-level subparsers."""
    sub.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS (production)")
    sub.add_parser("api", help="serve the HTTP API (COACH_API_HOST/PORT, COACH_SERVICE_TOKEN)")


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from starter.temporal import connect
    from worker import run_worker

    client = await connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(client, settings, stop)
    return 0


async def start_http(
    plans: Any,
    store: Any,
    token: str,
    settings: Settings,
    jwt_secret: str | None,
    *,
    port: int | None = None,
    codec: tuple[Any, str, list[str]] | None = None,
) -> tuple[asyncio.Task[None], str]:
    """Serve the HTTP API in this process; its task and base URL (any free port when the configured one is taken).

    ``codec``: (payload codec, codec token, CORS origins) for the codec server at ``/codec``.
    """
    from starter.api import create_app, make_server

    if port is None:
        port = 0 if port_open(settings.api_port) else settings.api_port
    payload_codec, codec_token, codec_origins = codec or (None, None, [])
    app = create_app(
        plans,
        service_token=token,
        store=store,
        jwt_secret=jwt_secret,
        jwt_issuer=settings.jwt_issuer,
        jwt_audience=settings.jwt_audience,
        jwt_role=settings.jwt_role,
        max_body_bytes=settings.api_max_body_bytes,
        codec=payload_codec,
        codec_token=codec_token,
        codec_origins=codec_origins,
    )
    server = make_server(app, host=settings.api_host, port=port)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # it failed to start: raise why
            raise RuntimeError("the HTTP API stopped while starting")
        await asyncio.sleep(0.05)
    host, bound = server.servers[0].sockets[0].getsockname()[:2]
    return task, f"http://{host}:{bound}"


async def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """The HTTP API on its own (production: beside `coach worker` processes)."""
    from activities.database import make_engine, make_sessionmaker
    from activities.store import Store
    from starter.client import PlanNotifications
    from starter.temporal import connect, payload_converter

    if settings.service_token is None or len(settings.service_token.get_secret_value()) < 16:
        raise UsageError("COACH_SERVICE_TOKEN: set a service token (16+ characters) for the core API to use")
    converter = payload_converter(settings)
    client = await connect(data_converter=converter)
    codec = None
    if settings.codec_token is not None and converter.payload_codec is not None:
        codec = (converter.payload_codec, settings.codec_token.get_secret_value(), settings.codec_cors_origins)
    plans = PlanNotifications(client, settings.workflow_config(), task_queue=settings.task_queue)
    # A request holds a connection for one short query: the worker's pool rules (no ping per checkout) fit here too.
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, pre_ping=settings.db_pool_pre_ping)
    try:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        task, url = await start_http(
            plans,
            Store(make_sessionmaker(engine)),
            settings.service_token.get_secret_value(),
            settings,
            secret,
            codec=codec,
        )
        print(f"HTTP API listening on {url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await engine.dispose()
    return 0


def port_open(port: int) -> bool:
    """Whether something listens on ``port`` of this host."""
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A port of this host nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
