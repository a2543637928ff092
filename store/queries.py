"""Every read and write rentbuy does against its database.

Writes are idempotent (``ON CONFLICT DO NOTHING`` on each table's natural key) so a repeated
refresh or seed adds nothing. Reads that feed reports return pandas DataFrames; pandas is
imported inside them so CLI start-up does not pay for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Float,
    Select,
    String,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy import column as sql_column
from sqlalchemy.orm import Session

from store.models import (
    PriceDaily,
    PriceDailyCount,
    PriceObservation,
    PriceWindow,
    PurchaseObservation,
    RefreshRun,
    ReportDelivery,
    UTCDateTime,
)

if TYPE_CHECKING:
    import pandas as pd

PRICE_COLUMNS = (
    "source", "offer_key", "gpu", "gpu_raw_name", "gpu_count", "region", "pricing", "usd_per_gpu_hour",
    "currency", "original_amount", "observed_at", "flagged", "source_url",
)
WINDOW_COLUMNS = ("gpu", "pricing", "cheapest", "median", "offers", "sources")
PURCHASE_COLUMNS = (
    "source", "gpu", "condition", "basis", "usd", "currency", "original_amount", "observed_at",
    "source_url", "note",
)
# Rows per bulk write: bounds the memory one batch of row dicts takes (a batch is written with
# the driver's bulk path, which has no limit on bound parameters).
BATCH_ROWS = 10_000
WEEK_DAYS = 7  # the week-over-week windows: whole UTC days


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


# The PriceQuote fields that are columns (source_url comes from a quote's ``attributes``).
_QUOTE_COLUMNS = PRICE_COLUMNS[:-1]
_quote_values = attrgetter(*_QUOTE_COLUMNS)


def _price_row(item: Any, refresh_run_id: int | None) -> dict[str, Any]:
    # The same lookups as _field, done once per quote rather than once per column: at a million
    # quotes the per-column mapping tests and attribute probes took seconds.
    if isinstance(item, Mapping):
        row = {name: item.get(name) for name in PRICE_COLUMNS}
    else:
        try:
            row = dict(zip(_QUOTE_COLUMNS, _quote_values(item), strict=True))
            row["source_url"] = _field(item, "source_url")
        except AttributeError:  # an object with some fields only in its ``attributes``
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
    """Insert ``rows`` (dicts keyed by column), skipping any whose natural key is already stored;
    returns how many were added. Runs in the session's transaction.

    A marketplace refresh is tens of thousands of rows, so this uses each driver's bulk path, not
    SQLAlchemy's per-row parameter handling (which took 8x the raw driver's time on PostgreSQL
    and 1.6x on SQLite; bench/ingest.py): SQLite runs one prepared ``INSERT ... ON CONFLICT DO
    NOTHING`` through ``executemany``; PostgreSQL ``COPY``s into a temporary table and runs one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, whose row count is exact. Values go through
    the columns' own bind processors and scalar defaults, so rows are stored exactly as
    SQLAlchemy would store them.
    """
    if not rows:
        return 0
    session.flush()  # pending ORM rows (the refresh run these rows point at) must exist first
    connection = session.connection()
    dialect = connection.dialect
    given = list(rows[0])
    defaults = {column.name: column.default.arg for column in table.columns
                if column.name not in rows[0] and column.default is not None and column.default.is_scalar}
    columns = [*given, *defaults]
    processors = [(index, processor) for index, name in enumerate(columns)
                  if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))]
    default_values = list(defaults.values())

    def values() -> Iterator[list[Any]]:
        for row in rows:
            value = [row.get(name) for name in given] + default_values
            for index, processor in processors:
                value[index] = processor(value[index])
            yield value

    names = ", ".join(columns)
    if dialect.name == "sqlite":
        cursor = connection.connection.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))}) "
                               "ON CONFLICT DO NOTHING", values())
            return max(cursor.rowcount, 0)  # sqlite3 sums executemany's changes; a skipped row adds 0
        finally:
            cursor.close()
    if dialect.name == "postgresql":
        stage = f"rentbuy_stage_{table.name}"
        definition = ", ".join(f"{name} {table.c[name].type.compile(dialect)}" for name in columns)
        with connection.connection.driver_connection.cursor() as cursor:
            # On an error the caller's rollback takes the staging table away with everything else.
            cursor.execute(f"CREATE TEMPORARY TABLE {stage} ({definition}) ON COMMIT DROP")
            with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                for value in values():
                    copy.write_row(value)
            cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} "
                           "ON CONFLICT DO NOTHING")
            added = max(cursor.rowcount, 0)
            cursor.execute(f"DROP TABLE {stage}")  # the next batch makes it anew
            return added
    raise RuntimeError(f"unsupported database dialect {dialect.name!r}")  # pragma: no cover


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


# The start of a reparse run's ``error`` text: such a run re-reads an old payload, it is no refresh.
REPARSE_NOTE = "reparse of run "


def last_success_by_source(session: Session, exclude: Iterable[str] = (), *,
                           started: bool = False) -> dict[str, datetime]:
    """When each source last refreshed successfully (a reparse is not a refresh).

    ``started``: the successful run's start rather than its end, which is what a refresh interval
    is measured from (an end drifts later by each run's duration).
    """
    column = RefreshRun.started_at if started else RefreshRun.finished_at
    query = (select(RefreshRun.source, func.max(column))
             .where(RefreshRun.status == "ok",
                    or_(RefreshRun.error.is_(None), RefreshRun.error.not_like(f"{REPARSE_NOTE}%")))
             .group_by(RefreshRun.source))
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
        for model in (PriceObservation, PriceDaily, PriceDailyCount, PriceWindow, PurchaseObservation, RefreshRun,
                      ReportDelivery)
    }


# The distinct GPU ids of the raw table, one probe of the (gpu, observed_at) index each: a
# DISTINCT or a min/max over observed_at would read every row (1.5 s at 10 million rows).
_OBSERVED_GPUS = """
WITH RECURSIVE gpus(gpu) AS (
    SELECT min(gpu) FROM price_observation
    UNION ALL
    SELECT (SELECT min(p.gpu) FROM price_observation AS p WHERE p.gpu > g.gpu) FROM gpus AS g
    WHERE g.gpu IS NOT NULL
)
SELECT gpu FROM gpus WHERE gpu IS NOT NULL
"""


def observed_gpus(session: Session) -> list[str]:
    """Every GPU id with raw observations (``unknown`` included), sorted."""
    return list(session.scalars(text(_OBSERVED_GPUS)))


def observation_bounds(
    session: Session, before: datetime | None = None, since: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """Oldest and newest raw observation (only those in [since, before), where given), found per
    GPU through the (gpu, observed_at) index, since no index leads with observed_at."""
    at = PriceObservation.observed_at
    oldest = newest = None
    for gpu in observed_gpus(session):
        scope = ([PriceObservation.gpu == gpu] + ([at < before] if before is not None else [])
                 + ([at >= since] if since is not None else []))
        # Two scalar subqueries: SQLite's min/max shortcut works for one aggregate per SELECT.
        low, high = session.execute(select(select(func.min(at)).where(*scope).scalar_subquery(),
                                           select(func.max(at)).where(*scope).scalar_subquery())).one()
        low, high = _utc(low), _utc(high)
        if low is not None and (oldest is None or low < oldest):
            oldest = low
        if high is not None and (newest is None or high > newest):
            newest = high
    return oldest, newest


def data_dates(session: Session) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Oldest and newest observation per table: how fresh the numbers behind a report are."""
    out = {"price_observation": observation_bounds(session)}
    bounds = select(func.min(PurchaseObservation.observed_at), func.max(PurchaseObservation.observed_at))
    oldest, newest = session.execute(bounds).one()
    out["purchase_observation"] = (_utc(oldest), _utc(newest))
    return out


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # aggregates bypass the column type on SQLite


# --- price reads --------------------------------------------------------------------------------


def _frame(result: Any, columns: list[str]) -> pd.DataFrame:
    """A DataFrame of a query's rows. Built from plain tuples: from SQLAlchemy ``Row`` objects
    pandas takes ~13 µs a row (attribute probes that raise inside Row), ten times as long."""
    import pandas as pd

    return pd.DataFrame([tuple(row) for row in result.all()], columns=columns)


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
    frame = _frame(session.execute(query), columns=list(PRICE_COLUMNS))
    if not frame.empty:
        frame["usd_per_gpu_hour"] = frame["usd_per_gpu_hour"].astype(float)
        frame["original_amount"] = pd.to_numeric(frame["original_amount"], errors="coerce")
    return frame


# Each offer's latest observation by walking the unique index (source, offer_key, pricing,
# observed_at) from the top, one index probe per offer (a "loose index scan"), instead of a
# GROUP BY that reads every row: 6.8 s -> ~0.1 s at 10 million rows (bench/queries.py). The
# probe compares the whole row against the current offer's key and the earliest possible time,
# so it lands on the previous offer's newest row. SQLite uses the whole row value for the seek
# only when the correlated values carry no column affinity, hence the unary + there (without
# it, it seeks on ``source`` alone and scans the group: minutes).
_LATEST_PER_OFFER = """
WITH RECURSIVE offer_keys({carried}) AS (
    SELECT {carried} FROM (
        SELECT {carried} FROM price_observation
        ORDER BY source DESC, offer_key DESC, pricing DESC, observed_at DESC LIMIT 1) AS newest
    UNION ALL
    SELECT {carried_p} FROM offer_keys AS k
    JOIN price_observation AS p ON p.id = (
        SELECT q.id FROM price_observation AS q
        WHERE (q.source, q.offer_key, q.pricing, q.observed_at)
            < ({plus}k.source, {plus}k.offer_key, {plus}k.pricing, :floor)
        ORDER BY q.source DESC, q.offer_key DESC, q.pricing DESC, q.observed_at DESC LIMIT 1)
)
SELECT {columns}, r.source AS run_source
FROM {latest}
LEFT OUTER JOIN refresh_run AS r ON r.id = o.refresh_run_id
{where}
"""
# The walk carries each offer's whole newest row, so the rows come straight from it (one heap
# read per offer fewer than joining back by id). With ``as_of``, the newest row of each offer at
# or before that moment is looked up again (one more probe per offer).
_CARRIED = ("id", *PRICE_COLUMNS, "refresh_run_id")
_LATEST_AS_OF = """offer_keys AS k JOIN price_observation AS o ON o.id = (
    SELECT q.id FROM price_observation AS q
    WHERE q.source = k.source AND q.offer_key = k.offer_key AND q.pricing = k.pricing AND q.observed_at <= :as_of
    ORDER BY q.observed_at DESC LIMIT 1)"""
_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)  # before any observation, on both databases' encodings


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
    offers as they stood at that moment (the weekly e-mail compares with a week ago). ``gpu``
    keeps the offers whose latest observation is of that GPU (or of one of those GPUs).

    Cost: one index probe per distinct offer kept in the raw table (two with ``as_of``).
    """
    import pandas as pd

    table = PriceObservation.__table__
    where, parameters = "", {"floor": _EARLIEST, "as_of": as_of}
    if gpu is not None:
        where, parameters["gpus"] = "WHERE o.gpu IN :gpus", [gpu] if isinstance(gpu, str) else list(gpu)
    sql = _LATEST_PER_OFFER.format(
        plus="+" if session.get_bind().dialect.name == "sqlite" else "",
        carried=", ".join(_CARRIED), carried_p=", ".join(f"p.{name}" for name in _CARRIED),
        columns=", ".join(f"o.{name}" for name in PRICE_COLUMNS),
        latest="offer_keys AS o" if as_of is None else _LATEST_AS_OF, where=where)
    statement = text(sql).bindparams(bindparam("floor", type_=UTCDateTime()))
    if as_of is not None:
        statement = statement.bindparams(bindparam("as_of", type_=UTCDateTime()))
    if gpu is not None:
        statement = statement.bindparams(bindparam("gpus", expanding=True))
    # Prices come back as floats and timestamps untyped, converted once per column below rather
    # than per row (they end up as float and pandas timestamps either way).
    typed = {"usd_per_gpu_hour": sql_column("usd_per_gpu_hour", Float), "observed_at": sql_column("observed_at")}
    statement = statement.columns(*(typed.get(name, table.c[name]) for name in PRICE_COLUMNS),
                                  sql_column("run_source", String))
    used = {name: value for name, value in parameters.items() if f":{name}" in sql}
    frame = _frame(session.execute(statement, used), columns=[*PRICE_COLUMNS, "run_source"])
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

    A day that has stored aggregates (folded by retention, or rolled up once it ended; see
    ``store.retention``) is read from them; only the other days, normally just today, are
    computed from raw observations. So 90 days of history cost a few hundred aggregate rows
    instead of a million raw ones (35 s -> ~0.05 s at 10 million rows, bench/queries.py).
    """
    import pandas as pd

    from store.stats import GROUP, daily_statistics

    covered = sorted(session.scalars(select(PriceDaily.day).distinct()
                                     .where(*([PriceDaily.day >= since.date()] if since else []))))
    parts = []
    at = PriceObservation.observed_at
    # The UTC day and a float price come straight from the database: converting each row's
    # timestamp and Decimal in Python was most of this function's time.
    if session.get_bind().dialect.name == "sqlite":
        utc_day: Any = func.substr(at, 1, 10)  # stored as naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'
    else:
        utc_day = func.date(func.timezone("UTC", at))
    for low, high in _uncovered_ranges(covered, since):
        query = (select(utc_day, PriceObservation.source, PriceObservation.pricing,
                        cast(PriceObservation.usd_per_gpu_hour, Float), PriceObservation.flagged)
                 .where(PriceObservation.gpu == gpu, *([at >= low] if low else []), *([at < high] if high else [])))
        raw = _frame(session.execute(query), columns=["day", "source", "pricing", "usd_per_gpu_hour", "flagged"])
        raw["gpu"] = gpu
        for day, frame in raw.groupby("day"):
            stats = daily_statistics(frame)
            stats.insert(0, "day", date.fromisoformat(day) if isinstance(day, str) else day)
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


