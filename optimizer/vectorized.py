"""The owning-vs-renting cost model as NumPy array formulas: one code path for 1 or 10⁶ scenarios.

The scalar API in :mod:`optimizer.breakeven` builds a :class:`Scenarios` of 0-d arrays from the
option objects and calls these functions, so the scalar and vectorised answers cannot drift apart.

Model (all money in USD; time in months of ``365.25 / 12`` days):

* Cash flows are monthly and paid at the end of each month; month ``m`` (1-based) is discounted by
  ``(1 + discount_rate) ** (-m / 12)`` (an effective annual rate). A rate of 0 gives plain sums.
  A horizon that is not a whole number of months is prorated by the closed-form geometric sums.
* Owning over the horizon: ``capex − resale·v^H + Σ_m v^m·(energy_m + maintenance_m + admin_m)``,
  where ``v^H`` discounts the resale to the purchase date and the daily energy is
  ``(load_kW·busy_h + idle_kW·max(powered_h − busy_h, 0)) · $/kWh · PUE``. With no powered hours
  (``NaN``) the machine is on only while busy.
* Renting over the horizon: ``price_0 · Σ_m v^m·multiplier_m · days_m · busy_h · gpu_hours_per_busy_h ·
  overhead_factor + Σ_m v^m·storage``. The price multiplier follows one annual change per year
  (the last one repeats), compounded monthly: month ``m`` of year ``y`` costs
  ``price_0 · Π_{j<y}(1+g_j) · (1+g_y)^((m−1−12y)/12)``; the first month is billed at today's price.
* Both costs are linear in busy hours per day (piecewise, with a kink where busy hours reach the
  powered hours), so the break-even utilization and price are closed forms. Payback is found by a
  month-by-month scan (vectorised across scenarios) because a changing rental price makes the
  cumulative saving a sum of two exponentials.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

DAYS_PER_YEAR = 365.25
MONTHS_PER_YEAR = 12
DAYS_PER_MONTH = DAYS_PER_YEAR / MONTHS_PER_YEAR
HOURS_PER_DAY = 24.0
# Payback scans stop here; a purchase that has not paid for itself after 50 years never does.
PAYBACK_MAX_YEARS = 50

Array = NDArray[np.float64]

# (field, lowest allowed, highest allowed, inclusive lower bound, what a user calls it)
_BOUNDS: dict[str, tuple[float, float, bool, str]] = {
    "capex_usd": (0.0, math.inf, True, "the purchase price"),
    "resale_usd": (0.0, math.inf, True, "the resale value"),
    "load_kw": (0.0, math.inf, True, "the power draw under load"),
    "idle_kw": (0.0, math.inf, True, "the idle power draw"),
    "usd_per_kwh": (0.0, math.inf, True, "the electricity price"),
    "pue": (1.0, math.inf, True, "the PUE/cooling factor (1.0 or more)"),
    "maintenance_usd_per_month": (0.0, math.inf, True, "maintenance"),
    "admin_usd_per_month": (0.0, math.inf, True, "the admin cost"),
    "own_gpu_count": (0.0, math.inf, False, "the number of owned GPUs"),
    "rent_usd_per_gpu_hour": (0.0, math.inf, True, "the rental price"),
    "rent_gpu_hours_per_busy_hour": (0.0, math.inf, False, "rented GPU-hours per owned busy hour"),
    "rent_overhead_factor": (1.0, math.inf, True, "the rental overhead factor"),
    "storage_usd_per_month": (0.0, math.inf, True, "rented storage"),
    "discount_rate": (0.0, math.inf, True, "the discount rate"),
    "horizon_years": (0.0, 200.0, False, "the horizon"),
    "busy_hours_per_day": (0.0, HOURS_PER_DAY, True, "busy hours per day (0 to 24)"),
}


def _float_array(value: ArrayLike) -> Array:
    return np.asarray(value, dtype=np.float64)


def _check(name: str, values: Array) -> None:
    low, high, inclusive, label = _BOUNDS[name]
    if np.any(np.isnan(values)):
        raise ValueError(f"{name} ({label}) must be a number; got NaN.")
    too_low = values < low if inclusive else values <= low
    if np.any(too_low) or np.any(values > high):
        bad = values[too_low | (values > high)].flat[0]
        bound = f"at least {low:g}" if inclusive else f"above {low:g}"
        upper = f" and at most {high:g}" if math.isfinite(high) else ""
        raise ValueError(f"{name} ({label}) must be {bound}{upper}; got {bad:g}.")


@dataclass(frozen=True)
class Scenarios:
    """Every input of the cost model as an array; any shapes that broadcast together.

    Owning side: ``capex_usd`` (cards + system, paid at month 0), ``resale_usd`` (what they fetch at
    the end of the horizon, undiscounted), ``load_kw`` / ``idle_kw`` (whole machine), the
    ``powered_hours_per_day`` (``NaN`` = on only while busy), ``usd_per_kwh``, ``pue``, monthly
    ``maintenance_usd_per_month`` and ``admin_usd_per_month``, ``own_gpu_count``.
    Renting side: ``rent_usd_per_gpu_hour`` today, ``rent_gpu_hours_per_busy_hour`` (rented GPU-hours
    of work that replace one busy hour of the owned machine, i.e. rented GPU count / relative
    speed), ``rent_overhead_factor`` (≥ 1: per-job spin-up/upload and spot interruptions),
    ``storage_usd_per_month``, ``annual_price_change`` (one array per year, the last repeats).
    Shared: ``discount_rate`` (effective annual), ``horizon_years``, ``busy_hours_per_day`` of the
    owned machine.
    """

    capex_usd: Array
    resale_usd: Array
    load_kw: Array
    idle_kw: Array
    powered_hours_per_day: Array
    usd_per_kwh: Array
    pue: Array
    maintenance_usd_per_month: Array
    admin_usd_per_month: Array
    own_gpu_count: Array
    rent_usd_per_gpu_hour: Array
    rent_gpu_hours_per_busy_hour: Array
    rent_overhead_factor: Array
    storage_usd_per_month: Array
    annual_price_change: tuple[Array, ...]
    discount_rate: Array
    horizon_years: Array
    busy_hours_per_day: Array

    def __post_init__(self) -> None:
        for item in fields(self):
            name = item.name
            if name == "annual_price_change":
                raw = self.annual_price_change
                steps = tuple(raw) if isinstance(raw, tuple | list) else (raw,)
                if not steps:
                    raise ValueError("annual_price_change needs at least one yearly change.")
                arrays = tuple(_float_array(step) for step in steps)
                for step in arrays:
                    if np.any(np.isnan(step)) or np.any(step <= -1.0):
                        raise ValueError("annual_price_change must be above -1 (a price cannot fall "
                                         "by 100 % or more in a year).")
                object.__setattr__(self, name, arrays)
                continue
            value = _float_array(getattr(self, name))
            object.__setattr__(self, name, value)
            if name == "powered_hours_per_day":
                finite = value[~np.isnan(value)]
                if np.any(finite < 0) or np.any(finite > HOURS_PER_DAY):
                    raise ValueError("powered_hours_per_day must be between 0 and 24 (or None for "
                                     "'powered only while busy').")
            else:
                _check(name, value)

    def replace(self, **changes: Any) -> Scenarios:
        """A copy with some inputs swapped (e.g. a sampled electricity price array)."""
        return replace(self, **changes)

    @property
    def shape(self) -> tuple[int, ...]:
        arrays: list[Array] = [getattr(self, f.name) for f in fields(self) if f.name != "annual_price_change"]
        return np.broadcast_shapes(*(a.shape for a in arrays), *(a.shape for a in self.annual_price_change))


# ----------------------------------------------------------------------------- time-value factors


def _geometric_sum(ln_ratio: Array, count: Array) -> Array:
    """``Σ_{k=0}^{count-1} q^k`` for ``q = exp(ln_ratio)``, stable near ``q = 1`` (fractional counts prorate)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.expm1(count * ln_ratio) / np.expm1(ln_ratio)
    return np.where(ln_ratio == 0.0, count, ratio)


