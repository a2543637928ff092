"""Fold raw price observations older than the retention window into daily aggregates.

A marketplace lists thousands of offers an hour; keeping every one for a year is tens of millions
of rows. Past the window only the daily distribution per GPU, source and pricing kind is kept
(min, p10, median, p90, max, count). Day by day, in one transaction each: the aggregate is written
first and the raw rows are deleted only where their aggregate exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Engine

from store.db import session_scope
from store.models import PriceDaily, PriceObservation
from store.queries import insert_ignoring_duplicates
from store.stats import GROUP, daily_statistics


@dataclass(frozen=True)
class CompactionResult:
    days: int
    aggregates_written: int
    raw_rows_deleted: int


def compact(engine: Engine, retention_days: int, now: datetime | None = None) -> CompactionResult:
    """Aggregate and delete raw rows observed before the UTC midnight ``retention_days`` ago."""
    now = now or datetime.now(UTC)
    cutoff = datetime.combine((now - timedelta(days=retention_days)).date(), time(), tzinfo=UTC)
    days = aggregates = deleted = 0
    while True:
        with session_scope(engine) as session:
            oldest = session.scalar(select(func.min(PriceObservation.observed_at))
                                    .where(PriceObservation.observed_at < cutoff))
            if oldest is None:
                break
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            start = datetime.combine(oldest.astimezone(UTC).date(), time(), tzinfo=UTC)
            end = min(start + timedelta(days=1), cutoff)
            written, removed = _compact_day(session, start, end)
        days += 1
        aggregates += written
        deleted += removed
    return CompactionResult(days, aggregates, deleted)


def _compact_day(session: object, start: datetime, end: datetime) -> tuple[int, int]:
    window = and_(PriceObservation.observed_at >= start, PriceObservation.observed_at < end)
    rows = session.execute(select(PriceObservation.gpu, PriceObservation.source, PriceObservation.pricing,
                                  PriceObservation.usd_per_gpu_hour, PriceObservation.flagged).where(window)).all()
    frame = pd.DataFrame(rows, columns=[*GROUP, "usd_per_gpu_hour", "flagged"])
    frame["usd_per_gpu_hour"] = frame["usd_per_gpu_hour"].astype(float)
    stats = daily_statistics(frame)
    day: date = start.date()
    records = [
        {"day": day, "gpu": r.gpu, "source": r.source, "pricing": r.pricing,
         **{k: Decimal(str(round(getattr(r, k), 6))) for k in ("usd_min", "usd_p10", "usd_median", "usd_p90",
                                                                 "usd_max")},
         "offers": int(r.offers), "flagged": int(r.flagged)}
        for r in stats.itertuples(index=False)
    ]
    written = insert_ignoring_duplicates(session, PriceDaily.__table__, records) if records else 0
    covered = select(PriceDaily.id).where(PriceDaily.day == day, PriceDaily.gpu == PriceObservation.gpu,
                                          PriceDaily.source == PriceObservation.source,
                                          PriceDaily.pricing == PriceObservation.pricing).exists()
    result = session.execute(delete(PriceObservation).where(window, covered))
    return written, int(result.rowcount or 0)