def _uncovered_ranges(
    covered: list[date], since: datetime | None, until: datetime | None = None
) -> list[tuple[datetime | None, datetime | None]]:
    """The [low, high) stretches between ``since`` and ``until`` (None: unbounded) that no
    aggregated UTC day in ``covered`` (sorted, inside those bounds) covers."""
    ranges: list[tuple[datetime | None, datetime | None]] = []
    cursor = since
    for day in covered:  # sorted
        day_start = datetime.combine(day, time(), tzinfo=UTC)
        if cursor is None or cursor < day_start:
            ranges.append((cursor, day_start))
        day_end = day_start + timedelta(days=1)
        cursor = day_end if cursor is None else max(cursor, day_end)
    if cursor is None or until is None or cursor < until:
        ranges.append((cursor, until))
    return ranges


def daily_history(session: Session, gpu: str, since: datetime | None = None) -> pd.DataFrame:
    """Stored daily aggregates of one GPU (days folded by retention or rolled up once they ended)."""
    query = select(PriceDaily.day, PriceDaily.source, PriceDaily.pricing, PriceDaily.usd_min, PriceDaily.usd_p10,
                   PriceDaily.usd_median, PriceDaily.usd_p90, PriceDaily.usd_max, PriceDaily.offers
                   ).where(PriceDaily.gpu == gpu, PriceDaily.offers > 0)
    if since is not None:
        query = query.where(PriceDaily.day >= since.date())
    frame = _frame(session.execute(query), columns=["day", "source", "pricing", "usd_min", "usd_p10", "usd_median",
                                                    "usd_p90", "usd_max", "offers"])
    for column in ("usd_min", "usd_p10", "usd_median", "usd_p90", "usd_max"):
        frame[column] = frame[column].astype(float)
    return frame


