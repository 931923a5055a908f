"""`coach cadence analyze | recompute`: the learned prime windows, for one athlete now or for everyone (the nightly
job, run by hand)."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starter.cli_args import UsageError, bounded
from starter.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``coach cadence`` on the top-level subparsers."""
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
        "--batch-size", type=bounded(1, 50_000), default=2000, help="athletes per activity (1 to 50,000; default 2000)"
    )
    recompute.add_argument("--wait", action="store_true", help="wait for it and print the totals")


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
