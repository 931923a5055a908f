"""SQLAlchemy models of the tables this service reads and writes.

Two families, kept apart on purpose (see the README's Data section and ``docs/rucktracker.md``):

- **RuckTracker's tables** (``"user"``, ``user_coaching_plans``, ``plan_sessions``, ``coaching_plan_templates``,
  ``ruck_session``, ``user_device_tokens``, ``location_point``): the contract is RuckTracker's real schema, so only the
  columns the service uses are mapped, each nullable where RuckTracker's is. On RuckTracker's database they already
  exist and the service never creates or alters them; in standalone mode (first runs, tests) the ``standalone``
  migration branch creates stand-ins with the same names, types and CHECK constraints.
- **The service's own tables**, all named ``coach_*`` so that none can collide with a RuckTracker table (its legacy
  ``plan_notification_audit`` and ``user_plan_behavior`` are RuckTracker's and never touched). They carry no foreign
  keys to RuckTracker's tables: a plan or session deleted there must neither block nor cascade into the ledger.

The same models run on SQLite (aiosqlite) for the local tier: JSON columns are JSONB on PostgreSQL only, user ids are
native UUIDs on PostgreSQL and 32-character hex strings on SQLite, and every timestamp goes through
:class:`UTCDateTime` so it always comes back timezone-aware in UTC, whichever database stored it.
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
    Table,
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

#: The nine personalities the Flutter client offers: its personality id *is* this display name, and RuckTracker's
#: ``valid_personality`` CHECK on ``user_coaching_plans.coaching_personality`` accepts only these.
PERSONALITY_DISPLAY_NAMES = (
    "Supportive Friend",
    "Drill Sergeant",
    "Southern Redneck",
    "Yoga Instructor",
    "British Butler",
    "Sports Commentator",
    "Cowboy/Cowgirl",
    "Nature Lover",
    "Session Analyst",
)
PLAN_STATUSES = ("active", "paused", "completed", "cancelled")
SESSION_STATUSES = ("planned", "completed", "missed", "modified", "skipped")
#: ``shadow``: decided and composed (copy included) for an athlete in shadow mode, never pushed (``sv0003``).
LEDGER_STATUSES = ("scheduled", "sent", "skipped", "failed", "shadow")
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


# ==== RuckTracker's tables ========================================================================================


class AppUser(Base):
    """An athlete (RuckTracker's ``"user"``): units, tone and the plan notification columns RuckTracker added here.

    RuckTracker has no ``user_profiles`` table; ``add_plan_notification_behavior.sql`` put the ``plan_*`` columns on
    ``"user"``, all nullable. ``plan_quiet_hours_start``/``_end`` are read as minutes after local midnight (RuckTracker
    stores but never reads or writes them). ``plan_evening_brief_offset_minutes`` (minutes before the session's
    start) is RuckTracker's legacy rule and is not mapped: the service anchors the brief to a local evening time.
    """

    __tablename__ = "user"
    __table_args__ = {"info": RUCKTRACKER}

    id: Mapped[str] = mapped_column(UserId, primary_key=True)
    prefer_metric: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=text("true"))
    #: The client's display name ('Drill Sergeant'), written by RuckTracker's code only; no CHECK here.
    coaching_tone: Mapped[str | None] = mapped_column(String(50))
    plan_notification_prefs: Mapped[dict[str, Any] | None] = _rt_json_object()
    plan_quiet_hours_start: Mapped[int | None] = mapped_column(SmallInteger)
    plan_quiet_hours_end: Mapped[int | None] = mapped_column(SmallInteger)
    plan_notification_timezone: Mapped[str | None] = mapped_column(Text, server_default="UTC")


class CoachingPlanTemplate(Base):
    """A plan template (``coaching_plan_templates``), e.g. ``get-faster``."""

    __tablename__ = "coaching_plan_templates"
    __table_args__ = {"info": RUCKTRACKER}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    duration_weeks: Mapped[int] = mapped_column(Integer, nullable=False)
    base_structure: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime | None] = _rt_timestamp()
    updated_at: Mapped[datetime | None] = _rt_timestamp()


class UserCoachingPlan(Base):
    """An athlete's plan (``user_coaching_plans``); one workflow runs per live row.

    The stand-in keeps RuckTracker's ``valid_personality`` CHECK (the nine display names), so a tone this database
    would refuse is refused in standalone runs and tests too. RuckTracker's ``UNIQUE (user_id, current_status)``
    (one cancelled plan per user) is not reproduced: its own code had to work around it.
    """

    __tablename__ = "user_coaching_plans"
    __table_args__ = (
        CheckConstraint(_in("current_status", PLAN_STATUSES), name="current_status"),
        CheckConstraint(_in("coaching_personality", PERSONALITY_DISPLAY_NAMES), name="valid_personality"),
        CheckConstraint("current_week > 0", name="current_week_positive"),
        {"info": RUCKTRACKER},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=False, index=True)
    coaching_plan_id: Mapped[int | None] = mapped_column(ForeignKey("coaching_plan_templates.id", ondelete="RESTRICT"))
    coaching_personality: Mapped[str] = mapped_column(
        String(50), nullable=False, default="Supportive Friend", server_default="Supportive Friend"
    )
    start_date: Mapped[date] = mapped_column(Date, nullable=False, server_default=func.current_date())
    current_week: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    current_status: Mapped[str | None] = mapped_column(
        String(50), nullable=False, default="active", server_default="active"
    )
    plan_modifications: Mapped[dict[str, Any] | None] = _rt_json_object()
    plan_notification_timezone: Mapped[str | None] = mapped_column(String(50), server_default="UTC")
    created_at: Mapped[datetime | None] = _rt_timestamp()
    updated_at: Mapped[datetime | None] = _rt_timestamp()


class PlanSessionRow(Base):
    """One planned session of a plan (``plan_sessions``); ``session_id`` is the ``ruck_session`` that completed it."""

    __tablename__ = "plan_sessions"
    __table_args__ = (
        CheckConstraint(_in("completion_status", SESSION_STATUSES), name="completion_status"),
        CheckConstraint("planned_week > 0", name="planned_week_positive"),
        Index("ix_plan_sessions_scheduled_date", "scheduled_date"),
        Index("ix_plan_sessions_next_notification_at", "next_notification_at"),
        {"info": RUCKTRACKER},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_coaching_plan_id: Mapped[int] = mapped_column(
        ForeignKey("user_coaching_plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    session_id: Mapped[int | None] = mapped_column(ForeignKey("ruck_session.id", ondelete="SET NULL"))
    planned_week: Mapped[int] = mapped_column(Integer, nullable=False)
    planned_session_type: Mapped[str] = mapped_column(String(100), nullable=False)
    completion_status: Mapped[str | None] = mapped_column(
        String(50), nullable=False, default="planned", server_default="planned"
    )
    plan_adherence_score: Mapped[float | None] = mapped_column(Numeric(3, 2, asdecimal=False))
    notes: Mapped[str | None] = mapped_column(Text)
    scheduled_date: Mapped[date | None] = mapped_column(Date)
    completed_date: Mapped[date | None] = mapped_column(Date)
    scheduled_start_time: Mapped[time | None] = mapped_column(Time)
    scheduled_timezone: Mapped[str | None] = mapped_column(Text, default="UTC", server_default="UTC")
    next_notification_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_notification_type: Mapped[str | None] = mapped_column(Text)
    missed_state: Mapped[str | None] = mapped_column(Text)
    notification_metadata: Mapped[dict[str, Any] | None] = _rt_json_object()
    #: Targets live here: target_distance_km, target_duration_minutes (a number or a range such as "40-50"),
    #: target_weight_kg.
    coaching_points: Mapped[dict[str, Any] | None] = _rt_json_object()
    created_at: Mapped[datetime | None] = _rt_timestamp()
    updated_at: Mapped[datetime | None] = _rt_timestamp()


class RuckSession(Base):
    """A ruck (``ruck_session``); RuckTracker has no CREATE for it, so only the columns this service reads.

    Its ``created_at`` is ``timestamp without time zone`` there, so it is not mapped: the service goes by
    ``completed_at`` (timestamptz).
    """

    __tablename__ = "ruck_session"
    __table_args__ = (
        # The service's own two indexes on RuckTracker's table (migration sv0001, see docs/rucktracker.md): the nightly
        # cadence recompute reads an athlete's recent rucks, the reconciler the rucks completed in the last hours.
        Index(
            "ix_coach_ruck_session_user_completed",
            "user_id",
            "completed_at",
            # Covering on PostgreSQL: the nightly read is then an index-only scan (bench/: 18 ms instead of 250 ms
            # per page of 2,000 athletes), where an athlete's rucks are spread over the whole heap.
            postgresql_include=["status", "started_at", "duration_seconds", "id"],
        ),
        Index(
            "ix_coach_ruck_session_completed",
            "completed_at",
            postgresql_where=text("status = 'completed'"),
            sqlite_where=text("status = 'completed'"),
        ),
        {"info": RUCKTRACKER},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    status: Mapped[str | None] = mapped_column(String(50))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    distance_km: Mapped[float | None] = mapped_column(Float)
    ruck_weight_kg: Mapped[float | None] = mapped_column(Float)


class UserDeviceToken(Base):
    """A push token (``user_device_tokens``); ``UNIQUE (user_id, device_id)`` is RuckTracker's upsert key."""

    __tablename__ = "user_device_tokens"
    __table_args__ = (
        CheckConstraint(_in("device_type", DEVICE_TYPES), name="device_type"),
        UniqueConstraint("user_id", "device_id"),
        Index("ix_user_device_tokens_fcm_token", "fcm_token"),
        {"info": RUCKTRACKER},
    )

    id: Mapped[str] = mapped_column(UserId, primary_key=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    fcm_token: Mapped[str] = mapped_column(Text, nullable=False)
    device_id: Mapped[str | None] = mapped_column(Text)
    device_type: Mapped[str | None] = mapped_column(Text)
    app_version: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime | None] = _rt_timestamp()
    updated_at: Mapped[datetime | None] = _rt_timestamp()


class LocationPoint(Base):
    """A GPS fix of a ruck (``location_point``); only read, for the (rounded) place of the weather forecast.

    ``session_id`` is the ``ruck_session`` id without a foreign key, as in RuckTracker. ``timestamp`` is naive UTC
    there, so it is a plain naive ``DateTime`` here too.
    """

    __tablename__ = "location_point"
    __table_args__ = {"info": RUCKTRACKER}

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    latitude: Mapped[float] = mapped_column(Float, nullable=False)
    longitude: Mapped[float] = mapped_column(Float, nullable=False)
    altitude: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)


