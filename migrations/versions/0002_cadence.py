"""Cadence analyzer: the athletes' time-zone history, a recent-rucks index, and "no default start" as NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

``ix_ruck_session_user_id_completed_at`` serves the nightly recompute's "rucks of these athletes since …" queries.
On RuckTracker's own database create it with ``CREATE INDEX CONCURRENTLY`` outside a deploy.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UUID = sa.Uuid(as_uuid=False)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "athlete_timezones",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("id", name="pk_athlete_timezones"),
        sa.UniqueConstraint("user_id", "effective_from", name="uq_athlete_timezones_user_id_effective_from"),
    )
    op.create_index(
        "ix_ruck_session_user_id_completed_at",
        "ruck_session",
        ["user_id", "completed_at"],
        postgresql_include=["status", "started_at", "duration_seconds", "id"],
    )
    # 420 was a placeholder for "not set": the fallback chain now tells the athlete's own default from none.
    with op.batch_alter_table("user_profiles") as batch:
        batch.alter_column(
            "plan_default_start_minute", existing_type=sa.SmallInteger(), nullable=True, server_default=None
        )
    op.execute("UPDATE user_profiles SET plan_default_start_minute = NULL WHERE plan_default_start_minute = 420")


def downgrade() -> None:
    op.execute("UPDATE user_profiles SET plan_default_start_minute = 420 WHERE plan_default_start_minute IS NULL")
    with op.batch_alter_table("user_profiles") as batch:
        batch.alter_column(
            "plan_default_start_minute", existing_type=sa.SmallInteger(), nullable=False, server_default="420"
        )
    op.drop_index("ix_ruck_session_user_id_completed_at", table_name="ruck_session")
    op.drop_table("athlete_timezones")
