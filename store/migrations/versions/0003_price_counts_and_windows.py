"""Per-day price counts (price_daily_count) so weekly medians combine exactly across days, and
stored week statistics (price_window) for the week-over-week reads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:50:00

Days rolled up before this revision have no counts and weeks no statistics; readers fall back to
raw rows (kept for the retention window) and the next roll-up fills both in.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "price_daily_count",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("gpu", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("pricing", sa.String(length=16), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("usd_per_gpu_hour", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_daily_count")),
        sa.UniqueConstraint("day", "gpu", "source", "pricing", "flagged", "usd_per_gpu_hour",
                            name="uq_price_daily_count_key"),
    )
    op.create_table(
        "price_window",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("gpu", sa.String(length=40), nullable=False),
        sa.Column("pricing", sa.String(length=16), nullable=False),
        sa.Column("cheapest", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("median", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_window")),
        sa.UniqueConstraint("window_end", "days", "gpu", "pricing",
                            name=op.f("uq_price_window_window_end_days_gpu_pricing")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("price_window")
    op.drop_table("price_daily_count")
