"""Every read and write rentbuy does against its database.

Writes are idempotent (``ON CONFLICT DO NOTHING`` on each table's natural key) so a repeated
refresh or seed adds nothing. Reads that feed reports return pandas DataFrames; pandas is
imported inside them so CLI start-up does not pay for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.models import PriceDaily, PriceObservation, PurchaseObservation, RefreshRun, ReportDelivery

if TYPE_CHECKING:
    import pandas as pd

PRICE_COLUMNS = (
    "source", "offer_key", "gpu", "gpu_raw_name", "gpu_count", "region", "pricing", "usd_per_gpu_hour",
    "currency", "original_amount", "observed_at", "flagged", "source_url",
)
PURCHASE_COLUMNS = (
    "source", "gpu", "condition", "basis", "usd", "currency", "original_amount", "observed_at",
    "source_url", "note",
)
# Rows per INSERT statement: big enough to amortise round trips, small enough for SQLite's
# limit on bound parameters (32,766) at 14 columns.
BATCH_ROWS = 2000


def _field(item: Any, name: str, default: Any = None) -> Any:
    """A column value from a mapping or an object, falling back to its ``attributes`` extras."""
    if isinstance(item, Mapping):
        return item.get(name, default)
    if hasattr(item, name):
        return getattr(item, name)
    extras = getattr(item, "attributes", None) or {}
    return extras.get(name, default)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _price_row(item: Any, refresh_run_id: int | None) -> dict[str, Any]:
    row = {name: _field(item, name) for name in PRICE_COLUMNS}
    row["usd_per_gpu_hour"] = _decimal(row["usd_per_gpu_hour"])
    row["original_amount"] = _decimal(row["original_amount"])
    row["currency"] = row["currency"] or "USD"
    row["flagged"] = bool(row["flagged"])
    row["refresh_run_id"] = refresh_run_id
    return row


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> int:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    # rowcount is unreliable for executemany on PostgreSQL; RETURNING counts what really landed.
    result = session.execute(statement.returning(table.c.id), rows)
    return len(result.all())


def insert_price_observations(
    session: Session, quotes: Iterable[Any], refresh_run_id: int | None = None
) -> int:
    """Store quotes (``PriceQuote`` objects or mappings with its fields); returns rows added.

    Runs inside the caller's transaction: the caller decides whether a source lands whole.
    """
    written = 0
    for batch in _batches((_price_row(q, refresh_run_id) for q in quotes), BATCH_ROWS):
        written += insert_ignoring_duplicates(session, PriceObservation.__table__, batch)
    return written


def insert_purchase_observations(session: Session, quotes: Iterable[Any]) -> int:
    """Store street prices (``PurchaseQuote`` objects or mappings); returns rows added."""
    rows = []
    for quote in quotes:
        row = {name: _field(quote, name) for name in PURCHASE_COLUMNS}
        row["usd"] = _decimal(row["usd"])
        row["original_amount"] = _decimal(row["original_amount"])
        row["currency"] = row["currency"] or "USD"
        row["basis"] = row["basis"] or "asking"
        rows.append(row)
    written = 0
    for batch in _batches(rows, BATCH_ROWS):
        written += insert_ignoring_duplicates(session, PurchaseObservation.__table__, batch)
    return written


# --- refresh runs -------------------------------------------------------------------------------


def start_refresh_run(session: Session, source: str, started_at: datetime | None = None) -> RefreshRun:
    run = RefreshRun(source=source, started_at=started_at or datetime.now(UTC), status="running",
                     quotes_parsed=0, rows_written=0, unknown_gpu_names="[]", quotes_flagged=0)
    session.add(run)
    session.flush()
    return run


def finish_refresh_run(
    session: Session,
    run: RefreshRun,
    status: str,
    *,
    quotes_parsed: int = 0,
    rows_written: int = 0,
    unknown_gpu_names: Iterable[str] = (),
    quotes_flagged: int = 0,
    error: str | None = None,
    raw_path: str | None = None,
) -> RefreshRun:
    run.status = status
    run.finished_at = datetime.now(UTC)
    run.quotes_parsed = quotes_parsed
    run.rows_written = rows_written
    run.unknown_gpu_names = json.dumps(sorted(set(unknown_gpu_names)))
    run.quotes_flagged = quotes_flagged
    run.error = error
    run.raw_path = raw_path
    session.flush()
    return run


def find_run(session: Session, source: str, raw_path: str, status: str = "ok") -> RefreshRun | None:
    """A finished run of ``source`` over the same archived payload (how re-seeding is skipped)."""
    query = select(RefreshRun).where(RefreshRun.source == source, RefreshRun.raw_path == raw_path,
                                     RefreshRun.status == status).limit(1)
    return session.scalars(query).first()


def get_refresh_run(session: Session, run_id: int) -> RefreshRun | None:
    return session.get(RefreshRun, run_id)


def fail_interrupted_runs(session: Session, source: str) -> int:
    """Mark runs of ``source`` left 'running' as failed. Call only while holding the source's
    refresh lock: then no live process owns them, their process died mid-run (its data was
    rolled back with its transaction)."""
    runs = session.scalars(select(RefreshRun).where(RefreshRun.status == "running",
                                                    RefreshRun.source == source)).all()
    for run in runs:
        run.status = "failed"
        run.error = "interrupted: the process ended before the run finished; nothing of it was stored"
        run.finished_at = run.finished_at or datetime.now(UTC)
    return len(runs)


def refresh_runs(session: Session, limit: int = 50, source: str | None = None) -> list[RefreshRun]:
    query = select(RefreshRun).order_by(RefreshRun.started_at.desc(), RefreshRun.id.desc()).limit(limit)
    if source:
        query = query.where(RefreshRun.source == source)
    return list(session.scalars(query))


def last_success_by_source(session: Session, exclude: Iterable[str] = ()) -> dict[str, datetime]:
    """When each source last refreshed successfully."""
    query = (select(RefreshRun.source, func.max(RefreshRun.finished_at))
             .where(RefreshRun.status == "ok").group_by(RefreshRun.source))
    if exclude:
        query = query.where(RefreshRun.source.not_in(list(exclude)))
    return {source: _utc(when) for source, when in session.execute(query) if when is not None}


def week_delivered(session: Session, iso_week: str) -> bool:
    """Whether any weekly report of ``iso_week`` was sent."""
    query = select(func.count()).select_from(ReportDelivery).where(ReportDelivery.iso_week == iso_week,
                                                                 ReportDelivery.status == "sent")
    return bool(session.scalar(query))


# --- summaries for `rentbuy info` ---------------------------------------------------------------


def row_counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (PriceObservation, PriceDaily, PurchaseObservation, RefreshRun, ReportDelivery)
    }


def data_dates(session: Session) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Oldest and newest observation per table: how fresh the numbers behind a report are."""
    out = {}
    for model in (PriceObservation, PurchaseObservation):
        bounds = select(func.min(model.observed_at), func.max(model.observed_at))
        oldest, newest = session.execute(bounds).one()
        out[model.__tablename__] = (_utc(oldest), _utc(newest))
    return out


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # aggregates bypass the column type on SQLite


