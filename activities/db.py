"""SQLAlchemy models of the tables this service reads and writes, compatible with RuckTracker's schema.

Table and column names follow RuckTracker (see ``docs``/reference §1) so the service can point at the same
PostgreSQL database. The same models run on SQLite (aiosqlite) for the local tier: JSON columns are JSONB on
PostgreSQL only, user ids are native UUIDs on PostgreSQL and 32-character hex strings on SQLite, and every
timestamp goes through :class:`UTCDateTime` so it always comes back timezone-aware in UTC, whichever database
stored it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
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

PLAN_STATUSES = ("active", "paused", "completed", "cancelled")
SESSION_STATUSES = ("planned", "completed", "missed", "modified", "skipped")
LEDGER_STATUSES = ("scheduled", "sent", "skipped", "failed")
DEVICE_TYPES = ("ios", "android")


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


class Base(DeclarativeBase):
    """Declarative base with the naming convention shared by models and migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserProfile(Base):
    """Per-athlete preferences (``user_profiles``); a missing row means every default applies."""

    __tablename__ = "user_profiles"

    user_id: Mapped[str] = mapped_column(UserId, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    coaching_tone: Mapped[str] = mapped_column(
        String(50), nullable=False, default="supportive_friend", server_default="supportive_friend"
    )
    prefer_metric: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    plan_notification_timezone: Mapped[str] = mapped_column(Text, nullable=False, default="UTC", server_default="UTC")
    # Minutes after local midnight; both null (or equal) means no quiet hours.
    plan_quiet_hours_start: Mapped[int | None] = mapped_column(SmallInteger)
    plan_quiet_hours_end: Mapped[int | None] = mapped_column(SmallInteger)
    plan_evening_brief_minute: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, default=1200, server_default="1200"
    )
    plan_morning_hype_lead_minutes: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, default=60, server_default="60"
    )
    plan_weekly_digest_weekday: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=6, server_default="6")
    plan_weekly_digest_minute: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, default=1080, server_default="1080"
    )
    plan_daily_cap: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=4, server_default="4")
    #: The athlete's own usual start; NULL means "not set", so the schedule's fallback chain goes on past it.
    plan_default_start_minute: Mapped[int | None] = mapped_column(SmallInteger)
    plan_notification_prefs: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class CoachingPlanTemplate(Base):
    """A plan template (``coaching_plan_templates``), e.g. ``get-faster``."""

    __tablename__ = "coaching_plan_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    duration_weeks: Mapped[int] = mapped_column(Integer, nullable=False)
    base_structure: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class UserCoachingPlan(Base):
    """An athlete's plan (``user_coaching_plans``); one workflow runs per row.

    RuckTracker's ``UNIQUE (user_id, current_status)`` is deliberately not reproduced: it allowed only one
    cancelled or completed plan per user.
    """

    __tablename__ = "user_coaching_plans"
    __table_args__ = (
        CheckConstraint(_in("current_status", PLAN_STATUSES), name="current_status"),
        CheckConstraint("current_week > 0", name="current_week_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    coaching_plan_id: Mapped[int | None] = mapped_column(ForeignKey("coaching_plan_templates.id", ondelete="RESTRICT"))
    coaching_personality: Mapped[str] = mapped_column(
        String(50), nullable=False, default="supportive_friend", server_default="supportive_friend"
    )
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    current_week: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    current_status: Mapped[str] = mapped_column(String(50), nullable=False, default="active", server_default="active")
    plan_modifications: Mapped[dict[str, Any]] = _json_object()
    plan_notification_timezone: Mapped[str] = mapped_column(
        String(50), nullable=False, default="UTC", server_default="UTC"
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class PlanSessionRow(Base):
    """One planned session of a plan (``plan_sessions``).

    ``session_id`` is the linked ``ruck_session`` id. It carries no foreign key here: completions arrive by
    signal and the ruck may live only in RuckTracker's database, so linking must not depend on the row being
    present.
    """

    __tablename__ = "plan_sessions"
    __table_args__ = (
        CheckConstraint(_in("completion_status", SESSION_STATUSES), name="completion_status"),
        CheckConstraint("planned_week > 0", name="planned_week_positive"),
        Index("ix_plan_sessions_scheduled_date", "scheduled_date"),
        Index("ix_plan_sessions_next_notification_at", "next_notification_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_coaching_plan_id: Mapped[int] = mapped_column(
        ForeignKey("user_coaching_plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    session_id: Mapped[int | None] = mapped_column(Integer)
    planned_week: Mapped[int] = mapped_column(Integer, nullable=False)
    planned_session_type: Mapped[str] = mapped_column(String(100), nullable=False)
    completion_status: Mapped[str] = mapped_column(
        String(50), nullable=False, default="planned", server_default="planned"
    )
    plan_adherence_score: Mapped[float | None] = mapped_column(Numeric(3, 2, asdecimal=False))
    notes: Mapped[str | None] = mapped_column(Text)
    scheduled_date: Mapped[date | None] = mapped_column(Date)
    completed_date: Mapped[date | None] = mapped_column(Date)
    scheduled_start_time: Mapped[time | None] = mapped_column(Time)
    scheduled_timezone: Mapped[str] = mapped_column(Text, nullable=False, default="UTC", server_default="UTC")
    next_notification_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_notification_type: Mapped[str | None] = mapped_column(Text)
    missed_state: Mapped[str | None] = mapped_column(Text)
    notification_metadata: Mapped[dict[str, Any]] = _json_object()
    # Targets live here: target_distance_km, target_duration_minutes, target_weight_kg.
    coaching_points: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class RuckSession(Base):
    """A ruck (``ruck_session``); RuckTracker has no CREATE for it, so only the columns this service needs."""

    __tablename__ = "ruck_session"
    #: The nightly cadence recompute finds each athlete's recent rucks by this (see migration 0002).
    __table_args__ = (
        Index(
            "ix_ruck_session_user_id_completed_at",
            "user_id",
            "completed_at",
            # Covering on PostgreSQL: the nightly read is then an index-only scan (bench/: 18 ms instead of 250 ms
            # per page of 2,000 athletes), where an athlete's rucks are spread over the whole heap.
            postgresql_include=["status", "started_at", "duration_seconds", "id"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    status: Mapped[str | None] = mapped_column(String(50))
    is_manual: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    distance_km: Mapped[float | None] = mapped_column(Float)
    ruck_weight_kg: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = _created_at()


class UserDeviceToken(Base):
    """A push token (``user_device_tokens``); ``UNIQUE (user_id, device_id)`` is RuckTracker's upsert key."""

    __tablename__ = "user_device_tokens"
    __table_args__ = (
        CheckConstraint(_in("device_type", DEVICE_TYPES), name="device_type"),
        UniqueConstraint("user_id", "device_id"),
        Index("ix_user_device_tokens_fcm_token", "fcm_token"),
    )

    id: Mapped[str] = mapped_column(UserId, primary_key=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    fcm_token: Mapped[str] = mapped_column(Text, nullable=False)
    device_id: Mapped[str | None] = mapped_column(Text)
    device_type: Mapped[str | None] = mapped_column(Text)
    app_version: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class UserPlanBehavior(Base):
    """The learned prime window of a plan (``user_plan_behavior``)."""

    __tablename__ = "user_plan_behavior"
    __table_args__ = (UniqueConstraint("user_id", "user_coaching_plan_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False)
    user_coaching_plan_id: Mapped[int] = mapped_column(
        ForeignKey("user_coaching_plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    prime_window_start_minute: Mapped[int | None] = mapped_column(SmallInteger)
    prime_window_end_minute: Mapped[int | None] = mapped_column(SmallInteger)
    confidence_score: Mapped[float] = mapped_column(
        Numeric(3, 2, asdecimal=False), nullable=False, default=0.0, server_default="0"
    )
    weekday_pattern: Mapped[dict[str, Any]] = _json_object()
    deviations: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list, server_default=text("'[]'"))
    # "metadata" is reserved on declarative classes, so the attribute has another name than the column.
    behavior_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )
    last_recomputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class AthleteTimezone(Base):
    """Where an athlete was, from when (``athlete_timezones``, owned by this service).

    The cadence analyzer reads each ruck in the zone in effect at its start, so a trip or a move does not smear the
    prime window. Rows are written when a plan's zone is first seen or changes, and when a ruck reports its zone.
    """

    __tablename__ = "athlete_timezones"
    __table_args__ = (UniqueConstraint("user_id", "effective_from"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = _created_at()


class PlanNotificationAudit(Base):
    """The notification ledger (``plan_notification_audit``), owned by this service.

    ``notification_id`` (see :func:`coaching.ids.notification_id`) is the business key: one row per
    notification, whatever retries, restarts or repeated signals happen.
    """

    __tablename__ = "plan_notification_audit"
    __table_args__ = (
        CheckConstraint(_in("status", LEDGER_STATUSES), name="status"),
        Index("ix_plan_notification_audit_status_scheduled_for", "status", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    user_coaching_plan_id: Mapped[int] = mapped_column(
        ForeignKey("user_coaching_plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    plan_session_id: Mapped[int | None] = mapped_column(ForeignKey("plan_sessions.id", ondelete="SET NULL"))
    notification_type: Mapped[str] = mapped_column(Text, nullable=False)
    local_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="scheduled", server_default="scheduled")
    reason: Mapped[str | None] = mapped_column(Text)
    copy_source: Mapped[str | None] = mapped_column(Text)  # 'template' or 'ai'
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = _json_object()
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class LocationPoint(Base):
    """A GPS fix of a ruck (``location_point``, RuckTracker's; created by migration 0003 only for standalone runs).

    ``session_id`` is the ``ruck_session`` id without a foreign key, as in RuckTracker. ``timestamp`` is naive
    UTC there, so it is a plain naive ``DateTime`` here too. The service only reads this table: the first point
    of an athlete's latest ruck gives the (rounded) place of the weather forecast.
    """

    __tablename__ = "location_point"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    latitude: Mapped[float] = mapped_column(Float, nullable=False)
    longitude: Mapped[float] = mapped_column(Float, nullable=False)
    altitude: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)


class WeatherCache(Base):
    """One 3-hour forecast slot of one rounded place (``weather_cache``, owned by this service).

    The place is the latitude and longitude rounded to 2 decimals (about 1 km), stored as whole hundredths of a
    degree so the key compares exactly on both databases; the exact position of an athlete is never stored. A
    fetch upserts every slot of the response with the same ``fetched_at``, and rows older than the cache TTL
    count as missing.
    """

    __tablename__ = "weather_cache"
    __table_args__ = (UniqueConstraint("lat_e2", "lon_e2", "slot_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: Latitude × 100, rounded: 5151 is 51.51°.
    lat_e2: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Longitude × 100, rounded: -12 is -0.12°.
    lon_e2: Mapped[int] = mapped_column(Integer, nullable=False)
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    temp_c: Mapped[float] = mapped_column(Float, nullable=False)
    #: OpenWeatherMap's condition code (2xx thunderstorm … 6xx snow are precipitation, 800 clear, 80x clouds).
    condition_id: Mapped[int] = mapped_column(Integer, nullable=False)
    #: The condition group ("Rain") and its description ("light rain").
    condition: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    #: Probability of precipitation, 0..1.
    pop: Mapped[float] = mapped_column(Float, nullable=False, default=0.0, server_default="0")
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


NOTIFICATION_EVENTS = ("delivered", "opened", "cta_tapped", "dismissed")


class NotificationEvent(Base):
    """What the app reports about a sent notification (``notification_events``, owned by this service).

    One row per notification and event (``UNIQUE (notification_id, event)``): a client that reports an open twice
    stores it once. ``notification_id`` is the ledger's business key, not a foreign key, so an event never blocks
    the ledger's own clean-up.
    """

    __tablename__ = "notification_events"
    __table_args__ = (
        CheckConstraint(_in("event", NOTIFICATION_EVENTS), name="event"),
        UniqueConstraint("notification_id", "event"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    event: Mapped[str] = mapped_column(String(20), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = _created_at()
