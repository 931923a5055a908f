"""RuckTracker's tables, as the service reads (and in a few columns writes) them.

The contract is RuckTracker's real schema, so only the columns the service uses are mapped, each nullable where
RuckTracker's is. On RuckTracker's database these tables already exist and the service never creates or alters them;
in standalone mode (first runs, tests) the ``standalone`` migration branch creates stand-ins with the same names,
types and CHECK constraints.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from activities.db.base import (
    OWNER,
    RUCKTRACKER,
    Base,
    BigIntPK,
    JSONType,
    UserId,
    UTCDateTime,
    _in,
    _rt_json_object,
    _rt_timestamp,
)

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
DEVICE_TYPES = ("ios", "android")


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
