"""What both families of models share: the declarative base and its naming convention, the column types that run
on PostgreSQL and SQLite alike, and the ownership mark (``Table.info``) that tells RuckTracker's tables from the
service's.

The ``_``-prefixed column helpers are private to the :mod:`activities.db` package: its family modules use them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData, Uuid, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

# Explicit constraint names keep Alembic migrations deterministic and identical on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSONB on PostgreSQL (what RuckTracker uses), plain JSON text elsewhere.
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

#: BIGSERIAL on PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` is an auto-incrementing rowid alias.
BigIntPK: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

#: Database user ids: native ``uuid`` on PostgreSQL; the Python side is always a canonical string.
UserId = Uuid(as_uuid=False)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamptz`` that only accepts aware datetimes and always returns aware UTC datetimes.

    PostgreSQL stores an instant and asyncpg returns it aware. SQLite has no time zone type: SQLAlchemy stores
    the wall time as text and returns it naive, so values are normalised to UTC before writing and get UTC
    attached on reading. Naive datetimes are rejected rather than guessed at, because a naive local time
    written as UTC would silently shift a notification by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _created_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, server_default=func.now())


def _updated_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), nullable=False, server_default=func.now(), onupdate=func.now())


def _json_object() -> Mapped[dict[str, Any]]:
    return mapped_column(JSONType, nullable=False, default=dict, server_default=text("'{}'"))


def _rt_json_object() -> Mapped[dict[str, Any] | None]:
    """A RuckTracker JSONB column with a ``'{}'`` default but no NOT NULL: rows may hold NULL (or any JSON)."""
    return mapped_column(JSONType, default=dict, server_default=text("'{}'"))


def _rt_timestamp() -> Mapped[datetime | None]:
    """A RuckTracker ``created_at``/``updated_at``: ``timestamptz DEFAULT now()``, nullable."""
    return mapped_column(UTCDateTime(), server_default=func.now())


class Base(DeclarativeBase):
    """Declarative base with the naming convention shared by models and migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: ``Table.info`` key naming who owns a table: "rucktracker" (read, never created on RuckTracker's database) or
#: "service" (a ``coach_*`` table this service creates and migrates).
OWNER = "owner"
RUCKTRACKER: dict[str, Any] = {OWNER: "rucktracker"}
SERVICE: dict[str, Any] = {OWNER: "service"}
