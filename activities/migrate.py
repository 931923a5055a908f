"""Run the Alembic migrations from code (``coach db upgrade``, the worker's first run, the tests).

The Alembic configuration is built in code and points at the installed ``migrations`` package, so this works
from any working directory without ``alembic.ini``. The upgrade runs on a connection opened here and handed to
``migrations/env.py``, which avoids starting a second event loop inside the caller's.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import migrations
from activities.database import make_engine


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


async def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: the latest) in a single transaction."""
    cfg = alembic_config(url)
    # NullPool: the migration connection is used once and must not linger (SQLite would keep the file open).
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, cfg, revision)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
