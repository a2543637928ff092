"""How sure is the answer? One-at-a-time sensitivity (tornado), grids and Monte Carlo.

All three evaluate the array formulas of :mod:`optimizer.vectorized` once over every scenario, so a
100,000-draw Monte Carlo or a 4-D grid costs about as much as a few hundred Python-level calls.

* :func:`tornado` moves one input at a time across a range and reports how far the answer (by
  default the break-even busy hours per day) moves, widest swing first.
* :func:`sensitivity_grid` evaluates a metric over the Cartesian product of input values
  (utilization × price × electricity × resale...), returning an array with one axis per input.
* :func:`monte_carlo` draws the uncertain inputs from distributions (rental price level and yearly
  change, resale value, electricity price, utilization) with a seeded generator and reports the
  probability that owning is cheaper and percentiles of the saving.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

import numpy as np

from optimizer import vectorized as vec
from optimizer.costs import DEFAULT_HORIZON_YEARS, OwnOption, RentOption, scenarios

METRICS: dict[str, tuple[Callable[[vec.Scenarios], Any], str]] = {
    "break_even_hours_per_day": (vec.break_even_hours_per_day, "hours/day"),
    "break_even_rent_price": (vec.break_even_rent_price, "USD/GPU-hour"),
    "payback_days": (vec.payback_days, "days"),
    "saving_usd": (vec.saving_usd, "USD (rent − own, present value)"),
    "owner_cost_per_gpu_hour": (vec.owner_cost_per_gpu_hour, "USD/GPU-hour"),
}
USAGE_INPUTS = ("relative_speed", "horizon_years", "busy_hours_per_day")


def _metric(name: str) -> tuple[Callable[[vec.Scenarios], Any], str]:
    if name not in METRICS:
        raise ValueError(f"Unknown metric {name!r}; use one of {', '.join(METRICS)}.")
    return METRICS[name]


# ----------------------------------------------------------------------------- tornado


@dataclass(frozen=True)
class InputRange:
    """One input to move: ``own.<field>``, ``rent.<field>`` or a usage input, from ``low`` to ``high``."""

    name: str
    low: float
    high: float
    source: str = ""


@dataclass(frozen=True)
class TornadoBar:
    name: str
    base_value: float
    low: float
    high: float
    result_at_low: float
    result_at_high: float

    @property
    def swing(self) -> float:
        """How far the result moves across the range (``inf`` when one end has no finite answer)."""
        a, b = self.result_at_low, self.result_at_high
        if math.isinf(a) or math.isinf(b):
            return math.inf if a != b else 0.0
        return abs(b - a)


@dataclass(frozen=True)
class Tornado:
    metric: str
    unit: str
    base_result: float
    bars: tuple[TornadoBar, ...]

    def rows(self) -> list[dict[str, Any]]:
        return [{"input": bar.name, "low": bar.low, "base": bar.base_value, "high": bar.high,
                 "at_low": bar.result_at_low, "at_high": bar.result_at_high, "swing": bar.swing}
                for bar in self.bars]


def _split(name: str, own: OwnOption, rent: RentOption) -> tuple[str, str]:
    """Which object an input belongs to: ``own``, ``rent`` or ``usage``, and the bare field name."""
    if "." in name:
        side, bare = name.split(".", 1)
        if side not in ("own", "rent"):
            raise ValueError(f"Input {name!r}: prefix must be own. or rent.")
        return side, bare
    if name in USAGE_INPUTS:
        return "usage", name
    own_fields = {f.name for f in fields(own)}
    rent_fields = {f.name for f in fields(rent) if f.init}
    if name in own_fields and name in rent_fields:
        raise ValueError(f"Input {name!r} exists on both options; write own.{name} or rent.{name}.")
    if name in own_fields:
        return "own", name
    if name in rent_fields:
        return "rent", name
    raise ValueError(f"Unknown input {name!r}: not a field of OwnOption or RentOption nor one of "
                     f"{', '.join(USAGE_INPUTS)}.")


def _value_of(name: str, own: OwnOption, rent: RentOption, usage: Mapping[str, float]) -> float:
    side, bare = _split(name, own, rent)
    if side == "usage":
        return float(usage[bare])
    value = getattr(own if side == "own" else rent, bare)
    if bare == "annual_price_change":
        value = rent.price_changes[0]
    return float(value)


def _with(name: str, value: float, own: OwnOption, rent: RentOption,
          usage: dict[str, float]) -> tuple[OwnOption, RentOption, dict[str, float]]:
    side, bare = _split(name, own, rent)
    if side == "usage":
        return own, rent, {**usage, bare: value}
    if side == "own":
        return replace(own, **{bare: value}), rent, usage
    return own, replace(rent, **{bare: value}), usage


RESALE_FLOOR_DECLINING = 0.01  # lowest resale fraction the tornado tries under a declining balance


def default_ranges(own: OwnOption, rent: RentOption, *, relative_speed: float,
                   horizon_years: float, busy_hours_per_day: float) -> list[InputRange]:
    """The inputs a finance lead would question, each across a sourced or stated range."""
    from optimizer.defaults import table

    electricity = table("monte_carlo")["usd_per_kwh"].value
    change = table("monte_carlo")["rent_annual_price_change"].value
    resale = own.resale_fraction
    # A declining balance never reaches zero, so its rate cannot come from a resale of 0 (OwnOption refuses it).
    resale_floor = (min(resale, RESALE_FLOOR_DECLINING) if own.depreciation == "declining-balance"
                    and own.declining_balance_rate is None else 0.0)
    ranges = [
        InputRange("busy_hours_per_day", max(0.0, busy_hours_per_day * 0.5), min(24.0, busy_hours_per_day * 1.5),
                   "±50 %"),
        InputRange("rent.usd_per_gpu_hour", rent.usd_per_gpu_hour * 0.75, rent.usd_per_gpu_hour * 1.25, "±25 %"),
        InputRange("relative_speed", relative_speed * 0.75, relative_speed * 1.25, "±25 %"),
        InputRange("own.purchase_usd", own.purchase_usd * 0.8, own.purchase_usd * 1.2, "±20 %"),
        InputRange("own.resale_fraction", max(resale_floor, resale - 0.2), min(1.0, resale + 0.2),
                   "±0.2" if resale - 0.2 >= resale_floor else f"±0.2, at least {resale_floor:g}"),
        InputRange("own.usd_per_kwh", electricity[0], electricity[2], "economics.toml [monte_carlo]"),
        InputRange("rent.annual_price_change", change[0], change[2], "economics.toml [monte_carlo]"),
        InputRange("own.discount_rate", 0.0, max(0.10, own.discount_rate * 2), "0 to 10 %/yr"),
        InputRange("horizon_years", max(0.5, horizon_years - 1), horizon_years + 2, "−1 / +2 years"),
        InputRange("own.load_watts", own.load_watts * 0.7, own.load_watts, "power-limited to 70 %"),
    ]
    return [r for r in ranges if r.low != r.high]


def tornado(own: OwnOption, rent: RentOption, *, relative_speed: float = 1.0,
            horizon_years: float = DEFAULT_HORIZON_YEARS, busy_hours_per_day: float = 6.0,
            ranges: Sequence[InputRange] | None = None, metric: str = "break_even_hours_per_day") -> Tornado:
    """One-at-a-time sensitivity: the metric at each end of each input's range, widest swing first."""
    function, unit = _metric(metric)
    usage = {"relative_speed": relative_speed, "horizon_years": horizon_years,
             "busy_hours_per_day": busy_hours_per_day}
    if ranges is None:
        ranges = default_ranges(own, rent, relative_speed=relative_speed, horizon_years=horizon_years,
                                busy_hours_per_day=busy_hours_per_day)
        if metric == "break_even_hours_per_day":  # it does not depend on the utilization itself
            ranges = [r for r in ranges if r.name != "busy_hours_per_day"]
    ranges = list(ranges)
    if not ranges:
        raise ValueError("tornado needs at least one input range.")
    variants = [(own, rent, usage)]
    for item in ranges:
        if item.low > item.high:
            raise ValueError(f"Input {item.name!r}: low ({item.low:g}) is above high ({item.high:g}).")
        variants.append(_with(item.name, item.low, own, rent, usage))
        variants.append(_with(item.name, item.high, own, rent, usage))
    # Build each variant through the scalar route, then evaluate them all in one array call.
    built = [scenarios(o, r, **u) for o, r, u in variants]
    results = np.asarray(function(_stack(built)), dtype=float)
    bars = [TornadoBar(item.name, _value_of(item.name, own, rent, usage), item.low, item.high,
                       float(results[1 + 2 * k]), float(results[2 + 2 * k])) for k, item in enumerate(ranges)]
    bars.sort(key=lambda bar: (-bar.swing, bar.name))
    return Tornado(metric, unit, float(results[0]), tuple(bars))


