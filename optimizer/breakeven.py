"""Break-even solvers: when owning beats renting, in the forms a lab lead and a finance lead ask for.

The four functions of the public contract return plain floats, ``0.0`` when owning always wins
and ``math.inf`` when it never does; they raise ``ValueError`` only for invalid input. The
``solve_*`` twins return a :class:`Solution` with the status and a sentence explaining it.

All of them go through :func:`optimizer.costs.scenarios` and the closed forms in
:mod:`optimizer.vectorized`; the ``*_brentq`` functions solve the same equations numerically with
``scipy.optimize.brentq`` on the cost functions and exist to check the closed forms (tests) and to
time them (``bench/breakeven.py``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer import vectorized as vec
from optimizer.costs import (
    DEFAULT_HORIZON_YEARS,
    Assumption,
    CostBreakdown,
    Infeasible,
    OwnOption,
    RentOption,
    check_usage,
    own_cost,
    rent_cost,
    scenarios,
)

FOUND, ALWAYS, NEVER = "found", "always", "never"


@dataclass(frozen=True)
class Solution:
    """A solver's answer with its status (``found``, ``always``, ``never``) and a plain sentence."""

    value: float
    status: str
    unit: str
    explanation: str


def _status(value: float) -> str:
    if value == 0.0:
        return ALWAYS
    return NEVER if math.isinf(value) else FOUND


def _years(horizon_years: float) -> str:
    return f"{horizon_years:g} year{'s' if horizon_years != 1 else ''}"


# ----------------------------------------------------------------------------- the four contract solvers


def solve_break_even_hours_per_day(own: OwnOption, rent: RentOption, relative_speed: float = 1.0,
                                   horizon_years: float = DEFAULT_HORIZON_YEARS) -> Solution:
    """Owned busy hours per day at which owning and renting cost the same over the horizon."""
    s = scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years)
    value = float(vec.break_even_hours_per_day(s))
    status = _status(value)
    if status == FOUND:
        text = (f"Owning is cheaper from {value:.2f} busy hours a day ({value / 24:.0%} utilization) "
                f"over {_years(horizon_years)}.")
    elif status == ALWAYS:
        text = (f"Owning is no dearer even when the machine sits idle: over {_years(horizon_years)} its "
                "net cost after resale is below renting's fixed costs.")
    else:
        own_24 = float(vec.own_total_usd(s, 24.0))
        rent_24 = float(vec.rent_total_usd(s, 24.0))
        text = (f"Renting stays cheaper even at 24 busy hours a day over {_years(horizon_years)} "
                f"(owning ${own_24:,.0f} vs renting ${rent_24:,.0f}).")
    return Solution(value, status, "hours/day", text)


def break_even_hours_per_day(own: OwnOption, rent: RentOption, relative_speed: float = 1.0,
                             horizon_years: float = DEFAULT_HORIZON_YEARS) -> float:
    """Owned busy hours per day above which owning is cheaper over ``horizon_years`` (0.0 / inf)."""
    return solve_break_even_hours_per_day(own, rent, relative_speed, horizon_years).value


def solve_break_even_days(own: OwnOption, rent: RentOption, busy_hours_per_day: float,
                          relative_speed: float = 1.0) -> Solution:
    """Payback period at a utilization: days until the rent avoided covers purchase + running costs."""
    s = scenarios(own, rent, relative_speed=relative_speed, busy_hours_per_day=busy_hours_per_day)
    value = float(vec.payback_days(s))
    status = _status(value)
    kind = "discounted payback" if own.discount_rate > 0 else "payback"
    if status == FOUND:
        text = (f"At {busy_hours_per_day:g} busy hours a day the purchase pays for itself after "
                f"{value:,.0f} days ({value / vec.DAYS_PER_MONTH:.1f} months; {kind}, resale not counted).")
    elif status == ALWAYS:
        text = "There is nothing to pay back: the purchase costs nothing."
    else:
        text = (f"At {busy_hours_per_day:g} busy hours a day the rent avoided never covers the purchase "
                f"plus running costs within {vec.PAYBACK_MAX_YEARS} years ({kind}).")
    return Solution(value, status, "days", text)


