"""Refresh under real process faults: SIGKILL mid-write, two refreshes at once, SIGTERM to the service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config.settings import get_settings
from store import queries
from store.db import make_engine, session_scope, upgrade
from tests.standin import StandIn, json_route
from tests.test_refresh import vast_offer

ROOT = Path(__file__).parents[1]
OFFERS = 5000  # 10,000 quotes: five insert batches, so a kill can land between them

CHILD = """
import sys, time, pathlib
from datetime import UTC, datetime, timedelta
from store import queries
marker = pathlib.Path(sys.argv[1])
original = queries.insert_ignoring_duplicates
def slow_insert(session, table, rows):
    written = original(session, table, rows)
    live = rows and rows[0]["observed_at"] > datetime.now(UTC) - timedelta(days=1)  # not the seed
    if table.name == "price_observation" and live:
        marker.write_text("first batch inserted, transaction open")
        time.sleep(120)  # the parent kills us here, mid-transaction
    return written
queries.insert_ignoring_duplicates = slow_insert
from rentbuy.cli import main
sys.exit(main(["refresh", "--source", "vast", "--quiet"]))
"""


def big_payload() -> dict[str, Any]:
    return {"offers": [vast_offer(i, "RTX 4090", 1, 0.30 + (i % 50) / 100) for i in range(1, OFFERS + 1)]}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn({("POST", "/api/v0/bundles/"): json_route(big_payload())}, delay_seconds=1.0) as server:
        yield server


def child_env(db_url: str, data_dir: Path, standin: StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTBUY_")}
    env.update({"RENTBUY_DATABASE_URL": db_url, "RENTBUY_DATA_DIR": str(data_dir),
                "RENTBUY_PROVIDERS__VAST__BASE_URL": standin.base_url, "PYTHONPATH": str(ROOT)})
    return env


def vast_rows(db_url: str) -> int:
    """Live vast rows (the bundled snapshot's vast rows are months old and not counted)."""
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        since = datetime.now(UTC) - timedelta(days=1)
        count = len(queries.price_observations(session, source="vast", since=since))
    engine.dispose()
    return count


def test_sigkill_mid_write_leaves_no_partial_source(db_url: str, standin: StandIn, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade(make_engine(db_url))
    marker = tmp_path / "inserting"
    env = child_env(db_url, tmp_path / "data", standin)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(marker)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child never started writing"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert vast_rows(db_url) == 0  # the first batch was inserted but never committed

    # The next refresh takes the lock, marks the dead run as interrupted, and lands everything.
    monkeypatch.setenv("RENTBUY_DATABASE_URL", db_url)
    monkeypatch.setenv("RENTBUY_PROVIDERS__VAST__BASE_URL", standin.base_url)
    get_settings.cache_clear()
    from rentbuy.cli import main

    assert main(["refresh", "--source", "vast", "--quiet"]) == 0
    assert vast_rows(db_url) == 2 * OFFERS
    with session_scope(make_engine(db_url)) as session:
        statuses = sorted((r.status, r.error or "") for r in queries.refresh_runs(session, source="vast"))
    assert statuses[0][0] == "failed" and statuses[0][1].startswith("interrupted"), statuses
    assert statuses[1][0] == "ok"


@pytest.mark.postgres
def test_two_refreshes_at_once_write_each_source_once(postgres_url: str, standin: StandIn, tmp_path: Path) -> None:
    """The second refresh starts while the first holds the source's lock (its fetch is held open
    by the stand-in), so the overlap does not depend on how fast either process starts."""
    upgrade(make_engine(postgres_url))
    standin.gate = threading.Event()

    def start(i: int) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "rentbuy", "refresh", "--source", "vast", "--quiet"],
                                env=child_env(postgres_url, tmp_path / f"data{i}", standin), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start(0)
    deadline = time.monotonic() + 60
    while not standin.requests:  # the first one holds the lock once it asks the provider
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first refresh never started fetching"
        time.sleep(0.05)
    second = start(1)
    second_out, second_err = second.communicate(timeout=120)
    standin.gate.set()
    _first_out, first_err = first.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, 0), (first_err, second_err)
    assert "another refresh of this source is running" in second_out  # the second one said so
    assert len(standin.requests) == 1  # and never fetched
    assert vast_rows(postgres_url) == 2 * OFFERS


def test_sigterm_stops_the_service_cleanly(db_url: str, standin: StandIn, tmp_path: Path) -> None:
    upgrade(make_engine(db_url))
    env = child_env(db_url, tmp_path / "data", standin)
    # Only vast, so the service's first (due) refresh is quick to reason about.
    for name in ("runpod", "lambda_cloud", "azure", "aws", "gcp", "cloudrift", "shadeform", "street_prices", "ebay"):
        env[f"RENTBUY_PROVIDERS__{name.upper()}__ENABLED"] = "false"
    service = subprocess.Popen([sys.executable, "-m", "rentbuy", "serve"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not standin.requests:  # the refresh is under way once the provider is asked
        assert service.poll() is None, service.communicate()
        assert time.monotonic() < deadline, "the service never started its refresh"
        time.sleep(0.05)
    service.send_signal(signal.SIGTERM)
    _out, err = service.communicate(timeout=60)
    assert service.returncode == 0, err
    assert vast_rows(db_url) in (0, 2 * OFFERS)  # the source landed whole or not at all
    with session_scope(make_engine(db_url)) as session:
        assert all(r.status != "running" for r in queries.refresh_runs(session))
