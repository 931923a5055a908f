"""`coach plan start | status | pause | resume | cancel | complete | sessions-changed | completed | history`: drive
one plan's workflow from the command line.

Input is checked before Temporal is reached, so a typo is reported as such (exit 2, naming the option) even when the
server is down; ``history`` reads the database alone and answers with Temporal down too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from coaching.models import CompletionSource, PlanStatusResult, SessionCompletedInput
from starter.bounds import OutOfBounds, check_completion, check_text
from starter.cli_args import UsageError, bounded, record_id, shown
from starter.settings import Settings

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

_T = TypeVar("_T")


def add_parser(sub: Any) -> None:
    """Register ``coach plan`` on the top-level subparsers."""
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
        p.add_argument("plan_id", type=record_id, help="the plan's id (user_coaching_plans.id)")
        if name == "status":
            p.add_argument("--json", action="store_true", help="the status as JSON")
        elif name == "history":
            p.add_argument("--json", action="store_true", help="the rows as a JSON list")
        elif name == "start":
            p.add_argument(
                "--wait",
                type=bounded(0, 600),
                default=5,
                metavar="SECONDS",
                help="wait at most this long for the workflow to load the plan (a plan that cannot run fails within "
                "moments); default 5",
            )
        elif name == "completed":
            p.add_argument("--ruck-id", type=record_id, required=True, help="the completed ruck's id (ruck_session.id)")
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
                "--plan-session-id", type=record_id, help="the session the app says it was for (else matched by day)"
            )
            p.add_argument("--distance-km", type=float, help="0 to 1,000")
            p.add_argument("--duration-seconds", type=int, help="0 to 172,800 (2 days)")
        else:
            p.add_argument("--reason", default="", help="at most 500 characters")


def option_of(field: str) -> str:
    """How the command line names a field: the positional ``plan_id``, else its flag (``--completed-at``)."""
    return field if field == "plan_id" else f"--{field.replace('_', '-')}"


def format_status(status: PlanStatusResult) -> str:
    """The plan's status and its upcoming notifications, one line each with the rule that set its time."""
    lines = [
        f"Plan {status.plan_id}: {status.status.value} ({status.timezone}); "
        f"{status.sent} sent, {status.skipped} skipped, {status.completions} completion(s)"
    ]
    if not status.upcoming:
        lines.append("  nothing upcoming")
    for n in status.upcoming:
        lines.append(f"  {n.send_at_local:<26} {n.type.value:<28} {n.reason}")
    return "\n".join(lines)


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
    api = PlanNotifications(client, settings.workflow_config(), task_queue=settings.task_queue)
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
            print(status.model_dump_json(indent=2) if args.json else format_status(status))
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


def _parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"{field}: {shown(value)} is not an ISO 8601 time (e.g. 2026-11-24T06:30:00-05:00)") from exc
    if parsed.tzinfo is None:
        raise UsageError(f"{field}: {shown(value)} has no UTC offset; add one (e.g. Z or -05:00)")
    return parsed


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


def _checked(check: Callable[[], _T]) -> _T:
    """``check()``, with a value out of bounds reported as bad input naming the option (exit 2)."""
    try:
        return check()
    except OutOfBounds as exc:
        raise UsageError(f"{option_of(exc.field)}: {exc.reason}") from None
