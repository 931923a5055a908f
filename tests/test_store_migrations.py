"""The data layer's migrations on SQLite, PostgreSQL and RuckTracker's schema: they create exactly the models
(beside RuckTracker's tables, only the service's own), and a pre-release database is refused and kept aside.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Index, Table

from activities.database import make_engine
from activities.db import Base
from activities.migrate import upgrade_database
from tests import rucktracker

RUCKTRACKER_TABLES = {
    "user",
    "coaching_plan_templates",
    "user_coaching_plans",
    "plan_sessions",
    "ruck_session",
    "user_device_tokens",
    "location_point",
}
SERVICE_TABLES = {
    "coach_athlete_preferences",
    "coach_notification_ledger",
    "coach_cadence_analysis",
    "coach_athlete_timezones",
    "coach_weather_cache",
    "coach_notification_events",
    "coach_plan_runs",
    "coach_plan_rucks",
    "coach_push_deliveries",
    "coach_rollout_flags",
    "coach_rollout_changes",
    "coach_alerts",
}


# ---- migrations -----------------------------------------------------------------------------------------------


def _schema_diff(connection: Connection, only_service: bool) -> list[Any]:
    def include(name: str | None, kind: str, parent: Any) -> bool:
        if name == "coach_alembic_version":
            return False
        if only_service and kind == "table":
            return bool(name and name.startswith("coach_"))
        return True

    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include})
    diff = list(compare_metadata(context, Base.metadata))
    if only_service:  # RuckTracker's tables are theirs, with more columns and indexes than the service maps
        diff = [d for d in diff if _diff_table(d).startswith("coach_")]
    return diff


def _diff_table(entry: Any) -> str:
    """The table an autogenerate diff entry is about."""
    if isinstance(entry, list):  # a column modification comes as a list of changes
        return _diff_table(entry[0])
    first = entry[1]
    if isinstance(first, (Index, Table)):
        return first.table.name if isinstance(first, Index) else first.name
    return str(entry[2])


async def test_migration_creates_exactly_the_models(database_url: str, schema: str) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)  # a second run is a no-op
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_schema_diff, schema == "rucktracker") == []
            tables = await conn.run_sync(lambda c: set(c.dialect.get_table_names(c)))
            versions = {r[0] for r in await conn.exec_driver_sql("SELECT version_num FROM coach_alembic_version")}
            legacy = (
                [r[0] for r in await conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
                if schema == "rucktracker"
                else None
            )
    finally:
        await engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables if t.name.startswith("coach_")} == SERVICE_TABLES
    if schema == "rucktracker":
        # Only the service's own tables were added; Flask-Migrate's version row is RuckTracker's, untouched.
        assert SERVICE_TABLES <= tables and RUCKTRACKER_TABLES <= tables
        assert versions == {"sv0004"} and legacy == [rucktracker.ALEMBIC_REVISION]
    else:
        assert tables == RUCKTRACKER_TABLES | SERVICE_TABLES | {"coach_alembic_version"}
        assert versions == {"st0001", "sv0004"}


async def test_a_pre_release_database_is_refused_and_make_run_keeps_it_aside(tmp_path: Any) -> None:
    """The pre-release layout (its ledger in plan_notification_audit, preferences in user_profiles, both RuckTracker's
    names, under the default alembic_version) cannot be upgraded in place: refused with what to do, and `make run`'s
    local file is kept beside, renamed, rather than lost."""
    import sqlite3

    from activities.migrate import PreReleaseDatabaseError
    from starter.devrun import upgrade_dev_database
    from starter.settings import Settings

    path = tmp_path / "coach.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        old.execute("INSERT INTO alembic_version VALUES ('0004')")
        old.execute("CREATE TABLE user_profiles (user_id TEXT PRIMARY KEY)")
        old.execute("INSERT INTO user_profiles VALUES ('kept')")
    url = f"sqlite+aiosqlite:///{path}"
    with pytest.raises(PreReleaseDatabaseError, match="pre-release layout"):
        await upgrade_database(url)

    await upgrade_dev_database(Settings(database_url=url, environment="test"))
    (kept,) = tmp_path.glob("coach.db.pre-release-*")
    with sqlite3.connect(kept) as old:
        assert old.execute("SELECT user_id FROM user_profiles").fetchall() == [("kept",)]
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            versions = {r[0] for r in await conn.exec_driver_sql("SELECT version_num FROM coach_alembic_version")}
    finally:
        await engine.dispose()
    assert versions == {"st0001", "sv0004"}
