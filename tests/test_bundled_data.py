"""Checks on the two price files that ship inside the package and seed the database on first run.

`config/data/rental_snapshot.csv` holds dated per-GPU-hour rental prices; `config/data/street_prices.csv`
holds dated new/used purchase prices. Both are curated by hand from docs/research material (see
docs/data.md), so these tests guard the things a careless edit breaks: the column contract, canonical
GPU ids, dates, units and magnitudes, and the arithmetic of currency conversion.

Only the stdlib `csv` module and pytest are used, so the checks run without the package's dependencies.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "config" / "data"
RENTAL_FILE = DATA_DIR / "rental_snapshot.csv"
STREET_FILE = DATA_DIR / "street_prices.csv"

# The day the files were curated; no observation may be dated after it.
CURATED_ON = date(2026, 11, 28)
# Nothing older than the A100 launch belongs in these files.
OLDEST_ALLOWED = date(2020, 5, 1)

RENTAL_COLUMNS = [
    "source",
    "offer_key",
    "gpu",
    "gpu_raw_name",
    "gpu_count",
    "usd_per_gpu_hour",
    "pricing",
    "region",
    "observed_at",
    "source_url",
    "note",
]
STREET_COLUMNS = [
    "gpu",
    "condition",
    "usd",
    "currency",
    "original_amount",
    "usd_rate",
    "basis",
    "observed_at",
    "source",
    "source_url",
    "note",
]

# DESIGN.md, "Canonical GPU ids" (plus the catch-all for names that map to none).
CANONICAL_GPUS = {
    "rtx-3090",
    "rtx-3090-ti",
    "rtx-4090",
    "rtx-5090",
    "rtx-a6000",
    "rtx-6000-ada",
    "l40s",
    "a100-pcie-40gb",
    "a100-sxm-40gb",
    "a100-pcie-80gb",
    "a100-sxm-80gb",
    "h100-pcie",
    "h100-sxm",
    "h100-nvl",
    "h200",
    "b200",
    "unknown",
}
PRICING_KINDS = {"on-demand", "spot", "community", "reserved-1y", "reserved-3y"}
CONDITIONS = {"new", "used"}
BASES = {"sold", "asking", "retail", "msrp"}

# GPU classes used for the sanity bounds below.
GPU_CLASS = {
    "rtx-3090": "consumer",
    "rtx-3090-ti": "consumer",
    "rtx-4090": "consumer",
    "rtx-5090": "consumer",
    "rtx-a6000": "workstation",
    "rtx-6000-ada": "workstation",
    "l40s": "workstation",
    "a100-pcie-40gb": "a100",
    "a100-sxm-40gb": "a100",
    "a100-pcie-80gb": "a100",
    "a100-sxm-80gb": "a100",
    "h100-pcie": "h100",
    "h100-sxm": "h100",
    "h100-nvl": "h100",
    "h200": "h200",
    "b200": "b200",
}

# Sane USD per GPU-hour, per class, for any pricing kind. The lows admit interruptible consumer cards
# on SaladCloud (~$0.10) and spot datacenter listings (~$1.09 for an H100); the highs admit
# hyperscaler list prices (AWS p5 before the June 2025 cut, $12.29; Oracle B200, $16).
RENTAL_BOUNDS_USD_PER_GPU_HOUR = {
    "consumer": (0.05, 2.50),
    "workstation": (0.20, 5.00),
    "a100": (0.30, 8.00),
    "h100": (0.80, 15.00),
    "h200": (1.00, 20.00),
    "b200": (1.50, 25.00),
}
# Sane USD per card (or per-GPU share of an 8-GPU system). The consumer highs admit the 2021 crypto
# boom (eBay 3090 ~$2,900; Amazon new-old-stock 3090 ~$3,600) and the 2025-26 5090 shortage (~$5,000).
STREET_BOUNDS_USD = {
    "rtx-3090": (300.0, 4_000.0),
    "rtx-3090-ti": (400.0, 4_000.0),
    "rtx-4090": (800.0, 5_000.0),
    "rtx-5090": (1_000.0, 7_000.0),
    "workstation": (1_500.0, 12_000.0),
    "a100": (5_000.0, 50_000.0),
    "h100": (10_000.0, 60_000.0),
    "h200": (15_000.0, 70_000.0),
    "b200": (20_000.0, 90_000.0),
}

# What the cost model needs to work on a fresh machine.
REQUIRED_RENTAL_GPUS = {"h100-sxm", "h100-pcie", "a100-sxm-80gb", "a100-pcie-80gb", "rtx-4090", "rtx-3090", "rtx-5090"}
REQUIRED_STREET_GPUS = {"rtx-3090", "rtx-3090-ti", "rtx-4090", "rtx-5090"}
# The resale-vs-age fit needs used prices; no dated used RTX 5090 price was found yet (docs/data.md).
REQUIRED_USED_GPUS = {"rtx-3090", "rtx-3090-ti", "rtx-4090"}

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _parse_observed_at(text: str) -> date:
    """ISO date, or ISO datetime in UTC (``Z`` or ``+00:00``)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None), text
    return moment.date()


