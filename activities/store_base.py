"""What every store of the service shares: one transaction per call (or the caller's), ``ON CONFLICT`` spelled per
dialect, and user ids in the one form both databases compare equal.

``rows_affected`` and ``as_user_id`` are shared with the other stores of :mod:`activities` (their names predate this
module).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_DialectInsert = postgresql.Insert | sqlite.Insert


class TableStore:
    """Typed, transactional access to one family of tables; built once per worker from a sessionmaker."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    @asynccontextmanager
    async def _using(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        """``session`` (a caller's transaction, which commits it), or a transaction of its own."""
        if session is not None:
            yield session
            return
        async with self._sessionmaker.begin() as own:
            yield own


def dialect_insert(session: AsyncSession, entity: Any) -> _DialectInsert:
    """A dialect-specific INSERT, because ``ON CONFLICT`` is spelled per dialect in SQLAlchemy."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(entity)
    if name == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"database dialect {name!r} is not supported (use PostgreSQL or SQLite)")


def rows_affected(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def as_user_id(value: str) -> str:
    """The canonical (lower-case, hyphenated) form; SQLite compares user ids as text, so the form matters."""
    return str(uuid.UUID(str(value)))
