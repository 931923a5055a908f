"""`coach`: run the service, drive plans, inspect their schedule, simulate scenarios.

Exit codes: 0 success, 1 operational failure (e.g. Temporal unreachable), 2 bad input (the message names the field).
"""

# This module is the parser and the dispatch; each command group is a module of its own, which registers its
# subcommands (add_parser) and runs them (cmd_*): cli_run (coach run, the development stack), cli_serve (worker,
# api), cli_db, cli_plan, cli_cadence, cli_rollout and cli_simulate; cli_args holds what they share. They are imported
# when the parser is built, and they import what a command needs when it runs, so importing this module stays light
# (tests/test_performance.py). (The docstring above is `coach --help`'s description.)

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from starter.bounds import OutOfBounds
from starter.cli_args import UsageError
from starter.settings import Settings, get_settings

logger = logging.getLogger("coach")


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


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors())


def build_parser() -> argparse.ArgumentParser:
    from starter import cli_cadence, cli_db, cli_plan, cli_rollout, cli_run, cli_serve, cli_simulate

    parser = argparse.ArgumentParser(prog="coach", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    # In the order `coach --help` lists them.
    cli_run.add_parser(sub)
    cli_serve.add_parser(sub)
    cli_db.add_parser(sub)
    cli_plan.add_parser(sub)
    cli_cadence.add_parser(sub)
    cli_rollout.add_parser(sub)
    cli_simulate.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from coaching.timeutil import pin_tzdata
    from starter import cli_cadence, cli_db, cli_plan, cli_rollout, cli_run, cli_serve, cli_simulate

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
        "run": cli_run.cmd_run,
        "worker": cli_serve.cmd_worker,
        "db": cli_db.cmd_db,
        "plan": cli_plan.cmd_plan,
        "simulate": cli_simulate.cmd_simulate,
        "cadence": cli_cadence.cmd_cadence,
        "api": cli_serve.cmd_api,
        "rollout": cli_rollout.cmd_rollout,
    }
    try:
        code = asyncio.run(command[args.command](args, settings))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except OutOfBounds as exc:  # refused by the Python client (starter.bounds) after the command's own checks
        name = cli_plan.option_of(exc.field) if args.command == "plan" else exc.field  # (simulate: a scenario's field)
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
