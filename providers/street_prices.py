"""Street (purchase) prices from a CSV: the bundled snapshot, a local file or an http(s) URL.

Nothing reliable and key-less publishes card prices, so rentbuy ships a curated CSV
(``config/data/street_prices.csv``) and lets the user point at their own: ``base_url`` is
``bundled`` (default), a path or a URL, and ``options["path"]`` overrides it. Columns:
``gpu,condition,usd,currency,original_amount,usd_rate,basis,observed_at,source,source_url,note``.
A row in another currency may leave ``usd`` empty; it is then ``original_amount × usd_rate`` with
the rate the file records (USD per unit of ``currency``), so the conversion is reproducible.
Each quote keeps the row's own ``source`` (who published the price), not just "street_prices".
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from config.catalog import canonical_gpu_ids, data_path
from providers import http
from providers._common import check_observed_at, positive, source_settings
from providers.base import ProviderError, PurchaseQuote
from providers.gpus import canonical_gpu

log = logging.getLogger(__name__)

NAME = "street_prices"
BUNDLED = "bundled"
BUNDLED_FILE = "street_prices.csv"
REQUIRED_COLUMNS = ("gpu", "condition", "observed_at")
BASES = ("asking", "sold", "retail", "msrp")
MAX_SOURCE_CHARS = 120


def location(settings: Any) -> str:
    source = source_settings(settings, NAME)
    return str(source.options.get("path") or source.base_url or BUNDLED)


def fetch(session: requests.Session, settings: Any) -> Iterator[str]:
    """The CSV text, from wherever the settings point."""
    where = location(settings)
    if where == BUNDLED:
        path = data_path(BUNDLED_FILE)
        if not path.is_file():
            raise ProviderError(NAME, f"the bundled price file {path} is missing")
        yield path.read_text(encoding="utf-8")
    elif re.match(r"https?://", where, re.I):
        try:
            response = session.request("GET", where)
        except requests.RequestException as exc:
            raise ProviderError(NAME, http.describe_exception(exc)) from exc
        with response:
            http.check_status(NAME, response, session)
            text = response.text
            if "html" in response.headers.get("Content-Type", "").lower() or text.lstrip()[:1] == "<":
                raise ProviderError(NAME, f"{http.without_query(where)} returned an HTML page, not CSV")
            yield text
    else:
        path = Path(where).expanduser()
        if not path.is_file():
            raise ProviderError(NAME, f"the price file {path} does not exist")
        yield path.read_text(encoding="utf-8")


def parse_date(text: str) -> datetime | None:
    """``2026-05-16``, ``2026-05`` (first of the month) or an ISO timestamp, as UTC."""
    text = text.strip()
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _condition(text: str) -> str | None:
    word = text.strip().lower().split(" ")[0] if text.strip() else ""
    return {"new": "new", "used": "used", "refurbished": "used", "open-box": "new"}.get(word)


def parse(payload: Any, observed_at: datetime) -> list[PurchaseQuote]:
    """One quote per usable row; rows without a price, date or known condition are skipped."""
    check_observed_at(observed_at)
    if not isinstance(payload, str):
        raise ProviderError(NAME, f"expected CSV text, got {type(payload).__name__}")
    lines = [line for line in payload.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    columns = {name.strip() for name in reader.fieldnames or []}
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if "usd" not in columns and not {"original_amount", "usd_rate"} <= columns:
        missing.append("usd (or original_amount and usd_rate)")
    if missing:
        raise ProviderError(NAME, f"the CSV lacks column(s) {', '.join(missing)}; found: {', '.join(sorted(columns))}")
    known = set(canonical_gpu_ids())
    quotes: list[PurchaseQuote] = []
    for line_number, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        name = row.get("gpu", "")
        gpu = name if name in known else canonical_gpu(name)
        condition = _condition(row.get("condition", ""))
        currency = (row.get("currency") or "USD").upper()
        original = positive(row.get("original_amount"))
        rate = positive(row.get("usd_rate"))
        usd = positive(row.get("usd"))
        if usd is None and original is not None and (rate is not None or currency == "USD"):
            usd = original * (rate if rate is not None else 1.0)
        basis = (row.get("basis") or "asking").lower()
        when = parse_date(row.get("observed_at", ""))
        if usd is None or condition is None or basis not in BASES or when is None:
            log.debug("street_prices: skipped line %d (%s)", line_number, row)
            continue
        quotes.append(PurchaseQuote(
            source=(row.get("source") or NAME)[:MAX_SOURCE_CHARS], gpu=gpu, condition=condition, usd=usd,
            observed_at=when, basis=basis, currency=currency,
            original_amount=original if original is not None else (usd if currency == "USD" else None),
            source_url=row.get("source_url", ""), note=row.get("note", ""), gpu_raw_name=name,
        ))
    return quotes
