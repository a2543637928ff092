"""Retention: raw rows past the window become daily aggregates equal to what the raw rows gave."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from store import queries
from store.db import session_scope
from store.retention import compact

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def _obs(day_offset: int, hour: int, key: str, usd: float, **extra: Any) -> dict[str, Any]:
    when = datetime(2026, 11, 28, tzinfo=UTC) - timedelta(days=day_offset) + timedelta(hours=hour)
    row = {"source": "vast", "offer_key": key, "gpu": "h100-sxm", "gpu_raw_name": "H100 SXM", "gpu_count": 1,
           "region": "US", "pricing": "on-demand", "usd_per_gpu_hour": usd, "observed_at": when, "flagged": False}
    row.update(extra)
    return row


def test_compaction_keeps_the_distribution_and_deletes_only_covered_rows(engine: Any) -> None:
    old_prices = [1.8, 2.0, 2.2, 2.5, 3.1]
    rows = [_obs(40, h, f"m{i}", p) for i, p in enumerate(old_prices) for h in (0, 12)]
    rows.append(_obs(40, 1, "bogus", 0.01, flagged=True))          # implausible: counted, not used
    rows.append(_obs(40, 2, "a100", 1.2, gpu="a100-sxm-80gb"))
    rows += [_obs(2, 0, "m0", 2.4)]                                   # inside the window: stays raw
    with session_scope(engine) as session:
        queries.insert_price_observations(session, rows)

    result = compact(engine, retention_days=30, now=NOW)
    assert result.days == 1
    assert result.raw_rows_deleted == len(rows) - 1
    with session_scope(engine) as session:
        assert queries.row_counts(session)["price_observation"] == 1
        history = queries.price_history(session, "h100-sxm")
    old = history[history["day"] == (NOW - timedelta(days=40)).date()].iloc[0]
    both_hours = old_prices * 2
    assert old["usd_min"] == pytest.approx(min(both_hours))
    assert old["usd_median"] == pytest.approx(statistics.median(both_hours))
    assert old["usd_max"] == pytest.approx(max(both_hours))
    assert old["offers"] == len(both_hours)
    recent = history[history["day"] == (NOW - timedelta(days=2)).date()].iloc[0]
    assert recent["usd_median"] == pytest.approx(2.4)  # read from raw rows, transparently

    again = compact(engine, retention_days=30, now=NOW)
    assert (again.days, again.raw_rows_deleted) == (0, 0)
