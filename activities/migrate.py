"""Install and migrate the service's tables, in one of two modes (``coach db upgrade``, ``make run``, the tests).

- **standalone**: an empty database (SQLite or PostgreSQL) for first runs and tests: the ``standalone`` branch creates
  stand-ins for RuckTracker's tables, then the ``service`` branch the service's own ``coach_*`` tables.
- **rucktracker**: RuckTracker's own PostgreSQL database: only the ``service`` branch. RuckTracker's tables are
  never created, altered or dropped (two documented indexes on ``ruck_session`` aside, see ``sv0001``), and its
  Flask-Migrate ``alembic_version`` is left alone: the service keeps its revisions in ``coach_alembic_version``.
- **auto** (the default): the mode the database was installed in; else ``rucktracker`` when RuckTracker's tables are
  there, else ``standalone``.

The Alembic configuration is built in code and points at the installed ``migrations`` package, so this works from any
working directory without ``alembic.ini``. The upgrade runs on a connection opened here and handed to
``migrations/env.py``, which avoids starting a second event loop inside the caller's.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import migrations
from activities.database import make_engine

#: The service's Alembic version table (see ``migrations/env.py``).
VERSION_TABLE = "coach_alembic_version"
#: Revisions of this service's pre-release layout, which kept its ledger in ``plan_notification_audit`` and its
#: preferences in ``user_profiles`` (both colliding with RuckTracker) under the default ``alembic_version``.
PRE_RELEASE_REVISIONS = frozenset({"0001", "0002", "0003", "0004"})
#: RuckTracker's tables whose presence tells its database (or a standalone one) apart from an empty one.
RUCKTRACKER_MARKER = "user_coaching_plans"
RUCKTRACKER_REQUIRED = ("user", "user_coaching_plans", "plan_sessions", "ruck_session", "user_device_tokens")


class InstallMode(StrEnum):
    STANDALONE = "standalone"
    RUCKTRACKER = "rucktracker"
    AUTO = "auto"


class DatabaseSetupError(RuntimeError):
    """The database cannot be installed or migrated in the mode asked for; the message says why and what to do."""


def script_location() -> str:
    """The directory of the installed ``migrations`` package (the one holding ``env.py``)."""
    # __path__ rather than __file__: an editable install made before migrations/__init__.py existed maps the
    # package as a namespace package, which has no __file__.
    for entry in migrations.__path__:
        if (Path(entry) / "env.py").is_file():
            return str(Path(entry).resolve())
    raise RuntimeError(f"no Alembic env.py in the migrations package ({list(migrations.__path__)})")


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` whose script location is the installed ``migrations`` package."""
    cfg = Config()
    cfg.set_main_option("script_location", script_location())
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    cfg.attributes["configure_logger"] = False
    return cfg


async def upgrade_database(url: str, mode: InstallMode | str = InstallMode.AUTO) -> InstallMode:
    """Install or migrate the database at ``url`` to the latest revision in ``mode``, in one transaction; returns
    the mode it is installed in. Raises :class:`DatabaseSetupError` when the mode does not fit the database."""
    return await _on_connection(url, _upgrade, InstallMode(mode))


async def downgrade_database(url: str, mode: InstallMode | str = InstallMode.AUTO) -> InstallMode:
    """Remove what :func:`upgrade_database` installed: in ``rucktracker`` mode the service's own tables only (and
    its indexes on ``ruck_session``); in ``standalone`` mode the stand-ins too."""
    return await _on_connection(url, _downgrade, InstallMode(mode))


