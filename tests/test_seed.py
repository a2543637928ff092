"""Seeding the bundled snapshot and street prices: all of it, once, on both databases."""

from __future__ import annotations

import csv
from typing import Any

from config.catalog import data_path
from jobs.seed import needs_seed, seed
from rentbuy.cli import main
from store import queries
from store.db import session_scope


def _rows(name: str) -> int:
    with data_path(name).open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_seeding_twice_changes_no_row_count(engine: Any) -> None:
    assert needs_seed(engine)
    first = seed(engine)
    assert not first.skipped
    assert first.price_rows == _rows("rental_snapshot.csv")
    assert first.purchase_rows == _rows("street_prices.csv")
    with session_scope(engine) as session:
        counts = queries.row_counts(session)
    again = seed(engine)
    assert again.skipped and (again.price_rows, again.purchase_rows) == (0, 0)
    with session_scope(engine) as session:
        assert queries.row_counts(session) == counts
    assert not needs_seed(engine)


def test_every_seeded_row_keeps_its_source_and_date(engine: Any) -> None:
    seed(engine)
    with session_scope(engine) as session:
        prices = queries.price_observations(session)
        purchases = queries.purchase_observations(session)
    assert prices["source"].str.len().min() > 0 and prices["observed_at"].notna().all()
    assert prices["source_url"].str.startswith("http").all()
    assert purchases["source"].str.len().min() > 0 and purchases["observed_at"].notna().all()


def test_db_seed_command_is_idempotent(use_database: str, capsys: Any) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "seed"]) == 0
    assert "Loaded" in capsys.readouterr().out
    assert main(["db", "seed"]) == 0
    assert "already loaded" in capsys.readouterr().out
