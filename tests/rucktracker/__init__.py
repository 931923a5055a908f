"""A PostgreSQL fixture of RuckTracker's schema (``schema.sql``) and of rows its app wrote (``legacy_rows.sql``).

The service must run on RuckTracker's real database, next to tables and rows it does not own. Tests build a database
with :func:`create_rucktracker_database` (or :func:`build` on an open connection to an empty database), bring it back
to the same state with :func:`reset` before each test, and compare :func:`snapshot` taken before and after a run to
prove the service left RuckTracker's rows alone. See ``README.md`` next to this file for what the rows mean.

Every legacy date is relative to ``now()``; the ids below are fixed, and every sequence starts past 10,000,000.
"""

from __future__ import annotations

import graphlib
from pathlib import Path
from typing import Any

import asyncpg

__all__ = [
    "ALEMBIC_REVISION",
    "AUDIT_IDS",
    "BEHAVIOR_IDS",
    "DEVICE_TOKEN_IDS",
    "LEGACY_ROWS_SQL",
    "LEGACY_TABLES",
    "NOTIFICATION_IDS",
    "PLAN_IDS",
    "PLAN_SESSION_IDS",
    "RUCKTRACKER_TABLES",
    "RUCK_SESSION_IDS",
    "SCHEMA_SQL",
    "TEMPLATE_IDS",
    "USER_IDS",
    "build",
    "create_rucktracker_database",
    "drop_rucktracker_database",
    "reset",
    "snapshot",
]

HERE = Path(__file__).resolve().parent
#: RuckTracker's tables (DDL only, plus the alembic_version row).
SCHEMA_SQL: Path = HERE / "schema.sql"
#: The rows RuckTracker's app wrote; apply to empty tables after SCHEMA_SQL.
LEGACY_ROWS_SQL: Path = HERE / "legacy_rows.sql"

#: Flask-Migrate's revision in RuckTracker's default ``alembic_version`` table.
ALEMBIC_REVISION = "a29d11a26a41"

#: Every table ``schema.sql`` creates (``location_point`` is partitioned; its one partition is not listed).
RUCKTRACKER_TABLES: tuple[str, ...] = (
    "auth.users",
    "profiles",
    "user",
    "alembic_version",
    "coaching_plan_templates",
    "user_coaching_plans",
    "ruck_session",
    "location_point",
    "plan_sessions",
    "plan_modifications",
    "plan_review_audit",
    "user_plan_behavior",
    "plan_notification_audit",
    "user_device_tokens",
    "notifications",
)

#: The RuckTracker tables the fixture fills (plan_modifications and plan_review_audit stay empty).
LEGACY_TABLES: tuple[str, ...] = tuple(
    t for t in RUCKTRACKER_TABLES if t not in {"plan_modifications", "plan_review_audit"}
)

#: The three athletes; the same id in auth.users, profiles and "user".
USER_IDS: dict[str, str] = {
    # prefer_metric false, coaching_tone 'Drill Sergeant', plan 9001 in America/New_York; plan_* columns at defaults
    "imperial": "aaaaaaaa-0000-4000-8000-000000000001",
    # metric, 'Supportive Friend', "user".plan_notification_timezone 'Asia/Calcutta' (legacy alias), plans 9002+9003
    "calcutta": "bbbbbbbb-0000-4000-8000-000000000002",
    # metric, 'Session Analyst', Europe/London; plan_notification_prefs with RuckTracker's keys, quiet hours
    # 1320..390 (minutes), notification_first_ruck = false (so RuckTracker scheduled nothing for her)
    "prefs": "cccccccc-0000-4000-8000-000000000003",
}

#: coaching_plan_templates ids, in the order create_coaching_plan_templates_table.sql seeds them.
TEMPLATE_IDS: dict[str, int] = {
    "fat-loss": 1,
    "get-faster": 2,
    "event-prep": 3,
    "daily-discipline": 4,
    "age-strong": 5,
    "load-capacity": 6,
}

#: user_coaching_plans ids.
PLAN_IDS: dict[str, int] = {
    # imperial: get-faster, active, start_date = UTC today - 10 (created 22:30 New York the day before), 8 weeks x 3
    "imperial_active": 9001,
    # calcutta: fat-loss, 'cancelled' 3 days ago by the plan that replaced it; its sessions and audit rows remain
    "calcutta_cancelled": 9002,
    # calcutta: load-capacity, active, created 3 days ago (UNIQUE (user_id, current_status) holds: one of each)
    "calcutta_active": 9003,
    # prefs: age-strong, active, created 3 hours ago; target_duration_minutes range strings ("40-50", "20-30")
    "prefs_active": 9004,
}