def week_windows(now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """This week and last week as [start, end) in whole UTC days: the seven days before today's
    UTC midnight, and the seven before those.

    Whole days because ``store.retention`` stores each such week as its last day is rolled up, so
    reading one is a lookup; a window ending mid-day would re-count up to two days of raw rows.
    """
    midnight = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    week = timedelta(days=WEEK_DAYS)
    return (midnight - week, midnight), (midnight - 2 * week, midnight - week)


def week_over_week(session: Session, now: datetime, stored: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``window_statistics`` of this week and of last week (see ``week_windows``)."""
    this_week, last_week = week_windows(now)
    return window_statistics(session, *this_week, stored=stored), window_statistics(session, *last_week,
                                                                                      stored=stored)


def window_statistics(session: Session, start: datetime, end: datetime, stored: bool = True) -> pd.DataFrame:
    """Per GPU and pricing kind, over unflagged offers observed in [start, end): cheapest, median,
    offers and sources. The weekly e-mail and the report compare two such windows.

    A window of whole days whose statistics were stored when its last day was rolled up
    (``price_window``: the weeks that ``week_windows`` gives) is one indexed read, unless
    ``stored`` is false. Any other window is computed exactly by the database, which returns one
    row per GPU and pricing kind: it counts how many observations had each distinct price, takes
    running totals in price order (a window function) and picks the price where the running
    total passes the middle. Whole days that were rolled up are counted from ``price_daily_count``
    (~5,000 rows a day at marketplace scale) instead of their raw rows (~110,000); the rest of
    the window from raw rows. Figures for each path are in bench/queries.py's output.
    """
    import pandas as pd

    columns = list(WINDOW_COLUMNS)
    first = start.astimezone(UTC).date() + timedelta(days=0 if start.astimezone(UTC).time() == time() else 1)
    last = end.astimezone(UTC).date()  # whole days are [first, last)
    whole = start == datetime.combine(first, time(), tzinfo=UTC) and end == datetime.combine(last, time(), tzinfo=UTC)
    if stored and whole:
        found = stored_window(session, last, (last - first).days)
        if not found.empty:
            return found
    covered = sorted(session.scalars(select(PriceDailyCount.day).distinct()
                                     .where(PriceDailyCount.day >= first, PriceDailyCount.day < last)))
    counted: list[Select[Any]] = []
    if covered:
        counted.append(select(PriceDailyCount.gpu, PriceDailyCount.pricing, PriceDailyCount.source,
                              PriceDailyCount.usd_per_gpu_hour.label("usd"), PriceDailyCount.observations.label("n"))
                       .where(PriceDailyCount.day >= first, PriceDailyCount.day < last,
                              PriceDailyCount.flagged.is_(False), PriceDailyCount.gpu != "unknown"))
    ranges = [(low or start, high or end) for low, high in _uncovered_ranges(covered, start, end)]  # both bounded
    # gpu IN (...) lets both databases seek the (gpu, observed_at) index per GPU for a raw range.
    gpus = [name for name in observed_gpus(session) if name != "unknown"] if ranges else []
    for low, high in ranges if gpus else []:
        counted.append(select(PriceObservation.gpu, PriceObservation.pricing, PriceObservation.source,
                              PriceObservation.usd_per_gpu_hour.label("usd"), literal(1).label("n"))
                       .where(PriceObservation.gpu.in_(gpus), PriceObservation.observed_at >= low,
                              PriceObservation.observed_at < high, PriceObservation.flagged.is_(False)))
    if not counted:
        return pd.DataFrame(columns=columns)
    if gpus and session.get_bind().dialect.name == "postgresql":
        # Room to hash raw rows in memory: with the default 4 MB they are sorted on disk, 3x
        # slower. LOCAL: it ends with the caller's transaction.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    rows = session.execute(_median_query(counted, session.get_bind().dialect.name)).all()
    return pd.DataFrame([(gpu, pricing, float(cheapest), (float(low) + float(high)) / 2, int(total),
                          ", ".join(sorted(set(sources.split(",")))))
                         for gpu, pricing, cheapest, low, high, total, sources in rows], columns=columns)


def stored_window(session: Session, window_end: date, days: int) -> pd.DataFrame:
    """The statistics ``store.retention`` stored for the ``days`` whole days before ``window_end``."""
    columns = [getattr(PriceWindow, name) for name in WINDOW_COLUMNS]
    query = (select(*columns).where(PriceWindow.window_end == window_end, PriceWindow.days == days)
             .order_by(PriceWindow.gpu, PriceWindow.pricing))
    frame = _frame(session.execute(query), columns=list(WINDOW_COLUMNS))
    for name in ("cheapest", "median"):
        frame[name] = frame[name].astype(float)
    return frame


def _median_query(counted: list[Select[Any]], dialect: str) -> Select[Any]:
    """Cheapest, the two middle prices, count and sources per GPU and pricing kind from
    (gpu, pricing, source, usd, n) selects. With running totals ``upto`` in price order, the
    0-based position p is held by the first price whose ``upto > p``; for p = (total-1)//2 and
    total//2 that is ``2*upto > total-1`` and ``2*upto > total`` (no division, so no rounding)."""
    rows = (counted[0] if len(counted) == 1 else union_all(*counted)).subquery("counted")
    grouped = (select(rows.c.gpu, rows.c.pricing, rows.c.source, rows.c.usd, func.sum(rows.c.n).label("n"))
               .group_by(rows.c.gpu, rows.c.pricing, rows.c.source, rows.c.usd).subquery("grouped"))
    group = (grouped.c.gpu, grouped.c.pricing)
    running = select(
        *group, grouped.c.source, grouped.c.usd,
        func.sum(grouped.c.n).over(partition_by=group, order_by=grouped.c.usd, rows=(None, 0)).label("upto"),
        func.sum(grouped.c.n).over(partition_by=group).label("total"),
    ).subquery("running")
    sources = (func.group_concat(distinct(running.c.source)) if dialect == "sqlite"
               else func.string_agg(distinct(running.c.source), literal_column("','")))
    return (select(running.c.gpu, running.c.pricing, func.min(running.c.usd),
                   func.min(case((2 * running.c.upto > running.c.total - 1, running.c.usd))),
                   func.min(case((2 * running.c.upto > running.c.total, running.c.usd))),
                   func.max(running.c.total), sources)
            .group_by(running.c.gpu, running.c.pricing).order_by(running.c.gpu, running.c.pricing))


def failed_runs_since(session: Session, since: datetime) -> list[RefreshRun]:
    query = (select(RefreshRun).where(RefreshRun.started_at >= since, RefreshRun.status == "failed")
             .order_by(RefreshRun.started_at))
    return list(session.scalars(query))


# --- purchase reads -----------------------------------------------------------------------------


def purchase_observations(
    session: Session, gpu: str | Iterable[str] | None = None, since: datetime | None = None
) -> pd.DataFrame:

    query = select(*[getattr(PurchaseObservation, c) for c in PURCHASE_COLUMNS])
    if isinstance(gpu, str):
        query = query.where(PurchaseObservation.gpu == gpu)
    elif gpu is not None:
        query = query.where(PurchaseObservation.gpu.in_(list(gpu)))
    if since is not None:
        query = query.where(PurchaseObservation.observed_at >= since)
    query = query.order_by(PurchaseObservation.observed_at.desc())
    frame = _frame(session.execute(query), columns=list(PURCHASE_COLUMNS))
    if not frame.empty:
        frame["usd"] = frame["usd"].astype(float)
    return frame
