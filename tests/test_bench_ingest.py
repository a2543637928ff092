"""The ingest benchmark runs at a small size on both databases and computes its comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ingest import generate_quotes, main, report, run


def test_generated_quotes_are_unique_hourly_snapshots() -> None:
    quotes = generate_quotes(250, offers=100)
    keys = {(q.source, q.offer_key, q.pricing, q.observed_at) for q in quotes}
    assert len(quotes) == len(keys) == 250
    assert len({q.observed_at for q in quotes}) == 3


def test_ingest_benchmark_on_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [result] = run(rows=1500, repeats=1, databases=("sqlite",), workdir=tmp_path)
    assert result.database == "SQLite" and result.rows_added == 1500
    assert result.rentbuy.median > 0 and result.baseline.median > 0 and result.slowdown > 0
    assert not list(tmp_path.iterdir())  # the scratch database is gone
    assert "baseline sqlite3 executemany" in report([result]).render()
    assert main(["--rows", "300", "--repeats", "1", "--database", "sqlite"]) == 0
    assert "rows/s" in capsys.readouterr().out


@pytest.mark.postgres
def test_ingest_benchmark_on_postgresql(postgres_url: str) -> None:
    [result] = run(rows=1500, repeats=1, databases=("postgresql",), postgres_url=postgres_url)
    assert result.database == "PostgreSQL" and result.rows_added == 1500
    assert result.baseline_name.startswith("psycopg COPY") and result.slowdown > 0
