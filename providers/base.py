"""The one offer model every source produces, and the error every source raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Pricing = Literal["on-demand", "spot", "community", "reserved-1y", "reserved-3y"]
PRICING_KINDS: tuple[str, ...] = ("on-demand", "spot", "community", "reserved-1y", "reserved-3y")


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """One rental offer as one source listed it at one moment, priced per GPU-hour in USD.

    ``gpu`` is a canonical id or ``"unknown"`` (with ``gpu_raw_name`` kept), never a near miss.
    """

    source: str
    offer_key: str
    gpu: str
    gpu_raw_name: str
    gpu_count: int
    usd_per_gpu_hour: float
    pricing: str
    region: str
    observed_at: datetime
    currency: str = "USD"
    original_amount: float | None = None  # what the source listed, in `currency`, before per-GPU division
    attributes: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    # Outside the sanity bounds for its GPU class (providers/bounds.py): stored, but kept out of
    # statistics. Parsers leave it False; the bounds check sets it.
    flagged: bool = False

    def __post_init__(self) -> None:
        if self.pricing not in PRICING_KINDS:
            raise ValueError(f"pricing must be one of {', '.join(PRICING_KINDS)}, not {self.pricing!r}.")
        if self.gpu_count < 1:
            raise ValueError(f"gpu_count must be at least 1, not {self.gpu_count}.")
        if not self.usd_per_gpu_hour > 0:
            raise ValueError(f"usd_per_gpu_hour must be positive, not {self.usd_per_gpu_hour}.")
        if self.observed_at.tzinfo is None:
            raise ValueError("observed_at must be timezone-aware (UTC).")


@dataclass(frozen=True, slots=True)
class PurchaseQuote:
    """A street price for one card: an asking or sold price, new or used, in USD."""

    source: str
    gpu: str
    condition: str  # "new" | "used"
    usd: float
    observed_at: datetime
    basis: str = "asking"  # "asking" | "sold" | "retail" | "msrp"
    currency: str = "USD"
    original_amount: float | None = None
    source_url: str = ""
    note: str = ""
    # The name the source used, kept when ``gpu`` is "unknown" so unmapped cards are visible.
    gpu_raw_name: str = ""
    flagged: bool = False


class ProviderError(RuntimeError):
    """A source could not deliver quotes; the message names the source and the cause."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


class MissingCredentials(ProviderError):
    """The source needs a key that is not configured: the refresh skips it instead of failing."""
