"""Report queries on a large price history, with the project's indexes and without them.

    python -m bench.queries [--rows 10000000] [--offers 4600] [--repeats 5] [--baseline-limit 60]
                            [--database sqlite|postgresql|both] [--no-plans]

Builds a database the way a year-round service would hold it: ``--rows`` hourly observations of
``--offers`` marketplace offers (default 10,000,000 rows = 90 days of hourly snapshots of ~4,600
offers across four sources), one ``refresh_run`` per source and hour, the bundled snapshot, and the
``price_daily`` aggregates and ``price_daily_count`` per-price counts of every finished day (what
retention's daily roll-up writes). Loading
uses the raw drivers' bulk paths (sqlite3 ``executemany``, psycopg ``COPY``) and is not timed.

Then times, median of ``--repeats`` warm runs, the reads behind the report and the e-mail:

* latest prices: ``rental_summary(current_offers(session))``, the report's cheapest/median per GPU,
  pricing kind and source over each offer's latest observation;
* daily history: ``price_history(session, gpu, since=90 days ago)``, one GPU's daily statistics;
* week over week: ``price_moves(*week_over_week(session, now))``, the weekly e-mail's table (two
  windows of seven whole UTC days, read from the per-price counts).

Each runs twice: with the project's indexes and unique constraints, created exactly as the
models declare them, and then, as the baseline, after dropping them all (the data is loaded
without them; SQLite gets its UNIQUE constraints back as the equivalent unique indexes). The plan
of every statement (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``) is printed for both. Without its index
the latest-per-offer walk reads the whole table once per offer, so baseline statements are
stopped after ``--baseline-limit`` seconds and reported as "at least" that. Target: < 100 ms each.
"""

from __future__ import annotations

import argparse
import math
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from bench.common import (
    Report,
    Timing,
    machine_line,
    postgres_available,
    postgres_schema,
    psycopg_dsn,
    scratch_dir,
    time_runs,
)

END = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # "now": the last snapshot is the hour before
SOURCES = ("vast", "runpod", "cloudrift", "shadeform")
GPUS = (("h100-sxm", "H100 SXM", 2.2), ("h100-pcie", "H100 PCIe", 1.9), ("a100-sxm-80gb", "A100 SXM4 80GB", 1.2),
        ("rtx-4090", "RTX 4090", 0.34), ("rtx-3090", "RTX 3090", 0.2), ("l40s", "L40S", 0.75),
        ("rtx-5090", "RTX 5090", 0.55), ("h200", "H200", 3.1), ("unknown", "MI300X", 1.9))
REGIONS = ("US-TX", "US-CA", "EU-DE", "EU-NL", "AS-JP")
HISTORY_GPU = "h100-sxm"
OBS_COLUMNS = ("source", "offer_key", "gpu", "gpu_raw_name", "gpu_count", "region", "pricing", "usd_per_gpu_hour",
               "currency", "original_amount", "observed_at", "flagged", "source_url", "refresh_run_id")
RUN_COLUMNS = ("id", "source", "started_at", "finished_at", "status", "quotes_parsed", "rows_written",
               "unknown_gpu_names", "quotes_flagged", "error", "raw_path")
DAILY_COLUMNS = ("day", "gpu", "source", "pricing", "usd_min", "usd_p10", "usd_median", "usd_p90", "usd_max",
                 "offers", "flagged")
COUNT_COLUMNS = ("day", "gpu", "source", "pricing", "flagged", "usd_per_gpu_hour", "observations")
INDEXED_TABLES = ("price_observation", "price_daily", "price_daily_count", "price_window")


# --- the data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    source_index: int
    key: str
    gpu: str
    raw_name: str
    count: int
    region: str
    pricing: str
    base_usd: float
    phase: float
    flagged: bool


def make_offers(offers: int) -> list[Offer]:
    """Marketplace-like offers: a GPU mix, 1-8 GPUs each, a fifth of them bid (spot)."""
    out = []
    for i in range(offers):
        gpu, raw, base = GPUS[(i * 7) % len(GPUS)]
        out.append(Offer(i % len(SOURCES), f"m{i:06d}", gpu, raw, (1, 1, 2, 4, 8)[i % 5], REGIONS[i % len(REGIONS)],
                         "spot" if i % 5 == 3 else "on-demand", base * (0.75 + (i * 37 % 101) / 200.0),
                         (i * 13 % 29) / 29.0, i % 97 == 0))
    return out


def price_at(offer: Offer, day: int) -> float:
    """An offer's price on a day: a slow monthly swing, changed once a day, 4 decimals."""
    return round(offer.base_usd * (1.0 + 0.08 * math.sin(2 * math.pi * (day / 30.0 + offer.phase))), 4)