#: RuckTracker's tables the service maps (the stand-ins of standalone mode), in dependency order.
RUCKTRACKER_TABLES: tuple[Table, ...] = tuple(
    t for t in Base.metadata.sorted_tables if t.info.get(OWNER) == "rucktracker"
)


# ==== The service's own tables ======================================================================================


class AthletePreferences(Base):
    """The notification preferences RuckTracker has no column for (``coach_athlete_preferences``), per athlete.

    Every column is nullable: NULL means "not set", so the rules' default applies (and a default can change later
    without rewriting rows). Zone, quiet hours, tone and units stay where RuckTracker keeps them (``"user"``).
    """

    __tablename__ = "coach_athlete_preferences"
    __table_args__ = {"info": SERVICE}

    user_id: Mapped[str] = mapped_column(UserId, primary_key=True)
    evening_brief_minute: Mapped[int | None] = mapped_column(SmallInteger)
    morning_hype_lead_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    weekly_digest_weekday: Mapped[int | None] = mapped_column(SmallInteger)
    weekly_digest_minute: Mapped[int | None] = mapped_column(SmallInteger)
    daily_cap: Mapped[int | None] = mapped_column(SmallInteger)
    #: The athlete's own usual start; NULL means "not set", so the schedule's fallback chain goes on past it.
    default_start_minute: Mapped[int | None] = mapped_column(SmallInteger)
    weekly_digest_enabled: Mapped[bool | None] = mapped_column(Boolean)
    milestones_enabled: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class NotificationLedgerEntry(Base):
    """The notification ledger (``coach_notification_ledger``): one row per notification that came due.

    ``notification_id`` (see :func:`coaching.ids.notification_id`) is the business key: one row per notification,
    whatever retries, restarts or repeated signals happen. RuckTracker's legacy sweep reads its own
    ``plan_notification_audit`` and never sees these rows.
    """

    __tablename__ = "coach_notification_ledger"
    __table_args__ = (
        CheckConstraint(_in("status", LEDGER_STATUSES), name="status"),
        Index("ix_coach_notification_ledger_status_scheduled_for", "status", "scheduled_for"),
        Index("ix_coach_notification_ledger_plan_id_scheduled_for", "plan_id", "scheduled_for"),
        {"info": SERVICE},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False)
    plan_session_id: Mapped[int | None] = mapped_column(Integer)
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


