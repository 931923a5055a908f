"""`coach simulate`: run scenario files through the real workflow on a time-skipping server and print (or draw)
each plan's notifications (see :mod:`starter.simulate`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from starter.cli_args import UsageError, bounded
from starter.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``coach simulate`` on the top-level subparsers."""
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
        type=bounded(1, 16),
        default=min(4, os.cpu_count() or 1),
        help="scenarios run at once, each on its own server (default: the CPUs, at most 4)",
    )


async def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from starter.scenario import ScenarioError, scenario_paths
    from starter.simulate import run_many
    from starter.timeline import render_timeline

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