def _ln_monthly_discount(discount_rate: ArrayLike) -> Array:
    return -np.log1p(_float_array(discount_rate)) / MONTHS_PER_YEAR


def annuity_factor(discount_rate: ArrayLike, months: ArrayLike) -> Array:
    """Present value of 1 USD paid at the end of each of ``months`` months (= ``months`` at rate 0)."""
    ln_v = _ln_monthly_discount(discount_rate)
    return np.exp(ln_v) * _geometric_sum(ln_v, _float_array(months))


def discount_factor(discount_rate: ArrayLike, years: ArrayLike) -> Array:
    """Present value of 1 USD paid ``years`` from now."""
    return np.exp(-np.log1p(_float_array(discount_rate)) * _float_array(years))


def price_path_factor(discount_rate: ArrayLike, months: ArrayLike,
                      annual_price_change: Iterable[ArrayLike]) -> Array:
    """``Σ_m v^m · multiplier_m`` over ``months``: the present value of paying today's price × the path.

    With no price change it equals :func:`annuity_factor`.
    """
    changes = list(annual_price_change)
    ln_v = _ln_monthly_discount(discount_rate)
    months = _float_array(months)
    total: Array = np.zeros(np.broadcast_shapes(ln_v.shape, months.shape))
    level_ln: Array = np.zeros(())
    for year, change in enumerate(changes):
        ln_u = np.log1p(_float_array(change)) / MONTHS_PER_YEAR
        start = MONTHS_PER_YEAR * year
        left = months - start
        count = np.maximum(left, 0.0) if year == len(changes) - 1 else np.clip(left, 0.0, MONTHS_PER_YEAR)
        total = total + np.exp(level_ln + (start + 1) * ln_v) * _geometric_sum(ln_u + ln_v, count)
        level_ln = level_ln + MONTHS_PER_YEAR * ln_u
    return total


