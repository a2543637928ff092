"""The query benchmark builds a small history, times each query with and without the project's
indexes, and shows both plans; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.queries import QUERIES, dataset, main, report, run


def test_dataset_spans_whole_snapshots() -> None:
    data = dataset(10_000, 4600)
    assert (data.offers, data.hours) == (4600, 3)
    assert dataset(50, 4600).offers == 50


def _check(results: list, database: str) -> None:
    assert [r.name for r in results] == list(QUERIES)
    for r in results:
        assert r.database == database and r.indexed.median > 0 and r.baseline.median > 0
        assert r.result_rows > 0
        assert r.plan_indexed and r.plan_baseline
    latest = results[0]
    # Without the unique index the latest-per-offer walk cannot seek; with it, it does.
    assert "uq_price_observation_source_offer_key_pricing_observed_at" in "\n".join(latest.plan_indexed)
    assert "uq_price_observation_source_offer_key_pricing_observed_at" not in "\n".join(latest.plan_baseline)
    assert "no indexes" in report(results, 2400).render()


def test_query_benchmark_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = run(rows=2400, offers=60, repeats=1, databases=("sqlite",), workdir=tmp_path)
    _check(results, "SQLite")
    assert not list(tmp_path.iterdir())
    assert main(["--rows", "1200", "--offers", "60", "--repeats", "1", "--database", "sqlite", "--no-plans"]) == 0
    assert "week-over-week" in capsys.readouterr().out


@pytest.mark.postgres
def test_query_benchmark_on_postgresql(postgres_url: str) -> None:
    _check(run(rows=2400, offers=60, repeats=1, databases=("postgresql",), postgres_url=postgres_url), "PostgreSQL")


def _limit_stops(engine_url: str, slow_sql: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from bench.queries import limited_engine
    from store.db import make_engine

    engine = make_engine(engine_url)
    limited = limited_engine(engine, 0.2)
    try:
        with pytest.raises(OperationalError), limited.connect() as connection:
            connection.execute(text(slow_sql)).all()
        with limited.connect() as connection:  # the limit is per statement, not per connection
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        limited.dispose()
        engine.dispose()


def test_baseline_limit_stops_a_runaway_statement_on_sqlite(sqlite_url: str) -> None:
    _limit_stops(sqlite_url, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n")


@pytest.mark.postgres
def test_baseline_limit_stops_a_runaway_statement_on_postgresql(postgres_url: str) -> None:
    _limit_stops(postgres_url, "SELECT pg_sleep(5)")
