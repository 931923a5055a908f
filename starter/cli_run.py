"""`coach run` (`make run`): the development stack in one process. A Temporal dev server with its Web UI (or one
already listening), a worker, the HTTP API with its codec server and a demo plan, with a summary of how to reach each;
Ctrl-C stops all of it. What the run keeps between runs and does around the demo is in :mod:`starter.devrun`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coaching.ids import SEARCH_ATTRIBUTE_STATUS, SEARCH_ATTRIBUTES, plan_workflow_id
from coaching.models import PlanStatusResult
from starter.cli_plan import format_status
from starter.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def add_parser(sub: Any) -> None:
    """Register ``coach run`` on the top-level subparsers."""
    run = sub.add_parser("run", help="dev server + worker + a demo plan, with the Web UI")
    run.add_argument(
        "--demo-timezone",
        default=os.environ.get("COACH_DEMO_TIMEZONE", "America/New_York"),
        help="the demo athlete's time zone (default COACH_DEMO_TIMEZONE, else America/New_York)",
    )
    run.add_argument("--exit-after", type=float, default=None, help="stop after N seconds (smoke tests)")


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import jwt
    from temporalio.testing import WorkflowEnvironment

    from activities.database import make_engine, make_sessionmaker
    from activities.demo import create_demo_plan
    from activities.store import Store
    from coaching.timeutil import to_local
    from starter.cli_serve import free_port, port_open, start_http
    from starter.client import PlanNotifications
    from starter.devrun import (
        LOG_FILE,
        TEMPORAL_LOG_FILE,
        child_output_to,
        demo_sessions,
        dev_secrets,
        log_to_file,
        register_search_attributes,
        seed_demo_rucks,
        ui_origins,
        upgrade_dev_database,
    )
    from starter.temporal import connect, find_binary, payload_converter, search_attribute_keys
    from worker import run_worker

    Path("var").mkdir(exist_ok=True)
    log_to_file()  # the terminal shows the summary below (and warnings); the rest goes to var/
    kept = dev_secrets()  # the same service token, JWT secret and demo athlete on every run
    await upgrade_dev_database(settings)
    # Payloads sealed with COACH_PAYLOAD_KEYS, else with a development key kept in var/ (a restart still opens
    # the histories); the dev server's Web UI decodes them through the HTTP API's codec server.
    converter = payload_converter(settings, create_dev_key=True)
    api_port = free_port() if port_open(settings.api_port) else settings.api_port
    codec_token = settings.codec_token.get_secret_value() if settings.codec_token else secrets.token_urlsafe(24)
    codec_endpoint = f"http://{settings.api_host}:{api_port}/codec/{codec_token}"
    env: WorkflowEnvironment | None = None
    if port_open(settings.dev_server_port):
        print(f"Temporal already listening on localhost:{settings.dev_server_port}; using it")
        client = await connect(f"localhost:{settings.dev_server_port}", data_converter=converter)
        # A server started elsewhere may lack them; the one started below gets them at start-up.
        await register_search_attributes(client, client.namespace)
    else:
        with child_output_to():  # the dev server's banner and log lines go to var/, not the terminal
            env = await WorkflowEnvironment.start_local(
                port=settings.dev_server_port,
                ui=True,
                ui_port=settings.dev_server_ui_port,
                data_converter=converter,
                dev_server_existing_path=find_binary("temporal"),
                dev_server_database_filename=settings.dev_server_db,
                search_attributes=search_attribute_keys(),
                dev_server_extra_args=["--ui-codec-endpoint", codec_endpoint] if converter.payload_codec else [],
            )
        client = env.client

    stop = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    http_task: asyncio.Task[None] | None = None
    http_engine: AsyncEngine | None = None
    try:
        engine = make_engine(settings.database_url)
        store = Store(make_sessionmaker(engine))
        now = to_local(datetime.now(UTC), args.demo_timezone)
        athlete = kept.demo_user_id
        plan_id = await create_demo_plan(
            store,
            user_id=athlete,
            timezone=args.demo_timezone,
            start_date=now.date() + timedelta(days=1),
            sessions=demo_sessions(now),
            tone="Drill Sergeant",
            quiet_hours=(22 * 60, 5 * 60),
        )
        # A few weeks of the demo athlete's rucks (first run only), so the learned window shows in the schedule.
        await seed_demo_rucks(store, athlete, args.demo_timezone, now.date())
        await engine.dispose()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker_task = asyncio.create_task(run_worker(client, settings, stop))
        api = PlanNotifications(client, settings.workflow_config(), task_queue=settings.task_queue)
        await api.start_plan(plan_id, timezone=args.demo_timezone, tone="drill_sergeant")
        status = await _wait_for_status(api, plan_id)
        # The HTTP API beside the worker; a development run without a token gets a fresh one, printed below.
        configured = settings.service_token.get_secret_value() if settings.service_token else ""
        token = configured if len(configured) >= 16 else kept.service_token
        # Likewise a JWT secret, so the demo athlete's token (printed) works on the athlete endpoints. A configured
        # secret may be the real Supabase one: no token signed with it is ever printed.
        jwt_secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else kept.jwt_secret
        athlete_token = None
        if settings.jwt_secret is None:
            # Shaped like Supabase's, with the claims the API is configured to require.
            claims = {
                "sub": athlete,
                "aud": settings.jwt_audience or "authenticated",
                "role": settings.jwt_role or "authenticated",
                "exp": datetime.now(UTC) + timedelta(hours=24),
            }
            if settings.jwt_issuer:
                claims["iss"] = settings.jwt_issuer
            athlete_token = jwt.encode(claims, jwt_secret, algorithm="HS256")
        http_engine = make_engine(settings.database_url)
        codec = (converter.payload_codec, codec_token, ui_origins(settings))
        http_task, http_url = await start_http(
            api, Store(make_sessionmaker(http_engine)), token, settings, jwt_secret, port=api_port, codec=codec
        )
        print_run_summary(
            settings, client.namespace, plan_id, args.demo_timezone, status, (http_url, token, athlete_token)
        )
        print(f"Demo athlete id:  {athlete}  (its learned window: {_coach_command()} cadence analyze {athlete})")
        print(f"Logs:             {LOG_FILE} (worker, API), {TEMPORAL_LOG_FILE} (Temporal dev server)", flush=True)
        _print_web_ui_help(settings, codec_endpoint if converter.payload_codec else None, started=env is not None)
        print("Press Ctrl-C to stop.", flush=True)
        if args.exit_after is not None:
            loop.call_later(args.exit_after, stop.set)
        await stop.wait()
    finally:
        # Whatever happened, stop the worker and the embedded server we started: nothing is left running.
        stop.set()
        if http_task is not None:
            http_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await http_task
        if http_engine is not None:
            await http_engine.dispose()
        if worker_task is not None:
            await worker_task
        if env is not None:
            await env.shutdown()
    print("Stopped: the worker, the HTTP API and the embedded Temporal server.", flush=True)
    return 0


def print_run_summary(
    settings: Settings,
    namespace: str,
    plan_id: int,
    tz: str,
    status: PlanStatusResult,
    http: tuple[str, str, str | None],
) -> None:
    """What the run started and how to use it: the Web UI, the demo plan and its schedule, the HTTP API with its
    tokens (``http``: the base URL, the service token, the demo athlete's token when the run signed one)."""
    ui = f"http://localhost:{settings.dev_server_ui_port}"
    print(f"Temporal Web UI:  {ui}")
    print(f"Demo plan id:     {plan_id}  (workflow {plan_workflow_id(plan_id)}, time zone {tz})")
    print(f"Open it:          {ui}/namespaces/{namespace}/workflows/{plan_workflow_id(plan_id)}")
    print(f"Its schedule:     {_coach_command()} plan status {plan_id}")
    print(format_status(status))
    url, token, athlete_token = http
    # A ruck finished now: a celebration follows (one from long ago would be too stale to celebrate).
    body = json.dumps({"ruck_id": 1, "completed_at": datetime.now(UTC).isoformat(timespec="seconds")})
    print(f"HTTP API:         {url}  (docs {url}/docs; service token {token})")
    print(
        f"  e.g. curl -X POST {url}/v1/plans/{plan_id}/sessions/completed -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )
    if athlete_token is None:
        print("Demo athlete:     COACH_JWT_SECRET is set: sign the demo athlete's token yourself (none is printed)")
        print(f"For the README's curl examples: export COACH_API={url} COACH_SERVICE_TOKEN={token}")
    else:
        print(f"Demo athlete:     token {athlete_token}  (24 h)")
        print(
            f"  e.g. curl -X POST {url}/v1/me/plans/{plan_id}/snooze -H 'Authorization: Bearer {athlete_token}' "
            """-H 'Content-Type: application/json' -d '{"duration_minutes": 120}'"""
        )
        exports = f"export COACH_API={url} COACH_SERVICE_TOKEN={token} ATHLETE_JWT={athlete_token}"
        print(f"For the README's curl examples: {exports}")
    service = _metrics_url(settings.metrics_address) if settings.metrics_address else "off"
    sdk = _metrics_url(settings.temporal_metrics_address) if settings.temporal_metrics_address else "off"
    print(f"Metrics:          service {service}  Temporal SDK {sdk}  HTTP API {url}/metrics")
    print("Push goes to the local outbox (ledger table coach_notification_ledger + log) unless Firebase is configured.")


def _print_web_ui_help(settings: Settings, codec_endpoint: str | None, *, started: bool) -> None:
    """How to make the Web UI's workflow list and payloads useful (README: Operations, the Web UI)."""
    print(f"Web UI columns:   Workflows → Configure Columns → add {', '.join(SEARCH_ATTRIBUTES)}")
    print(f"  e.g. the paused plans: {SEARCH_ATTRIBUTE_STATUS} = 'paused'  (save it as a view; more in the README)")
    if codec_endpoint is None:
        print("Payloads:         in clear (no COACH_PAYLOAD_KEYS, COACH_DEV_PAYLOAD_KEYS_FILE empty)")
    elif started:
        print(f"Payloads:         encrypted (key in {settings.dev_payload_keys_file} unless COACH_PAYLOAD_KEYS);")
        print("  the Web UI decodes them through the HTTP API's codec server (dev server --ui-codec-endpoint)")
    else:
        print(f"Payloads:         encrypted; to read them in the Web UI: Settings → Codec Server → {codec_endpoint}")


async def _wait_for_status(api: Any, plan_id: int) -> PlanStatusResult:
    """The first query can race the first workflow task; poll briefly rather than fail."""
    for _ in range(100):
        status: PlanStatusResult = await api.status(plan_id)
        if status.upcoming or status.status.value != "active":
            return status
        await asyncio.sleep(0.1)
    return status


def _coach_command() -> str:
    """How to run this CLI from a new shell in the current directory (e.g. ``.venv/bin/coach``)."""
    script = Path(sys.executable).parent / "coach"
    if not script.exists():
        return f"{sys.executable} -m starter.cli"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else str(script)


def _metrics_url(address: str) -> str:
    """How to reach a metrics address from this host (``0.0.0.0:9464`` → ``http://localhost:9464/metrics``)."""
    from activities.metrics import split_address

    host, port = split_address(address)
    return f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/metrics"
