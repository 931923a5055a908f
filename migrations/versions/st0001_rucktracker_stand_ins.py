"""Standalone mode: stand-ins for the RuckTracker tables the service reads, for first runs and tests.

Revision ID: st0001
Revises:
Create Date: 2026-12-02

Only ``coach db upgrade --mode standalone`` applies this branch. On RuckTracker's own database these tables already
exist and belong to RuckTracker, so the revision refuses to run where ``user_coaching_plans`` is present. Names, types,
nullability and CHECK constraints follow RuckTracker's schema (``docs/rucktracker.md``), so code that works here
works there: the stand-in ``user_coaching_plans`` accepts only the nine personality display names, as theirs does.
Types are spelled out here rather than imported from ``activities.db`` so this revision keeps describing the schema
it created even after the models change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "st0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("standalone",)
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UUID = sa.Uuid(as_uuid=False)
NOW = sa.text("CURRENT_TIMESTAMP")
PERSONALITIES = (
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


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def created_updated() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True, server_default=NOW),
    ]


def json_obj(name: str) -> sa.Column:
    return sa.Column(name, JSON, nullable=True, server_default=sa.text("'{}'"))


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("user_coaching_plans"):
        raise RuntimeError(
            "user_coaching_plans already exists: this is RuckTracker's database (or one like it). The standalone "
            "branch creates stand-ins for RuckTracker's tables and must not run here; use "
            "`coach db upgrade --mode rucktracker`, which creates only the service's own coach_* tables."
        )
    op.create_table(
        "user",
        sa.Column("id", UUID, nullable=False),
        sa.Column("prefer_metric", sa.Boolean(), nullable=True, server_default=sa.text("true")),
        sa.Column("coaching_tone", sa.String(50), nullable=True),
        json_obj("plan_notification_prefs"),
        sa.Column("plan_quiet_hours_start", sa.SmallInteger(), nullable=True),
        sa.Column("plan_quiet_hours_end", sa.SmallInteger(), nullable=True),
        sa.Column("plan_notification_timezone", sa.Text(), nullable=True, server_default="UTC"),
        sa.PrimaryKeyConstraint("id", name="pk_user"),
    )
    op.create_table(
        "coaching_plan_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(50), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("duration_weeks", sa.Integer(), nullable=False),
        sa.Column("base_structure", JSON, nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=True, server_default=sa.text("true")),
        *created_updated(),
        sa.PrimaryKeyConstraint("id", name="pk_coaching_plan_templates"),
        sa.UniqueConstraint("plan_id", name="uq_coaching_plan_templates_plan_id"),
    )
    op.create_table(
        "user_coaching_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("coaching_plan_id", sa.Integer(), nullable=True),
        sa.Column("coaching_personality", sa.String(50), nullable=False, server_default="Supportive Friend"),
        sa.Column("start_date", sa.Date(), nullable=False, server_default=sa.text("CURRENT_DATE")),
        sa.Column("current_week", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("current_status", sa.String(50), nullable=False, server_default="active"),
        json_obj("plan_modifications"),
        sa.Column("plan_notification_timezone", sa.String(50), nullable=True, server_default="UTC"),
        *created_updated(),
        sa.CheckConstraint(
            _in("current_status", ("active", "paused", "completed", "cancelled")),
            name="ck_user_coaching_plans_current_status",
        ),
        sa.CheckConstraint(_in("coaching_personality", PERSONALITIES), name="ck_user_coaching_plans_valid_personality"),
        sa.CheckConstraint("current_week > 0", name="ck_user_coaching_plans_current_week_positive"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name="fk_user_coaching_plans_user_id", ondelete="CASCADE"),
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
        "ruck_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("status", sa.String(50), nullable=True),
        ts("started_at"),
        ts("completed_at"),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("ruck_weight_kg", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ruck_session"),
    )
    op.create_index("ix_ruck_session_user_id", "ruck_session", ["user_id"])
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
        sa.Column("scheduled_timezone", sa.Text(), nullable=True, server_default="UTC"),
        ts("next_notification_at"),
        sa.Column("last_notification_type", sa.Text(), nullable=True),
        sa.Column("missed_state", sa.Text(), nullable=True),
        json_obj("notification_metadata"),
        json_obj("coaching_points"),
        *created_updated(),
        sa.CheckConstraint(
            _in("completion_status", ("planned", "completed", "missed", "modified", "skipped")),
            name="ck_plan_sessions_completion_status",
        ),
        sa.CheckConstraint("planned_week > 0", name="ck_plan_sessions_planned_week_positive"),
        sa.ForeignKeyConstraint(
            ["user_coaching_plan_id"],
            ["user_coaching_plans.id"],
            name="fk_plan_sessions_user_coaching_plan_id",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["ruck_session.id"], name="fk_plan_sessions_session_id", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_plan_sessions"),
    )
    op.create_index("ix_plan_sessions_user_coaching_plan_id", "plan_sessions", ["user_coaching_plan_id"])
    op.create_index("ix_plan_sessions_scheduled_date", "plan_sessions", ["scheduled_date"])
    op.create_index("ix_plan_sessions_next_notification_at", "plan_sessions", ["next_notification_at"])
    op.create_table(
        "user_device_tokens",
        sa.Column("id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("fcm_token", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=True),
        sa.Column("device_type", sa.Text(), nullable=True),
        sa.Column("app_version", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=True, server_default=sa.text("true")),
        *created_updated(),
        sa.CheckConstraint(_in("device_type", ("ios", "android")), name="ck_user_device_tokens_device_type"),
        sa.PrimaryKeyConstraint("id", name="pk_user_device_tokens"),
        sa.UniqueConstraint("user_id", "device_id", name="uq_user_device_tokens_user_id_device_id"),
    )
    op.create_index("ix_user_device_tokens_user_id", "user_device_tokens", ["user_id"])
    op.create_index("ix_user_device_tokens_fcm_token", "user_device_tokens", ["fcm_token"])
    op.create_table(
        "location_point",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_location_point"),
    )
    op.create_index("ix_location_point_session_id", "location_point", ["session_id"])


def downgrade() -> None:
    for table in (
        "location_point",
        "user_device_tokens",
        "plan_sessions",
        "ruck_session",
        "user_coaching_plans",
        "coaching_plan_templates",
        "user",
    ):
        op.drop_table(table)