@dataclass(frozen=True)
class Dataset:
    rows: int
    offers: int
    hours: int

    @property
    def start(self) -> datetime:
        return END - timedelta(hours=self.hours)

    def hour_at(self, hour: int) -> datetime:
        return self.start + timedelta(hours=hour)

    def run_id(self, hour: int, source_index: int, first_id: int) -> int:
        return first_id + hour * len(SOURCES) + source_index


def dataset(rows: int, offers: int) -> Dataset:
    if rows < 1 or offers < 1:
        raise ValueError("rows and offers must be at least 1.")
    offers = min(offers, rows)
    return Dataset(rows, offers, math.ceil(rows / offers))


def hour_rows(data: Dataset, catalog: list[Offer], hour: int, first_run_id: int) -> Iterator[tuple[Any, ...]]:
    """One snapshot's observations as plain tuples (observed_at aware; each driver adapts it)."""
    count = min(data.offers, data.rows - hour * data.offers)
    observed_at = data.hour_at(hour)
    day = (observed_at - data.start).days
    for offer in catalog[:count]:
        usd = price_at(offer, day)
        yield (SOURCES[offer.source_index], offer.key, offer.gpu, offer.raw_name, offer.count, offer.region,
               offer.pricing, usd, "USD", round(usd * offer.count, 6), observed_at, offer.flagged, None,
               data.run_id(hour, offer.source_index, first_run_id))


def daily_tables(data: Dataset, catalog: list[Offer]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(price_daily rows, price_daily_count rows) for every day that ended before ``END``: what
    retention's daily roll-up writes, computed with the same ``daily_statistics``."""
    import pandas as pd

    from store.stats import daily_statistics

    by_day: dict[date, list[int]] = {}
    for hour in range(data.hours):
        by_day.setdefault(data.hour_at(hour).date(), []).append(hour)
    daily: list[tuple[Any, ...]] = []
    counts: list[tuple[Any, ...]] = []
    for day, hours in sorted(by_day.items()):
        if day >= END.date():
            continue
        records = []
        for hour in hours:
            count = min(data.offers, data.rows - hour * data.offers)
            offset = (data.hour_at(hour) - data.start).days
            records.extend((o.gpu, SOURCES[o.source_index], o.pricing, price_at(o, offset), o.flagged)
                           for o in catalog[:count])
        frame = pd.DataFrame(records, columns=["gpu", "source", "pricing", "usd_per_gpu_hour", "flagged"])
        for r in daily_statistics(frame).itertuples(index=False):
            daily.append((day, r.gpu, r.source, r.pricing,
                          *(round(float(getattr(r, k)), 6) for k in ("usd_min", "usd_p10", "usd_median", "usd_p90",
                                                                      "usd_max")),
                          int(r.offers), int(r.flagged)))
        per_price = frame.groupby(["gpu", "source", "pricing", "flagged", "usd_per_gpu_hour"], sort=False).size()
        counts.extend((day, *key, int(n)) for key, n in per_price.items())
    return daily, counts


def run_rows(data: Dataset, first_id: int) -> Iterator[tuple[Any, ...]]:
    for hour in range(data.hours):
        when = data.hour_at(hour)
        for index, source in enumerate(SOURCES):
            yield (data.run_id(hour, index, first_id), source, when, when + timedelta(seconds=20), "ok", 0, 0, "[]",
                   0, None, None)


# --- loading with the raw drivers ---------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    """What SQLAlchemy stores on SQLite: naive UTC text timestamps with microseconds, ISO dates."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield tuple(_sqlite_value(v) for v in row)


def _load_sqlite(path: Path, data: Dataset, catalog: list[Offer], first_run_id: int) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO refresh_run ({', '.join(RUN_COLUMNS)}) VALUES "
                               f"({', '.join('?' * len(RUN_COLUMNS))})", _sqlite_rows(run_rows(data, first_run_id)))
        insert = (f"INSERT INTO price_observation ({', '.join(OBS_COLUMNS)}) VALUES "
                  f"({', '.join('?' * len(OBS_COLUMNS))})")
        for hour in range(data.hours):
            connection.executemany(insert, _sqlite_rows(hour_rows(data, catalog, hour, first_run_id)))
        daily, counts = daily_tables(data, catalog)
        for table, columns, rows in (("price_daily", DAILY_COLUMNS, daily),
                                     ("price_daily_count", COUNT_COLUMNS, counts)):
            connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                   f"({', '.join('?' * len(columns))})", _sqlite_rows(iter(rows)))
        connection.execute("COMMIT")
    finally:
        connection.close()