#: What FCM answered for one device token: it took the push (``sent``), or refused it for good (``rejected``).
PUSH_OUTCOMES = ("sent", "rejected")


class PushDelivery(Base):
    """One device token's part of a notification's delivery (``coach_push_deliveries``).

    Written in its own short transaction right after FCM answered for that token, before anything else happens, and
    read at the start of every delivery attempt: a token with a ``sent`` row is never pushed this notification again
    (and once any token has it, the notification is delivered), one with a ``rejected`` row is never retried. So a
    retry after a crash, a kill or a failed ledger write repeats a push only when the process died between FCM
    accepting it and this row committing. Tokens that failed transiently get no row: they may be tried again.
    ``token_id`` is ``user_device_tokens.id`` and ``notification_id`` the ledger's business key, neither a foreign key.
    """

    __tablename__ = "coach_push_deliveries"
    __table_args__ = (
        CheckConstraint(_in("outcome", PUSH_OUTCOMES), name="outcome"),
        UniqueConstraint("notification_id", "token_id"),
        {"info": SERVICE},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(Text, nullable=False)
    token_id: Mapped[str] = mapped_column(UserId, nullable=False)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    #: FCM's message name (``projects/…/messages/…``) for a ``sent`` row; the outbox's id without FCM.
    message_id: Mapped[str | None] = mapped_column(Text)
    #: Why FCM refused it (a ``rejected`` row): FCM's error code and message, never the token.
    error: Mapped[str | None] = mapped_column(Text)
    #: When FCM answered (the attempt's server time).
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class CadenceRow(Base):
    """The service's analysis of an athlete's cadence, per live plan (``coach_cadence_analysis``).

    Same shape as RuckTracker's ``user_plan_behavior`` (window, confidence, weekday pattern, deviations, metadata),
    but the service's own: RuckTracker's legacy analyzer writes that table with other rules, and its rows are not
    this analysis.
    """

    __tablename__ = "coach_cadence_analysis"
    __table_args__ = (UniqueConstraint("user_id", "plan_id"), {"info": SERVICE})

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False)
    plan_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
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
    """Where an athlete was, from when (``coach_athlete_timezones``).

    The cadence analyzer reads each ruck in the zone in effect at its start, so a trip or a move does not smear the
    prime window. Rows are written when a plan's zone is first seen or changes.
    """

    __tablename__ = "coach_athlete_timezones"
    __table_args__ = (UniqueConstraint("user_id", "effective_from"), {"info": SERVICE})

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = _created_at()


