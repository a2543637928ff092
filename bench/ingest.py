"""Ingest: generated ``PriceQuote`` rows written the way ``rentbuy refresh`` writes them.

    python -m bench.ingest [--rows 1000000] [--repeats 5] [--database sqlite|postgresql|both]

Each repeat starts from an empty, migrated database (a fresh SQLite file; an emptied PostgreSQL
table) holding one ``refresh_run`` row, and times:

* rentbuy: ``store.queries.insert_price_observations(session, quotes, run_id)`` inside
  ``store.db.session_scope``, exactly what ``jobs.refresh.refresh_source`` does with a source's quotes
  (idempotent insert, count of rows actually added, one transaction);
* baseline: the raw driver's fastest bulk path into the same table with the same indexes, from the
  same ``PriceQuote`` objects: ``sqlite3`` ``executemany`` of plain tuples in one transaction, on a
  connection with rentbuy's SQLite settings; psycopg ``COPY ... FROM STDIN`` with binary rows. No
  duplicate handling, no row count;
* for scale: the same raw path into the table with no indexes or unique constraint, which is what
  index upkeep costs even the raw driver.

Generating the quotes is not timed. Targets: within 2x of the raw driver; at least 100,000 rows/s
on SQLite.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

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
from providers.base import PriceQuote

GPUS = (("h100-sxm", "H100 SXM", 2.4), ("h100-pcie", "H100 PCIe", 2.1), ("a100-sxm-80gb", "A100 SXM4 80GB", 1.3),
        ("rtx-4090", "RTX 4090", 0.35), ("rtx-3090", "RTX 3090", 0.22), ("l40s", "L40S", 0.8),
        ("rtx-5090", "RTX 5090", 0.6), ("h200", "H200", 3.2), ("unknown", "MI300X", 2.0))
SOURCES = ("vast", "runpod", "cloudrift", "shadeform")
REGIONS = ("US-TX", "US-CA", "EU-DE", "EU-NL", "AS-JP")
START = datetime(2026, 9, 1, tzinfo=UTC)
OBS_COLUMNS = ("source", "offer_key", "gpu", "gpu_raw_name", "gpu_count", "region", "pricing",
               "usd_per_gpu_hour", "currency", "original_amount", "observed_at", "flagged", "source_url",
               "refresh_run_id")


def generate_quotes(rows: int, offers: int = 4600, seed: int = 0) -> list[PriceQuote]:
    """``rows`` quotes: hourly snapshots of ``offers`` marketplace offers, newest hour last.

    Deterministic and cheap (no RNG object per row): price varies by offer and hour.
    """
    quotes = []
    hour = 0
    while len(quotes) < rows:
        observed_at = START + timedelta(hours=hour)
        for offer in range(min(offers, rows - len(quotes))):
            gpu, raw, base = GPUS[(offer * 7 + seed) % len(GPUS)]
            count = (1, 1, 2, 4, 8)[offer % 5]
            price = round(base * (0.8 + ((offer * 31 + hour * 17 + seed) % 97) / 240.0), 6)
            quotes.append(PriceQuote(
                source=SOURCES[offer % len(SOURCES)], offer_key=f"m{offer:06d}", gpu=gpu, gpu_raw_name=raw,
                gpu_count=count, usd_per_gpu_hour=price, pricing="spot" if offer % 3 == 0 else "on-demand",
                region=REGIONS[offer % len(REGIONS)], observed_at=observed_at, original_amount=price * count,
                flagged=offer % 101 == 0))
        hour += 1
    return quotes


# --- the rentbuy path ---------------------------------------------------------------------------


def _fresh_database(url: str) -> tuple[object, int]:
    """A migrated engine and the id of one refresh run (what refresh creates before storing)."""
    from store import queries
    from store.db import make_engine, session_scope, upgrade

    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        run_id = queries.start_refresh_run(session, "vast", START).id
    return engine, run_id


def rentbuy_insert(engine: object, quotes: Sequence[PriceQuote], run_id: int) -> int:
    """What ``refresh_source`` does with a source's quotes."""
    from store import queries
    from store.db import session_scope

    with session_scope(engine) as session:  # type: ignore[arg-type]
        return queries.insert_price_observations(session, quotes, refresh_run_id=run_id)


