"""The anomaly watch's alerts (``coach_alerts``).

Revision ID: sv0004
Revises: sv0002
Create Date: 2027-02-01

One row per alert the anomaly watch raised (``workflows/anomaly.py``): its kind, the notification type it concerns,
the window it judged, a summary and the figures that triggered it. ``alert_key`` (kind, type, window end) is unique,
so a retried pass records an alert once. A new table only: nothing existing changes, on either install mode.

(Branch note: written beside the rollout controls' ``sv0003``; the merge re-chains it after that one.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "sv0004"
down_revision: str | Sequence[str] | None = "sv0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "coach_alerts",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("notification_type", sa.String(60), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("figures", JSON, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("braked", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("webhook_status", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_coach_alerts"),
        sa.UniqueConstraint("alert_key", name="uq_coach_alerts_alert_key"),
    )
    op.create_index("ix_coach_alerts_window_end", "coach_alerts", ["window_end"])


def downgrade() -> None:
    op.drop_index("ix_coach_alerts_window_end", table_name="coach_alerts")
    op.drop_table("coach_alerts")