class WeatherCache(Base):
    """One 3-hour forecast slot of one rounded place (``coach_weather_cache``).

    The place is the latitude and longitude rounded to 2 decimals (about 1 km), stored as whole hundredths of a
    degree so the key compares exactly on both databases; the exact position of an athlete is never stored. A
    fetch upserts every slot of the response with the same ``fetched_at``, and rows older than the cache TTL
    count as missing.
    """

    __tablename__ = "coach_weather_cache"
    __table_args__ = (UniqueConstraint("lat_e2", "lon_e2", "slot_at"), {"info": SERVICE})

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
    """What the app reports about a sent notification (``coach_notification_events``).

    One row per notification and event (``UNIQUE (notification_id, event)``): a client that reports an open twice
    stores it once. ``notification_id`` is the ledger's business key, not a foreign key, so an event never blocks
    the ledger's own clean-up.
    """

    __tablename__ = "coach_notification_events"
    __table_args__ = (
        CheckConstraint(_in("event", NOTIFICATION_EVENTS), name="event"),
        UniqueConstraint("notification_id", "event"),
        {"info": SERVICE},
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[str] = mapped_column(UserId, nullable=False, index=True)
    event: Mapped[str] = mapped_column(String(20), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_at: Mapped[datetime] = _created_at()


class AlertRow(Base):
    """An alert the anomaly watch raised (``coach_alerts``), with the figures that triggered it.

    ``alert_key`` (kind, notification type, window end) is unique, so a retried pass records an alert once.
    """

    __tablename__ = "coach_alerts"
    __table_args__ = (Index("ix_coach_alerts_window_end", "window_end"), {"info": SERVICE})

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    notification_type: Mapped[str] = mapped_column(String(60), nullable=False)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    figures: Mapped[dict[str, Any]] = _json_object()
    braked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    #: What the webhook answered (``200``, ``error: …``), or None when no webhook is configured.
    webhook_status: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = _created_at()


class PlanRun(Base):
    """What the service knows of a plan's workflow (``coach_plan_runs``), kept by the reconciler.

    A row means a workflow was started for the plan (by the reconciler, the API or the CLI). ``status_seen`` is the
    plan status the workflow was last told about (or found at its start), so the reconciler signals only the plans
    whose row in ``user_coaching_plans`` says something else; ``ended_at`` is set when the workflow ended (with its
    ``end_reason``), so a plan that comes back to life in the database is started again.
    """

    __tablename__ = "coach_plan_runs"
    __table_args__ = {"info": SERVICE}

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[str | None] = mapped_column(UserId)
    status_seen: Mapped[str] = mapped_column(String(20), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _updated_at()


class PlanRuck(Base):
    """A completed ruck a plan's workflow has been told about (``coach_plan_rucks``), so the reconciler tells it
    once: the key is (plan, ruck), whichever path (reconciler, API, CLI) told it first."""

    __tablename__ = "coach_plan_rucks"
    __table_args__ = {"info": SERVICE}

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ruck_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    signalled_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)


class RolloutFlag(Base):
    """One rollout flag (``coach_rollout_flags``): the kill switch, the modes, the cohorts (see
    :mod:`activities.rollout`). A flag without a row has its built-in default; ``value`` is JSON."""

    __tablename__ = "coach_rollout_flags"
    __table_args__ = {"info": SERVICE}

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType, nullable=False)
    updated_by: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class RolloutChange(Base):
    """One change of a rollout flag (``coach_rollout_changes``): who, when, the old and new value, and why.

    Only ever inserted: the audit trail ``coach rollout show`` prints. ``old_value`` is NULL when the flag had no row
    (its built-in default applied)."""

    __tablename__ = "coach_rollout_changes"
    __table_args__ = (Index("ix_coach_rollout_changes_changed_at", "changed_at"), {"info": SERVICE})

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), nullable=False)
    old_value: Mapped[Any | None] = mapped_column(JSONType)
    new_value: Mapped[Any] = mapped_column(JSONType, nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


#: The service's own ``coach_*`` tables.
SERVICE_TABLES: tuple[Table, ...] = tuple(t for t in Base.metadata.sorted_tables if t.info.get(OWNER) == "service")
