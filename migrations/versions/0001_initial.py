"""Initial schema: RuckTracker-compatible plan tables and the notification ledger.

Revision ID: 0001
Revises:
Create Date: 2026-03-01

Runs on PostgreSQL and SQLite. Types are spelled out here rather than imported from ``activities.db`` so this
revision keeps describing the schema it created even after the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
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
    op.create_table(
        "user_profiles",
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("coaching_tone", sa.String(50), nullable=False, server_default="supportive_friend"),
        sa.Column("prefer_metric", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("plan_notification_timezone", sa.Text(), nullable=False, server_default="UTC"),
        sa.Column("plan_quiet_hours_start", sa.SmallInteger(), nullable=True),
        sa.Column("plan_quiet_hours_end", sa.SmallInteger(), nullable=True),
        sa.Column("plan_evening_brief_minute", sa.SmallInteger(), nullable=False, server_default="1200"),
        sa.Column("plan_morning_hype_lead_minutes", sa.SmallInteger(), nullable=False, server_default="60"),
        sa.Column("plan_weekly_digest_weekday", sa.SmallInteger(), nullable=False, server_default="6"),
        sa.Column("plan_weekly_digest_minute", sa.SmallInteger(), nullable=False, server_default="1080"),
        sa.Column("plan_daily_cap", sa.SmallInteger(), nullable=False, server_default="4"),
        sa.Column("plan_default_start_minute", sa.SmallInteger(), nullable=False, server_default="420"),
        json_obj("plan_notification_prefs"),
        *created_updated(),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_profiles"),
    )

    op.create_table(
        "coaching_plan_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(50), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("duration_weeks", sa.Integer(), nullable=False),
        sa.Column("base_structure", JSON, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        *created_updated(),
        sa.PrimaryKeyConstraint("id", name="pk_coaching_plan_templates"),
        sa.UniqueConstraint("plan_id", name="uq_coaching_plan_templates_plan_id"),
    )

    op.create_table(
        "user_coaching_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("coaching_plan_id", sa.Integer(), nullable=True),
        sa.Column("coaching_personality", sa.String(50), nullable=False, server_default="supportive_friend"),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("current_week", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("current_status", sa.String(50), nullable=False, server_default="active"),
        json_obj("plan_modifications"),
        sa.Column("plan_notification_timezone", sa.String(50), nullable=False, server_default="UTC"),
        *created_updated(),
        sa.CheckConstraint(
            "current_status IN ('active', 'paused', 'completed', 'cancelled')",
            name="ck_user_coaching_plans_current_status",
        ),
        sa.CheckConstraint("current_week > 0", name="ck_user_coaching_plans_current_week_positive"),
        sa.ForeignKeyConstraint(
            ["coaching_plan_id"],
            ["coaching_plan_templates.id"],
            name="fk_user_coaching_plans_coaching_plan_id",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_coaching_plans"),
    )
    op.create_index("ix_user_coaching_plans_user_id", "user_coaching_plans", ["user_id"])

    op.create_table(
        "plan_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_coaching_plan_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("planned_week", sa.Integer(), nullable=False),
        sa.Column("planned_session_type", sa.String(100), nullable=False),
        sa.Column("completion_status", sa.String(50), nullable=False, server_default="planned"),
        sa.Column("plan_adherence_score", sa.Numeric(3, 2), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("scheduled_date", sa.Date(), nullable=True),
        sa.Column("completed_date", sa.Date(), nullable=True),
        sa.Column("scheduled_start_time", sa.Time(), nullable=True),
        sa.Column("scheduled_timezone", sa.Text(), nullable=False, server_default="UTC"),
        ts("next_notification_at"),
        sa.Column("last_notification_type", sa.Text(), nullable=True),
        sa.Column("missed_state", sa.Text(), nullable=True),
        json_obj("notification_metadata"),
        json_obj("coaching_points"),
        *created_updated(),
        sa.CheckConstraint(
            "completion_status IN ('planned', 'completed', 'missed', 'modified', 'skipped')",
            name="ck_plan_sessions_completion_status",
        ),
        sa.CheckConstraint("planned_week > 0", name="ck_plan_sessions_planned_week_positive"),
        sa.ForeignKeyConstraint(
            ["user_coaching_plan_id"],
            ["user_coaching_plans.id"],
            name="fk_plan_sessions_user_coaching_plan_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_sessions"),
    )
    op.create_index("ix_plan_sessions_user_coaching_plan_id", "plan_sessions", ["user_coaching_plan_id"])
    op.create_index("ix_plan_sessions_scheduled_date", "plan_sessions", ["scheduled_date"])
    op.create_index("ix_plan_sessions_next_notification_at", "plan_sessions", ["next_notification_at"])

    op.create_table(
        "ruck_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("status", sa.String(50), nullable=True),
        sa.Column("is_manual", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        ts("started_at"),
        ts("completed_at"),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("ruck_weight_kg", sa.Float(), nullable=True),
        ts("created_at", False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_ruck_session"),
    )
    op.create_index("ix_ruck_session_user_id", "ruck_session", ["user_id"])

    op.create_table(
        "user_device_tokens",
        sa.Column("id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("fcm_token", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=True),
        sa.Column("device_type", sa.Text(), nullable=True),
        sa.Column("app_version", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        *created_updated(),
        sa.CheckConstraint("device_type IN ('ios', 'android')", name="ck_user_device_tokens_device_type"),
        sa.PrimaryKeyConstraint("id", name="pk_user_device_tokens"),
        sa.UniqueConstraint("user_id", "device_id", name="uq_user_device_tokens_user_id_device_id"),
    )
    op.create_index("ix_user_device_tokens_user_id", "user_device_tokens", ["user_id"])
    op.create_index("ix_user_device_tokens_fcm_token", "user_device_tokens", ["fcm_token"])

    op.create_table(
        "user_plan_behavior",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("user_coaching_plan_id", sa.Integer(), nullable=False),
        sa.Column("prime_window_start_minute", sa.SmallInteger(), nullable=True),
        sa.Column("prime_window_end_minute", sa.SmallInteger(), nullable=True),
        sa.Column("confidence_score", sa.Numeric(3, 2), nullable=False, server_default="0"),
        json_obj("weekday_pattern"),
        json_obj("deviations", "'[]'"),
        json_obj("metadata"),
        ts("last_recomputed_at"),
        *created_updated(),
        sa.ForeignKeyConstraint(
            ["user_coaching_plan_id"],
            ["user_coaching_plans.id"],
            name="fk_user_plan_behavior_user_coaching_plan_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_plan_behavior"),
        sa.UniqueConstraint(
            "user_id", "user_coaching_plan_id", name="uq_user_plan_behavior_user_id_user_coaching_plan_id"
        ),
    )
    op.create_index("ix_user_plan_behavior_user_coaching_plan_id", "user_plan_behavior", ["user_coaching_plan_id"])

    op.create_table(
        "plan_notification_audit",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("user_coaching_plan_id", sa.Integer(), nullable=False),
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
            "status IN ('scheduled', 'sent', 'skipped', 'failed')", name="ck_plan_notification_audit_status"
        ),
        sa.ForeignKeyConstraint(
            ["user_coaching_plan_id"],
            ["user_coaching_plans.id"],
            name="fk_plan_notification_audit_user_coaching_plan_id",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_session_id"],
            ["plan_sessions.id"],
            name="fk_plan_notification_audit_plan_session_id",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_notification_audit"),
        sa.UniqueConstraint("notification_id", name="uq_plan_notification_audit_notification_id"),
    )
    op.create_index(
        "ix_plan_notification_audit_status_scheduled_for", "plan_notification_audit", ["status", "scheduled_for"]
    )
    op.create_index(
        "ix_plan_notification_audit_user_coaching_plan_id", "plan_notification_audit", ["user_coaching_plan_id"]
    )
    op.create_index("ix_plan_notification_audit_user_id", "plan_notification_audit", ["user_id"])


def downgrade() -> None:
    for table in (
        "plan_notification_audit",
        "user_plan_behavior",
        "user_device_tokens",
        "ruck_session",
        "plan_sessions",
        "user_coaching_plans",
        "coaching_plan_templates",
        "user_profiles",
    ):
        op.drop_table(table)
