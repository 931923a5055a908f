"""Weather: RuckTracker's ``location_point`` (for standalone runs) and the forecast cache.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

``location_point`` is RuckTracker's table; on RuckTracker's own database it already exists, so stamp this
revision there after creating only ``weather_cache`` (and, if missing, ``ix_location_point_session_id`` with
``CREATE INDEX CONCURRENTLY`` outside a deploy). Its ``timestamp`` has no time zone, as in RuckTracker (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
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

    op.create_table(
        "weather_cache",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("lat_e2", sa.Integer(), nullable=False),
        sa.Column("lon_e2", sa.Integer(), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("temp_c", sa.Float(), nullable=False),
        sa.Column("condition_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("pop", sa.Float(), nullable=False, server_default="0"),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_weather_cache"),
        sa.UniqueConstraint("lat_e2", "lon_e2", "slot_at", name="uq_weather_cache_lat_e2_lon_e2_slot_at"),
    )


def downgrade() -> None:
    op.drop_table("weather_cache")
    op.drop_index("ix_location_point_session_id", table_name="location_point")
    op.drop_table("location_point")
