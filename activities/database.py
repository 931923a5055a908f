"""Async engines and sessionmakers for PostgreSQL (asyncpg) and SQLite (aiosqlite).

SQLite is the local tier, used by several concurrent activities at once, so each connection gets WAL (readers
never block the writer), a busy timeout (writers wait for the lock instead of failing) and foreign keys (off
by default in SQLite, and the ledger relies on ``ON DELETE CASCADE``). Transactions start with ``BEGIN
IMMEDIATE``: a deferred transaction that reads first and writes later can fail at once with ``SQLITE_BUSY``
when another writer got there in between, without the busy timeout ever applying.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/coach.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000


#: Connections older than this are replaced at checkout (a server-side idle timeout or a failover never hands out a
#: dead one after a quiet night), instead of pinging every checkout.
POOL_RECYCLE_SECONDS = 1800


def make_engine(
    url: str = DEFAULT_DATABASE_URL, *, pool_size: int | None = None, pre_ping: bool = True, **kwargs: Any
) -> AsyncEngine:
    """An async engine for ``url``, tuned per dialect (see the module doc); extra kwargs go to SQLAlchemy.

    On PostgreSQL, ``pool_size`` connections stay open and as many again may be opened in a burst (None: SQLAlchemy's
    5 + 10); ``pre_ping`` pings each connection at checkout (the worker turns it off: see Settings.db_pool_pre_ping).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", pre_ping)
        kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
        if pool_size is not None:
            kwargs.setdefault("pool_size", pool_size)
            kwargs.setdefault("max_overflow", pool_size)
        return create_async_engine(url, **kwargs)

    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        # The default URL points into ./var, which does not exist on a fresh checkout.
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN, instead of the driver's implicit deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (results are returned after the transaction ends)."""
    return async_sessionmaker(engine, expire_on_commit=False)
