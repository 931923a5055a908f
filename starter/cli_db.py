"""`coach db upgrade | check | downgrade`: install, verify or remove the service's tables."""

from __future__ import annotations

import argparse
import json
from typing import Any

from starter.cli_args import UsageError
from starter.settings import Settings


def add_parser(sub: Any) -> None:
    """Register ``coach db`` on the top-level subparsers."""
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