async def installed_mode(url: str) -> InstallMode | None:
    """The mode the database was installed in, or None if the service was never installed there."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda c: _installed(c, sa.inspect(c)))
    finally:
        await engine.dispose()


async def _on_connection(url: str, operation: object, mode: InstallMode) -> InstallMode:
    cfg = alembic_config(url)
    # NullPool: the migration connection is used once and must not linger (SQLite would keep the file open).
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            resolved: InstallMode = await connection.run_sync(operation, cfg, mode)  # type: ignore[arg-type]
            return resolved
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, cfg: Config, requested: InstallMode) -> InstallMode:
    mode = resolve_mode(connection, requested)
    cfg.attributes["connection"] = connection
    if mode is InstallMode.STANDALONE:
        command.upgrade(cfg, "standalone@head")
    command.upgrade(cfg, "service@head")
    return mode


def _downgrade(connection: Connection, cfg: Config, requested: InstallMode) -> InstallMode:
    mode = resolve_mode(connection, requested)
    cfg.attributes["connection"] = connection
    if _installed(connection, sa.inspect(connection)) is None:
        return mode
    command.downgrade(cfg, "service@base")
    if mode is InstallMode.STANDALONE:
        command.downgrade(cfg, "standalone@base")
    if _installed(connection, sa.inspect(connection)) is None:  # nothing of the service's left: not its table either
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    return mode


def resolve_mode(connection: Connection, requested: InstallMode) -> InstallMode:
    """The install mode to use on this database for ``requested``, or :class:`DatabaseSetupError` saying why not."""
    inspector = sa.inspect(connection)
    installed = _installed(connection, inspector)
    if installed is None:
        _refuse_pre_release(connection, inspector)
    has_rucktracker = inspector.has_table(RUCKTRACKER_MARKER)
    if requested is InstallMode.AUTO:
        if installed is not None:
            return installed
        return InstallMode.RUCKTRACKER if has_rucktracker else InstallMode.STANDALONE
    if requested is InstallMode.STANDALONE:
        if installed is InstallMode.RUCKTRACKER or (installed is None and has_rucktracker):
            raise DatabaseSetupError(
                f"this database already has RuckTracker's tables ({RUCKTRACKER_MARKER}) that the service did not "
                "create: standalone mode would create its own stand-ins. Use --mode rucktracker (COACH_DATABASE_MODE="
                "rucktracker), which creates only the service's coach_* tables."
            )
        return requested
    if installed is InstallMode.STANDALONE:
        raise DatabaseSetupError(
            "this database was installed in standalone mode (the service created its RuckTracker tables); "
            "use --mode standalone, or install the service on RuckTracker's database instead"
        )
    missing = [t for t in RUCKTRACKER_REQUIRED if not inspector.has_table(t)]
    if missing:
        raise DatabaseSetupError(
            f"RuckTracker's tables {missing} are missing: point COACH_DATABASE_URL at RuckTracker's database, or use "
            "--mode standalone for a database of the service's own"
        )
    return requested


def _installed(connection: Connection, inspector: sa.Inspector) -> InstallMode | None:
    if not inspector.has_table(VERSION_TABLE):
        return None
    versions = {row[0] for row in connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))}
    if not versions:
        return None
    return InstallMode.STANDALONE if any(v.startswith("st") for v in versions) else InstallMode.RUCKTRACKER


def _refuse_pre_release(connection: Connection, inspector: sa.Inspector) -> None:
    if not inspector.has_table("alembic_version"):
        return
    versions = {row[0] for row in connection.execute(sa.text("SELECT version_num FROM alembic_version"))}
    if versions & PRE_RELEASE_REVISIONS:
        raise PreReleaseDatabaseError(
            f"this database holds the service's pre-release layout (alembic_version {sorted(versions)}: its ledger "
            "in plan_notification_audit and preferences in user_profiles, which collide with RuckTracker's tables). "
            "It cannot be upgraded in place: start from a new database (for the local default, move var/coach.db "
            "away; `make run` does so by itself)."
        )


class PreReleaseDatabaseError(DatabaseSetupError):
    """A database of the service's pre-release layout (see :data:`PRE_RELEASE_REVISIONS`)."""


__all__ = [
    "DatabaseSetupError",
    "InstallMode",
    "PreReleaseDatabaseError",
    "VERSION_TABLE",
    "alembic_config",
    "downgrade_database",
    "installed_mode",
    "resolve_mode",
    "upgrade_database",
]