def _stack(items: Sequence[vec.Scenarios]) -> vec.Scenarios:
    """Concatenate 0-d scenarios into one 1-D batch (price paths padded by repeating their last step)."""
    steps = max(len(s.annual_price_change) for s in items)
    arrays: dict[str, Any] = {}
    for item in fields(vec.Scenarios):
        if item.name == "annual_price_change":
            arrays[item.name] = tuple(
                np.array([s.annual_price_change[min(k, len(s.annual_price_change) - 1)] for s in items])
                for k in range(steps))
        else:
            arrays[item.name] = np.array([getattr(s, item.name) for s in items])
    return vec.Scenarios(**arrays)


# ----------------------------------------------------------------------------- grids


def sensitivity_grid(own: OwnOption, rent: RentOption, axes: Mapping[str, Sequence[float]], *,
                     relative_speed: float = 1.0, horizon_years: float = DEFAULT_HORIZON_YEARS,
                     busy_hours_per_day: float = 6.0, metric: str = "saving_usd") -> np.ndarray:
    """The metric over the product of ``axes`` (one array axis per input, in the given order).

    Axis names are fields of :class:`~optimizer.vectorized.Scenarios` (``busy_hours_per_day``,
    ``usd_per_kwh``, ``rent_usd_per_gpu_hour``, ``discount_rate``...) or ``resale_fraction`` (value
    left at the horizon as a fraction of the purchase) or ``annual_price_change`` (a constant path).
    """
    function, _ = _metric(metric)
    base = scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years,
                     busy_hours_per_day=busy_hours_per_day)
    names = list(axes)
    changes: dict[str, Any] = {}
    for position, name in enumerate(names):
        shape = [1] * len(names)
        shape[position] = -1
        values = np.asarray(axes[name], dtype=float).reshape(shape)
        if name == "resale_fraction":
            changes["resale_usd"] = values * base.capex_usd
        elif name == "annual_price_change":
            changes["annual_price_change"] = (values,)
        elif name in {f.name for f in fields(vec.Scenarios)}:
            changes[name] = values
        else:
            raise ValueError(f"Unknown grid axis {name!r}.")
    grid = base.replace(**changes)
    return np.broadcast_to(np.asarray(function(grid), dtype=float),
                           tuple(len(axes[name]) for name in names)).copy()


