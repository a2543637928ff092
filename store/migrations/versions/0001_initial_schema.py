"""Initial schema: price and purchase observations, refresh runs, report deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 13:16:38.118264

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "purchase_observation",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("gpu", sa.String(length=40), nullable=False),
        sa.Column("condition", sa.String(length=8), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("usd", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("original_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_observation")),
        sa.UniqueConstraint(
            "source",
            "gpu",
            "condition",
            "basis",
            "observed_at",
            name=op.f("uq_purchase_observation_source_gpu_condition_basis_observed_at"),
        ),
    )
    with op.batch_alter_table("purchase_observation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_purchase_observation_gpu_condition_observed_at"),
            ["gpu", "condition", "observed_at"],
            unique=False,
        )

    op.create_table(
        "refresh_run",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("quotes_parsed", sa.Integer(), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("unknown_gpu_names", sa.Text(), nullable=False),
        sa.Column("quotes_flagged", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("raw_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_run")),
    )
    with op.batch_alter_table("refresh_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_refresh_run_source_started_at"), ["source", "started_at"], unique=False
        )

    op.create_table(
        "report_delivery",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("iso_week", sa.String(length=10), nullable=False),
        sa.Column("recipients_key", sa.String(length=64), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("archive_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_delivery")),
        sa.UniqueConstraint(
            "iso_week", "recipients_key", name=op.f("uq_report_delivery_iso_week_recipients_key")
        ),
    )
    op.create_table(
        "price_observation",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("offer_key", sa.String(length=255), nullable=False),
        sa.Column("gpu", sa.String(length=40), nullable=False),
        sa.Column("gpu_raw_name", sa.String(length=200), nullable=False),
        sa.Column("gpu_count", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=80), nullable=False),
        sa.Column("pricing", sa.String(length=16), nullable=False),
        sa.Column("usd_per_gpu_hour", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("original_amount", sa.Numeric(precision=16, scale=6), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("refresh_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["refresh_run_id"],
            ["refresh_run.id"],
            name=op.f("fk_price_observation_refresh_run_id_refresh_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_observation")),
        sa.UniqueConstraint(
            "source",
            "offer_key",
            "pricing",
            "observed_at",
            name=op.f("uq_price_observation_source_offer_key_pricing_observed_at"),
        ),
    )
    with op.batch_alter_table("price_observation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_observation_gpu_observed_at"), ["gpu", "observed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_price_observation_refresh_run_id"), ["refresh_run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_price_observation_source_gpu_observed_at"),
            ["source", "gpu", "observed_at"],
            unique=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("price_observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_observation_source_gpu_observed_at"))
        batch_op.drop_index(batch_op.f("ix_price_observation_refresh_run_id"))
        batch_op.drop_index(batch_op.f("ix_price_observation_gpu_observed_at"))

    op.drop_table("price_observation")
    op.drop_table("report_delivery")
    with op.batch_alter_table("refresh_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_run_source_started_at"))

    op.drop_table("refresh_run")
    with op.batch_alter_table("purchase_observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_observation_gpu_condition_observed_at"))

    op.drop_table("purchase_observation")