#: Notable plan_sessions ids (all of them are <plan id> * 1000 + 1.. in week/template order).
PLAN_SESSION_IDS: dict[str, int] = {
    # imperial week 1 'Zone 2 Ruck' (UTC today - 9): completed by ruck 9201 that day
    "imperial_w1_zone2": 9001001,
    # imperial week 1 'Tempo Ruck' (today - 7, target "40-55"): completed by ruck 9202, done on today - 2 (oldest-first)
    "imperial_w1_tempo": 9001002,
    # imperial week 1 'Hill Ruck' (today - 5): still 'planned', missed; its missed push was sent twice
    "imperial_w1_hill": 9001003,
    # imperial week 2 'Zone 2 Ruck' (today - 2): still 'planned' although rucked that day; false "missed" sent
    "imperial_w2_zone2": 9001004,
    # imperial week 2 'Tempo Ruck' (today)
    "imperial_w2_tempo": 9001005,
    # calcutta cancelled plan, week 1 Monday 'Base Ruck' (today - 40): completed by ruck 9211 a day late
    "calcutta_old_w1_base": 9002001,
    # calcutta active plan, week 1 'Base Ruck' (today - 3, the creation day): its missed push fired after signup
    "calcutta_w1_base": 9003001,
    # calcutta active plan, week 1 'Long Ruck' (today - 1, target "60-90")
    "calcutta_w1_long": 9003002,
    # prefs week 1 'Long Posture Ruck' (UTC today of creation + 1, target "40-50")
    "prefs_w1_posture": 9004001,
    # prefs week 1 'Form Walk' (unmapped type: coaching_points without the minimal session_goals)
    "prefs_w1_form_walk": 9004004,
}

#: ruck_session ids.
RUCK_SESSION_IDS: dict[str, int] = {
    "imperial_w1": 9201,  # ~06:31 New York, today - 9 -> plan session 9001001
    "imperial_today_minus_2": 9202,  # 06:40 New York, today - 2 -> plan session 9001002 (oldest planned)
    "imperial_manual": 9203,  # is_manual, logged 17:05 UTC on today - 20; never linked
    "imperial_history_1": 9204,  # 9204-9207: before the plan, ~06:30 New York
    "imperial_history_4": 9207,
    "calcutta_1": 9211,  # 9211-9213: ~18:00 India, linked oldest-first to 9002001..9002003
    "calcutta_3": 9213,
    "calcutta_import": 9214,  # 'Imported from Apple Health', today - 10: never linked (imports skip plan tracking)
    "prefs_first": 9221,  # 9221-9226: 06:40..07:40 London, the 0.85 window 400..460
    "prefs_last": 9226,
    "prefs_in_progress": 9227,  # status 'in_progress', started 25 minutes ago
}

#: user_plan_behavior ids (one per plan, as the legacy analyzer last wrote it).
BEHAVIOR_IDS: dict[str, int] = {
    "imperial_active": 9401,  # confidence 0.00: its DATE-only completed_date samples wreck the spread
    "calcutta_cancelled": 9402,  # 0.00, recomputed a day ago by the sweep although the plan is cancelled
    "calcutta_active": 9403,  # 0.30 (4 samples), window 1057..1143
    "prefs_active": 9404,  # 0.85, window 400..460, metadata.last_recomputed_at 3 hours ago
}

#: plan_notification_audit ids: seeded rows are 9300001.. (by plan, session, brief/hype/missed), repeated missed rows
#: 9390001.., and one row per notable case below.
AUDIT_IDS: dict[str, int] = {
    "first_seeded": 9300001,  # imperial 9001001 evening brief, 'sent'
    "cancelled_missed": 9300003,  # imperial 9001001 missed follow-up, 'cancelled' by the completion
    "first_repeat_missed": 9390001,  # a missed follow-up inserted again (past time) and re-sent
    "failed": 9399001,  # 'failed', type plan_milestone_alert, no plan session
}

#: user_device_tokens ids (user_device_tokens.user_id references profiles).
DEVICE_TOKEN_IDS: dict[str, str] = {
    "imperial_iphone": "dddddddd-0000-4000-8000-000000000001",
    "calcutta_pixel": "dddddddd-0000-4000-8000-000000000002",
    "calcutta_old_phone": "dddddddd-0000-4000-8000-000000000003",  # is_active false (FCM UnregisteredError)
    "calcutta_shared_tablet": "dddddddd-0000-4000-8000-000000000004",  # same fcm_token as prefs_shared_tablet
    "prefs_shared_tablet": "dddddddd-0000-4000-8000-000000000005",
    "prefs_iphone": "dddddddd-0000-4000-8000-000000000006",
}

