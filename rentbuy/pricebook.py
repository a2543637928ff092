"""Which price the planner uses for renting or buying each GPU, and where it came from.

Rental: a statistic (cheapest, p25, median) over the current offers in the database, on-demand
(including community/secure marketplace listings) and spot kept apart. Purchase: the newest street
prices for the configured condition. When the database has nothing for a GPU, the sourced reference
price in ``config/data/economics.toml`` is used and labelled as not live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from config.settings import Settings

# Pricing kinds priced together: a marketplace's community listing is rented on demand too.
PRICING_GROUPS: dict[str, tuple[str, ...]] = {"on-demand": ("on-demand", "community"), "spot": ("spot",)}
STATISTICS = ("cheapest", "p25", "median")
# Street prices within this long of the newest one for a card are pooled (one week's listings).
STREET_WINDOW = timedelta(days=31)


@dataclass(frozen=True)
class Price:
    """A price with its provenance, so every number the planner prints can be audited."""

    usd: float
    source: str
    observed_at: datetime | None
    live: bool  # from stored observations (True) or a shipped reference value (False)
    offers: int = 1


def _statistic(values: pd.Series, statistic: str) -> float:
    if statistic == "cheapest":
        return float(values.min())
    if statistic == "p25":
        return float(values.quantile(0.25))
    return float(values.median())


class PriceBook:
    """Prices per GPU for the planner, from store DataFrames (see ``from_store``)."""

    def __init__(self, offers: pd.DataFrame, purchases: pd.DataFrame, statistic: str = "median",
                 condition: str = "new") -> None:
        if statistic not in STATISTICS:
            raise ValueError(f"rent_statistic must be one of {', '.join(STATISTICS)}; got {statistic!r}.")
        if condition not in ("new", "used"):
            raise ValueError(f"purchase_condition must be new or used; got {condition!r}.")
        self.offers = offers
        self.purchases = purchases
        self.statistic = statistic
        self.condition = condition

    @classmethod
    def from_store(cls, engine: Engine, settings: Settings) -> PriceBook:
        from store import queries
        from store.db import session_scope

        with session_scope(engine) as session:
            offers = queries.current_offers(session)
            purchases = queries.purchase_observations(session)
        return cls(offers, purchases, settings.economics.rent_statistic, settings.economics.purchase_condition)

    def rent(self, gpu: str, pricing: str = "on-demand") -> Price | None:
        """The rental price per GPU-hour, or None when nothing (not even a reference) is known."""
        kinds = PRICING_GROUPS[pricing]
        frame = self.offers
        if not frame.empty:
            mask = (frame["gpu"] == gpu) & frame["pricing"].isin(kinds) & ~frame["flagged"].astype(bool)
            rows = frame[mask]
            if not rows.empty:
                sources = ", ".join(sorted(set(rows["source"])))
                newest = rows["observed_at"].max()
                newest_dt = newest.to_pydatetime() if hasattr(newest, "to_pydatetime") else newest
                value = _statistic(rows["usd_per_gpu_hour"], self.statistic)
                what = "cheapest" if self.statistic == "cheapest" else self.statistic
                return Price(value, f"{what} of {len(rows)} current {pricing} offers ({sources}); newest "
                             f"{newest_dt:%Y-%m-%d}", newest_dt, live=True, offers=len(rows))
        if pricing != "on-demand":
            return None
        from optimizer.defaults import reference_rent_price

        reference = reference_rent_price(gpu)
        if reference is None:
            return None
        return Price(float(reference.value), f"reference price, not live: {reference.citation()}", None, live=False)

    def purchase(self, gpu: str) -> Price | None:
        """The street price of one card in the configured condition (newest month, median)."""
        frame = self.purchases
        if not frame.empty:
            rows = frame[(frame["gpu"] == gpu) & (frame["condition"] == self.condition) & (frame["basis"] != "msrp")]
            if not rows.empty:
                newest = rows["observed_at"].max()
                recent = rows[rows["observed_at"] >= newest - STREET_WINDOW]
                sources = ", ".join(sorted(set(recent["source"])))
                newest_dt = newest.to_pydatetime() if hasattr(newest, "to_pydatetime") else newest
                return Price(float(recent["usd"].median()),
                             f"median of {len(recent)} {self.condition} street price(s) ({sources}); newest "
                             f"{newest_dt:%Y-%m-%d}", newest_dt, live=True, offers=len(recent))
        from config.catalog import gpu as spec
        from optimizer.defaults import reference_purchase_price

        reference = reference_purchase_price(gpu)
        if reference is not None:
            return Price(float(reference.value), f"reference price: {reference.citation()}", None, live=False)
        card = spec(gpu)
        if card.launch_msrp_usd is None:
            return None
        return Price(card.launch_msrp_usd, f"launch MSRP ({card.source}, {card.source_date})", None, live=False)


def describe(price: Price | None) -> dict[str, Any]:
    if price is None:
        return {"usd": None, "source": "no price known", "observed_at": None, "live": False}
    return {"usd": price.usd, "source": price.source, "observed_at": price.observed_at, "live": price.live}
