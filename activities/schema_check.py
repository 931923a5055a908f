"""``coach db check``: does this database have every table and column the service reads or writes, with a type the
service can use? On any database (RuckTracker's, a standalone one, SQLite or PostgreSQL), without changing it.

The contract is the models of :mod:`activities.db`: every mapped column of RuckTracker's tables must exist with a
compatible type (an integer where an id is read, ``timestamptz`` where an instant is written, …), and the service's own
tables must be at the latest revision. Each problem says what is missing or incompatible and how to fix it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine

from activities.database import make_engine
from activities.db import RUCKTRACKER_TABLES, SERVICE_TABLES, UTCDateTime
from activities.migrate import VERSION_TABLE, alembic_config, installed_mode

#: RuckTracker's columns the service writes (everything else of theirs it only reads).
WRITTEN: frozenset[tuple[str, str]] = frozenset(
    {
        ("plan_sessions", "next_notification_at"),
        ("plan_sessions", "last_notification_type"),
        ("plan_sessions", "missed_state"),
        ("plan_sessions", "completion_status"),
        ("plan_sessions", "session_id"),
        ("plan_sessions", "completed_date"),
        ("plan_sessions", "scheduled_date"),
        ("plan_sessions", "scheduled_start_time"),
        ("plan_sessions", "notification_metadata"),
        ("user_device_tokens", "is_active"),
        ("user", "coaching_tone"),
        ("user", "plan_quiet_hours_start"),
        ("user", "plan_quiet_hours_end"),
        ("user", "plan_notification_timezone"),
        ("user_coaching_plans", "plan_notification_timezone"),
        ("user_coaching_plans", "coaching_personality"),
        ("user_coaching_plans", "plan_modifications"),
    }
)


@dataclass(frozen=True)
class Problem:
    """One thing the service needs that the database lacks."""

    kind: str  # missing_table, missing_column, incompatible_type, not_installed, behind
    table: str
    column: str | None
    found: str | None
    expected: str
    fix: str

    def line(self) -> str:
        where = f'"{self.table}".{self.column}' if self.column else f'"{self.table}"'
        found = f" (found {self.found})" if self.found else ""
        return f"{self.kind.upper():<18} {where}: expected {self.expected}{found}\n{'':<19}fix: {self.fix}"


@dataclass
class CheckReport:
    database: str
    mode: str | None
    revision: list[str]
    head: list[str]
    columns_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def check_database(url: str) -> CheckReport:
    """Inspect the database at ``url`` against the service's contract (read-only)."""
    mode = await installed_mode(url)
    heads = sorted(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            report: CheckReport = await connection.run_sync(
                _check, engine.url.render_as_string(hide_password=True), mode.value if mode else None, heads
            )
            return report
    finally:
        await engine.dispose()


def _check(connection: Connection, database: str, mode: str | None, heads: list[str]) -> CheckReport:
    inspector = sa.inspect(connection)
    revision: list[str] = []
    if inspector.has_table(VERSION_TABLE):
        revision = sorted(r[0] for r in connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")))
    report = CheckReport(database=database, mode=mode, revision=revision, head=heads)
    dialect = connection.dialect.name
    for table in RUCKTRACKER_TABLES:
        _check_table(report, inspector, table, dialect, rucktracker=True)
    service_head = [h for h in heads if h.startswith("sv")]
    if not any(r.startswith("sv") for r in revision):
        report.problems.append(
            Problem(
                "not_installed",
                VERSION_TABLE,
                None,
                None,
                f"the service's tables at revision {', '.join(service_head)}",
                "coach db upgrade (on RuckTracker's database: coach db upgrade --mode rucktracker)",
            )
        )
        return report
    if not set(service_head) <= set(revision):
        report.problems.append(
            Problem(
                "behind",
                VERSION_TABLE,
                None,
                ", ".join(revision),
                f"revision {', '.join(service_head)}",
                "coach db upgrade",
            )
        )
    for table in SERVICE_TABLES:
        _check_table(report, inspector, table, dialect, rucktracker=False)
    indexes = (
        {ix["name"] for ix in inspector.get_indexes("ruck_session")} if inspector.has_table("ruck_session") else set()
    )
    for name in ("ix_coach_ruck_session_user_completed", "ix_coach_ruck_session_completed"):
        if name not in indexes:
            report.warnings.append(
                f"index {name} on ruck_session is missing: the nightly cadence recompute and the reconciler read "
                "rucks without it (slow on a large table); coach db upgrade creates it, docs/rucktracker.md has "
                "the CREATE INDEX CONCURRENTLY statement"
            )
    return report


def _check_table(
    report: CheckReport, inspector: sa.Inspector, table: sa.Table, dialect: str, *, rucktracker: bool
) -> None:
    if not inspector.has_table(table.name):
        if rucktracker:
            fix = (
                "point COACH_DATABASE_URL at RuckTracker's database, or install standalone (coach db upgrade "
                "--mode standalone) for a database of the service's own"
            )
        else:
            fix = "coach db upgrade"
        report.problems.append(Problem("missing_table", table.name, None, None, "a table", fix))
        return
    found = {c["name"]: c for c in inspector.get_columns(table.name)}
    for column in table.columns:
        report.columns_checked += 1
        writes = not rucktracker or (table.name, column.name) in WRITTEN
        expected = _describe(column.type, writes)
        existing = found.get(column.name)
        if existing is None:
            ddl = f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {_ddl_type(column.type, dialect)}'
            fix = f"{ddl} (RuckTracker's own migrations add it; see docs/rucktracker.md)" if rucktracker else ddl
            report.problems.append(Problem("missing_column", table.name, column.name, None, expected, fix))
            continue
        if not _compatible(column.type, existing["type"], writes, dialect):
            target = _ddl_type(column.type, dialect)
            using = " USING \"{c}\" AT TIME ZONE 'UTC'" if isinstance(column.type, UTCDateTime) else ""
            fix = f'ALTER TABLE "{table.name}" ALTER COLUMN "{column.name}" TYPE {target}' + using.format(c=column.name)
            report.problems.append(
                Problem("incompatible_type", table.name, column.name, str(existing["type"]), expected, fix)
            )


def _describe(expected: TypeEngine[Any], writes: bool) -> str:
    access = "read and written" if writes else "read"
    if isinstance(expected, UTCDateTime):
        return f"timestamp with time zone ({access})"
    if isinstance(expected, sa.Uuid):
        return f"uuid ({access})"
    if isinstance(expected, sa.JSON):
        return f"json or jsonb ({access})"
    if isinstance(expected, sa.Integer):
        return f"an integer type ({access})"
    if isinstance(expected, sa.Numeric):
        return f"a numeric type ({access})"
    if isinstance(expected, sa.String):
        return f"a text type ({access})"
    return f"{expected.__class__.__name__.lower()} ({access})"


def _compatible(expected: TypeEngine[Any], found: TypeEngine[Any], writes: bool, dialect: str) -> bool:
    """Whether a column of type ``found`` serves what the service does with a column modelled as ``expected``."""
    if isinstance(expected, UTCDateTime):
        # A naive timestamp would read back shifted by the server's zone and refuses aware values on write.
        return isinstance(found, sa.DateTime) and (bool(found.timezone) or dialect == "sqlite")
    if isinstance(expected, sa.DateTime):
        return isinstance(found, sa.DateTime)
    if isinstance(expected, sa.Uuid):
        return isinstance(found, sa.Uuid) or (dialect == "sqlite" and isinstance(found, sa.String))
    if isinstance(expected, sa.JSON):
        return isinstance(found, sa.JSON) or (dialect == "sqlite" and isinstance(found, (sa.String, sa.Text)))
    if isinstance(expected, sa.Boolean):
        return isinstance(found, sa.Boolean)
    if isinstance(expected, sa.Integer):
        # Read ids and minutes: any integer; written ids must hold what the service writes (a 32-bit id or more).
        if writes and isinstance(found, sa.SmallInteger) and not isinstance(expected, sa.SmallInteger):
            return False
        return isinstance(found, sa.Integer)
    if isinstance(expected, (sa.Numeric, sa.Float)):
        return isinstance(found, (sa.Numeric, sa.Float, sa.Integer))
    if isinstance(expected, (sa.String, sa.Text)):
        return isinstance(found, (sa.String, sa.Text, sa.Enum))
    if isinstance(expected, sa.Date):
        return isinstance(found, sa.Date) and not isinstance(found, sa.DateTime)
    if isinstance(expected, sa.Time):
        return isinstance(found, sa.Time)
    return type(found) is type(expected)


def _ddl_type(type_: TypeEngine[Any], dialect: str) -> str:
    target: sa.Dialect = postgresql.dialect() if dialect == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    return type_.compile(dialect=target)


def format_report(report: CheckReport) -> str:
    """The human-readable report ``coach db check`` prints."""
    lines = [
        f"database: {report.database}",
        f"install mode: {report.mode or 'not installed'}; service revision {', '.join(report.revision) or 'none'} "
        f"(latest {', '.join(report.head)})",
        f"checked {report.columns_checked} columns of {len(RUCKTRACKER_TABLES)} RuckTracker tables and "
        f"{len(SERVICE_TABLES)} service tables",
    ]
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    if report.ok:
        lines.append("OK: every table and column the service reads or writes is there, with a compatible type")
    else:
        lines.append(f"{len(report.problems)} problem(s):")
        lines.extend(p.line() for p in report.problems)
    return "\n".join(lines)


__all__ = ["WRITTEN", "CheckReport", "Problem", "check_database", "format_report"]
