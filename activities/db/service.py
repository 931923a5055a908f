"""The service's own tables, all named ``coach_*`` so that none can collide with a RuckTracker table.

(RuckTracker's legacy ``plan_notification_audit`` and ``user_plan_behavior`` are RuckTracker's and never touched.)
They carry no foreign keys to RuckTracker's tables: a plan or session deleted there must neither block nor cascade
into the ledger. The ``sv*`` migrations create and change them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from activities.db.base import (
    OWNER,
    SERVICE,
    Base,
    BigIntPK,
    JSONType,
    UserId,
    UTCDateTime,
    _created_at,
    _in,
    _json_object,
    _updated_at,
)

#: ``shadow``: decided and composed (copy included) for an athlete in shadow mode, never pushed (``sv0003``).
LEDGER_STATUSES = ("scheduled", "sent", "skipped", "failed", "shadow")


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