def break_even_days(own: OwnOption, rent: RentOption, busy_hours_per_day: float,
                    relative_speed: float = 1.0) -> float:
    """Days to pay back the purchase at ``busy_hours_per_day`` (fractional; 0.0 / inf)."""
    return solve_break_even_days(own, rent, busy_hours_per_day, relative_speed).value


def solve_break_even_rent_price(own: OwnOption, busy_hours_per_day: float, relative_speed: float = 1.0,
                                horizon_years: float = DEFAULT_HORIZON_YEARS,
                                rent: RentOption | None = None) -> Solution:
    """Today's rental price per GPU-hour above which owning wins over the horizon.

    ``rent`` supplies the rented GPU count, overheads and price path (its own price is ignored).
    """
    rent = rent if rent is not None else RentOption(gpu=own.gpu)
    s = scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years,
                  busy_hours_per_day=busy_hours_per_day)
    value = float(vec.break_even_rent_price(s))
    status = _status(value)
    if status == FOUND:
        text = (f"At {busy_hours_per_day:g} busy hours a day owning wins over {_years(horizon_years)} when "
                f"renting costs more than ${value:.3f} per GPU-hour.")
    elif status == ALWAYS:
        text = "Owning wins even if renting were free: the rental's own fixed costs exceed owning."
    else:
        text = "With no busy hours nothing is rented, so no rental price makes owning pay."
    return Solution(value, status, "USD/GPU-hour", text)


def break_even_rent_price(own: OwnOption, busy_hours_per_day: float, relative_speed: float = 1.0,
                          horizon_years: float = DEFAULT_HORIZON_YEARS, rent: RentOption | None = None) -> float:
    """Rental price per GPU-hour at which owning and renting cost the same (0.0 / inf)."""
    return solve_break_even_rent_price(own, busy_hours_per_day, relative_speed, horizon_years, rent).value


def owner_cost_per_gpu_hour(own: OwnOption, busy_hours_per_day: float,
                            horizon_years: float | None = None) -> float:
    """The owner's cost per busy GPU-hour over the card's life (or ``horizon_years``).

    Depreciation net of resale plus energy, maintenance and admin, divided by busy GPU-hours
    (levelised: present values over present-value-weighted hours when discounting). ``inf`` at 0 h.
    """
    horizon = own.life_years if horizon_years is None else horizon_years
    s = scenarios(own, horizon_years=horizon, busy_hours_per_day=busy_hours_per_day)
    return float(vec.owner_cost_per_gpu_hour(s))


# ----------------------------------------------------------------------------- numerical references


def _cost_gap(s: vec.Scenarios) -> Any:
    return lambda hours: float(vec.own_total_usd(s, hours) - vec.rent_total_usd(s, hours))


def break_even_hours_per_day_brentq(own: OwnOption, rent: RentOption, relative_speed: float = 1.0,
                                    horizon_years: float = DEFAULT_HORIZON_YEARS) -> float:
    """:func:`break_even_hours_per_day` by root-finding on the two cost functions (reference)."""
    return break_even_hours_brentq_scenario(
        scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years))


def break_even_hours_brentq_scenario(s: vec.Scenarios) -> float:
    """Brentq on ``own − rent`` over [0, 24] busy hours, bracketing at the powered-hours kink."""
    from scipy.optimize import brentq

    gap = _cost_gap(s)
    if gap(0.0) <= 0:
        return 0.0
    powered = float(s.powered_hours_per_day)
    knots = [0.0, *([powered] if 0.0 < powered < 24.0 else []), 24.0]
    for low, high in itertools.pairwise(knots):
        if gap(low) > 0 >= gap(high):
            return float(brentq(gap, low, high, xtol=1e-12, rtol=1e-12))
    return math.inf


