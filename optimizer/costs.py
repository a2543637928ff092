"""The two ways to get GPU work done, and what each costs over a horizon.

``OwnOption`` is a machine you buy; ``RentOption`` is GPU-hours you pay for. Both are frozen
dataclasses validated on construction (a bad field raises ``ValueError`` naming it). The money
comes out as a :class:`CostBreakdown` whose lines a finance lead can add up.

Model choices (see ``optimizer/vectorized.py`` for the formulas):

* **Work is the owned machine's busy hours.** ``busy_hours_per_day`` is how long the owned machine
  (all its ``count`` cards) is busy; renting the *same work* needs ``busy / relative_speed`` hours of
  the rented option, i.e. ``busy × rent.count / relative_speed`` GPU-hours. ``relative_speed`` is
  option-to-option (DESIGN.md); :func:`option_relative_speed` builds it from single-GPU speeds and
  each option's ``scaling_efficiency``.
* **Horizon vs life.** The comparison runs over ``horizon_years``. At its end the owned cards are
  sold at the value the depreciation schedule gives for that age (``life_years`` only shapes the
  schedule; a card kept past its life sits at its residual value and keeps working).
  :func:`optimizer.breakeven.owner_cost_per_gpu_hour` uses the life as its horizon.
* **Power.** ``powered_hours_per_day=None`` means the machine is on only while busy (no idle
  draw). A number ``P`` means it is on ``P`` hours a day and draws ``idle_watts`` per card when on
  but not busy; busy hours beyond ``P`` are simply powered too.
* **Per-job overhead.** Renting bills ``overhead_hours_per_job`` on top of each job of
  ``job_hours`` rented hours (spin-up, data upload), i.e. a factor ``1 + overhead/job_hours`` on
  rented hours; spot capacity adds ``interruption_overhead`` (re-run work after preemptions).
* **Time value.** Monthly cash flows discounted at the owner's ``discount_rate`` (both sides).
  Breakdown lines are plain (undiscounted) sums; the ``financing`` line is the present value minus
  those sums, so the lines always add up to the present value that is compared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer import vectorized as vec
from optimizer.depreciation import DEPRECIATION_METHODS, ResaleCurve, remaining_fraction

DEFAULT_HORIZON_YEARS = 3.0
PRICINGS: tuple[str, ...] = ("on-demand", "spot")


@dataclass(frozen=True)
class Assumption:
    """One input of a result and where it came from (command line, setting, live price, default)."""

    name: str
    value: Any
    unit: str
    source: str


def _number(owner: str, name: str, value: Any, *, low: float | None = 0.0, high: float | None = None,
            strict: bool = False, label: str = "") -> None:
    """Raise a one-sentence ``ValueError`` naming ``owner.name`` unless low ≤ value ≤ high.

    Infinities are refused even where no bound is set: they turn every total into NaN.
    """
    what = f"{owner}.{name}" + (f" ({label})" if label else "")
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{what} must be a number; got {value!r}.")
    if math.isinf(value):
        raise ValueError(f"{what} must be a finite number; got {value!r}.")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{what} must be {'above' if strict else 'at least'} {low:g}; got {value:g}.")
    if high is not None and value > high:
        raise ValueError(f"{what} must be at most {high:g}; got {value:g}.")


def _gpu(owner: str, gpu_id: str) -> None:
    from config.catalog import gpus

    known = gpus()
    if gpu_id not in known:
        raise ValueError(f"{owner}.gpu: unknown GPU id {gpu_id!r}; known GPU ids: {', '.join(known)}.")


def _count(owner: str, count: Any) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{owner}.count (number of GPUs) must be a whole number of at least 1; got {count!r}.")


@dataclass(frozen=True)
class OwnOption:
    """A machine you buy: ``count`` cards of ``gpu`` plus the system around them.

    Money per card (``purchase_usd``), for the whole machine (``system_usd``,
    ``maintenance_usd_per_year``), watts per card. ``resale_fraction`` is the value left at the end
    of ``life_years`` (straight-line, declining balance). ``depreciation`` is a schedule name or a
    fitted :class:`~optimizer.depreciation.ResaleCurve`. ``discount_rate`` is the owner's annual cost
    of capital and discounts both sides of a comparison.
    """

    gpu: str = "rtx-4090"
    count: int = 1
    purchase_usd: float = 1800.0
    system_usd: float = 0.0
    life_years: float = 3.0
    resale_fraction: float = 0.4
    depreciation: str | ResaleCurve = "straight-line"
    load_watts: float = 450.0
    idle_watts: float = 0.0
    powered_hours_per_day: float | None = None
    usd_per_kwh: float = 0.165
    pue: float = 1.0
    maintenance_usd_per_year: float = 0.0
    discount_rate: float = 0.0
    declining_balance_rate: float | None = None
    admin_hours_per_month: float = 0.0
    admin_usd_per_hour: float = 0.0
    scaling_efficiency: float = 1.0

    def __post_init__(self) -> None:
        owner = "OwnOption"
        _gpu(owner, self.gpu)
        _count(owner, self.count)
        _number(owner, "purchase_usd", self.purchase_usd, label="price per card")
        _number(owner, "system_usd", self.system_usd, label="price of the rest of the machine")
        _number(owner, "life_years", self.life_years, strict=True, high=100.0)
        _number(owner, "resale_fraction", self.resale_fraction, high=1.0,
                label="value left at the end of the life, 0 to 1")
        _number(owner, "load_watts", self.load_watts, label="draw per card while busy")
        _number(owner, "idle_watts", self.idle_watts, label="draw per card while on but idle")
        if self.powered_hours_per_day is not None:
            _number(owner, "powered_hours_per_day", self.powered_hours_per_day, high=24.0)
        _number(owner, "usd_per_kwh", self.usd_per_kwh, label="electricity price")
        _number(owner, "pue", self.pue, low=1.0, label="PUE/cooling factor, 1.0 or more")
        _number(owner, "maintenance_usd_per_year", self.maintenance_usd_per_year)
        _number(owner, "discount_rate", self.discount_rate, high=10.0, label="annual cost of capital")
        _number(owner, "admin_hours_per_month", self.admin_hours_per_month, high=744.0)
        _number(owner, "admin_usd_per_hour", self.admin_usd_per_hour)
        _number(owner, "scaling_efficiency", self.scaling_efficiency, strict=True, high=1.0)
        if isinstance(self.depreciation, ResaleCurve):
            return
        if self.depreciation not in DEPRECIATION_METHODS:
            raise ValueError(f"OwnOption.depreciation {self.depreciation!r} is not one of "
                             f"{', '.join(DEPRECIATION_METHODS)} (or a fitted ResaleCurve).")
        if self.depreciation == "fitted":
            raise ValueError("OwnOption.depreciation='fitted' needs the fitted curve itself: pass "
                             "optimizer.defaults.fitted_resale_curve(gpu) or fit_resale_curve(...).")
        if self.declining_balance_rate is not None:
            _number(owner, "declining_balance_rate", self.declining_balance_rate, strict=True, high=1.0)
        elif self.depreciation == "declining-balance" and self.resale_fraction <= 0:
            raise ValueError("OwnOption.declining_balance_rate is needed when resale_fraction is 0: a "
                             "declining balance never reaches zero, so no rate can be derived.")

    @property
    def label(self) -> str:
        return f"own {self.count}x {self.gpu}"

    @property
    def capex_usd(self) -> float:
        """Cards plus system, paid on day 0."""
        return self.count * self.purchase_usd + self.system_usd

    def resale_usd(self, held_years: Any) -> Any:
        """What the machine fetches after ``held_years`` (cards by the schedule or curve, system alike).

        With a fitted curve the cards follow street prices and the system depreciates straight-line
        to ``resale_fraction`` over the life.
        """
        held = np.asarray(held_years, dtype=float)
        if isinstance(self.depreciation, ResaleCurve):
            cards = self.count * self.depreciation.value_usd(held)
            system_method = "straight-line"
        else:
            cards = self.count * self.purchase_usd * self._fraction(self.depreciation, held)
            system_method = self.depreciation
        return cards + self.system_usd * self._fraction(system_method, held)

    def _fraction(self, method: str, held: Any) -> Any:
        return remaining_fraction(method, held, life_years=self.life_years, resale_fraction=self.resale_fraction,
                                  declining_balance_rate=self.declining_balance_rate)

    @property
    def admin_usd_per_month(self) -> float:
        return self.admin_hours_per_month * self.admin_usd_per_hour


def _price_changes(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        from optimizer.defaults import price_scenarios

        presets = price_scenarios()
        if value not in presets:
            raise ValueError(f"RentOption.annual_price_change: unknown scenario {value!r}; "
                             f"use a number, one number per year, or one of {', '.join(presets)}.")
        return presets[value]
    steps = tuple(value) if isinstance(value, tuple | list) else (value,)
    if not steps:
        raise ValueError("RentOption.annual_price_change needs at least one yearly change.")
    for step in steps:
        _number("RentOption", "annual_price_change", step, low=-1.0, strict=True, high=10.0,
                label="yearly change of the rental price, e.g. -0.2 for -20 %")
    return tuple(float(step) for step in steps)


@dataclass(frozen=True)
class RentOption:
    """Rented GPU-hours: ``count`` GPUs of ``gpu`` at ``usd_per_gpu_hour`` each, today.

    ``annual_price_change`` is a yearly change (``-0.2``), one per year (the last repeats), or a
    named scenario (``"flat"``, ``"falling"``, ``"rebound"`` from ``economics.toml``).
    ``overhead_hours_per_job`` is billed per job of ``job_hours`` rented hours;
    ``interruption_overhead`` is extra billed work for spot capacity (0.1 = 10 % more hours).
    """

    gpu: str = "h100-sxm"
    count: int = 1
    usd_per_gpu_hour: float = 2.69
    overhead_hours_per_job: float = 0.0
    annual_price_change: float | tuple[float, ...] | str = 0.0
    job_hours: float | None = None
    pricing: str = "on-demand"
    interruption_overhead: float = 0.0
    storage_usd_per_month: float = 0.0
    scaling_efficiency: float = 1.0
    price_changes: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner = "RentOption"
        _gpu(owner, self.gpu)
        _count(owner, self.count)
        _number(owner, "usd_per_gpu_hour", self.usd_per_gpu_hour, label="rental price")
        _number(owner, "overhead_hours_per_job", self.overhead_hours_per_job)
        if self.job_hours is not None:
            _number(owner, "job_hours", self.job_hours, strict=True, label="rented hours per job")
        elif self.overhead_hours_per_job > 0:
            raise ValueError("RentOption.job_hours (rented hours per job) is needed to spread "
                             "overhead_hours_per_job over the work.")
        if self.pricing not in PRICINGS:
            raise ValueError(f"RentOption.pricing must be one of {', '.join(PRICINGS)}; got {self.pricing!r}.")
        _number(owner, "interruption_overhead", self.interruption_overhead, high=10.0)
        _number(owner, "storage_usd_per_month", self.storage_usd_per_month)
        _number(owner, "scaling_efficiency", self.scaling_efficiency, strict=True, high=1.0)
        object.__setattr__(self, "price_changes", _price_changes(self.annual_price_change))

    @property
    def label(self) -> str:
        spot = " spot" if self.pricing == "spot" else ""
        return f"rent {self.count}x {self.gpu}{spot}"

    @property
    def overhead_factor(self) -> float:
        """Billed hours per hour of work: per-job overhead × spot re-runs."""
        per_job = 1.0 + (self.overhead_hours_per_job / self.job_hours if self.job_hours else 0.0)
        return per_job * (1.0 + self.interruption_overhead)


def option_relative_speed(own: OwnOption, rent: RentOption, *, own_gpu_speed: float,
                          rent_gpu_speed: float) -> float:
    """Option-to-option ``relative_speed`` from single-GPU speeds (tokens/s, or any common unit).

    A rented option's throughput is ``count × scaling_efficiency × single-GPU speed``; the same for
    the owned machine. An H100 at 3× a 4090 against a 2×4090 box at 90 % scaling gives
    ``3 / (2 × 0.9) = 1.67``.
    """
    _number("option_relative_speed", "own_gpu_speed", own_gpu_speed, strict=True)
    _number("option_relative_speed", "rent_gpu_speed", rent_gpu_speed, strict=True)
    rent_speed = rent.count * rent.scaling_efficiency * rent_gpu_speed
    own_speed = own.count * own.scaling_efficiency * own_gpu_speed
    return rent_speed / own_speed


def check_usage(*, busy_hours_per_day: float | None = None, relative_speed: float | None = None,
                horizon_years: float | None = None) -> None:
    """Validate the arguments the solvers share (one sentence naming the field)."""
    if busy_hours_per_day is not None:
        _number("usage", "busy_hours_per_day", busy_hours_per_day, high=24.0,
                label="owned machine's busy hours a day, 0 to 24")
    if relative_speed is not None:
        _number("usage", "relative_speed", relative_speed, strict=True, high=1e6,
                label="owned busy hours one rented hour replaces")
    if horizon_years is not None:
        _number("usage", "horizon_years", horizon_years, strict=True, high=100.0)


def scenarios(own: OwnOption, rent: RentOption | None = None, *, relative_speed: float = 1.0,
              horizon_years: float = DEFAULT_HORIZON_YEARS, busy_hours_per_day: float = 0.0) -> vec.Scenarios:
    """The vectorised model's inputs for one comparison (0-d arrays): the scalar API's only route."""
    check_usage(busy_hours_per_day=busy_hours_per_day, relative_speed=relative_speed, horizon_years=horizon_years)
    rent = rent if rent is not None else RentOption(gpu=own.gpu, usd_per_gpu_hour=0.0)
    return vec.Scenarios(
        capex_usd=own.capex_usd,
        resale_usd=own.resale_usd(horizon_years),
        load_kw=own.count * own.load_watts / 1000.0,
        idle_kw=own.count * own.idle_watts / 1000.0,
        powered_hours_per_day=math.nan if own.powered_hours_per_day is None else own.powered_hours_per_day,
        usd_per_kwh=own.usd_per_kwh,
        pue=own.pue,
        maintenance_usd_per_month=own.maintenance_usd_per_year / vec.MONTHS_PER_YEAR,
        admin_usd_per_month=own.admin_usd_per_month,
        own_gpu_count=own.count,
        rent_usd_per_gpu_hour=rent.usd_per_gpu_hour,
        rent_gpu_hours_per_busy_hour=rent.count / relative_speed,
        rent_overhead_factor=rent.overhead_factor,
        storage_usd_per_month=rent.storage_usd_per_month,
        annual_price_change=rent.price_changes,
        discount_rate=own.discount_rate,
        horizon_years=horizon_years,
        busy_hours_per_day=busy_hours_per_day,
    )


@dataclass(frozen=True)
class CostBreakdown:
    """What one option costs over the horizon, line by line.

    ``lines_usd`` are plain sums over the horizon (capex, resale credit, energy...) plus a
    ``financing`` line = present value − plain sum, so the lines add up to ``total_usd``, the
    present value at the purchase date that the comparison uses. ``gpu_hours`` are the owned busy
    GPU-hours or the billed rented GPU-hours.
    """

    option: str
    lines_usd: dict[str, float]
    total_usd: float
    nominal_total_usd: float
    gpu_hours: float
    horizon_years: float
    discount_rate: float

    @property
    def usd_per_gpu_hour(self) -> float:
        return self.total_usd / self.gpu_hours if self.gpu_hours > 0 else math.inf

    def rows(self) -> list[dict[str, Any]]:
        """One row per line and the total, for ``render.text_table``."""
        rows = [{"line": name.replace("_", " "), "usd": value} for name, value in self.lines_usd.items()]
        rows.append({"line": "total (present value)" if self.discount_rate else "total", "usd": self.total_usd})
        return rows


@dataclass(frozen=True)
class Infeasible:
    """An option that cannot do the job (it does not fit): reported with the reason, never priced."""

    option: str
    reason: str


def _floats(lines: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in lines.items()}


def own_cost(own: OwnOption, busy_hours_per_day: float,
             horizon_years: float = DEFAULT_HORIZON_YEARS) -> CostBreakdown:
    """Owning ``own`` for ``horizon_years`` at ``busy_hours_per_day``, as an auditable breakdown."""
    s = scenarios(own, horizon_years=horizon_years, busy_hours_per_day=busy_hours_per_day)
    plain = _floats(vec.own_lines(s, discounted=False))
    present = _floats(vec.own_lines(s, discounted=True))
    lines = {"cards": float(own.count * own.purchase_usd), "system": float(own.system_usd)}
    lines.update({name: value for name, value in plain.items() if name != "capex"})
    nominal = sum(plain.values())
    total = sum(present.values())
    lines["financing"] = total - nominal
    busy_gpu_hours = vec.DAYS_PER_YEAR * horizon_years * busy_hours_per_day * own.count
    return CostBreakdown(own.label, lines, total, nominal, busy_gpu_hours, horizon_years, own.discount_rate)


def rent_cost(rent: RentOption, busy_hours_per_day: float, relative_speed: float = 1.0,
              horizon_years: float = DEFAULT_HORIZON_YEARS, *, discount_rate: float = 0.0) -> CostBreakdown:
    """Renting the work of ``busy_hours_per_day`` owned busy hours for ``horizon_years``."""
    own = OwnOption(gpu=rent.gpu, purchase_usd=0.0, discount_rate=discount_rate)
    s = scenarios(own, rent, relative_speed=relative_speed, horizon_years=horizon_years,
                  busy_hours_per_day=busy_hours_per_day)
    plain = _floats(vec.rent_lines(s, discounted=False))
    present = _floats(vec.rent_lines(s, discounted=True))
    nominal = sum(plain.values())
    total = sum(present.values())
    lines = {**plain, "financing": total - nominal}
    gpu_hours = float(vec.rented_gpu_hours(s))
    return CostBreakdown(rent.label, lines, total, nominal, gpu_hours, horizon_years, discount_rate)


def model_assumptions() -> Sequence[Assumption]:
    """The conventions every result rests on, for the audit trail."""
    convention = "rentbuy model convention (optimizer/vectorized.py)"
    return (
        Assumption("days per month", vec.DAYS_PER_MONTH, "days", convention),
        Assumption("cash flows", "monthly, at month end; capex on day 0; resale at the horizon", "", convention),
        Assumption("discounting", "(1 + discount_rate)^(-months/12), both sides", "", convention),
    )