@pytest.fixture(scope="module")
def rental() -> tuple[list[str], list[dict[str, str]]]:
    return _read(RENTAL_FILE)


@pytest.fixture(scope="module")
def street() -> tuple[list[str], list[dict[str, str]]]:
    return _read(STREET_FILE)


# --------------------------------------------------------------------------- both files


@pytest.mark.parametrize(("path", "columns"), [(RENTAL_FILE, RENTAL_COLUMNS), (STREET_FILE, STREET_COLUMNS)])
def test_columns_are_exactly_the_contract(path: Path, columns: list[str]) -> None:
    fieldnames, rows = _read(path)
    assert fieldnames == columns
    assert rows, f"{path.name} is empty"
    for line, row in enumerate(rows, start=2):
        assert None not in row, f"{path.name} line {line} has more fields than the header"
        assert all(value is not None for value in row.values()), f"{path.name} line {line} has too few fields"


@pytest.mark.parametrize("path", [RENTAL_FILE, STREET_FILE])
def test_every_row_is_sourced_and_dated_in_the_past(path: Path) -> None:
    _, rows = _read(path)
    for line, row in enumerate(rows, start=2):
        where = f"{path.name} line {line}"
        assert row["source"].strip(), f"{where}: no source"
        assert re.match(r"^https?://\S+$", row["source_url"]), f"{where}: source_url {row['source_url']!r}"
        assert row["note"].strip(), f"{where}: no note"
        observed = _parse_observed_at(row["observed_at"])
        assert OLDEST_ALLOWED <= observed <= CURATED_ON, f"{where}: observed_at {row['observed_at']} out of range"


@pytest.mark.parametrize("path", [RENTAL_FILE, STREET_FILE])
def test_gpu_ids_are_canonical(path: Path) -> None:
    _, rows = _read(path)
    unknown = {row["gpu"] for row in rows} - CANONICAL_GPUS
    assert not unknown, f"{path.name}: non-canonical gpu ids {sorted(unknown)}"
    # The catch-all is for live refreshes; a curated file should resolve every row.
    assert "unknown" not in {row["gpu"] for row in rows}


# ------------------------------------------------------------------------ rental snapshot


def test_rental_prices_are_positive_and_within_class_bounds(rental) -> None:
    _, rows = rental
    for line, row in enumerate(rows, start=2):
        price = float(row["usd_per_gpu_hour"])
        low, high = RENTAL_BOUNDS_USD_PER_GPU_HOUR[GPU_CLASS[row["gpu"]]]
        assert price > 0
        assert low <= price <= high, f"line {line}: {row['gpu']} at ${price}/GPU-h outside [{low}, {high}]"


def test_rental_pricing_kinds_sources_and_counts(rental) -> None:
    _, rows = rental
    for line, row in enumerate(rows, start=2):
        assert row["pricing"] in PRICING_KINDS, f"line {line}: pricing {row['pricing']!r}"
        assert SOURCE_NAME.match(row["source"]), f"line {line}: source {row['source']!r} is not lower snake case"
        assert row["offer_key"].strip(), f"line {line}: no offer_key"
        assert row["gpu_raw_name"].strip(), f"line {line}: no gpu_raw_name"
        assert row["gpu_count"].isdigit() and int(row["gpu_count"]) >= 1, f"line {line}: gpu_count {row['gpu_count']!r}"


def test_rental_has_no_duplicate_observations(rental) -> None:
    _, rows = rental
    keys = Counter((row["source"], row["offer_key"], row["pricing"], row["observed_at"]) for row in rows)
    duplicates = [key for key, count in keys.items() if count > 1]
    assert not duplicates, f"duplicate (source, offer_key, pricing, observed_at): {duplicates}"


def test_an_offer_keeps_its_gpu_across_dates(rental) -> None:
    """The same offer on two dates is a price history; it must not switch GPU or pricing kind."""
    _, rows = rental
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for row in rows:
        key = (row["source"], row["offer_key"])
        value = (row["gpu"], row["pricing"])
        assert seen.setdefault(key, value) == value, f"offer {key} maps to {seen[key]} and {value}"


def test_rental_covers_the_required_gpus(rental) -> None:
    _, rows = rental
    missing = REQUIRED_RENTAL_GPUS - {row["gpu"] for row in rows}
    assert not missing, f"rental snapshot lacks {sorted(missing)}"


