"""The per-token record of push deliveries (``coach_push_deliveries``).

Revision ID: sv0002
Revises: sv0001
Create Date: 2027-01-11

One row per (notification, device token) that FCM answered for good: ``sent`` (it took the push) or ``rejected``
(it never will). The delivery activity writes it right after each token's send and reads it at the start of every
attempt, so a retry never pushes a token that already has the notification (see ``activities.db.PushDelivery``).
A new table only: nothing existing changes, on either install mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sv0002"
down_revision: str | Sequence[str] | None = "sv0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UUID = sa.Uuid(as_uuid=False)


def upgrade() -> None:
    op.create_table(
        "coach_push_deliveries",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Text(), nullable=False),
        sa.Column("token_id", UUID, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('sent', 'rejected')", name="ck_coach_push_deliveries_outcome"),
        sa.PrimaryKeyConstraint("id", name="pk_coach_push_deliveries"),
        sa.UniqueConstraint(
            "notification_id", "token_id", name="uq_coach_push_deliveries_notification_id_token_id"
        ),
    )


def downgrade() -> None:
    op.drop_table("coach_push_deliveries")