# ----------------------------------------------------------------------------- costs over the horizon


def _busy(s: Scenarios, busy_hours_per_day: ArrayLike | None) -> Array:
    if busy_hours_per_day is None:
        return s.busy_hours_per_day
    busy = _float_array(busy_hours_per_day)
    _check("busy_hours_per_day", busy)
    return busy


def energy_usd_per_day(s: Scenarios, busy_hours_per_day: ArrayLike | None = None) -> Array:
    """Electricity per day: load while busy, idle draw for powered hours not busy, × $/kWh × PUE."""
    busy = _busy(s, busy_hours_per_day)
    powered = s.powered_hours_per_day
    idle_hours = np.where(np.isnan(powered), 0.0, np.maximum(np.nan_to_num(powered) - busy, 0.0))
    return (s.load_kw * busy + s.idle_kw * idle_hours) * s.usd_per_kwh * s.pue


def own_lines(s: Scenarios, busy_hours_per_day: ArrayLike | None = None, *,
              discounted: bool = True) -> dict[str, Array]:
    """Owning cost over the horizon by line (capex, resale credit, energy, maintenance, admin)."""
    rate = s.discount_rate if discounted else np.zeros_like(s.discount_rate)
    months = MONTHS_PER_YEAR * s.horizon_years
    annuity = annuity_factor(rate, months)
    return {
        "capex": s.capex_usd,
        "resale_credit": -discount_factor(rate, s.horizon_years) * s.resale_usd,
        "energy": annuity * DAYS_PER_MONTH * energy_usd_per_day(s, busy_hours_per_day),
        "maintenance": annuity * s.maintenance_usd_per_month,
        "admin": annuity * s.admin_usd_per_month,
    }


def rent_lines(s: Scenarios, busy_hours_per_day: ArrayLike | None = None, *,
               discounted: bool = True) -> dict[str, Array]:
    """Renting cost of the same work over the horizon by line (compute, overhead, storage)."""
    busy = _busy(s, busy_hours_per_day)
    rate = s.discount_rate if discounted else np.zeros_like(s.discount_rate)
    months = MONTHS_PER_YEAR * s.horizon_years
    path = price_path_factor(rate, months, s.annual_price_change)
    compute = s.rent_usd_per_gpu_hour * path * DAYS_PER_MONTH * busy * s.rent_gpu_hours_per_busy_hour
    return {
        "compute": compute,
        "overhead": compute * (s.rent_overhead_factor - 1.0),
        "storage": annuity_factor(rate, months) * s.storage_usd_per_month,
    }


def own_total_usd(s: Scenarios, busy_hours_per_day: ArrayLike | None = None) -> Array:
    """Present value of owning over the horizon."""
    return sum(own_lines(s, busy_hours_per_day).values())  # type: ignore[return-value]


def rent_total_usd(s: Scenarios, busy_hours_per_day: ArrayLike | None = None) -> Array:
    """Present value of renting the same work over the horizon."""
    return sum(rent_lines(s, busy_hours_per_day).values())  # type: ignore[return-value]


def rented_gpu_hours(s: Scenarios, busy_hours_per_day: ArrayLike | None = None) -> Array:
    """Billed rented GPU-hours over the horizon (work plus overheads)."""
    busy = _busy(s, busy_hours_per_day)
    days = DAYS_PER_YEAR * s.horizon_years
    return days * busy * s.rent_gpu_hours_per_busy_hour * s.rent_overhead_factor