def break_even_rent_price_brentq(own: OwnOption, busy_hours_per_day: float, relative_speed: float = 1.0,
                                 horizon_years: float = DEFAULT_HORIZON_YEARS,
                                 rent: RentOption | None = None) -> float:
    """:func:`break_even_rent_price` by root-finding on the price (reference)."""
    from dataclasses import replace

    from scipy.optimize import brentq

    rent = rent if rent is not None else RentOption(gpu=own.gpu)
    base = scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years,
                     busy_hours_per_day=busy_hours_per_day)

    def gap(price: float) -> float:
        s = replace(base, rent_usd_per_gpu_hour=price)
        return float(vec.own_total_usd(s) - vec.rent_total_usd(s))

    if gap(0.0) <= 0:
        return 0.0
    high = 1.0
    while gap(high) > 0:
        high *= 2
        if high > 1e9:
            return math.inf
    return float(brentq(gap, 0.0, high, xtol=1e-12, rtol=1e-12))


def payback_days_brentq(own: OwnOption, rent: RentOption, busy_hours_per_day: float,
                        relative_speed: float = 1.0) -> float:
    """:func:`break_even_days` by brentq on the cumulative saving, evaluated by summing month by month.

    The cumulative (discounted) saving is summed month by month in plain Python and linearly
    interpolated within months, the same convention as the vectorised scan, so the two must agree.
    """
    from scipy.optimize import brentq

    s = scenarios(own, rent, relative_speed=relative_speed, busy_hours_per_day=busy_hours_per_day)
    capex = float(s.capex_usd)
    if capex <= 0:
        return 0.0
    rate = float(s.discount_rate)
    energy_per_month = float(vec.energy_usd_per_day(s)) * vec.DAYS_PER_MONTH
    running = energy_per_month + float(s.maintenance_usd_per_month + s.admin_usd_per_month)
    rent_base = (vec.DAYS_PER_MONTH * busy_hours_per_day * float(s.rent_gpu_hours_per_busy_hour)
                 * float(s.rent_overhead_factor) * float(s.rent_usd_per_gpu_hour))
    changes = [float(c) for c in s.annual_price_change]
    cumulative = [0.0]
    multiplier = 1.0
    for month in range(1, vec.PAYBACK_MAX_YEARS * 12 + 1):
        change = changes[min((month - 1) // 12, len(changes) - 1)]
        flow = rent_base * multiplier + float(s.storage_usd_per_month) - running
        cumulative.append(cumulative[-1] + flow * (1 + rate) ** (-month / 12))
        multiplier *= (1 + change) ** (1 / 12)
        if cumulative[-1] >= capex:
            break
    if cumulative[-1] < capex:
        return math.inf

    def saving(months: float) -> float:
        whole = min(int(months), len(cumulative) - 2)
        part = months - whole
        return cumulative[whole] + part * (cumulative[whole + 1] - cumulative[whole]) - capex

    months = brentq(saving, len(cumulative) - 2, len(cumulative) - 1, xtol=1e-12)
    return float(months * vec.DAYS_PER_MONTH)


# ----------------------------------------------------------------------------- the whole comparison


@dataclass(frozen=True)
class Comparison:
    """Both sides for the same work, the break-even figures and the inputs behind them."""

    own: CostBreakdown | Infeasible
    rent: CostBreakdown | Infeasible
    busy_hours_per_day: float
    relative_speed: float
    horizon_years: float
    break_even_hours_per_day: Solution | None
    payback: Solution | None
    break_even_rent_price: Solution | None
    owner_cost_per_gpu_hour: float | None
    assumptions: tuple[Assumption, ...] = field(default_factory=tuple)

    @property
    def saving_usd(self) -> float | None:
        """Renting minus owning (present value): positive when owning is cheaper."""
        if isinstance(self.own, Infeasible) or isinstance(self.rent, Infeasible):
            return None
        return self.rent.total_usd - self.own.total_usd

    @property
    def verdict(self) -> str:
        """The answer in one sentence."""
        if isinstance(self.own, Infeasible) and isinstance(self.rent, Infeasible):
            return f"Neither option can do this job: {self.own.reason}; {self.rent.reason}."
        if isinstance(self.own, Infeasible):
            return f"Rent: {self.own.option} cannot do this job ({self.own.reason})."
        if isinstance(self.rent, Infeasible):
            return f"Own: {self.rent.option} cannot do this job ({self.rent.reason})."
        saving = self.saving_usd or 0.0
        winner, loser = (self.own, self.rent) if saving > 0 else (self.rent, self.own)
        return (f"{winner.option.capitalize()} is cheaper at {self.busy_hours_per_day:g} busy hours a day "
                f"over {_years(self.horizon_years)}: ${winner.total_usd:,.0f} against ${loser.total_usd:,.0f} "
                f"for {loser.option}.")

    def to_dict(self) -> dict[str, Any]:
        def side(item: CostBreakdown | Infeasible) -> dict[str, Any]:
            if isinstance(item, Infeasible):
                return {"option": item.option, "feasible": False, "reason": item.reason}
            return {"option": item.option, "feasible": True, "lines_usd": item.lines_usd,
                    "total_usd": item.total_usd, "nominal_total_usd": item.nominal_total_usd,
                    "gpu_hours": item.gpu_hours, "usd_per_gpu_hour": item.usd_per_gpu_hour}

        def solution(item: Solution | None) -> dict[str, Any] | None:
            return None if item is None else {"value": item.value, "status": item.status, "unit": item.unit,
                                              "explanation": item.explanation}

        return {
            "verdict": self.verdict,
            "busy_hours_per_day": self.busy_hours_per_day,
            "relative_speed": self.relative_speed,
            "horizon_years": self.horizon_years,
            "saving_usd": self.saving_usd,
            "own": side(self.own),
            "rent": side(self.rent),
            "break_even_hours_per_day": solution(self.break_even_hours_per_day),
            "payback_days": solution(self.payback),
            "break_even_rent_price_usd_per_gpu_hour": solution(self.break_even_rent_price),
            "owner_cost_per_gpu_hour_usd": self.owner_cost_per_gpu_hour,
            "assumptions": [{"name": a.name, "value": a.value, "unit": a.unit, "source": a.source}
                            for a in self.assumptions],
        }


def compare(own: OwnOption, rent: RentOption, *, busy_hours_per_day: float, relative_speed: float = 1.0,
            horizon_years: float = DEFAULT_HORIZON_YEARS, own_infeasible: str | None = None,
            rent_infeasible: str | None = None, assumptions: Sequence[Assumption] = ()) -> Comparison:
    """Price both options for the same work and solve every break-even form.

    ``own_infeasible`` / ``rent_infeasible`` carry the reason an option cannot run the job (it does
    not fit in memory); such a side is reported, not priced, and no break-even is computed.
    """
    check_usage(busy_hours_per_day=busy_hours_per_day, relative_speed=relative_speed, horizon_years=horizon_years)
    own_side: CostBreakdown | Infeasible = (
        Infeasible(own.label, own_infeasible) if own_infeasible else own_cost(own, busy_hours_per_day, horizon_years))
    rent_side: CostBreakdown | Infeasible = (
        Infeasible(rent.label, rent_infeasible) if rent_infeasible
        else rent_cost(rent, busy_hours_per_day, relative_speed, horizon_years, discount_rate=own.discount_rate))
    both = not (own_infeasible or rent_infeasible)
    return Comparison(
        own=own_side,
        rent=rent_side,
        busy_hours_per_day=busy_hours_per_day,
        relative_speed=relative_speed,
        horizon_years=horizon_years,
        break_even_hours_per_day=solve_break_even_hours_per_day(own, rent, relative_speed, horizon_years)
        if both else None,
        payback=solve_break_even_days(own, rent, busy_hours_per_day, relative_speed) if both else None,
        break_even_rent_price=solve_break_even_rent_price(own, busy_hours_per_day, relative_speed,
                                                          horizon_years, rent) if both else None,
        owner_cost_per_gpu_hour=None if own_infeasible else owner_cost_per_gpu_hour(own, busy_hours_per_day),
        assumptions=tuple(assumptions),
    )
