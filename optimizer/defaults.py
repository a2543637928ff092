"""The economic defaults shipped in ``config/data/economics.toml``, each with its source and date.

The optimizer's functions take every number as an argument; this module is only where callers
(the CLI, ``rentbuy.plan``) and the named presets (rental price scenarios, fitted resale curves)
find a sourced default. Reading a bundled file is the only I/O, and it is cached.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from config.catalog import data_path

ECONOMICS_FILE = "economics.toml"


@dataclass(frozen=True)
class Sourced:
    """A number from the world (or a labelled judgement call) with where and when it came from."""

    value: Any
    unit: str
    date: str
    source: str
    url: str = ""

    def citation(self) -> str:
        """``source (date) url`` for an audit trail."""
        where = f" {self.url}" if self.url else ""
        return f"{self.source} ({self.date}){where}"


@cache
def economics() -> dict[str, Any]:
    """The parsed economics file."""
    with data_path(ECONOMICS_FILE).open("rb") as handle:
        return tomllib.load(handle)


def _sourced(entry: dict[str, Any]) -> Sourced:
    return Sourced(entry["value"], entry.get("unit", ""), str(entry.get("date", "")), entry["source"],
                   entry.get("url", ""))


def default(name: str) -> Sourced:
    """One entry of ``[defaults]`` (``usd_per_kwh``, ``resale_fraction``...)."""
    table = economics()["defaults"]
    if name not in table:
        raise ValueError(f"No economic default named {name!r}; known: {', '.join(table)}.")
    return _sourced(table[name])


def table(section: str) -> dict[str, Sourced]:
    """A whole section, e.g. ``electricity`` or ``reference_rent_usd_per_gpu_hour``."""
    return {key: _sourced(entry) for key, entry in economics().get(section, {}).items()}


def price_scenarios() -> dict[str, tuple[float, ...]]:
    """Named rental price paths: one change per year, the last repeats."""
    return {name: tuple(float(x) for x in item.value) for name, item in table("rent_price_scenarios").items()}


def reference_rent_price(gpu: str) -> Sourced | None:
    """The shipped reference price per GPU-hour for renting ``gpu``, if there is one."""
    return table("reference_rent_usd_per_gpu_hour").get(gpu)


def reference_purchase_price(gpu: str) -> Sourced | None:
    """The shipped reference street price for buying one ``gpu``, if there is one."""
    return table("reference_purchase_usd").get(gpu)


def _age_years(launch: date, observed: str) -> float:
    year, month, *rest = (int(part) for part in observed.split("-"))
    day = rest[0] if rest else 15  # a monthly average sits mid-month
    return (date(year, month, day) - launch).days / 365.25


@dataclass(frozen=True)
class ResaleHistory:
    """Used prices of one GPU model against its age, ready for :func:`optimizer.depreciation.fit_resale_curve`."""

    gpu: str
    launch_date: date
    launch_msrp_usd: float
    ages_years: tuple[float, ...]
    prices_usd: tuple[float, ...]
    source: str
    url: str


def resale_history(gpu: str) -> ResaleHistory | None:
    """The bundled used-price series for ``gpu`` (``None`` when none is shipped)."""
    entry = economics().get("resale_history", {}).get(gpu)
    if entry is None:
        return None
    launch = date.fromisoformat(entry["launch_date"])
    ages = tuple(_age_years(launch, when) for when, _ in entry["observations"])
    prices = tuple(float(usd) for _, usd in entry["observations"])
    return ResaleHistory(gpu, launch, float(entry["launch_msrp_usd"]), ages, prices, entry["source"], entry["url"])


def fitted_resale_curve(gpu: str, *, age_at_purchase_years: float = 0.0) -> Any:
    """A :class:`~optimizer.depreciation.ResaleCurve` fitted to the bundled history of ``gpu``.

    The launch (age 0, launch MSRP) is added as the first observation: used-price series start a
    year or more after launch, and without that anchor the curve's start is an unbounded extrapolation.
    """
    from optimizer.depreciation import fit_resale_curve

    history = resale_history(gpu)
    if history is None:
        known = ", ".join(economics().get("resale_history", {}))
        raise ValueError(f"No street-price history is shipped for {gpu!r}, so its resale curve cannot be "
                         f"fitted; histories exist for: {known}.")
    curve = fit_resale_curve((0.0, *history.ages_years), (history.launch_msrp_usd, *history.prices_usd),
                             history.launch_msrp_usd,
                             source=f"launch MSRP at age 0 and {history.source} {history.url}")
    return curve.at_purchase_age(age_at_purchase_years)
