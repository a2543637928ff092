"""The store on SQLite and PostgreSQL: migrations, idempotent writes, current-offer reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect

from store import queries
from store.db import current_revision, downgrade, head_revision, session_scope, upgrade

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def quote(**changes: Any) -> dict[str, Any]:
    row = {"source": "vast", "offer_key": "m1", "gpu": "rtx-4090", "gpu_raw_name": "RTX 4090",
           "gpu_count": 1, "region": "US", "pricing": "on-demand", "usd_per_gpu_hour": 0.35,
           "observed_at": T0, "flagged": False}
    row.update(changes)
    return row


def test_migrations_round_trip_and_match_the_models(engine: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                Base.metadata)
    assert diff == []  # what `alembic check` asserts: no drift between models and migrations
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"price_observation", "purchase_observation", "refresh_run", "report_delivery"} <= set(
        inspect(engine).get_table_names())


def test_repeated_observations_add_nothing(engine: Any) -> None:
    rows = [quote(), quote(offer_key="m2", usd_per_gpu_hour=0.41),
            quote(pricing="spot", usd_per_gpu_hour=0.2)]
    with session_scope(engine) as session:
        assert queries.insert_price_observations(session, rows) == 3
    with session_scope(engine) as session:
        assert queries.insert_price_observations(session, rows) == 0
        assert queries.row_counts(session)["price_observation"] == 3
        frame = queries.price_observations(session, gpu="rtx-4090")
    assert sorted(frame["usd_per_gpu_hour"]) == [0.2, 0.35, 0.41]
    assert all(t.tzinfo is not None for t in frame["observed_at"])


def test_money_keeps_its_digits(engine: Any) -> None:
    with session_scope(engine) as session:
        queries.insert_price_observations(session, [quote(usd_per_gpu_hour=2.123457)])
        assert queries.price_observations(session)["usd_per_gpu_hour"].iloc[0] == pytest.approx(2.123457)


def test_a_failed_transaction_leaves_nothing(engine: Any) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        queries.insert_price_observations(session, [quote(), quote(offer_key="m2")])
        raise RuntimeError("parser blew up half way")
    with session_scope(engine) as session:
        assert queries.row_counts(session)["price_observation"] == 0


def test_current_offers_drop_vanished_live_offers_but_keep_snapshot_rows(engine: Any) -> None:
    with session_scope(engine) as session:
        live = queries.start_refresh_run(session, "vast", T0)
        old = T0 - timedelta(days=5)
        queries.insert_price_observations(session, [
            quote(offer_key="gone", observed_at=old),       # not seen since: a rented-out machine
            quote(offer_key="m1", observed_at=old, usd_per_gpu_hour=0.50),
            quote(offer_key="m1", observed_at=T0, usd_per_gpu_hour=0.30),   # latest of m1 wins
        ], refresh_run_id=live.id)
        snap = queries.start_refresh_run(session, "bundled-snapshot", T0)
        queries.insert_price_observations(session, [
            quote(source="aws", offer_key="p5.48xlarge", gpu="h100-sxm", usd_per_gpu_hour=6.88,
                  observed_at=T0 - timedelta(days=120)),
        ], refresh_run_id=snap.id)
    with session_scope(engine) as session:
        offers = queries.current_offers(session)
    got = sorted(zip(offers["source"], offers["offer_key"], offers["usd_per_gpu_hour"], strict=True))
    assert got == [("aws", "p5.48xlarge", 6.88), ("vast", "m1", 0.30)]


def test_refresh_runs_record_outcome(engine: Any) -> None:
    with session_scope(engine) as session:
        run = queries.start_refresh_run(session, "runpod", T0)
        queries.finish_refresh_run(session, run, "failed", error="HTTP 500 after 3 tries",
                                   unknown_gpu_names=["MI300X", "MI300X"])
        ok = queries.start_refresh_run(session, "vast", T0)
        queries.finish_refresh_run(session, ok, "ok", quotes_parsed=2, rows_written=2)
    with session_scope(engine) as session:
        runs = {r.source: r for r in queries.refresh_runs(session)}
        assert runs["runpod"].status == "failed"
        assert runs["runpod"].unknown_gpu_names == '["MI300X"]'
        assert set(queries.last_success_by_source(session)) == {"vast"}


def test_purchase_observations_are_idempotent(engine: Any) -> None:
    row = {"source": "Tom's Hardware", "gpu": "rtx-3090", "condition": "used", "basis": "sold",
           "usd": 780.0, "observed_at": T0, "source_url": "https://example.org", "note": ""}
    with session_scope(engine) as session:
        assert queries.insert_purchase_observations(session, [row, row]) == 1
        assert queries.insert_purchase_observations(session, [row]) == 0
        assert queries.purchase_observations(session, gpu="rtx-3090")["usd"].tolist() == [780.0]


def test_sqlite_connections_get_the_project_settings(sqlite_url: str) -> None:
    """WAL (readers during a refresh), foreign keys, a busy timeout and a 64 MiB page cache
    (index upkeep at scale: bench/ingest.py) on every pooled connection, not just the first."""
    from sqlalchemy import text

    from store.db import make_engine

    engine = make_engine(sqlite_url)
    with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            settings = [connection.execute(text(f"PRAGMA {name}")).scalar()
                        for name in ("journal_mode", "foreign_keys", "busy_timeout", "cache_size")]
            assert settings == ["wal", 1, 30000, -65536]
    engine.dispose()
