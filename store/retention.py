"""Fold raw price observations older than the retention window into daily aggregates.

A marketplace lists thousands of offers an hour; keeping every one for a year is tens of millions
of rows. Past the window only the daily distribution per GPU, source and pricing kind is kept
(min, p10, median, p90, max, count). Day by day, in one transaction each: the aggregate is written
first and the raw rows are deleted only where their aggregate exists.

Only rows of a live refresh are deleted: the bundled snapshot's rows stand as current offers
however old they are, so their days are aggregated and the rows kept.

Every finished UTC day is also rolled up as soon as it ends, while its raw rows stay: reports read
a day's statistics from its aggregate when there is one, so 90 days of history cost a few hundred
rows instead of a million (bench/queries.py). Rolling up also writes the day's per-price counts
(``price_daily_count``), from which week medians are exact, and the statistics of the week that
ends with the day (``price_window``), which the week-over-week table reads. A day is rolled up
once, so it waits until no refresh can still write into it: ``ROLL_UP_GRACE`` after it ends, and
longer while a refresh that started before then is still running (a refresh stamps every row with
the slot it began in, and may commit long after). Rows added to a past day later still (a reparse
of an old archive) do not change its aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Engine

from store.db import session_scope
from store.models import PriceDaily, PriceDailyCount, PriceObservation, PriceWindow, RefreshRun
from store.queries import WEEK_DAYS, insert_ignoring_duplicates, observation_bounds, observed_gpus, window_statistics
from store.stats import GROUP, daily_statistics

#: How long after a UTC day ends it is rolled up: longer than any refresh takes from its start (the
#: slot its rows are stamped with) to its commit.
ROLL_UP_GRACE = timedelta(hours=6)
#: A run still marked running after this long belongs to a process that died; the next refresh of
#: its source marks it failed. It no longer holds roll-up back.
DEAD_RUN_AFTER = timedelta(hours=12)


@dataclass(frozen=True)
class CompactionResult:
    days: int
    aggregates_written: int
    raw_rows_deleted: int
    days_rolled_up: int = 0  # finished days inside the window aggregated (raw rows kept)


def compact(engine: Engine, retention_days: int, now: datetime | None = None) -> CompactionResult:
    """Aggregate and delete raw rows observed before the UTC midnight ``retention_days`` ago.

    Only rows written by a live refresh of their own source are deleted. Reference rows (the
    bundled snapshot, loaded under its own run; rows stored without a run) stand as current
    offers until a live source replaces them (``store.queries.current_offers``), so they stay raw
    whatever their age; their days are aggregated like any other.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)  # the window counts UTC days, whatever ``now``'s zone
    cutoff = datetime.combine((now - timedelta(days=retention_days)).date(), time(), tzinfo=UTC)
    days = aggregates = deleted = 0
    cursor: datetime | None = None
    while True:
        with session_scope(engine) as session:
            oldest, _ = observation_bounds(session, before=cutoff, since=cursor)
            if oldest is None:
                break
            start = datetime.combine(oldest.astimezone(UTC).date(), time(), tzinfo=UTC)
            cursor = min(start + timedelta(days=1), cutoff)
            written, removed = _compact_day(session, start, cursor)
        days += removed > 0
        aggregates += written
        deleted += removed
    rolled_days, _ = roll_up(engine, now)
    return CompactionResult(days, aggregates, deleted, rolled_days)