#: notifications (in-app inbox) ids.
NOTIFICATION_IDS: dict[str, str] = {
    "imperial_celebration": "eeeeeeee-0000-4000-8000-000000000001",
    "imperial_false_missed": "eeeeeeee-0000-4000-8000-000000000002",
    "calcutta_retention_placeholder": "eeeeeeee-0000-4000-8000-000000000003",
}


def _quote(table: str) -> str:
    """``auth.users`` -> ``"auth"."users"``, ``user`` -> ``"user"``."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in table.split("."))


def _is_version_table(name: str) -> bool:
    """Alembic version tables: RuckTracker's ``alembic_version`` and another app's (e.g. ``coach_alembic_version``)."""
    return name == "alembic_version" or name.endswith("_alembic_version")


async def build(conn: asyncpg.Connection) -> None:
    """Create RuckTracker's tables and insert the legacy rows (one transaction) on a connection to an empty database."""
    schema = SCHEMA_SQL.read_text(encoding="utf-8")
    rows = LEGACY_ROWS_SQL.read_text(encoding="utf-8")
    async with conn.transaction():
        await conn.execute(schema)
        await conn.execute(rows)


async def _emptiable_tables(conn: asyncpg.Connection) -> dict[int, str]:
    """Every table of the ``public`` and ``auth`` schemas but the Alembic version tables, by OID."""
    rows = await conn.fetch(
        """
        SELECT c.oid, n.nspname, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        """
    )
    return {
        r["oid"]: (r["relname"] if r["nspname"] == "public" else f"{r['nspname']}.{r['relname']}")
        for r in rows
        if not _is_version_table(r["relname"])
    }


async def _delete_order(conn: asyncpg.Connection, tables: dict[int, str]) -> list[str] | None:
    """The tables with every referencing table before the table it references; None if the references form a cycle."""
    edges = await conn.fetch(
        "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid"
    )
    graph: dict[str, set[str]] = {name: set() for name in tables.values()}
    for edge in edges:
        child, parent = tables.get(edge["conrelid"]), tables.get(edge["confrelid"])
        if child is not None and parent is not None:
            graph[parent].add(child)  # the parent is emptied after its child
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        return None


async def reset(conn: asyncpg.Connection) -> None:
    """Delete every row of every table in the ``public`` and ``auth`` schemas, then insert the legacy rows again.

    Alembic version tables keep their rows (RuckTracker's ``alembic_version``, and a ``*_alembic_version`` such as the
    service's own), so a migrated schema stays migrated; the service's other tables are emptied too. One transaction.
    Sequences are not rewound: the legacy rows carry fixed ids and move RuckTracker's sequences to 10,000,000.
    """
    rows = LEGACY_ROWS_SQL.read_text(encoding="utf-8")
    async with conn.transaction():
        tables = await _emptiable_tables(conn)
        order = await _delete_order(conn, tables)
        if order is None:  # DELETE is much faster than TRUNCATE on a few rows, but needs an order
            await conn.execute("TRUNCATE " + ", ".join(_quote(t) for t in tables.values()))
        else:
            for table in order:
                await conn.execute(f"DELETE FROM {_quote(table)}")
        await conn.execute(rows)


async def snapshot(
    conn: asyncpg.Connection, tables: tuple[str, ...] = LEGACY_TABLES
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each table, ordered by its primary key, as tuples: compare two snapshots to prove nothing changed.

    ``tables`` are names as in :data:`LEGACY_TABLES` (``"user"``, ``"auth.users"``).
    """
    result: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        quoted = _quote(table)
        key = await conn.fetch(
            """
            SELECT a.attname
            FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = $1::text::regclass AND i.indisprimary
            ORDER BY array_position(i.indkey::int2[], a.attnum)
            """,
            quoted,
        )
        order = ", ".join("t." + _quote(r["attname"]) for r in key) or "t::text"  # no primary key: the whole row
        rows = await conn.fetch(f"SELECT * FROM {quoted} AS t ORDER BY {order}")
        result[table] = [tuple(r) for r in rows]
    return result


async def create_rucktracker_database(
    name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 5432,
    user: str = "postgres",
    password: str | None = None,
) -> None:
    """Create database ``name`` (through the ``postgres`` maintenance database) and :func:`build` it."""
    admin = await asyncpg.connect(host=host, port=port, user=user, password=password, database="postgres")
    try:
        await admin.execute(f"CREATE DATABASE {_quote(name)}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(host=host, port=port, user=user, password=password, database=name)
    try:
        await build(conn)
    finally:
        await conn.close()


async def drop_rucktracker_database(
    name: str,
    *,
    host: str = "127.0.0.1",
    port: int = 5432,
    user: str = "postgres",
    password: str | None = None,
) -> None:
    """Drop database ``name`` if it exists, closing any connection still open on it."""
    admin = await asyncpg.connect(host=host, port=port, user=user, password=password, database="postgres")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        await admin.close()