def _load_postgres(dsn: str, data: Dataset, catalog: list[Offer], first_run_id: int) -> None:
    import psycopg

    daily, counts = daily_tables(data, catalog)
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        for table, columns, rows in (
            ("refresh_run", RUN_COLUMNS, run_rows(data, first_run_id)),
            ("price_observation", OBS_COLUMNS,
             (row for hour in range(data.hours) for row in hour_rows(data, catalog, hour, first_run_id))),
            ("price_daily", DAILY_COLUMNS, daily),
            ("price_daily_count", COUNT_COLUMNS, counts),
        ):
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.execute("SELECT setval(pg_get_serial_sequence('refresh_run', 'id'), (SELECT max(id) FROM refresh_run))")


# --- the project's indexes, off and on ----------------------------------------------------------


def _index_statements(dialect: str) -> tuple[list[str], list[str]]:
    """(drop, create) statements for every index and unique constraint the models declare on the
    observation and daily tables, so the benchmark follows the models as they change.

    On SQLite a table's UNIQUE constraint cannot be dropped: the empty tables are rebuilt without
    it first (:func:`strip_sqlite_unique_constraints`) and it comes back as the equivalent unique
    index (SQLite implements the constraint as exactly that index)."""
    from sqlalchemy.schema import CreateIndex, UniqueConstraint

    from store.models import Base

    drops, creates = [], []
    for name in INDEXED_TABLES:
        table = Base.metadata.tables[name]
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                columns = ", ".join(c.name for c in constraint.columns)
                if dialect == "postgresql":
                    drops.append(f"ALTER TABLE {name} DROP CONSTRAINT {constraint.name}")
                    creates.append(f"ALTER TABLE {name} ADD CONSTRAINT {constraint.name} UNIQUE ({columns})")
                else:
                    drops.append(f"DROP INDEX {constraint.name}")
                    creates.append(f"CREATE UNIQUE INDEX {constraint.name} ON {name} ({columns})")
        for index in table.indexes:
            drops.append(f"DROP INDEX {index.name}")
            creates.append(str(CreateIndex(index).compile(dialect=_dialect(dialect))))
    return drops, creates


def _dialect(name: str) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.dialect() if name == "postgresql" else sqlite.dialect()


def strip_sqlite_unique_constraints(engine: Engine) -> None:
    """Recreate the (still small) tables without their UNIQUE table constraints or indexes."""
    with engine.begin() as connection:
        for name in INDEXED_TABLES:
            ddl = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type='table' AND name=?",
                                             (name,)).scalar_one()
            stripped = re.sub(r",\s*CONSTRAINT \w+ UNIQUE \([^)]*\)", "", ddl)
            connection.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_old")
            connection.exec_driver_sql(stripped)
            connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {name}_old")
            connection.exec_driver_sql(f"DROP TABLE {name}_old")  # its indexes go with it


def drop_indexes(engine: Engine) -> None:
    _run_and_analyze(engine, _index_statements(engine.dialect.name)[0])


def create_indexes(engine: Engine) -> None:
    _run_and_analyze(engine, _index_statements(engine.dialect.name)[1])


def _run_and_analyze(engine: Engine, statements: list[str]) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    analyze(engine)