def roll_up(engine: Engine, now: datetime | None = None) -> tuple[int, int]:
    """Aggregate every settled UTC day (see ``ROLL_UP_GRACE``) after the last one rolled up,
    keeping its raw rows; returns (days, aggregate rows written). Each day is one transaction.

    Days are rolled up in order, so every day before the newest one with counts is done: a call
    with nothing to do costs two index probes per GPU (the scheduler calls it after each
    refresh). A database rolled up before counts existed gets them here (its ``price_daily``
    rows are kept as they are). Readers check each day's counts, so a day that never gets them
    (rows added to it after a later day was rolled up) is read from raw rows, still exact.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with session_scope(engine) as session:
        last_done = session.scalar(select(func.max(PriceDailyCount.day)))
        running_since = session.scalar(select(func.min(RefreshRun.started_at)).where(
            RefreshRun.status == "running", RefreshRun.started_at > now - DEAD_RUN_AFTER))
    settled = min(now, running_since or now) - ROLL_UP_GRACE
    midnight = datetime.combine(settled.astimezone(UTC).date(), time(), tzinfo=UTC)  # days before it are final
    cursor = datetime.combine(last_done, time(), tzinfo=UTC) + timedelta(days=1) if last_done else None
    days = written = 0
    while True:
        with session_scope(engine) as session:
            following, _ = observation_bounds(session, before=midnight, since=cursor)  # skips days without rows
            if following is None:
                return days, written
            start = datetime.combine(following.astimezone(UTC).date(), time(), tzinfo=UTC)
            added, counted = _aggregate_day(session, start, start + timedelta(days=1))
            store_week(session, start + timedelta(days=1))
        days += counted > 0
        written += added
        cursor = start + timedelta(days=1)


def store_week(session: Any, window_end: datetime) -> int:
    """Store the statistics of the seven whole days before ``window_end`` (a UTC midnight), as
    the week-over-week reads ask for them; returns the rows written (existing ones are kept)."""
    stats = window_statistics(session, window_end - timedelta(days=WEEK_DAYS), window_end, stored=False)
    records = [{"window_end": window_end.date(), "days": WEEK_DAYS, "gpu": r.gpu, "pricing": r.pricing,
                "cheapest": _usd(r.cheapest), "median": _usd(r.median),
                "offers": int(r.offers), "sources": r.sources} for r in stats.itertuples(index=False)]
    return insert_ignoring_duplicates(session, PriceWindow.__table__, records) if records else 0


def _usd(value: float) -> Decimal:
    """A computed price as the Numeric(14, 6) columns store it (exact decimal, not the float's tail)."""
    return Decimal(str(round(value, 6)))


def _compact_day(session: Any, start: datetime, end: datetime) -> tuple[int, int]:
    written, _ = _aggregate_day(session, start, end)
    window = and_(PriceObservation.observed_at >= start, PriceObservation.observed_at < end)
    covered = select(PriceDaily.id).where(PriceDaily.day == start.date(), PriceDaily.gpu == PriceObservation.gpu,
                                          PriceDaily.source == PriceObservation.source,
                                          PriceDaily.pricing == PriceObservation.pricing).exists()
    live = select(RefreshRun.id).where(RefreshRun.id == PriceObservation.refresh_run_id,
                                       RefreshRun.source == PriceObservation.source).exists()
    result = session.execute(delete(PriceObservation).where(window, covered, live))
    return written, int(result.rowcount or 0)


def _aggregate_day(session: Any, start: datetime, end: datetime) -> tuple[int, int]:
    """Write the day's aggregates and per-price counts (existing ones are kept); returns the
    rows written of each."""
    # gpu IN (...) lets the (gpu, observed_at) index serve the day's range; rows become plain
    # tuples before pandas sees them (from SQLAlchemy Row objects that is ten times slower).
    rows = session.execute(select(PriceObservation.gpu, PriceObservation.source, PriceObservation.pricing,
                                  PriceObservation.usd_per_gpu_hour, PriceObservation.flagged)
                           .where(PriceObservation.gpu.in_(observed_gpus(session)),
                                  PriceObservation.observed_at >= start, PriceObservation.observed_at < end)).all()
    if not rows:
        return 0, 0
    frame = pd.DataFrame([tuple(row) for row in rows], columns=[*GROUP, "usd_per_gpu_hour", "flagged"])
    frame["usd_per_gpu_hour"] = frame["usd_per_gpu_hour"].astype(float)
    stats = daily_statistics(frame)
    day: date = start.date()
    records = [
        {"day": day, "gpu": r.gpu, "source": r.source, "pricing": r.pricing,
         **{k: _usd(getattr(r, k)) for k in ("usd_min", "usd_p10", "usd_median", "usd_p90", "usd_max")},
         "offers": int(r.offers), "flagged": int(r.flagged)}
        for r in stats.itertuples(index=False)
    ]
    written = insert_ignoring_duplicates(session, PriceDaily.__table__, records) if records else 0
    counts = frame.groupby([*GROUP, "flagged", "usd_per_gpu_hour"], sort=False).size()
    counted = insert_ignoring_duplicates(session, PriceDailyCount.__table__, [
        {"day": day, "gpu": gpu, "source": source, "pricing": pricing, "flagged": bool(flagged),
         "usd_per_gpu_hour": _usd(usd), "observations": int(n)}
        for (gpu, source, pricing, flagged, usd), n in counts.items()])
    return written, counted
