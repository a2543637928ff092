"""SQLAlchemy 2 models for what rentbuy keeps (DESIGN.md, 'Data model')."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT for the large tables.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps stored by rentbuy must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RefreshRun(Base):
    """One refresh of one source: what it did and, if it failed, why."""

    __tablename__ = "refresh_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed | skipped
    quotes_parsed: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    unknown_gpu_names: Mapped[str] = mapped_column(Text, default="")  # JSON list of raw names
    quotes_flagged: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    raw_path: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "source", "started_at"),)


class PriceObservation(Base):
    """One rental offer seen at one refresh, priced per GPU-hour."""

    __tablename__ = "price_observation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(40))
    offer_key: Mapped[str] = mapped_column(String(255))
    gpu: Mapped[str] = mapped_column(String(40))
    gpu_raw_name: Mapped[str] = mapped_column(String(200))
    gpu_count: Mapped[int] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(80))
    pricing: Mapped[str] = mapped_column(String(16))
    usd_per_gpu_hour: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    original_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 6))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # outside sanity bounds
    source_url: Mapped[str | None] = mapped_column(Text)
    refresh_run_id: Mapped[int | None] = mapped_column(ForeignKey("refresh_run.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("source", "offer_key", "pricing", "observed_at"),
        Index(None, "gpu", "observed_at"),
        Index(None, "source", "gpu", "observed_at"),
        Index(None, "refresh_run_id"),
    )


class PurchaseObservation(Base):
    """A street price for a card: new or used, asking or sold, in USD."""

    __tablename__ = "purchase_observation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(120))
    gpu: Mapped[str] = mapped_column(String(40))
    condition: Mapped[str] = mapped_column(String(8))
    basis: Mapped[str] = mapped_column(String(16), default="asking")
    usd: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    original_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_url: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("source", "gpu", "condition", "basis", "observed_at"),
        Index(None, "gpu", "condition", "observed_at"),
    )


class ReportDelivery(Base):
    """One weekly report for one recipient list: claimed before sending, completed after."""

    __tablename__ = "report_delivery"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    iso_week: Mapped[str] = mapped_column(String(10))  # e.g. 2026-W48
    recipients_key: Mapped[str] = mapped_column(String(64))  # sha256 of the sorted recipient list
    recipients: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # claimed | sent | failed
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    archive_path: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("iso_week", "recipients_key"),)


class PriceDaily(Base):
    """Daily statistics of one GPU's offers at one source and pricing kind.

    Raw observations older than the retention window are folded into these rows, so a year of
    history stays small; quantiles are over unflagged offers of that day.
    """

    __tablename__ = "price_daily"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    gpu: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(40))
    pricing: Mapped[str] = mapped_column(String(16))
    usd_min: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    usd_p10: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    usd_median: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    usd_p90: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    usd_max: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    offers: Mapped[int] = mapped_column(Integer)  # observations behind the statistics
    flagged: Mapped[int] = mapped_column(Integer, default=0)  # observations left out as implausible

    __table_args__ = (
        UniqueConstraint("day", "gpu", "source", "pricing"),
        Index(None, "gpu", "day"),
    )


class PriceDailyCount(Base):
    """How many observations of one day, GPU, source and pricing kind had each price.

    ``price_daily`` keeps quantiles, and medians do not combine across days; counts do, so the
    week-over-week medians of the report and the e-mail stay exact when read from here (a few
    thousand rows a week) instead of from the raw table (~800,000 rows a week at marketplace scale).
    Written with the day's ``price_daily`` row by ``store.retention``; flagged observations are
    counted apart so readers can leave them out.
    """

    __tablename__ = "price_daily_count"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    gpu: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(40))
    pricing: Mapped[str] = mapped_column(String(16))
    flagged: Mapped[bool] = mapped_column(Boolean)
    usd_per_gpu_hour: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    observations: Mapped[int] = mapped_column(Integer)

    # Named by hand: the convention's name would pass PostgreSQL's 63-character limit.
    __table_args__ = (UniqueConstraint("day", "gpu", "source", "pricing", "flagged", "usd_per_gpu_hour",
                                       name="uq_price_daily_count_key"),)


class PriceWindow(Base):
    """Statistics of one GPU and pricing kind over the ``days`` whole UTC days before ``window_end``.

    The week-over-week table of the report and the e-mail compares two such weeks. Rolling up a
    day (``store.retention``) also stores the week that ends with it, computed exactly from the
    per-price counts, so those reads are one indexed lookup instead of re-counting ~30,000 price
    counts a week (bench/queries.py); other windows are computed on demand.
    """

    __tablename__ = "price_window"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    window_end: Mapped[date] = mapped_column(Date)  # the UTC midnight that ends the window
    days: Mapped[int] = mapped_column(Integer)
    gpu: Mapped[str] = mapped_column(String(40))
    pricing: Mapped[str] = mapped_column(String(16))
    cheapest: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    median: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    offers: Mapped[int] = mapped_column(Integer)  # unflagged observations in the window
    sources: Mapped[str] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("window_end", "days", "gpu", "pricing"),)
