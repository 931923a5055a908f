"""The service's own tables (all ``coach_*``) and its two indexes on ``ruck_session``.

Revision ID: sv0001
Revises:
Create Date: 2026-12-02

Applied in both install modes, on top of RuckTracker's tables (or their standalone stand-ins). Nothing here alters a
RuckTracker table; the only additions to one are two indexes on ``ruck_session``, documented in
``docs/rucktracker.md`` and dropped again by the downgrade:

- ``ix_coach_ruck_session_user_completed`` (user_id, completed_at; covering on PostgreSQL) for the nightly cadence
  recompute's "rucks of these athletes since …";
- ``ix_coach_ruck_session_completed`` (completed_at, completed rucks only) for the reconciler's "rucks completed in the
  last hours".

Both are created ``IF NOT EXISTS``: on a large production table create them beforehand with ``CREATE INDEX
CONCURRENTLY`` (the exact statements are in ``docs/rucktracker.md``) and this revision leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "sv0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("service",)
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UUID = sa.Uuid(as_uuid=False)
NOW = sa.text("CURRENT_TIMESTAMP")


def ts(name: str, nullable: bool = True, **kwargs: object) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kwargs)


def created_updated() -> list[sa.Column]:
    return [ts("created_at", False, server_default=NOW), ts("updated_at", False, server_default=NOW)]


def json_obj(name: str, default: str = "'{}'") -> sa.Column:
    return sa.Column(name, JSON, nullable=False, server_default=sa.text(default))


def upgrade() -> None:
    missing = [t for t in ("user", "user_coaching_plans", "plan_sessions", "ruck_session") if not _has(t)]
    if missing:
        raise RuntimeError(
            f"RuckTracker's tables {missing} are missing: point COACH_DATABASE_URL at RuckTracker's database, or "
            "use `coach db upgrade --mode standalone` to create stand-ins for a first run"
        )
    op.create_table(
        "coach_athlete_preferences",
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("evening_brief_minute", sa.SmallInteger(), nullable=True),
        sa.Column("morning_hype_lead_minutes", sa.SmallInteger(), nullable=True),
        sa.Column("weekly_digest_weekday", sa.SmallInteger(), nullable=True),
        sa.Column("weekly_digest_minute", sa.SmallInteger(), nullable=True),
        sa.Column("daily_cap", sa.SmallInteger(), nullable=True),
        sa.Column("default_start_minute", sa.SmallInteger(), nullable=True),
        sa.Column("weekly_digest_enabled", sa.Boolean(), nullable=True),
        sa.Column("milestones_enabled", sa.Boolean(), nullable=True),
        *created_updated(),
        sa.PrimaryKeyConstraint("user_id", name="pk_coach_athlete_preferences"),
    )
    op.create_table(
        "coach_notification_ledger",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("plan_session_id", sa.Integer(), nullable=True),
        sa.Column("notification_type", sa.Text(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="scheduled"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("copy_source", sa.Text(), nullable=True),
        ts("scheduled_for", False),
        ts("sent_at"),
        json_obj("payload"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        *created_updated(),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'skipped', 'failed')", name="ck_coach_notification_ledger_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_coach_notification_ledger"),
        sa.UniqueConstraint("notification_id", name="uq_coach_notification_ledger_notification_id"),
    )
    op.create_index(
        "ix_coach_notification_ledger_status_scheduled_for", "coach_notification_ledger", ["status", "scheduled_for"]
    )
    op.create_index(
        "ix_coach_notification_ledger_plan_id_scheduled_for", "coach_notification_ledger", ["plan_id", "scheduled_for"]
    )
    op.create_index("ix_coach_notification_ledger_user_id", "coach_notification_ledger", ["user_id"])
    op.create_table(
        "coach_cadence_analysis",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("prime_window_start_minute", sa.SmallInteger(), nullable=True),
        sa.Column("prime_window_end_minute", sa.SmallInteger(), nullable=True),
        sa.Column("confidence_score", sa.Numeric(3, 2), nullable=False, server_default="0"),
        json_obj("weekday_pattern"),
        json_obj("deviations", "'[]'"),
        json_obj("metadata"),
        ts("last_recomputed_at"),
        *created_updated(),
        sa.PrimaryKeyConstraint("id", name="pk_coach_cadence_analysis"),
        sa.UniqueConstraint("user_id", "plan_id", name="uq_coach_cadence_analysis_user_id_plan_id"),
    )
    op.create_index("ix_coach_cadence_analysis_plan_id", "coach_cadence_analysis", ["plan_id"])
    op.create_table(
        "coach_athlete_timezones",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        ts("effective_from", False),
        ts("created_at", False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_coach_athlete_timezones"),
        sa.UniqueConstraint("user_id", "effective_from", name="uq_coach_athlete_timezones_user_id_effective_from"),
    )
    op.create_table(
        "coach_weather_cache",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("lat_e2", sa.Integer(), nullable=False),
        sa.Column("lon_e2", sa.Integer(), nullable=False),
        ts("slot_at", False),
        sa.Column("temp_c", sa.Float(), nullable=False),
        sa.Column("condition_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("pop", sa.Float(), nullable=False, server_default="0"),
        ts("fetched_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_coach_weather_cache"),
        sa.UniqueConstraint("lat_e2", "lon_e2", "slot_at", name="uq_coach_weather_cache_lat_e2_lon_e2_slot_at"),
    )
    op.create_table(
        "coach_notification_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        ts("occurred_at", False),
        ts("created_at", False, server_default=NOW),
        sa.CheckConstraint(
            "event IN ('delivered', 'opened', 'cta_tapped', 'dismissed')", name="ck_coach_notification_events_event"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_coach_notification_events"),
        sa.UniqueConstraint("notification_id", "event", name="uq_coach_notification_events_notification_id_event"),
    )
    op.create_index("ix_coach_notification_events_user_id", "coach_notification_events", ["user_id"])
    op.create_table(
        "coach_plan_runs",
        sa.Column("plan_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", UUID, nullable=True),
        sa.Column("status_seen", sa.String(20), nullable=False),
        ts("started_at", False),
        ts("ended_at"),
        sa.Column("end_reason", sa.Text(), nullable=True),
        ts("updated_at", False, server_default=NOW),
        sa.PrimaryKeyConstraint("plan_id", name="pk_coach_plan_runs"),
    )
    op.create_table(
        "coach_plan_rucks",
        sa.Column("plan_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ruck_id", sa.Integer(), autoincrement=False, nullable=False),
        ts("signalled_at", False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "ruck_id", name="pk_coach_plan_rucks"),
    )
    op.create_index(
        "ix_coach_ruck_session_user_completed",
        "ruck_session",
        ["user_id", "completed_at"],
        # Covering on PostgreSQL: the nightly read is then an index-only scan (bench/: 18 ms instead of 250 ms per
        # page of 2,000 athletes), where an athlete's rucks are spread over the whole heap.
        postgresql_include=["status", "started_at", "duration_seconds", "id"],
        if_not_exists=True,
    )
    op.create_index(
        "ix_coach_ruck_session_completed",
        "ruck_session",
        ["completed_at"],
        postgresql_where=sa.text("status = 'completed'"),
        sqlite_where=sa.text("status = 'completed'"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_coach_ruck_session_completed", table_name="ruck_session", if_exists=True)
    op.drop_index("ix_coach_ruck_session_user_completed", table_name="ruck_session", if_exists=True)
    for table in (
        "coach_plan_rucks",
        "coach_plan_runs",
        "coach_notification_events",
        "coach_weather_cache",
        "coach_athlete_timezones",
        "coach_cadence_analysis",
        "coach_notification_ledger",
        "coach_athlete_preferences",
    ):
        op.drop_table(table)


def _has(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)
