"""Daily price aggregates (price_daily) that keep history small past the retention window.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:22:08.025710

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "price_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("gpu", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("pricing", sa.String(length=16), nullable=False),
        sa.Column("usd_min", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("usd_p10", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("usd_median", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("usd_p90", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("usd_max", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_daily")),
        sa.UniqueConstraint("day", "gpu", "source", "pricing", name=op.f("uq_price_daily_day_gpu_source_pricing")),
    )
    with op.batch_alter_table("price_daily", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_price_daily_gpu_day"), ["gpu", "day"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("price_daily", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_daily_gpu_day"))

    op.drop_table("price_daily")