# --- price reads --------------------------------------------------------------------------------


def _price_filters(
    query: Select[Any], gpu: str | Iterable[str] | None, since: datetime | None,
    source: str | None, pricing: str | None,
) -> Select[Any]:
    if isinstance(gpu, str):
        query = query.where(PriceObservation.gpu == gpu)
    elif gpu is not None:
        query = query.where(PriceObservation.gpu.in_(list(gpu)))
    if since is not None:
        query = query.where(PriceObservation.observed_at >= since)
    if source:
        query = query.where(PriceObservation.source == source)
    if pricing:
        query = query.where(PriceObservation.pricing == pricing)
    return query


def price_observations(
    session: Session,
    gpu: str | Iterable[str] | None = None,
    since: datetime | None = None,
    source: str | None = None,
    pricing: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Observations, newest first, one row each with its source and observed_at."""
    import pandas as pd

    columns = [getattr(PriceObservation, c) for c in PRICE_COLUMNS]
    query = _price_filters(select(*columns), gpu, since, source, pricing)
    query = query.order_by(PriceObservation.observed_at.desc(), PriceObservation.source,
                           PriceObservation.offer_key)
    if limit:
        query = query.limit(limit)
    frame = pd.DataFrame(session.execute(query).all(), columns=list(PRICE_COLUMNS))
    if not frame.empty:
        frame["usd_per_gpu_hour"] = frame["usd_per_gpu_hour"].astype(float)
        frame["original_amount"] = pd.to_numeric(frame["original_amount"], errors="coerce")
    return frame


def current_offers(
    session: Session,
    gpu: str | Iterable[str] | None = None,
    live_window: timedelta = timedelta(days=2),
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """The offers that stand now: each offer's latest observation.

    A live source lists what is for rent at each refresh, so an offer missing from its latest
    refreshes (a marketplace machine taken off) drops out after ``live_window``. Bundled snapshot
    rows have no later refresh to vanish from, so their latest dated row stands. ``as_of`` gives the
    offers as they stood at that moment (the weekly e-mail compares with a week ago).
    """
    import pandas as pd

    latest = (
        _price_filters(
            select(PriceObservation.source, PriceObservation.offer_key, PriceObservation.pricing,
                   func.max(PriceObservation.observed_at).label("latest")),
            gpu, None, None, None,
        )
        .where(PriceObservation.observed_at <= as_of if as_of is not None else true())
        .group_by(PriceObservation.source, PriceObservation.offer_key, PriceObservation.pricing)
        .subquery()
    )
    columns = [getattr(PriceObservation, c) for c in PRICE_COLUMNS]
    query = (
        select(*columns, RefreshRun.source.label("run_source"))
        .join(latest, and_(PriceObservation.source == latest.c.source,
                           PriceObservation.offer_key == latest.c.offer_key,
                           PriceObservation.pricing == latest.c.pricing,
                           PriceObservation.observed_at == latest.c.latest))
        .outerjoin(RefreshRun, RefreshRun.id == PriceObservation.refresh_run_id)
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=[*PRICE_COLUMNS, "run_source"])
    if frame.empty:
        return frame.drop(columns="run_source")
    frame["usd_per_gpu_hour"] = frame["usd_per_gpu_hour"].astype(float)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    frame["live"] = frame["run_source"] == frame["source"]
    live = frame[frame["live"]]
    if not live.empty:
        cutoff = live["source"].map(live.groupby("source")["observed_at"].max()) - pd.Timedelta(live_window)
        frame = frame.drop(live.index[live["observed_at"] < cutoff])
    return frame.drop(columns="run_source").reset_index(drop=True)


def price_history(session: Session, gpu: str, since: datetime | None = None) -> pd.DataFrame:
    """Daily statistics of one GPU per source and pricing kind: min, p10, median, p90, max, offers.

    Reads the raw observations and, for days already folded away by retention, the stored daily
    aggregates, so callers see one continuous history.
    """
    import pandas as pd

    from store.stats import GROUP, daily_statistics

    raw = price_observations(session, gpu=gpu, since=since)
    parts = []
    if not raw.empty:
        raw["day"] = [t.date() for t in raw["observed_at"]]
        for day, frame in raw.groupby("day"):
            stats = daily_statistics(frame)
            stats.insert(0, "day", day)
            parts.append(stats[stats["offers"] > 0])
    stored = daily_history(session, gpu, since)
    if not stored.empty:
        stored.insert(1, "gpu", gpu)
        parts.append(stored)
    if not parts:
        return pd.DataFrame(columns=["day", *GROUP, "usd_min", "usd_p10", "usd_median", "usd_p90", "usd_max",
                                     "offers"])
    history = pd.concat(parts, ignore_index=True).drop(columns=["flagged"], errors="ignore")
    return history.sort_values(["day", "source", "pricing"]).reset_index(drop=True)


def daily_history(session: Session, gpu: str, since: datetime | None = None) -> pd.DataFrame:
    """Stored daily aggregates of one GPU (days already folded out of the raw table)."""
    import pandas as pd

    query = select(PriceDaily.day, PriceDaily.source, PriceDaily.pricing, PriceDaily.usd_min, PriceDaily.usd_p10,
                   PriceDaily.usd_median, PriceDaily.usd_p90, PriceDaily.usd_max, PriceDaily.offers
                   ).where(PriceDaily.gpu == gpu, PriceDaily.offers > 0)
    if since is not None:
        query = query.where(PriceDaily.day >= since.date())
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=["day", "source", "pricing", "usd_min", "usd_p10", "usd_median", "usd_p90",
                                  "usd_max", "offers"])
    for column in ("usd_min", "usd_p10", "usd_median", "usd_p90", "usd_max"):
        frame[column] = frame[column].astype(float)
    return frame


def window_statistics(session: Session, start: datetime, end: datetime) -> pd.DataFrame:
    """Per GPU and pricing kind, over unflagged offers observed in [start, end): cheapest, median,
    offers and sources. The weekly e-mail compares two such windows."""
    import pandas as pd

    query = (select(PriceObservation.gpu, PriceObservation.pricing, PriceObservation.source,
                    PriceObservation.usd_per_gpu_hour)
             .where(PriceObservation.observed_at >= start, PriceObservation.observed_at < end,
                    PriceObservation.flagged.is_(False), PriceObservation.gpu != "unknown"))
    frame = pd.DataFrame(session.execute(query).all(), columns=["gpu", "pricing", "source", "usd"])
    if frame.empty:
        return pd.DataFrame(columns=["gpu", "pricing", "cheapest", "median", "offers", "sources"])
    frame["usd"] = frame["usd"].astype(float)
    grouped = frame.groupby(["gpu", "pricing"])
    out = grouped.agg(cheapest=("usd", "min"), median=("usd", "median"), offers=("usd", "size"),
                      sources=("source", lambda s: ", ".join(sorted(set(s)))))
    return out.reset_index()


def failed_runs_since(session: Session, since: datetime) -> list[RefreshRun]:
    query = (select(RefreshRun).where(RefreshRun.started_at >= since, RefreshRun.status == "failed")
             .order_by(RefreshRun.started_at))
    return list(session.scalars(query))


# --- purchase reads -----------------------------------------------------------------------------


def purchase_observations(
    session: Session, gpu: str | Iterable[str] | None = None, since: datetime | None = None
) -> pd.DataFrame:
    import pandas as pd

    query = select(*[getattr(PurchaseObservation, c) for c in PURCHASE_COLUMNS])
    if isinstance(gpu, str):
        query = query.where(PurchaseObservation.gpu == gpu)
    elif gpu is not None:
        query = query.where(PurchaseObservation.gpu.in_(list(gpu)))
    if since is not None:
        query = query.where(PurchaseObservation.observed_at >= since)
    query = query.order_by(PurchaseObservation.observed_at.desc())
    frame = pd.DataFrame(session.execute(query).all(), columns=list(PURCHASE_COLUMNS))
    if not frame.empty:
        frame["usd"] = frame["usd"].astype(float)
    return frame