# ----------------------------------------------------------------------------- Monte Carlo


class Distribution(Protocol):
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Fixed:
    value: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, float(self.value))


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"Uniform: low ({self.low}) is above high ({self.high}).")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class Triangular:
    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"Triangular needs low ≤ mode ≤ high; got {self.low}, {self.mode}, {self.high}.")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(size, float(self.low))
        return rng.triangular(self.low, self.mode, self.high, size)


def default_distributions() -> dict[str, Distribution]:
    """Triangular distributions from ``economics.toml`` ``[monte_carlo]`` (sources in that file)."""
    from optimizer.defaults import table

    return {name: Triangular(*item.value) for name, item in table("monte_carlo").items()}


CENTRED_INPUTS = ("busy_hours_per_day", "usd_per_kwh", "resale_fraction")
# Upper bounds a centred range is cut at (the mode itself is never cut).
_CENTRED_CAPS = {"busy_hours_per_day": 24.0, "resale_fraction": 1.0}


def centred_distributions(own: OwnOption, rent: RentOption, *, horizon_years: float = DEFAULT_HORIZON_YEARS,
                          busy_hours_per_day: float = 6.0) -> dict[str, Triangular]:
    """The shipped triangular ranges with this comparison's own values as the mode.

    ``economics.toml`` says how uncertain utilization, electricity and resale are; the comparison
    says where they sit — a 0.5 h/day lab and a 20 h/day cluster must not share one utilization
    guess. Each of :data:`CENTRED_INPUTS` keeps the shipped relative spread (low/mode, high/mode)
    around the base value (utilization cut at 24 h, resale at the purchase price). The rental price
    multiplier is already relative to the option's price, and the yearly price change is a market
    forecast: both stay as shipped.
    """
    from optimizer.defaults import table

    shipped = {name: Triangular(*item.value) for name, item in table("monte_carlo").items()}
    resale_at_horizon = (float(own.resale_usd(horizon_years)) / own.capex_usd if own.capex_usd > 0
                         else own.resale_fraction)
    base = {"busy_hours_per_day": float(busy_hours_per_day), "usd_per_kwh": float(own.usd_per_kwh),
            "resale_fraction": resale_at_horizon}
    out = dict(shipped)
    for name, value in base.items():
        reference = shipped[name]
        if reference.mode <= 0:  # no relative spread to carry over
            continue
        cap = max(_CENTRED_CAPS.get(name, math.inf), value)
        out[name] = Triangular(value * reference.low / reference.mode, value,
                               min(cap, value * reference.high / reference.mode))
    return out


