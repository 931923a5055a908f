"""``coach db check``: every table and column the service reads or writes, with a compatible type, on any database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from activities.database import make_engine
from activities.db import RUCKTRACKER_TABLES, SERVICE_TABLES
from activities.migrate import upgrade_database
from activities.schema_check import WRITTEN, check_database, format_report
from tests.conftest import POSTGRES_URL, _postgres_admin


async def test_every_installed_database_passes(database_url: str, schema: str) -> None:
    await upgrade_database(database_url)
    report = await check_database(database_url)
    assert report.ok, format_report(report)
    assert report.mode == ("rucktracker" if schema == "rucktracker" else "standalone")
    assert report.columns_checked == sum(len(t.columns) for t in (*RUCKTRACKER_TABLES, *SERVICE_TABLES))
    assert report.warnings == []
    assert "OK: every table and column" in format_report(report)


def test_every_written_column_is_a_mapped_one() -> None:
    mapped = {(t.name, c.name) for t in RUCKTRACKER_TABLES for c in t.columns}
    assert WRITTEN <= mapped


async def test_an_empty_database_is_not_installed(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    report = await check_database(url)
    assert not report.ok and report.mode is None
    kinds = {(p.kind, p.table) for p in report.problems}
    assert ("missing_table", "user_coaching_plans") in kinds and ("not_installed", "coach_alembic_version") in kinds
    assert "coach db upgrade" in format_report(report)


async def test_a_missing_column_says_how_to_add_it(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/drop.db"
    await upgrade_database(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP INDEX ix_plan_sessions_next_notification_at")
            await conn.exec_driver_sql("ALTER TABLE plan_sessions DROP COLUMN next_notification_at")
            await conn.exec_driver_sql("DROP INDEX ix_coach_ruck_session_completed")
    finally:
        await engine.dispose()
    report = await check_database(url)
    (problem,) = report.problems
    assert (problem.kind, problem.table, problem.column) == ("missing_column", "plan_sessions", "next_notification_at")
    assert problem.fix.startswith('ALTER TABLE "plan_sessions" ADD COLUMN "next_notification_at" DATETIME')
    assert "read and written" in problem.expected
    assert any("ix_coach_ruck_session_completed" in w for w in report.warnings)


@pytest.fixture
async def scratch_postgres() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database (the test changes its schema, so it is nobody else's)."""
    admin = await _postgres_admin()
    name = f"coach_check_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.mark.postgres
async def test_incompatible_types_are_named_with_the_fix(scratch_postgres: str) -> None:
    await upgrade_database(scratch_postgres, "standalone")
    url = make_url(scratch_postgres)
    conn = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database=url.database)
    try:
        # An instant kept as a naive timestamp would read back shifted; a written id narrower than the service's.
        await conn.execute("ALTER TABLE plan_sessions ALTER COLUMN next_notification_at TYPE timestamp")
        await conn.execute("ALTER TABLE plan_sessions ALTER COLUMN session_id TYPE smallint")
        await conn.execute("ALTER TABLE user_coaching_plans ALTER COLUMN plan_modifications TYPE text")
    finally:
        await conn.close()
    report = await check_database(scratch_postgres)
    found = {(p.kind, p.table, p.column): p for p in report.problems}
    assert set(found) == {
        ("incompatible_type", "plan_sessions", "next_notification_at"),
        ("incompatible_type", "plan_sessions", "session_id"),
        ("incompatible_type", "user_coaching_plans", "plan_modifications"),
    }
    naive = found[("incompatible_type", "plan_sessions", "next_notification_at")]
    assert naive.found == "TIMESTAMP" and "with time zone" in naive.expected
    assert naive.fix == (
        'ALTER TABLE "plan_sessions" ALTER COLUMN "next_notification_at" TYPE TIMESTAMP WITH TIME ZONE '
        "USING \"next_notification_at\" AT TIME ZONE 'UTC'"
    )
    assert "INCOMPATIBLE_TYPE" in format_report(report)
