"""`coach`: run the service, drive plans, inspect their schedule, simulate scenarios.

Exit codes: 0 success, 1 operational failure (e.g. Temporal unreachable), 2 bad input (the message names the field).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from coaching.ids import SEARCH_ATTRIBUTE_STATUS, SEARCH_ATTRIBUTES, plan_workflow_id
from coaching.models import CompletionSource, PlanStatusResult, SessionCompletedInput, WorkflowConfig
from starter.bounds import MAX_ID, OutOfBounds, check_completion, check_text
from starter.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("coach")


class UsageError(Exception):
    """Bad input from the command line: reported on stderr with exit code 2."""


def _configure_logging(settings: Settings, quiet: bool = False) -> None:
    level = "WARNING" if quiet else settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs each request's full URL at INFO, and OpenWeatherMap takes its key (and the place) in the query.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The SDK's own chatter stays at WARNING; activity and workflow loggers carry our messages.
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("temporalio.activity").setLevel(level)
    logging.getLogger("temporalio.workflow").setLevel(level)


def _workflow_config(settings: Settings) -> WorkflowConfig:
    return settings.workflow_config()


def find_binary(name: str) -> str:
    """A Temporal binary installed by its pip package next to this interpreter, or on PATH. Never downloaded."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the project (pip install -e '.[dev]') to get it")
    return found


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(value)} is not a whole number") from None


def _id(value: str) -> int:
    """argparse type for ids: a whole number from 1 to 2,147,483,647 (RuckTracker's ids are 32-bit)."""
    number = _whole_number(value)
    if not 1 <= number <= MAX_ID:
        raise argparse.ArgumentTypeError(
            f"{_shown(value)} is not a valid id: ids are whole numbers from 1 to {MAX_ID:,}"
        )
    return number


