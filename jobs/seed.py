"""Load the bundled price snapshot and street prices, so a first run works offline.

Idempotent twice over: each bundle is recorded as a ``refresh_run`` with the file's content hash,
so the same bundle is never loaded twice, and the rows themselves are insert-or-ignore.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from config.catalog import data_path
from store import queries
from store.db import session_scope

SNAPSHOT_FILE = "rental_snapshot.csv"
STREET_FILE = "street_prices.csv"


@dataclass(frozen=True)
class SeedResult:
    price_rows: int
    purchase_rows: int
    skipped: bool  # the same bundle was loaded before


def _bundle_key(name: str, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"bundled:{name}#sha256={digest}"


def seed(engine: Engine) -> SeedResult:
    """Load both bundled files in one transaction (all or nothing)."""
    from providers import snapshot, street_prices

    snapshot_text = data_path(SNAPSHOT_FILE).read_text(encoding="utf-8")
    street_text = data_path(STREET_FILE).read_text(encoding="utf-8")
    key = _bundle_key(SNAPSHOT_FILE, snapshot_text) + ";" + _bundle_key(STREET_FILE, street_text)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        if queries.find_run(session, snapshot.SOURCE, key) is not None:
            return SeedResult(0, 0, skipped=True)
        run = queries.start_refresh_run(session, snapshot.SOURCE, now)
        rental = snapshot.parse(snapshot_text, now)
        purchases = street_prices.parse(street_text, now)
        price_rows = queries.insert_price_observations(session, rental, refresh_run_id=run.id)
        purchase_rows = queries.insert_purchase_observations(session, purchases)
        queries.finish_refresh_run(session, run, "ok", quotes_parsed=len(rental) + len(purchases),
                                   rows_written=price_rows + purchase_rows, raw_path=key)
    return SeedResult(price_rows, purchase_rows, skipped=False)


def needs_seed(engine: Engine) -> bool:
    """True for a database that holds no prices at all (a first run)."""
    with session_scope(engine) as session:
        counts = queries.row_counts(session)
    return counts["price_observation"] == 0 and counts["purchase_observation"] == 0