def test_rental_has_interruptible_or_community_prices_for_consumer_cards(rental) -> None:
    _, rows = rental
    for gpu in ("rtx-4090", "rtx-3090", "rtx-5090"):
        kinds = {row["pricing"] for row in rows if row["gpu"] == gpu}
        assert "on-demand" in kinds and kinds & {"spot", "community"}, f"{gpu}: pricing kinds {kinds}"


def test_rental_has_recent_prices(rental) -> None:
    """A seed snapshot of stale prices is worse than none: each required GPU needs a 2025+ observation."""
    _, rows = rental
    for gpu in REQUIRED_RENTAL_GPUS:
        newest = max(_parse_observed_at(row["observed_at"]) for row in rows if row["gpu"] == gpu)
        assert newest >= date(2025, 1, 1), f"{gpu}: newest observation {newest}"


# -------------------------------------------------------------------------- street prices


def test_street_conditions_bases_and_currencies(street) -> None:
    _, rows = street
    for line, row in enumerate(rows, start=2):
        assert row["condition"] in CONDITIONS, f"line {line}: condition {row['condition']!r}"
        assert row["basis"] in BASES, f"line {line}: basis {row['basis']!r}"
        assert CURRENCY_CODE.match(row["currency"]), f"line {line}: currency {row['currency']!r}"
        if row["basis"] == "msrp":
            assert row["condition"] == "new", f"line {line}: an MSRP is a new price"


def test_street_usd_is_original_amount_times_rate(street) -> None:
    _, rows = street
    for line, row in enumerate(rows, start=2):
        original = float(row["original_amount"])
        rate = float(row["usd_rate"])
        usd = float(row["usd"])
        assert original > 0 and rate > 0 and usd > 0, f"line {line}"
        assert usd == round(original * rate, 2), f"line {line}: {usd} != round({original} * {rate}, 2)"
        if row["currency"] == "USD":
            assert rate == 1.0, f"line {line}: USD row with usd_rate {rate}"
        else:
            # The note must say which rate was used and of what date.
            documented = "usd_rate" in row["note"] and re.search(r"\d{4}-\d{2}-\d{2}", row["note"])
            assert documented, f"line {line}: rate and its date not documented in the note"


def test_street_prices_are_within_bounds(street) -> None:
    _, rows = street
    for line, row in enumerate(rows, start=2):
        gpu_class = GPU_CLASS[row["gpu"]]
        low, high = STREET_BOUNDS_USD.get(row["gpu"], STREET_BOUNDS_USD.get(gpu_class, (None, None)))
        assert low is not None, f"line {line}: no bounds for {row['gpu']}"
        usd = float(row["usd"])
        assert low <= usd <= high, f"line {line}: {row['gpu']} at ${usd} outside [{low}, {high}]"


def test_street_covers_the_required_gpus(street) -> None:
    _, rows = street
    missing = REQUIRED_STREET_GPUS - {row["gpu"] for row in rows}
    assert not missing, f"street prices lack {sorted(missing)}"
    for gpu in REQUIRED_STREET_GPUS:
        assert any(r["gpu"] == gpu and r["basis"] == "msrp" for r in rows), f"{gpu}: no launch MSRP"
        new_street = [r for r in rows if r["gpu"] == gpu and r["condition"] == "new" and r["basis"] != "msrp"]
        assert new_street, f"{gpu}: no new street price"


def test_street_has_a_used_price_series_for_the_resale_fit(street) -> None:
    _, rows = street
    for gpu in REQUIRED_USED_GPUS:
        used_dates = {r["observed_at"] for r in rows if r["gpu"] == gpu and r["condition"] == "used"}
        assert len(used_dates) >= 10, f"{gpu}: only {len(used_dates)} dated used prices"
        assert any(r["gpu"] == gpu and r["basis"] == "sold" for r in rows), f"{gpu}: no sold (eBay) prices"


def test_street_excludes_flagged_seo_sources(street) -> None:
    """economics.md flags machine-written 'GPU price' pages; none may be cited."""
    _, rows = street
    flagged = ("visualfoodie", "eatsip365", "winenfood")
    for line, row in enumerate(rows, start=2):
        assert not any(name in row["source_url"].lower() for name in flagged), f"line {line}: {row['source_url']}"


def test_system_shares_say_so(street) -> None:
    """A per-GPU share of an 8-GPU system price is not a card price; its note must say which it is."""
    _, rows = street
    for line, row in enumerate(rows, start=2):
        text = row["note"].lower()
        if "dgx" in text or "hgx" in text or "8-gpu" in text:
            if "single" in text and "share" not in text:
                continue
            assert "share" in text or "/ 8" in text, f"line {line}: system-derived price without its basis"