def _bounded(low: int, high: int) -> Any:
    """argparse type: a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        number = _whole_number(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{_shown(value)} is not from {low:,} to {high:,}")
        return number

    return parse


def _option(field: str) -> str:
    """How the command line names a field: the positional ``plan_id``, else its flag (``--completed-at``)."""
    return field if field == "plan_id" else f"--{field.replace('_', '-')}"


def _coach_command() -> str:
    """How to run this CLI from a new shell in the current directory (e.g. ``.venv/bin/coach``)."""
    script = Path(sys.executable).parent / "coach"
    if not script.exists():
        return f"{sys.executable} -m starter.cli"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else str(script)


def _address_free(address: str) -> bool:
    """Whether ``host:port`` can be bound now (a metrics port another process holds cannot)."""
    from activities.metrics import split_address

    host, port = split_address(address)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _metrics_url(address: str) -> str:
    """How to reach a metrics address from this host (``0.0.0.0:9464`` → ``http://localhost:9464/metrics``)."""
    from activities.metrics import split_address

    host, port = split_address(address)
    return f"http://{'localhost' if host in ('0.0.0.0', '::') else host}:{port}/metrics"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- coach run ----------------------------------------------------------------------------------------------


async def _register_search_attributes(client: Any, namespace: str) -> None:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.service import RPCError

    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    }
    request = AddSearchAttributesRequest(
        namespace=namespace, search_attributes={k: kinds[v] for k, v in SEARCH_ATTRIBUTES.items()}
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as err:
        if "already" not in str(err).lower():
            raise


def _demo_sessions(today: datetime) -> list[dict[str, Any]]:
    """Two weeks of a 'Get Faster' plan starting tomorrow: an early tempo ruck, an evening one, a weekend long one."""
    start = today.date() + timedelta(days=1)
    sessions: list[dict[str, Any]] = []
    pattern = [(0, "Tempo Ruck", "05:30", 5.0), (2, "Hill Ruck", "18:00", 6.0), (5, "Long Ruck", None, 12.0)]
    for week in range(2):
        for offset, kind, start_time, km in pattern:
            sessions.append(
                {
                    "scheduled_date": start + timedelta(days=7 * week + offset),
                    "planned_session_type": kind,
                    "planned_week": week + 1,
                    "scheduled_start_time": start_time,
                    "target_distance_km": km,
                }
            )
    return sessions


async def _upgrade_dev_database(settings: Settings) -> None:
    """Install or migrate the run's database. A local SQLite file of the pre-release layout cannot be upgraded in
    place: it is kept beside, renamed, and a new one is made (say so)."""
    from sqlalchemy.engine import make_url

    from activities.migrate import PreReleaseDatabaseError, upgrade_database

    try:
        await upgrade_database(settings.database_url, settings.database_mode)
        return
    except PreReleaseDatabaseError as exc:
        url = make_url(settings.database_url)
        path = Path(url.database or "") if url.get_backend_name() == "sqlite" else None
        if path is None or not path.is_file():
            raise UsageError(str(exc)) from exc
        kept = path.with_name(f"{path.name}.pre-release-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        for suffix in ("-wal", "-shm", ""):  # the write-ahead log holds committed rows too: it goes along
            if Path(f"{path}{suffix}").exists():
                Path(f"{path}{suffix}").rename(f"{kept}{suffix}")
        print(f"{path} had the pre-release layout (not upgradable); kept it as {kept} and started a new one")
    await upgrade_database(settings.database_url, settings.database_mode)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import jwt
    from temporalio.testing import WorkflowEnvironment

    from activities.database import make_engine, make_sessionmaker
    from activities.demo import create_demo_plan
    from activities.store import Store
    from coaching.timeutil import to_local
    from starter.client import PlanNotifications
    from starter.devrun import LOG_FILE, TEMPORAL_LOG_FILE, child_output_to, dev_secrets, log_to_file, seed_demo_rucks
    from starter.temporal import connect, payload_converter, search_attribute_keys
    from worker import run_worker

    Path("var").mkdir(exist_ok=True)
    log_to_file()  # the terminal shows the summary below (and warnings); the rest goes to var/
    kept = dev_secrets()  # the same service token, JWT secret and demo athlete on every run
    await _upgrade_dev_database(settings)
    # Payloads sealed with COACH_PAYLOAD_KEYS, else with a development key kept in var/ (a restart still opens
    # the histories); the dev server's Web UI decodes them through the HTTP API's codec server.
    converter = payload_converter(settings, create_dev_key=True)
    api_port = _free_port() if _port_open(settings.api_port) else settings.api_port
    codec_token = settings.codec_token.get_secret_value() if settings.codec_token else secrets.token_urlsafe(24)
    codec_endpoint = f"http://{settings.api_host}:{api_port}/codec/{codec_token}"
    env: WorkflowEnvironment | None = None
    if _port_open(settings.dev_server_port):
        print(f"Temporal already listening on localhost:{settings.dev_server_port}; using it")
        client = await connect(f"localhost:{settings.dev_server_port}", data_converter=converter)
        # A server started elsewhere may lack them; the one started below gets them at start-up.
        await _register_search_attributes(client, client.namespace)
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
            sessions=_demo_sessions(now),
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
        api = PlanNotifications(client, _workflow_config(settings), task_queue=settings.task_queue)
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
        codec = (converter.payload_codec, codec_token, _ui_origins(settings))
        http_task, http_url = await _start_http(
            api, Store(make_sessionmaker(http_engine)), token, settings, jwt_secret, port=api_port, codec=codec
        )
        _print_run_summary(
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


def _print_run_summary(
    settings: Settings,
    namespace: str,
    plan_id: int,
    tz: str,
    status: PlanStatusResult,
    http: tuple[str, str, str | None],
) -> None:

    ui = f"http://localhost:{settings.dev_server_ui_port}"
    print(f"Temporal Web UI:  {ui}")
    print(f"Demo plan id:     {plan_id}  (workflow {plan_workflow_id(plan_id)}, time zone {tz})")
    print(f"Open it:          {ui}/namespaces/{namespace}/workflows/{plan_workflow_id(plan_id)}")
    print(f"Its schedule:     {_coach_command()} plan status {plan_id}")
    print(_format_status(status))
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


def _ui_origins(settings: Settings) -> list[str]:
    """The configured Web UI origins, and the dev server's own UI (whatever its port)."""
    ui = settings.dev_server_ui_port
    return list(dict.fromkeys([*settings.codec_cors_origins, f"http://localhost:{ui}", f"http://127.0.0.1:{ui}"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


async def _start_http(
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
        port = 0 if _port_open(settings.api_port) else settings.api_port
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
    plans = PlanNotifications(client, _workflow_config(settings), task_queue=settings.task_queue)
    # A request holds a connection for one short query: the worker's pool rules (no ping per checkout) fit here too.
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, pre_ping=settings.db_pool_pre_ping)
    try:
        secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        task, url = await _start_http(
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


# --- coach plan … -------------------------------------------------------------------------------------------


def _format_status(status: PlanStatusResult) -> str:
    lines = [
        f"Plan {status.plan_id}: {status.status.value} ({status.timezone}); "
        f"{status.sent} sent, {status.skipped} skipped, {status.completions} completion(s)"
    ]
    if not status.upcoming:
        lines.append("  nothing upcoming")
    for n in status.upcoming:
        lines.append(f"  {n.send_at_local:<26} {n.type.value:<28} {n.reason}")
    return "\n".join(lines)


def _shown(value: str) -> str:
    """An argument as an error message quotes it: its repr (control characters escaped), at most 100 characters."""
    return repr(value if len(value) <= 100 else value[:99] + "…")


def _parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{field}: {_shown(value)} is not an ISO 8601 time (e.g. 2026-11-24T06:30:00-05:00)") from exc
    if parsed.tzinfo is None:
        raise UsageError(f"{field}: {_shown(value)} has no UTC offset; add one (e.g. Z or -05:00)")
    return parsed


async def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    from temporalio.client import WorkflowExecutionStatus

    from starter.client import PlanNotFoundError, PlanNotifications, PlanWorkflowClosedError
    from starter.temporal import connect

    if args.plan_cmd == "history":  # the database alone: it answers with Temporal down too
        return await _plan_history(args, settings)
    # Check the input before reaching for the server, so a typo is reported as such (exit 2) even when it is down.
    completion = _completion(args) if args.plan_cmd == "completed" else None
    if hasattr(args, "reason"):
        _checked(lambda: check_text(args.reason, "reason"))
    client = await connect()
    api = PlanNotifications(client, _workflow_config(settings), task_queue=settings.task_queue)
    try:
        if args.plan_cmd == "start":
            # Like the HTTP API: a plan must be in the database before its workflow starts (nothing is started).
            if not await _plan_in_database(settings, args.plan_id):
                raise UsageError(f"plan {args.plan_id}: plan_not_found: no such row in user_coaching_plans")
            handle = await api.start_plan(args.plan_id)
            # A plan that cannot run (e.g. missing from the database) fails within moments: report that, not
            # "running". Waits at most a few seconds, less once the workflow has loaded the plan.
            execution = await api.wait_until_settled(args.plan_id, timeout=args.wait)
            state = "completed" if execution is WorkflowExecutionStatus.COMPLETED else "running"
            print(f"plan {args.plan_id}: workflow {handle.id} {state}")
        elif completion is not None:
            await api.session_completed(args.plan_id, completion)
            print(f"plan {args.plan_id}: ruck {args.ruck_id} reported completed")
        elif args.plan_cmd == "status":
            status = await api.status(args.plan_id)
            print(status.model_dump_json(indent=2) if args.json else _format_status(status))
        else:
            if args.plan_cmd == "sessions-changed":
                in_database = await _plan_in_database(settings, args.plan_id)
                if await api.sessions_changed(args.plan_id, args.reason, start_if_ended=in_database):
                    print(f"plan {args.plan_id}: its workflow had ended; started again with the new sessions")
                    return 0
            else:
                action = {"pause": api.pause, "resume": api.resume, "cancel": api.cancel, "complete": api.complete}
                await action[args.plan_cmd](args.plan_id, args.reason)
            print(f"plan {args.plan_id}: {args.plan_cmd} sent")
    except (PlanNotFoundError, PlanWorkflowClosedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


async def _plan_history(args: argparse.Namespace, settings: Settings) -> int:
    from starter.history import PlanNotInDatabase, plan_history, render_history

    try:
        rows = await plan_history(settings, args.plan_id)
    except PlanNotInDatabase as exc:
        raise UsageError(str(exc)) from exc
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2, ensure_ascii=False))
    else:
        print(render_history(args.plan_id, rows))
    return 0


async def _plan_in_database(settings: Settings, plan_id: int) -> bool:
    from activities.analytics_store import AnalyticsStore
    from activities.database import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        return await AnalyticsStore(make_sessionmaker(engine)).plan_owner(plan_id) is not None
    finally:
        await engine.dispose()


def _completion(args: argparse.Namespace) -> SessionCompletedInput:
    now = datetime.now(UTC)
    try:
        completion = SessionCompletedInput(
            ruck_id=args.ruck_id,
            completed_at=_parse_time(args.completed_at, "--completed-at") if args.completed_at else now,
            source=CompletionSource(args.source),
            plan_session_id=args.plan_session_id,
            distance_km=args.distance_km,
            duration_seconds=args.duration_seconds,
        )
    except ValidationError as exc:
        # Name the command-line flags, not the model's fields.
        raise UsageError(
            "; ".join(f"--{'.'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors())
        ) from exc
    # The bounds the Python client checks again when it sends (starter.bounds): here they name the flag.
    return _checked(lambda: check_completion(completion, now))


_T = TypeVar("_T")


def _checked(check: Callable[[], _T]) -> _T:
    """``check()``, with a value out of bounds reported as bad input naming the option (exit 2)."""
    try:
        return check()
    except OutOfBounds as exc:
        raise UsageError(f"{_option(exc.field)}: {exc.reason}") from None


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors())


async def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from activities.migrate import DatabaseSetupError, downgrade_database, upgrade_database
    from activities.schema_check import check_database, format_report

    mode = args.mode or settings.database_mode
    try:
        if args.db_cmd == "upgrade":
            installed = await upgrade_database(settings.database_url, mode)
            print(f"database at head ({installed} mode)")
            return 0
        if args.db_cmd == "downgrade":
            installed = await downgrade_database(settings.database_url, mode)
            what = "the service's tables" if installed == "rucktracker" else "the service's tables and the stand-ins"
            print(f"removed {what} ({installed} mode)")
            return 0
    except DatabaseSetupError as exc:
        raise UsageError(str(exc)) from exc
    report = await check_database(settings.database_url)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report))
    return 0 if report.ok else 1


async def cmd_rollout(args: argparse.Namespace, settings: Settings) -> int:
    from starter.cli_rollout import RolloutUsageError, cmd_rollout

    try:
        return await cmd_rollout(args, settings)
    except RolloutUsageError as exc:
        raise UsageError(str(exc)) from None


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


async def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from starter.simulate import ScenarioError, render_timeline, run_many, scenario_paths

    try:
        paths = scenario_paths(args.scenario)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from exc
    html = Path(args.html) if args.html else None
    if html is not None and len(paths) > 1 and html.suffix.lower() == ".html":
        raise UsageError(f"--html: {len(paths)} scenarios need a folder for their pictures, not the file {html}")
    results = await run_many(paths, settings, jobs=args.jobs)
    failed = bad_input = 0
    shown: list[dict[str, Any]] = []
    for path, result in results:
        if isinstance(result, BaseException):
            bad_input += isinstance(result, ScenarioError)
            failed += 1
            message = str(result) if isinstance(result, ScenarioError) else f"{path}: {type(result).__name__}: {result}"
            print(f"error: {message}", file=sys.stderr)
            continue
        if html is not None:
            from starter.simulate_html import write_html

            out = html if len(paths) == 1 and not html.is_dir() else html / f"{path.stem}.html"
            write_html(result, out, title=path.stem)
            print(f"{path}: picture written to {out}", file=sys.stderr)
        if args.json:
            shown.append({"scenario": str(path), **result.model_dump(mode="json")})
        else:
            if len(paths) > 1:
                print(f"== {path}")
            print(render_timeline(result))
            if len(paths) > 1:
                print()
    if args.json and shown:
        print(json.dumps(shown[0] if len(paths) == 1 and shown else shown, indent=2))
    if failed:
        print(f"{failed} of {len(paths)} scenario(s) failed", file=sys.stderr)
        return 2 if bad_input == failed else 1
    return 0


# --- coach cadence ------------------------------------------------------------------------------------------


async def cmd_cadence(args: argparse.Namespace, settings: Settings) -> int:
    if args.cadence_cmd == "analyze":
        return await _cadence_analyze(args, settings)
    return await _cadence_recompute(args, settings)


async def _cadence_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from activities.cadence_store import CadenceStore
    from activities.database import make_engine, make_sessionmaker

    user_id = _uuid(args.user_id, "USER_ID")
    as_of = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    try:
        store = CadenceStore(make_sessionmaker(engine))
        analysis = (await store.analyze_athletes([user_id], as_of))[user_id]
        samples = (await store.load_samples([user_id], as_of))[user_id] if args.html else []
        changes = await store.save({user_id: analysis}) if args.apply else []
    finally:
        await engine.dispose()
    if args.html:
        from starter.cadence_html import write_cadence_html

        # The page may be shared: it names the athlete by a short prefix of the id, not the whole id.
        write_cadence_html(Path(args.html), f"athlete {user_id[:8]}…", analysis, samples)
        print(f"heatmap written to {args.html}", file=sys.stderr)
    if args.json:
        print(analysis.model_dump_json(indent=2))
    else:
        _print_analysis(user_id, analysis)
    if args.apply:
        from activities.cadence import tell_plans
        from starter.temporal import connect

        told = await tell_plans(await connect(), changes) if changes else 0
        print(f"\nStored for this athlete's live plans; {len(changes)} changed, {told} running workflow(s) told.")
    return 0


def _print_analysis(user_id: str, analysis: Any) -> None:
    from coaching.cadence import WEEKDAYS
    from coaching.schedule import CADENCE_CONFIDENCE_THRESHOLD
    from coaching.timeutil import minute_label

    snap = analysis.snapshot
    print(f"Athlete {user_id}, as of {analysis.as_of:%Y-%m-%d %H:%M} UTC")
    print(
        f"  rucks with a start time: {analysis.timed_samples}; completed sessions with a date only: "
        f"{analysis.date_only_samples}"
    )
    if snap.window_start_minute is None or snap.window_end_minute is None:
        print("  prime window: none yet")
    else:
        used = "used for reminders" if snap.confidence >= CADENCE_CONFIDENCE_THRESHOLD else "too uncertain to use"
        print(
            f"  prime window: {minute_label(snap.window_start_minute)}–{minute_label(snap.window_end_minute)}, "
            f"usually {minute_label(snap.centre_minute or snap.window_start_minute)}; confidence "
            f"{snap.confidence:.2f} ({used}; threshold {CADENCE_CONFIDENCE_THRESHOLD:.2f})"
        )
    for day, w in sorted(snap.weekday_windows.items()):
        print(
            f"  {WEEKDAYS[day]:<9} {minute_label(w.start_minute)}–{minute_label(w.end_minute)}, usually "
            f"{minute_label(w.centre_minute)}; confidence {w.confidence:.2f} ({w.sample_size} rucks)"
        )
    print("  weekday pattern: " + ", ".join(f"{d[:3]} {n}" for d, n in analysis.weekday_pattern.items()))
    print("  deviations: " + ("; ".join(f"{d.kind} ({d.detail})" for d in analysis.deviations) or "none"))
    print("  why:")
    for reason in analysis.reasons:
        print(f"    - {reason}")


async def _cadence_recompute(args: argparse.Namespace, settings: Settings) -> int:
    from coaching.ids import CADENCE_WORKFLOW_ID
    from coaching.models import CadenceRecomputeInput
    from starter.temporal import connect
    from workflows.cadence import CadenceRecomputeWorkflow

    client = await connect()
    handle = await client.start_workflow(
        CadenceRecomputeWorkflow.run,
        CadenceRecomputeInput(batch_size=args.batch_size),
        id=f"{CADENCE_WORKFLOW_ID}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        task_queue=settings.task_queue,
    )
    print(f"started {handle.id}")
    if args.wait:
        result = await handle.result()
        print(
            f"{result.athletes} athletes recomputed; {result.changed_plans} plans changed, "
            f"{result.signalled_plans} running workflows told"
        )
    return 0


def _uuid(value: str, field: str) -> str:

    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise UsageError(f"{field}: {value!r} is not a user id (a UUID such as 8d0e…-…)") from None


# --- entry point ----------------------------------------------------------------------------------------------


_PLAN_HELP = {
    "start": "start the plan's notification workflow (the plan must be in the database)",
    "status": "the plan's upcoming notifications, with the rule that set each one's time",
    "pause": "pause the plan: reminders are skipped until it is resumed",
    "resume": "resume a paused plan",
    "cancel": "cancel the plan: nothing more is sent",
    "complete": "mark the plan completed: nothing more is sent",
    "sessions-changed": "tell the plan its sessions changed in the database (it reloads them)",
    "completed": "report a completed ruck (a celebration follows when it matches a session)",
    "history": "every notification of the plan in the ledger: time, type, status, reason and the text sent "
    "(from the database; works with Temporal down)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coach", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="dev server + worker + a demo plan, with the Web UI")
    run.add_argument(
        "--demo-timezone",
        default=os.environ.get("COACH_DEMO_TIMEZONE", "America/New_York"),
        help="the demo athlete's time zone (default COACH_DEMO_TIMEZONE, else America/New_York)",
    )
    run.add_argument("--exit-after", type=float, default=None, help="stop after N seconds (smoke tests)")

    sub.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS (production)")
    sub.add_parser("api", help="serve the HTTP API (COACH_API_HOST/PORT, COACH_SERVICE_TOKEN)")
    db = sub.add_parser("db", help="install, check or remove the service's tables")
    db.add_argument(
        "db_cmd",
        choices=["upgrade", "check", "downgrade"],
        help="upgrade: install or migrate to the latest revision; check: verify every table and column the service "
        "reads or writes (exit 1 with what to fix); downgrade: remove what upgrade installed",
    )
    db.add_argument(
        "--mode",
        choices=["auto", "standalone", "rucktracker"],
        help="standalone: a database of the service's own (creates stand-ins for RuckTracker's tables); rucktracker: "
        "RuckTracker's database (only the service's coach_* tables); default COACH_DATABASE_MODE, else auto",
    )
    db.add_argument("--json", action="store_true", help="check: the report as JSON")

    plan = sub.add_parser("plan", help="drive one plan's workflow")
    plan_sub = plan.add_subparsers(dest="plan_cmd", required=True)
    for name in (
        "start",
        "status",
        "pause",
        "resume",
        "cancel",
        "complete",
        "sessions-changed",
        "completed",
        "history",
    ):
        p = plan_sub.add_parser(name, help=_PLAN_HELP[name], description=_PLAN_HELP[name])
        p.add_argument("plan_id", type=_id, help="the plan's id (user_coaching_plans.id)")
        if name == "status":
            p.add_argument("--json", action="store_true", help="the status as JSON")
        elif name == "history":
            p.add_argument("--json", action="store_true", help="the rows as a JSON list")
        elif name == "start":
            p.add_argument(
                "--wait",
                type=_bounded(0, 600),
                default=5,
                metavar="SECONDS",
                help="wait at most this long for the workflow to load the plan (a plan that cannot run fails within "
                "moments); default 5",
            )
        elif name == "completed":
            p.add_argument("--ruck-id", type=_id, required=True, help="the completed ruck's id (ruck_session.id)")
            p.add_argument(
                "--completed-at", help="ISO 8601 with offset, at most a day ahead (then taken as now); default now"
            )
            p.add_argument(
                "--source",
                choices=[s.value for s in CompletionSource],
                default="app",
                help="which path reported it; default app",
            )
            p.add_argument(
                "--plan-session-id", type=_id, help="the session the app says it was for (else matched by day)"
            )
            p.add_argument("--distance-km", type=float, help="0 to 1,000")
            p.add_argument("--duration-seconds", type=int, help="0 to 172,800 (2 days)")
        else:
            p.add_argument("--reason", default="", help="at most 500 characters")

    cadence = sub.add_parser("cadence", help="the learned prime windows")
    cadence_sub = cadence.add_subparsers(dest="cadence_cmd", required=True)
    analyze = cadence_sub.add_parser("analyze", help="learn one athlete's window now and print it with the reasons")
    analyze.add_argument("user_id", help="the athlete's user id (UUID)")
    analyze.add_argument("--apply", action="store_true", help="store it and tell the athlete's running plans")
    analyze.add_argument("--json", action="store_true", help="the analysis as JSON")
    analyze.add_argument(
        "--html",
        metavar="OUT",
        help="also draw the rucks as a weekday × hour heatmap with the learned windows (one self-contained page)",
    )
    recompute = cadence_sub.add_parser("recompute", help="run the nightly recompute now (needs a running worker)")
    recompute.add_argument(
        "--batch-size", type=_bounded(1, 50_000), default=2000, help="athletes per activity (1 to 50,000; default 2000)"
    )
    recompute.add_argument("--wait", action="store_true", help="wait for it and print the totals")

    from starter.cli_rollout import add_parser as add_rollout_parser

    add_rollout_parser(sub)

    sim = sub.add_parser(
        "simulate",
        help="run scenarios on the time-skipping server and print each plan's notifications",
        description="Run each scenario (schemas/scenario.schema.json, examples/) through the real workflow and "
        "activities on a time-skipping Temporal server with a throwaway database. Exit 0 when every scenario ran, "
        "2 when a file is not a valid scenario, 1 when a run failed.",
    )
    sim.add_argument("scenario", nargs="+", help="scenario files (JSON), or folders of them (every *.json)")
    sim.add_argument("--json", action="store_true", help="the timeline as JSON (a list for several scenarios)")
    sim.add_argument(
        "--html",
        metavar="OUT",
        help="also draw the plan as one self-contained HTML page (a folder for several scenarios)",
    )
    sim.add_argument(
        "--jobs",
        type=_bounded(1, 16),
        default=min(4, os.cpu_count() or 1),
        help="scenarios run at once, each on its own server (default: the CPUs, at most 4)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from coaching.timeutil import pin_tzdata

    pin_tzdata()
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"error: configuration: {_validation_message(exc)}", file=sys.stderr)
        return 2
    _configure_logging(settings, quiet=args.command in ("simulate", "plan", "cadence", "rollout"))
    from starter.temporal import route_core_logs_to_python

    # The time-skipping test server lacks capabilities the SDK core warns about; simulate shows errors only. A worker
    # also serves the SDK's runtime metrics (temporal_*), unless their port is taken (a second worker on the host).
    temporal_metrics = settings.temporal_metrics_address if args.command in ("run", "worker") else ""
    if temporal_metrics and not _address_free(temporal_metrics):
        logger.error("Temporal SDK metrics not served: %s is taken", temporal_metrics)
        temporal_metrics = ""
    service_metrics = settings.metrics_address
    if args.command in ("run", "worker") and service_metrics and not _address_free(service_metrics):
        logger.error("service metrics not served: %s is taken", service_metrics)
        service_metrics = ""
    settings = settings.model_copy(
        update={"temporal_metrics_address": temporal_metrics, "metrics_address": service_metrics}
    )
    route_core_logs_to_python(
        core_level="ERROR" if args.command == "simulate" else "WARN", metrics_address=temporal_metrics or None
    )
    command = {
        "run": cmd_run,
        "worker": cmd_worker,
        "db": cmd_db,
        "plan": cmd_plan,
        "simulate": cmd_simulate,
        "cadence": cmd_cadence,
        "api": cmd_api,
        "rollout": cmd_rollout,
    }
    try:
        code = asyncio.run(command[args.command](args, settings))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except OutOfBounds as exc:  # refused by the Python client (starter.bounds) after the command's own checks
        name = _option(exc.field) if args.command == "plan" else exc.field  # (simulate: a scenario's field)
        print(f"error: {name}: {exc.reason}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # (a ConnectionError: before that clause)
        code = _closed_pipe()
    except (ConnectionError, RuntimeError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = _closed_pipe()
    # The gRPC runtime of firebase-admin's Google libraries can abort during interpreter teardown; the work is
    # done and flushed, so leave without running it.
    os._exit(code)


def _closed_pipe() -> int:
    """The reader of our output went away (``coach … | head -1``): stop quietly, like other Unix tools (exit 141,
    128 + SIGPIPE), with what is still buffered sent nowhere rather than a traceback about it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    main()
