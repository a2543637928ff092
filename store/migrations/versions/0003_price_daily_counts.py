"""Per-day price counts (price_daily_count) so weekly medians combine exactly across days.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 16:50:00

Days rolled up before this revision have no counts; readers fall back to their raw rows (kept for
the retention window) and the next roll-up fills them in.
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


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("price_daily_count")
