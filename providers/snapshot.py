"""The bundled rental price snapshot (``config/data/rental_snapshot.csv``) as a price source.

A first run may have no network and no API keys, so rentbuy ships dated prices from public
sources. Each row keeps its own source, date and URL; ``observed_at`` is the date the source
saw the price, not the date it was bundled.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from config.catalog import data_path
from providers.base import PriceQuote

SOURCE = "bundled-snapshot"
COLUMNS = ("source", "offer_key", "gpu", "gpu_raw_name", "gpu_count", "usd_per_gpu_hour", "pricing",
           "region", "observed_at", "source_url", "note")


def parse_date(text: str) -> datetime:
    """An ISO date or datetime as aware UTC (a bare date means midnight UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_bundled() -> str:
    return data_path("rental_snapshot.csv").read_text(encoding="utf-8")


def parse(payload: str, observed_at: datetime | None = None) -> list[PriceQuote]:
    """Quotes from the snapshot CSV text; ``observed_at`` is ignored (each row has its own)."""
    reader = csv.DictReader(io.StringIO(payload))
    missing = set(COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"rental snapshot lacks the columns {', '.join(sorted(missing))}.")
    quotes = []
    for line, row in enumerate(reader, start=2):
        try:
            quotes.append(PriceQuote(
                source=row["source"], offer_key=row["offer_key"], gpu=row["gpu"],
                gpu_raw_name=row["gpu_raw_name"], gpu_count=int(row["gpu_count"] or 1),
                usd_per_gpu_hour=float(row["usd_per_gpu_hour"]), pricing=row["pricing"],
                region=row["region"] or "", observed_at=parse_date(row["observed_at"]),
                attributes={"source_url": row["source_url"], "note": row["note"]},
            ))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"rental snapshot line {line}: {exc}") from exc
    return quotes