# ----------------------------------------------------------------------------- solvers


@dataclass(frozen=True)
class LinearCosts:
    """``own − rent`` over the horizon as ``fixed + slope·h + idle_slope·max(P − h, 0)`` in busy h/day."""

    fixed_usd: Array
    slope_usd_per_hour: Array
    idle_usd_per_hour: Array
    powered_hours_per_day: Array  # 0 where the machine is on only while busy


def linear_costs(s: Scenarios) -> LinearCosts:
    """The coefficients of the cost difference; both sides are linear in busy hours per day."""
    months = MONTHS_PER_YEAR * s.horizon_years
    annuity = annuity_factor(s.discount_rate, months)
    path = price_path_factor(s.discount_rate, months, s.annual_price_change)
    usd_per_kwh = s.usd_per_kwh * s.pue
    fixed = (s.capex_usd - discount_factor(s.discount_rate, s.horizon_years) * s.resale_usd
             + annuity * (s.maintenance_usd_per_month + s.admin_usd_per_month - s.storage_usd_per_month))
    slope = DAYS_PER_MONTH * (annuity * s.load_kw * usd_per_kwh
                              - path * s.rent_usd_per_gpu_hour * s.rent_gpu_hours_per_busy_hour
                              * s.rent_overhead_factor)
    has_idle = ~np.isnan(s.powered_hours_per_day)
    idle = np.where(has_idle, DAYS_PER_MONTH * annuity * s.idle_kw * usd_per_kwh, 0.0)
    powered = np.where(has_idle, np.nan_to_num(s.powered_hours_per_day), 0.0)
    return LinearCosts(fixed, slope, idle, powered)


def break_even_hours_per_day(s: Scenarios) -> Array:
    """The fewest owned busy hours per day at which owning costs no more than renting.

    ``0.0`` where owning is no dearer even unused; ``inf`` where renting stays cheaper up to 24 h/day.
    Closed form on the two linear pieces of the cost difference (below and above the powered hours).
    """
    c = linear_costs(s)
    at_zero = c.fixed_usd + c.idle_usd_per_hour * c.powered_hours_per_day
    below_slope = c.slope_usd_per_hour - c.idle_usd_per_hour
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        root_below = at_zero / -below_slope
        root_above = c.fixed_usd / -c.slope_usd_per_hour
    in_below = (below_slope < 0) & (root_below <= c.powered_hours_per_day)
    in_above = (c.slope_usd_per_hour < 0) & (root_above <= HOURS_PER_DAY)
    return np.where(at_zero <= 0, 0.0, np.where(in_below, root_below, np.where(in_above, root_above, np.inf)))


def break_even_rent_price(s: Scenarios) -> Array:
    """Today's rental price per GPU-hour above which owning is cheaper over the horizon.

    ``0.0`` where owning wins even against free rental (e.g. the rental storage alone costs more);
    ``inf`` where no rented hours are needed (zero busy hours) and owning costs something.
    """
    months = MONTHS_PER_YEAR * s.horizon_years
    # What the rented work costs over the horizon at a price of 1 USD per GPU-hour today.
    per_usd = (price_path_factor(s.discount_rate, months, s.annual_price_change) * DAYS_PER_MONTH
               * s.busy_hours_per_day * s.rent_gpu_hours_per_busy_hour * s.rent_overhead_factor)
    remaining = own_total_usd(s) - annuity_factor(s.discount_rate, months) * s.storage_usd_per_month
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        price = remaining / per_usd
    return np.where(remaining <= 0, 0.0, np.where(per_usd > 0, price, np.inf))


def owner_cost_per_gpu_hour(s: Scenarios) -> Array:
    """Levelised owner cost per busy GPU-hour: PV of owning / PV-weighted busy GPU-hours.

    With a discount rate of 0 this is the plain ratio (depreciation net of resale + energy +
    maintenance + admin) / busy GPU-hours. ``inf`` at zero busy hours.
    """
    months = MONTHS_PER_YEAR * s.horizon_years
    hours = annuity_factor(s.discount_rate, months) * DAYS_PER_MONTH * s.busy_hours_per_day * s.own_gpu_count
    own = own_total_usd(s)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        per_hour = own / hours
    return np.where(hours > 0, per_hour, np.inf)


