"""What the two PostgreSQL fill benches (``cadence_recompute.py``, ``reconcile.py``) share: a throwaway database on a
server (created empty, or reused under ``--keep`` when its ``bench_meta`` says it holds the same population, dropped),
the COPY steps both fills make the same way, and the machine figures their headers print."""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]

#: The ``ruck_session`` columns both populations write (ids given, so the rows are in the generator's order).
RUCK_COLUMNS = [
    "id",
    "user_id",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
    "distance_km",
    "ruck_weight_kg",
]


@dataclass(frozen=True)
class Target:
    server: str  # postgresql://user@host:port
    database: str

    @property
    def dsn(self) -> str:
        return f"{self.server}/{self.database}"

    @property
    def url(self) -> str:
        return "postgresql+asyncpg://" + self.dsn.split("://", 1)[1]


@contextlib.asynccontextmanager
async def admin_connection(server: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the server's ``postgres`` database: the bench database cannot be dropped from inside."""
    conn = await asyncpg.connect(f"{server}/postgres")
    try:
        yield conn
    finally:
        await conn.close()


async def reuse_or_recreate(
    target: Target, wanted: dict[str, Any], *, keep: bool, needs: Sequence[str] = ()
) -> dict[str, Any] | None:
    """With ``keep``, the database's ``bench_meta`` (decoded) when its ``fill`` row is ``wanted`` and it has a row for
    each key of ``needs``; otherwise the database is dropped and created empty, and None returned.

    ``wanted`` names the population (``athletes`` and ``seed`` among its keys, for the message)."""
    async with admin_connection(target.server) as conn:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if keep and exists:
            bench = await asyncpg.connect(target.dsn)
            try:
                meta: dict[str, str] = {}
                if await bench.fetchval("SELECT to_regclass('bench_meta') IS NOT NULL"):
                    meta = {row["key"]: row["value"] for row in await bench.fetch("SELECT key, value FROM bench_meta")}
            finally:
                await bench.close()
            found = meta.get("fill")
            if found and all(meta.get(key) for key in needs) and json.loads(found) == wanted:
                print(f"--keep: reusing {target.database} ({wanted['athletes']:,} athletes, seed {wanted['seed']})")
                return {key: json.loads(value) for key, value in meta.items()}
            print(f"--keep: {target.database} holds another population ({found}); refilling")
        await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{target.database}"')
    return None


async def write_meta(conn: asyncpg.Connection, meta: dict[str, Any]) -> None:
    """Record what the database was filled with (``fill``: the ``wanted`` of :func:`reuse_or_recreate`), JSON each."""
    await conn.execute("CREATE TABLE bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    await conn.executemany("INSERT INTO bench_meta VALUES ($1, $2)", [(k, json.dumps(v)) for k, v in meta.items()])


async def drop_database(target: Target) -> None:
    async with admin_connection(target.server) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


async def copy_plan_template(conn: asyncpg.Connection) -> None:
    """The one plan template every plan of both populations follows (id 1)."""
    await conn.copy_records_to_table(
        "coaching_plan_templates",
        records=[(1, "get-faster", "Get Faster", 12)],
        columns=["id", "plan_id", "name", "duration_weeks"],
    )


async def copy_users(conn: asyncpg.Connection, records: Iterable[tuple[str, str | None]]) -> None:
    """RuckTracker's athletes, (id, home zone); before their plans: ``user_coaching_plans.user_id`` references them."""
    await conn.copy_records_to_table("user", records=records, columns=["id", "plan_notification_timezone"])


async def sync_sequences(conn: asyncpg.Connection, tables: Iterable[str]) -> None:
    """Move each table's id sequence past the ids the COPY gave; a table left empty (a small population may have no
    zone history at all) gets 1."""
    for table in tables:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce((SELECT max(id) FROM {table}), 1))"
        )


async def database_size(conn: asyncpg.Connection) -> str:
    return str(await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))"))


def machine() -> str:
    return f"Python {platform.python_version()}, {os.cpu_count()} CPU(s)"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: wall-clock figures are only as good as the machine was idle."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
