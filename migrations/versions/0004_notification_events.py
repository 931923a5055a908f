"""Notification analytics: what the app reports about each sent notification.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

``notification_events`` holds one row per notification and event (delivered, opened, cta_tapped, dismissed);
``UNIQUE (notification_id, event)`` makes a repeated report a no-op. The effectiveness report joins it to the
ledger (``plan_notification_audit``) by ``notification_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notification_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.CheckConstraint(
            "event IN ('delivered', 'opened', 'cta_tapped', 'dismissed')", name="ck_notification_events_event"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_events"),
        sa.UniqueConstraint("notification_id", "event", name="uq_notification_events_notification_id_event"),
    )
    op.create_index("ix_notification_events_user_id", "notification_events", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_events_user_id", table_name="notification_events")
    op.drop_table("notification_events")
