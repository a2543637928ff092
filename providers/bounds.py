"""Sanity bounds: a price outside its GPU class's plausible range is flagged, not trusted.

A parser bug (cents read as dollars, a whole-instance price not divided by 8) or a provider's
placeholder ($0.01, $9999) would otherwise pull a median or win "cheapest offer". Flagged quotes
are still stored (so the anomaly is visible) but the refresh job and statistics exclude them.
A price the database column cannot hold (PostgreSQL rejects it and with it the whole source's
transaction) is not a quote at all: ``apply`` drops it, and the refresh counts it as flagged.

Why these numbers: ``research/cloud_prices.csv`` (2022-2026, 900+ observations, on-demand, spot,
community and reserved) spans, per GPU-hour, consumer cards $0.10-1.30, workstation cards
$0.33-2.00, PCIe datacentre cards $0.32-6.98 and SXM parts $1.03-16.00 (B200 on demand). Each
bound sits roughly 5x outside that range: wide enough for a real spot bid or a new hyperscaler
list price, narrow enough to catch a factor-of-8 or factor-of-100 error (an H100 at $0.01/h or
$500/h is flagged). Purchase bounds follow ``research/street_prices.csv`` the same way (consumer
cards $600-3,600 new or used; datacentre cards $12,000-47,000).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

from config.catalog import gpus
from providers.base import PriceQuote, PurchaseQuote

# USD per GPU-hour, inclusive.
RENTAL_BOUNDS: dict[str, tuple[float, float]] = {
    "consumer": (0.02, 8.0),
    "workstation": (0.05, 15.0),
    "datacenter-pcie": (0.10, 40.0),
    "datacenter-sxm": (0.20, 80.0),
}
UNKNOWN_RENTAL_BOUNDS = (0.005, 200.0)  # class unknown: only absurd values

# USD per card, inclusive.
PURCHASE_BOUNDS: dict[str, tuple[float, float]] = {
    "consumer": (100.0, 10_000.0),
    "workstation": (300.0, 25_000.0),
    "datacenter-pcie": (1_000.0, 100_000.0),
    "datacenter-sxm": (1_000.0, 150_000.0),
}
UNKNOWN_PURCHASE_BOUNDS = (20.0, 500_000.0)

# (precision, scale) of the columns the amounts go to (store/models.py): a value that needs more
# digits overflows on PostgreSQL (SQLite stores anything).
RENTAL_COLUMNS = {"usd_per_gpu_hour": (14, 6), "original_amount": (16, 6)}
PURCHASE_COLUMNS = {"usd": (12, 2), "original_amount": (14, 2)}


def rental_bounds(gpu: str) -> tuple[float, float]:
    """(lowest, highest) plausible USD per GPU-hour for a canonical GPU id."""
    spec = gpus().get(gpu)
    return RENTAL_BOUNDS.get(spec.gpu_class, UNKNOWN_RENTAL_BOUNDS) if spec else UNKNOWN_RENTAL_BOUNDS


def purchase_bounds(gpu: str) -> tuple[float, float]:
    spec = gpus().get(gpu)
    return PURCHASE_BOUNDS.get(spec.gpu_class, UNKNOWN_PURCHASE_BOUNDS) if spec else UNKNOWN_PURCHASE_BOUNDS


def flag(quote: PriceQuote | PurchaseQuote) -> bool:
    """True when the quote is outside the sanity bounds of its GPU's class."""
    if isinstance(quote, PriceQuote):
        low, high = rental_bounds(quote.gpu)
        return not low <= quote.usd_per_gpu_hour <= high
    low, high = purchase_bounds(quote.gpu)
    return not low <= quote.usd <= high


def _fits(value: float | None, precision: int, scale: int) -> bool:
    if value is None:
        return True
    return math.isfinite(value) and abs(round(value, scale)) < 10 ** (precision - scale)


def storable(quote: PriceQuote | PurchaseQuote) -> bool:
    """True when every amount of the quote fits its database column (finite, not too large)."""
    columns = RENTAL_COLUMNS if isinstance(quote, PriceQuote) else PURCHASE_COLUMNS
    return all(_fits(getattr(quote, name), precision, scale) for name, (precision, scale) in columns.items())


def apply(quotes: Iterable[PriceQuote | PurchaseQuote]) -> list[PriceQuote | PurchaseQuote]:
    """The storable quotes with ``flagged`` set from ``flag`` (a new frozen copy where it changes).

    An unstorable quote is dropped: one absurd price must not fail its whole source's insert.
    """
    out: list[PriceQuote | PurchaseQuote] = []
    for quote in quotes:
        if not storable(quote):
            continue
        flagged = flag(quote)
        out.append(quote if quote.flagged == flagged else replace(quote, flagged=flagged))
    return out