def analyze(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE price_observation, price_daily, price_daily_count, price_window, refresh_run")
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


# --- the queries --------------------------------------------------------------------------------


def latest_prices(engine: Engine) -> Any:
    """The report's rental table: statistics over each offer's latest observation."""
    from reports.prices import rental_summary
    from store import queries
    from store.db import session_scope

    with session_scope(engine) as session:
        offers = queries.current_offers(session)
    return rental_summary(offers)


def daily_history(engine: Engine) -> Any:
    """One GPU's daily statistics over the last 90 days."""
    from store import queries
    from store.db import session_scope

    with session_scope(engine) as session:
        return queries.price_history(session, HISTORY_GPU, since=END - timedelta(days=90))


def week_over_week(engine: Engine, stored: bool = True) -> Any:
    """The weekly e-mail's table: this week's and last week's statistics, merged."""
    from reports.weekly import price_moves
    from store import queries
    from store.db import session_scope

    with session_scope(engine) as session:
        return price_moves(*queries.week_over_week(session, END, stored=stored))


def week_over_week_recomputed(engine: Engine) -> Any:
    """The same table computed from the daily price counts, as for a week not stored yet."""
    return week_over_week(engine, stored=False)


def store_weeks(engine: Engine) -> None:
    """The week statistics retention's roll-up stores with each finished day (not timed)."""
    from store.db import session_scope
    from store.retention import store_week

    last = datetime.combine(END.date(), time(), tzinfo=UTC)  # the midnight that ends this week
    for back in range(90, -1, -1):
        with session_scope(engine) as session:
            store_week(session, last - timedelta(days=back))


QUERIES: dict[str, Callable[[Engine], Any]] = {
    "latest prices per GPU and source": latest_prices,
    f"daily history of {HISTORY_GPU}, 90 days": daily_history,
    "week-over-week (e-mail)": week_over_week,
    "week-over-week, recomputed from daily counts": week_over_week_recomputed,
}


@contextmanager
def captured_statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL a block sends (statement and parameters), to EXPLAIN it afterwards."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def capture(engine: Engine, function: Callable[[Engine], Any]) -> list[tuple[str, Any]]:
    """Run ``function`` once and return the SELECTs it sent, with their parameters."""
    with captured_statements(engine) as statements:
        function(engine)
    return [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """The plan of each statement (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` on PostgreSQL)."""
    plans = []
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        for statement, parameters in statements:
            cursor = raw.cursor()
            if engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = _indented_plan(cursor.fetchall())
            else:
                cursor.execute("EXPLAIN " + statement, parameters)
                lines = [row[0] for row in cursor.fetchall()]
            cursor.close()
            plans.append("    " + " ".join(statement.split())[:160] + ("..." if len(statement) > 160 else ""))
            plans.extend("      " + line for line in lines)
    return plans


def _indented_plan(rows: list[tuple[Any, ...]]) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN rows (id, parent, notused, detail) as an indented tree."""
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


@dataclass
class QueryResult:
    database: str
    name: str
    indexed: Timing
    baseline: Timing
    plan_indexed: list[str] = field(default_factory=list)
    plan_baseline: list[str] = field(default_factory=list)
    result_rows: int = 0
    baseline_stopped: bool = False  # the baseline ran into the time limit (its figure is the limit)


def limited_engine(engine: Engine, seconds: float) -> Engine:
    """Another engine on the same database whose statements stop after ``seconds``: without its
    index the latest-per-offer walk reads the table once per offer, which would run for hours."""
    import time as clock

    from sqlalchemy.engine import make_url

    from store.db import make_engine

    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        options = make_url(url).query.get("options", "")
        options = " ".join([*([options] if isinstance(options, str) and options else []),
                            f"-c statement_timeout={int(seconds * 1000)}"])
        return make_engine(url, connect_args={"options": options})
    limited = make_engine(url)
    deadline = {"at": math.inf}

    @event.listens_for(limited, "connect")
    def _stop_late(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_progress_handler(lambda: int(clock.monotonic() > deadline["at"]), 100_000)

    @event.listens_for(limited, "before_cursor_execute")
    def _start_clock(*_args: Any) -> None:
        deadline["at"] = clock.monotonic() + seconds

    return limited


def _time_queries(engine: Engine, repeats: int) -> dict[str, tuple[Timing, int, bool]]:
    """Per query: timing, result rows, and whether the engine's time limit stopped it."""
    import time as clock

    from sqlalchemy.exc import OperationalError

    out = {}
    for name, function in QUERIES.items():
        start = clock.perf_counter()
        try:
            rows = len(function(engine))  # warm-up (page cache, pool) and a sanity figure
        except OperationalError:  # statement timeout / interrupted: one figure, the limit
            out[name] = (Timing((clock.perf_counter() - start,)), 0, True)
            continue
        out[name] = (time_runs(lambda f=function: f(engine), repeats), rows, False)
    return out


def _measure(engine: Engine, database: str, repeats: int, baseline_repeats: int,
             baseline_limit: float) -> list[QueryResult]:
    """With the project's indexes first (capturing each query's SQL), then without them."""
    create_indexes(engine)
    store_weeks(engine)
    statements = {name: capture(engine, function) for name, function in QUERIES.items()}
    indexed = _time_queries(engine, repeats)
    plans = {name: explain(engine, statements[name]) for name in QUERIES}
    drop_indexes(engine)
    plans_baseline = {name: explain(engine, statements[name]) for name in QUERIES}
    limited = limited_engine(engine, baseline_limit)
    try:
        baseline = _time_queries(limited, baseline_repeats)
    finally:
        limited.dispose()
    return [QueryResult(database, name, indexed[name][0], baseline[name][0], plans[name], plans_baseline[name],
                        indexed[name][1], baseline[name][2]) for name in QUERIES]


def _prepare(url: str) -> tuple[Engine, int]:
    """Migrated schema, bundled snapshot seeded, project indexes dropped; returns the next run id."""
    from jobs.seed import seed
    from store.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    seed(engine)
    if engine.dialect.name == "sqlite":
        strip_sqlite_unique_constraints(engine)
    else:
        drop_indexes(engine)
    with engine.connect() as connection:
        first_run_id = int(connection.execute(text("SELECT coalesce(max(id), 0) FROM refresh_run")).scalar_one()) + 1
    return engine, first_run_id


def bench_sqlite(data: Dataset, repeats: int, baseline_repeats: int, workdir: Path,
                 baseline_limit: float = 60.0) -> list[QueryResult]:
    path = workdir / "queries.sqlite3"
    engine, first_run_id = _prepare(f"sqlite:///{path}")
    engine.dispose()
    _load_sqlite(path, data, make_offers(data.offers), first_run_id)
    try:
        return _measure(engine, "SQLite", repeats, baseline_repeats, baseline_limit)
    finally:
        engine.dispose()
        for leftover in workdir.glob("queries.sqlite3*"):
            leftover.unlink()


def bench_postgres(data: Dataset, repeats: int, baseline_repeats: int, url: str | None = None,
                   baseline_limit: float = 60.0) -> list[QueryResult]:
    """On ``url`` (an empty schema) or, without one, on a scratch schema dropped afterwards."""
    if url is None:
        with postgres_schema(prefix="bench_queries") as (scratch_url, _schema):
            return bench_postgres(data, repeats, baseline_repeats, scratch_url, baseline_limit)
    engine, first_run_id = _prepare(url)
    try:
        _load_postgres(psycopg_dsn(url), data, make_offers(data.offers), first_run_id)
        return _measure(engine, "PostgreSQL", repeats, baseline_repeats, baseline_limit)
    finally:
        engine.dispose()


def run(rows: int = 10_000_000, offers: int = 4600, repeats: int = 5, baseline_repeats: int | None = None,
        databases: Sequence[str] = ("sqlite", "postgresql"), workdir: Path | None = None,
        postgres_url: str | None = None, baseline_limit: float = 60.0) -> list[QueryResult]:
    """Build, then time each query without and with the indexes; ``postgres_url`` names an empty
    schema to use instead of a scratch one."""
    data = dataset(rows, offers)
    baseline_repeats = baseline_repeats or repeats
    results: list[QueryResult] = []
    if "sqlite" in databases:
        if workdir is None:
            with scratch_dir() as scratch:
                results += bench_sqlite(data, repeats, baseline_repeats, scratch, baseline_limit)
        else:
            results += bench_sqlite(data, repeats, baseline_repeats, workdir, baseline_limit)
    if "postgresql" in databases:
        reason = None if postgres_url else postgres_available()
        if reason is None:
            results += bench_postgres(data, repeats, baseline_repeats, postgres_url, baseline_limit)
        else:
            print(f"PostgreSQL skipped: {reason}")
    return results


def report(results: Sequence[QueryResult], rows: int, plans: bool = True) -> Report:
    out = Report(f"Queries on {rows:,} observations (median of warm runs)")
    for r in results:
        stopped = " (stopped at the limit: the real figure is higher)" if r.baseline_stopped else ""
        out.add(f"{r.database}: {r.name}", r.indexed.median * 1000, "ms", "no indexes", r.baseline.median * 1000,
                target="< 100 ms", met=r.indexed.median < 0.1, note=f"{r.result_rows} result rows{stopped}")
    if plans:
        for r in results:
            out.notes.append(f"\n{r.database} / {r.name}: plan without the project's indexes")
            out.notes.extend(r.plan_baseline)
            out.notes.append(f"{r.database} / {r.name}: plan with them")
            out.notes.extend(r.plan_indexed)
    out.notes.append(machine_line())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queries", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="observations (default 10,000,000)")
    parser.add_argument("--offers", type=int, default=4600, help="offers per hourly snapshot (default 4,600)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per query (median reported)")
    parser.add_argument("--baseline-repeats", type=int, default=None, help="runs without indexes (default: --repeats)")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--baseline-limit", type=float, default=60.0,
                        help="seconds after which a query without indexes is stopped (default 60)")
    parser.add_argument("--no-plans", action="store_true", help="do not print the EXPLAIN plans")
    args = parser.parse_args(argv)
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    results = run(args.rows, args.offers, args.repeats, args.baseline_repeats, databases,
                  baseline_limit=args.baseline_limit)
    print(report(results, args.rows, plans=not args.no_plans).render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
