"""Rollout controls: the flags table, its audit trail, and the ledger's ``shadow`` status.

Revision ID: sv0003
Revises: sv0002
Create Date: 2027-01-25

``coach_rollout_flags`` holds the kill switch, the modes and the cohorts the OpenFeature provider of
:mod:`activities.rollout` reads; ``coach_rollout_changes`` records every change (who, when, old and new value,
reason). The ledger's status CHECK gains ``shadow`` (a notification decided and composed for an athlete in shadow
mode, never pushed). Skip reasons (``rollout_off``, ``kill_switch``) are free text: no change. Only ``coach_*`` tables
are touched, so this applies the same in both install modes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "sv0003"
down_revision: str | Sequence[str] | None = "sv0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
LEDGER_CHECK = "ck_coach_notification_ledger_status"
OLD_STATUSES = "status IN ('scheduled', 'sent', 'skipped', 'failed')"
NEW_STATUSES = "status IN ('scheduled', 'sent', 'skipped', 'failed', 'shadow')"


def upgrade() -> None:
    op.create_table(
        "coach_rollout_flags",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_coach_rollout_flags"),
    )
    op.create_table(
        "coach_rollout_changes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("old_value", JSON, nullable=True),
        sa.Column("new_value", JSON, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_coach_rollout_changes"),
    )
    op.create_index("ix_coach_rollout_changes_changed_at", "coach_rollout_changes", ["changed_at"])
    _ledger_check(NEW_STATUSES)


def downgrade() -> None:
    op.execute("DELETE FROM coach_notification_ledger WHERE status = 'shadow'")
    _ledger_check(OLD_STATUSES)
    op.drop_index("ix_coach_rollout_changes_changed_at", table_name="coach_rollout_changes")
    op.drop_table("coach_rollout_changes")
    op.drop_table("coach_rollout_flags")


def _ledger_check(condition: str) -> None:
    # Batch mode: SQLite cannot alter a CHECK, so the table is copied with the new one; PostgreSQL alters in place.
    # The name goes through the naming convention as in sv0001 (which applied it to this full name too), so both the
    # drop and the new constraint have the name sv0001 gave it on either database.
    with op.batch_alter_table("coach_notification_ledger") as batch:
        batch.drop_constraint(LEDGER_CHECK, type_="check")
        batch.create_check_constraint(LEDGER_CHECK, condition)