MONTE_CARLO_INPUTS = ("usd_per_kwh", "resale_fraction", "busy_hours_per_day", "rent_annual_price_change",
                      "rent_price_multiplier")


@dataclass(frozen=True)
class MonteCarloResult:
    samples: int
    seed: int
    probability_own_cheaper: float
    saving_percentiles_usd: dict[int, float]
    break_even_hours_percentiles: dict[int, float]
    mean_saving_usd: float
    inputs: dict[str, str]

    def rows(self) -> list[dict[str, Any]]:
        return [{"percentile": p, "saving_usd": self.saving_percentiles_usd[p],
                 "break_even_hours_per_day": self.break_even_hours_percentiles[p]}
                for p in self.saving_percentiles_usd]


def monte_carlo(own: OwnOption, rent: RentOption, *, relative_speed: float = 1.0,
                horizon_years: float = DEFAULT_HORIZON_YEARS, busy_hours_per_day: float = 6.0,
                distributions: Mapping[str, Distribution] | None = None, samples: int = 100_000,
                seed: int = 0, percentiles: Sequence[int] = (5, 25, 50, 75, 95)) -> MonteCarloResult:
    """Probability that owning is cheaper, and percentiles of the saving (rent − own, present value).

    ``distributions`` may set any of ``usd_per_kwh``, ``resale_fraction`` (value left at the horizon,
    fraction of the purchase), ``busy_hours_per_day``, ``rent_annual_price_change`` (a constant yearly
    change for the whole horizon) and ``rent_price_multiplier`` (today's price × this); inputs left
    out keep the options' values. Same seed, same answer.
    """
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"monte_carlo: samples must be a whole number of at least 1; got {samples!r}.")
    chosen = dict(distributions) if distributions is not None else default_distributions()
    unknown = set(chosen) - set(MONTE_CARLO_INPUTS)
    if unknown:
        raise ValueError(f"monte_carlo: unknown input {sorted(unknown)[0]!r}; use {', '.join(MONTE_CARLO_INPUTS)}.")
    rng = np.random.default_rng(seed)
    base = scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years,
                     busy_hours_per_day=busy_hours_per_day)
    # Draw in a fixed order so that adding an input does not reshuffle the others.
    draws = {name: chosen[name].sample(rng, samples) for name in MONTE_CARLO_INPUTS if name in chosen}
    changes: dict[str, Any] = {}
    if "usd_per_kwh" in draws:
        changes["usd_per_kwh"] = draws["usd_per_kwh"]
    if "resale_fraction" in draws:
        changes["resale_usd"] = draws["resale_fraction"] * base.capex_usd
    if "busy_hours_per_day" in draws:
        changes["busy_hours_per_day"] = np.clip(draws["busy_hours_per_day"], 0.0, 24.0)
    if "rent_annual_price_change" in draws:
        changes["annual_price_change"] = (draws["rent_annual_price_change"],)
    if "rent_price_multiplier" in draws:
        changes["rent_usd_per_gpu_hour"] = base.rent_usd_per_gpu_hour * draws["rent_price_multiplier"]
    batch = base.replace(**changes)
    saving = np.broadcast_to(vec.saving_usd(batch), (samples,))
    hours = np.broadcast_to(vec.break_even_hours_per_day(batch), (samples,))
    levels = list(percentiles)
    saving_pct = np.percentile(saving, levels)
    # Percentiles of a distribution with inf ("never") entries: sort and pick, inf stays inf.
    hours_pct = np.percentile(hours, levels, method="inverted_cdf")
    described = {name: repr(chosen[name]) for name in MONTE_CARLO_INPUTS if name in chosen}
    return MonteCarloResult(
        samples=samples, seed=seed,
        probability_own_cheaper=float(np.mean(saving > 0)),
        saving_percentiles_usd={p: float(v) for p, v in zip(levels, saving_pct, strict=True)},
        break_even_hours_percentiles={p: float(v) for p, v in zip(levels, hours_pct, strict=True)},
        mean_saving_usd=float(np.mean(saving)),
        inputs=described,
    )