def payback_days(s: Scenarios, *, max_years: int = PAYBACK_MAX_YEARS) -> Array:
    """Days until the rent avoided has covered the purchase plus the running costs to date.

    Resale is not counted (finance's payback period). With a discount rate the flows are
    discounted (discounted payback). Within the month where the cumulative saving crosses the
    purchase price the flows are taken as even, so the answer is fractional days (take the ceiling
    for "the first whole day"). ``inf`` when it never pays back within ``max_years``; ``0.0`` for a
    free purchase. The horizon plays no part.
    """
    shape = s.shape
    flat = {name: np.broadcast_to(getattr(s, name), shape).ravel()
            for name in ("capex_usd", "discount_rate", "rent_usd_per_gpu_hour", "busy_hours_per_day",
                         "rent_gpu_hours_per_busy_hour", "rent_overhead_factor", "storage_usd_per_month",
                         "maintenance_usd_per_month", "admin_usd_per_month")}
    changes = [np.broadcast_to(change, shape).ravel() for change in s.annual_price_change]
    energy = np.broadcast_to(energy_usd_per_day(s), shape).ravel()
    capex = flat["capex_usd"]
    rent_per_month = (DAYS_PER_MONTH * flat["busy_hours_per_day"] * flat["rent_gpu_hours_per_busy_hour"]
                      * flat["rent_overhead_factor"] * flat["rent_usd_per_gpu_hour"])
    net_fixed = flat["storage_usd_per_month"] - DAYS_PER_MONTH * energy - flat["maintenance_usd_per_month"] \
        - flat["admin_usd_per_month"]
    ln_v = _ln_monthly_discount(flat["discount_rate"])
    result = np.where(capex <= 0, 0.0, np.inf)
    done = capex <= 0
    cumulative = np.zeros_like(capex)
    level_ln = np.zeros_like(capex)
    offsets = np.arange(MONTHS_PER_YEAR, dtype=np.float64)
    rows = np.arange(capex.size)
    for year in range(max_years):
        if done.all():
            break
        ln_u = np.log1p(changes[min(year, len(changes) - 1)]) / MONTHS_PER_YEAR
        multiplier = np.exp(level_ln[:, None] + offsets * ln_u[:, None])
        month_numbers = MONTHS_PER_YEAR * year + offsets + 1.0
        flows = (rent_per_month[:, None] * multiplier + net_fixed[:, None]) * np.exp(month_numbers * ln_v[:, None])
        running = cumulative[:, None] + np.cumsum(flows, axis=1)
        crossed = running >= capex[:, None]
        any_crossed = crossed.any(axis=1) & ~done
        first = np.argmax(crossed, axis=1)
        before = np.where(first == 0, cumulative, running[rows, np.maximum(first - 1, 0)])
        after = running[rows, first]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            months = MONTHS_PER_YEAR * year + first + (capex - before) / (after - before)
        result = np.where(any_crossed, months * DAYS_PER_MONTH, result)
        done = done | any_crossed
        cumulative = running[:, -1]
        level_ln = level_ln + MONTHS_PER_YEAR * ln_u
        # In the last (repeating) price step, a saving that is not positive and cannot grow never recovers.
        if year >= len(changes) - 1:
            last_flow_undiscounted = rent_per_month * np.exp(level_ln - ln_u) + net_fixed
            cannot_grow = (changes[-1] <= 0) | (rent_per_month == 0)
            done = done | ((last_flow_undiscounted <= 0) & cannot_grow)
    return result.reshape(shape)


def saving_usd(s: Scenarios) -> Array:
    """Present value of renting minus owning: positive where owning is cheaper."""
    return rent_total_usd(s) - own_total_usd(s)


def price_multiplier_at(annual_price_change: Iterable[ArrayLike], years: ArrayLike) -> Array:
    """Rental price at ``years`` from now as a multiple of today's, compounding each year's change.

    Matches the monthly path of :func:`price_path_factor` at whole months (``years = (m − 1) / 12``).
    """
    changes = [_float_array(change) for change in annual_price_change]
    t = np.maximum(_float_array(years), 0.0)
    level_ln: Array = np.zeros(())
    result: Array = np.zeros(np.broadcast_shapes(t.shape, *(c.shape for c in changes)))
    for year, change in enumerate(changes):
        last = year == len(changes) - 1
        in_block = (t >= year) if last else ((t >= year) & (t < year + 1))
        ln_growth = np.log1p(change)
        result = np.where(in_block, np.exp(level_ln + (t - year) * ln_growth), result)
        level_ln = level_ln + ln_growth
    return result