# --- raw-driver baselines -----------------------------------------------------------------------


def _tuples(quotes: Sequence[PriceQuote], run_id: int, sqlite_form: bool) -> list[tuple[object, ...]]:
    if sqlite_form:  # what SQLAlchemy stores on SQLite: naive UTC text timestamps, numeric as float
        return [(q.source, q.offer_key, q.gpu, q.gpu_raw_name, q.gpu_count, q.region, q.pricing,
                 q.usd_per_gpu_hour, q.currency, q.original_amount,
                 q.observed_at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "), q.flagged, None, run_id)
                for q in quotes]
    return [(q.source, q.offer_key, q.gpu, q.gpu_raw_name, q.gpu_count, q.region, q.pricing,
             Decimal(str(q.usd_per_gpu_hour)), q.currency,
             None if q.original_amount is None else Decimal(str(q.original_amount)), q.observed_at, q.flagged,
             None, run_id) for q in quotes]


def sqlite_executemany(path: Path, quotes: Sequence[PriceQuote], run_id: int) -> int:
    """sqlite3's fastest plain path: one transaction, one prepared INSERT, executemany of tuples."""
    from store.db import _sqlite_pragmas

    connection = sqlite3.connect(path, isolation_level=None)
    try:
        _sqlite_pragmas(connection, None)  # the same connection settings as rentbuy's engine
        connection.execute("BEGIN")
        placeholders = ", ".join("?" * len(OBS_COLUMNS))
        cursor = connection.executemany(
            f"INSERT INTO price_observation ({', '.join(OBS_COLUMNS)}) VALUES ({placeholders})",
            _tuples(quotes, run_id, sqlite_form=True))
        connection.execute("COMMIT")
        return cursor.rowcount
    finally:
        connection.close()


def postgres_copy(dsn: str, quotes: Sequence[PriceQuote], run_id: int) -> int:
    """psycopg's fastest path: ``COPY ... FROM STDIN (FORMAT BINARY)`` in one transaction."""
    import psycopg

    rows = _tuples(quotes, run_id, sqlite_form=False)
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY price_observation ({', '.join(OBS_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["varchar", "varchar", "varchar", "varchar", "int4", "varchar", "varchar", "numeric",
                            "varchar", "numeric", "timestamptz", "bool", "text", "int8"])
            for row in rows:
                copy.write_row(row)
        return len(rows)


# --- the benchmark ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    database: str
    rows: int
    rentbuy: Timing
    baseline: Timing
    baseline_name: str
    rows_added: int
    bare: Timing  # the raw path into the table without its indexes and unique constraint

    @property
    def bare_rows_per_second(self) -> float:
        return self.rows / self.bare.median

    @property
    def rentbuy_rows_per_second(self) -> float:
        return self.rows / self.rentbuy.median

    @property
    def baseline_rows_per_second(self) -> float:
        return self.rows / self.baseline.median

    @property
    def slowdown(self) -> float:
        """How many times the raw driver's time the rentbuy path takes (target: at most 2)."""
        return self.rentbuy.median / self.baseline.median


def _bench_sqlite(quotes: list[PriceQuote], repeats: int, workdir: Path) -> IngestResult:
    path = workdir / "ingest.sqlite3"
    state: dict[str, object] = {}

    def fresh() -> None:
        if "engine" in state:
            state["engine"].dispose()  # type: ignore[attr-defined]
        for leftover in workdir.glob("ingest.sqlite3*"):
            leftover.unlink()
        state["engine"], state["run_id"] = _fresh_database(f"sqlite:///{path}")

    def ours() -> None:
        state["added"] = rentbuy_insert(state["engine"], quotes, state["run_id"])  # type: ignore[arg-type]

    def raw() -> None:
        sqlite_executemany(path, quotes, state["run_id"])  # type: ignore[arg-type]

    def fresh_bare() -> None:
        fresh()
        strip_indexes(state["engine"])  # type: ignore[arg-type]

    rentbuy = time_runs(ours, repeats, setup=fresh)
    added = int(state["added"])  # type: ignore[call-overload]
    baseline = time_runs(raw, repeats, setup=fresh)
    bare = time_runs(raw, repeats, setup=fresh_bare)
    state["engine"].dispose()  # type: ignore[attr-defined]
    for leftover in workdir.glob("ingest.sqlite3*"):
        leftover.unlink()
    return IngestResult("SQLite", len(quotes), rentbuy, baseline, "sqlite3 executemany, one transaction", added,
                        bare)


def strip_indexes(engine: Any) -> None:
    """Drop the observation table's indexes and unique constraint (SQLite: rebuild it without)."""
    from bench.queries import drop_indexes, strip_sqlite_unique_constraints

    if engine.dialect.name == "sqlite":
        strip_sqlite_unique_constraints(engine)
    else:
        drop_indexes(engine)


def _bench_postgres(quotes: list[PriceQuote], repeats: int, url: str | None = None) -> IngestResult:
    """On ``url`` (an empty schema) or, without one, on a scratch schema dropped afterwards."""
    from sqlalchemy import text

    if url is None:
        with postgres_schema(prefix="bench_ingest") as (scratch_url, _schema):
            return _bench_postgres(quotes, repeats, scratch_url)
    engine, run_id = _fresh_database(url)
    dsn = psycopg_dsn(url)
    state: dict[str, int] = {}

    def empty() -> None:
        # Same start for every run: an empty table, and the previous run's WAL flushed so its
        # checkpoint does not land inside the next timing.
        with engine.begin() as connection:  # type: ignore[attr-defined]
            connection.execute(text("TRUNCATE price_observation"))
        with engine.connect() as connection:  # type: ignore[attr-defined]
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("CHECKPOINT"))

    def ours() -> None:
        state["added"] = rentbuy_insert(engine, quotes, run_id)

    def raw() -> None:
        postgres_copy(dsn, quotes, run_id)

    try:
        rentbuy = time_runs(ours, repeats, setup=empty)
        baseline = time_runs(raw, repeats, setup=empty)
        strip_indexes(engine)
        bare = time_runs(raw, repeats, setup=empty)
    finally:
        engine.dispose()  # type: ignore[attr-defined]
    return IngestResult("PostgreSQL", len(quotes), rentbuy, baseline, "psycopg COPY (binary)", state["added"], bare)


def run(rows: int = 1_000_000, repeats: int = 5, databases: Sequence[str] = ("sqlite", "postgresql"),
        workdir: Path | None = None, postgres_url: str | None = None) -> list[IngestResult]:
    """Time both paths on each database; a PostgreSQL server that does not answer is skipped.
    ``postgres_url`` names an empty schema to use instead of a scratch one."""
    if rows < 1 or repeats < 1:
        raise ValueError("rows and repeats must be at least 1.")
    quotes = generate_quotes(rows)
    results = []
    if "sqlite" in databases:
        if workdir is None:
            with scratch_dir() as scratch:
                results.append(_bench_sqlite(quotes, repeats, scratch))
        else:
            results.append(_bench_sqlite(quotes, repeats, workdir))
    if "postgresql" in databases:
        reason = None if postgres_url else postgres_available()
        if reason is None:
            results.append(_bench_postgres(quotes, repeats, postgres_url))
        else:
            print(f"PostgreSQL skipped: {reason}")
    return results


def report(results: Sequence[IngestResult]) -> Report:
    out = Report(f"Ingest of {results[0].rows:,} PriceQuotes (median of {len(results[0].rentbuy.seconds)})"
                 if results else "Ingest")
    for r in results:
        out.add(f"{r.database}: rentbuy insert_price_observations", r.rentbuy_rows_per_second, "rows/s",
                r.baseline_name, r.baseline_rows_per_second,
                target="<= 2x raw driver's time" + (", >= 100,000 rows/s" if r.database == "SQLite" else ""),
                met=r.slowdown <= 2.0 and (r.database != "SQLite" or r.rentbuy_rows_per_second >= 100_000),
                note=f"{r.rentbuy.median:.2f} s vs {r.baseline.median:.2f} s = {r.slowdown:.2f}x the raw time; "
                     f"{r.rows_added:,} rows added")
        out.add(f"{r.database}: raw path into the table without indexes", r.bare_rows_per_second, "rows/s",
                "raw path with the project's indexes", r.baseline_rows_per_second,
                note="what index upkeep costs the raw driver (informative)")
    out.notes.append(machine_line())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="quotes to write (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per path (median reported)")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    print(report(run(args.rows, args.repeats, databases)).render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
