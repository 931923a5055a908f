"""Alembic environment: async engines, one URL for PostgreSQL or SQLite, two branches.

``standalone`` creates stand-ins for RuckTracker's tables (first runs, tests); ``service`` creates the service's own
``coach_*`` tables and applies in both install modes. ``coach db upgrade`` picks the branches by the install mode
(:mod:`activities.migrate`); with the ``alembic`` command line, name the branches (``alembic upgrade service@head``).

The URL comes from, in order: ``config.attributes["url"]`` (set by
:func:`activities.migrate.upgrade_database`), ``DATABASE_URL``, ``COACH_DATABASE_URL``, ``sqlalchemy.url`` in
``alembic.ini``, and finally the local SQLite default. A caller may also hand over an open connection in
``config.attributes["connection"]``; it then owns the transaction.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from activities.database import DEFAULT_DATABASE_URL, make_engine
from activities.db import Base

config = context.config
target_metadata = Base.metadata

# Serialises concurrent upgrades on PostgreSQL (a worker and the CLI starting together); any fixed key works.
PG_MIGRATION_LOCK_KEY = 0x636F616368  # "coach"
#: The service's own version table: RuckTracker's database already has Flask-Migrate's ``alembic_version`` (with a
#: revision this project does not know), which must be left alone.
VERSION_TABLE = "coach_alembic_version"


def database_url() -> str:
    """The database to migrate (see the module doc for the order of precedence)."""
    url = (
        config.attributes.get("url")
        or os.environ.get("DATABASE_URL")
        or os.environ.get("COACH_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
        or DEFAULT_DATABASE_URL
    )
    return str(url)


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on ``connection``, whose transaction the caller commits."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MIGRATION_LOCK_KEY})")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode lets later revisions work on both databases.
        render_as_batch=True,
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    """Open an engine for the configured URL and migrate in one transaction (DDL is transactional on both)."""
    engine = make_engine(database_url(), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Migrate a live database, on the caller's connection if one was given."""
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    asyncio.run(run_async_migrations())


# Only the `alembic` command line configures logging; a programmatic upgrade keeps the application's logging.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
