"""What an owned card is worth after some years: depreciation schedules and a fitted resale curve.

Every function here returns the value left as a *fraction* and works on NumPy arrays as well as
on floats, so the same code serves one comparison and a million-scenario Monte Carlo.

Schedules (``OwnOption.depreciation``):

* ``straight-line``: value falls linearly from the price to ``resale_fraction`` of it over
  ``life_years`` and stays at that residual afterwards (the card keeps working past its book life).
* ``declining-balance``: value × (1 − rate) each year, continuously in time. Without an explicit
  rate, the rate is the one that leaves ``resale_fraction`` at the end of the life. Epoch AI's
  decay of accelerator value, 0.14 orders of magnitude a year, is a declining balance at
  ``1 − 10**-0.14 = 27.56 %`` a year (38 % left after 3 years, 20 % after 5).
* ``macrs-5``: the US tax view. The undepreciated tax basis of 5-year property under MACRS with the
  half-year convention (IRS Publication 946, Table A-1: 20 / 32 / 19.2 / 11.52 / 11.52 / 5.76 %),
  linear within each tax year. It is a tax book value, not a market price, and ignores
  ``resale_fraction`` and ``life_years``.
* ``fitted``: a :class:`ResaleCurve`, street-price history fitted with ``scipy.optimize.curve_fit``
  as exponential decay toward a floor. Used-card prices follow the *model's* age (a 3090 bought
  in 2026 sells like a 6-year-old 3090), so the curve values the card against the model's launch
  price, not against what this buyer paid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEPRECIATION_METHODS: tuple[str, ...] = ("straight-line", "declining-balance", "macrs-5", "fitted")

# IRS Publication 946, Table A-1 (GDS, half-year convention), 5-year property: share of the basis
# deducted in tax years 1..6. Computers and peripheral equipment are 5-year property.
MACRS_5_HALF_YEAR: tuple[float, ...] = (0.20, 0.32, 0.192, 0.1152, 0.1152, 0.0576)

FloatArray = NDArray[np.float64]


def straight_line_fraction(age_years: ArrayLike, life_years: ArrayLike, residual_fraction: ArrayLike) -> Any:
    """Value left after ``age_years``: linear to ``residual_fraction`` at ``life_years``, flat after."""
    age = np.asarray(age_years, dtype=float)
    used_up = np.clip(age / np.asarray(life_years, dtype=float), 0.0, 1.0)
    return 1.0 - (1.0 - np.asarray(residual_fraction, dtype=float)) * used_up


def declining_balance_rate_for(life_years: ArrayLike, residual_fraction: ArrayLike) -> Any:
    """The annual rate that leaves ``residual_fraction`` after ``life_years`` (needs residual > 0)."""
    residual = np.asarray(residual_fraction, dtype=float)
    if np.any(residual <= 0.0):
        raise ValueError("Declining balance needs a resale_fraction above 0 to derive its rate "
                         "(a balance never declines to zero); set declining_balance_rate instead.")
    return 1.0 - residual ** (1.0 / np.asarray(life_years, dtype=float))


def declining_balance_fraction(age_years: ArrayLike, annual_rate: ArrayLike) -> Any:
    """Value left after ``age_years`` when it loses ``annual_rate`` of itself each year."""
    return (1.0 - np.asarray(annual_rate, dtype=float)) ** np.maximum(np.asarray(age_years, dtype=float), 0.0)


def macrs5_fraction(age_years: ArrayLike) -> Any:
    """Undepreciated MACRS 5-year tax basis after ``age_years`` (half-year convention, Pub 946 A-1).

    The deduction of each tax year is spread evenly over that year, so the basis is piecewise
    linear through 1, 0.80, 0.48, 0.288, 0.1728, 0.0576 and 0 at the ends of years 0..6.
    """
    knots_years = np.arange(len(MACRS_5_HALF_YEAR) + 1, dtype=float)
    basis_left = 1.0 - np.concatenate(([0.0], np.cumsum(MACRS_5_HALF_YEAR)))
    basis_left[-1] = 0.0  # the table sums to exactly 100 %; remove float dust
    return np.interp(np.asarray(age_years, dtype=float), knots_years, basis_left)


def exponential_floor(age_years: ArrayLike, initial_fraction: float, floor_fraction: float,
                      decay_per_year: float) -> Any:
    """``floor + (initial − floor)·exp(−decay·age)``: the resale model fitted to street prices."""
    age = np.asarray(age_years, dtype=float)
    return floor_fraction + (initial_fraction - floor_fraction) * np.exp(-decay_per_year * age)


@dataclass(frozen=True)
class ResaleCurve:
    """Street value of a GPU model against its age, as a fraction of ``reference_price_usd``.

    ``value_usd(held_years)`` is what the card fetches after being held ``held_years`` when it was
    bought at model age ``age_at_purchase_years``. Build one with :func:`fit_resale_curve`; the fit's
    parameter standard errors, RMSE and point count travel with it so reports can show them.
    """

    initial_fraction: float
    floor_fraction: float
    decay_per_year: float
    reference_price_usd: float
    age_at_purchase_years: float = 0.0
    stderr: dict[str, float] = field(default_factory=dict)
    rmse_fraction: float = float("nan")
    n_points: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if not self.reference_price_usd > 0:
            raise ValueError(f"ResaleCurve.reference_price_usd must be above 0; got {self.reference_price_usd}.")
        if self.age_at_purchase_years < 0:
            raise ValueError("ResaleCurve.age_at_purchase_years cannot be negative; "
                             f"got {self.age_at_purchase_years}.")
        if self.decay_per_year < 0 or self.floor_fraction < 0:
            raise ValueError("ResaleCurve.decay_per_year and floor_fraction cannot be negative.")

    def value_fraction(self, age_years: ArrayLike) -> Any:
        """Street value at model age ``age_years`` as a fraction of the reference price."""
        return exponential_floor(age_years, self.initial_fraction, self.floor_fraction, self.decay_per_year)

    def value_usd(self, held_years: ArrayLike) -> Any:
        """What one card fetches after ``held_years`` in this buyer's hands."""
        return self.reference_price_usd * self.value_fraction(self.age_at_purchase_years + np.asarray(held_years))

    def at_purchase_age(self, age_at_purchase_years: float) -> ResaleCurve:
        """The same curve for a card bought when the model was ``age_at_purchase_years`` old."""
        from dataclasses import replace

        return replace(self, age_at_purchase_years=age_at_purchase_years)

    def describe(self) -> str:
        """One line a reader can check against the data: parameters ± standard errors and the fit error."""
        def pm(name: str, value: float) -> str:
            err = self.stderr.get(name)
            return f"{value:.3g} ± {err:.2g}" if err is not None and math.isfinite(err) else f"{value:.3g}"

        return (f"value/price = {pm('floor_fraction', self.floor_fraction)} + "
                f"({pm('initial_fraction', self.initial_fraction)} − floor)·exp(−"
                f"{pm('decay_per_year', self.decay_per_year)}/yr · age); "
                f"RMSE {self.rmse_fraction:.3f} of price over {self.n_points} points")


def fit_resale_curve(ages_years: Sequence[float] | ArrayLike, prices_usd: Sequence[float] | ArrayLike,
                     reference_price_usd: float, *, source: str = "") -> ResaleCurve:
    """Fit ``floor + (initial − floor)·exp(−decay·age)`` to observed prices with ``curve_fit``.

    ``ages_years`` is the model's age at each observation (years since launch) and ``prices_usd``
    the observed used price; both are divided by ``reference_price_usd`` (normally launch MSRP).
    Needs at least four points, because three parameters are fitted.
    """
    from scipy.optimize import curve_fit

    ages = np.asarray(ages_years, dtype=float)
    prices = np.asarray(prices_usd, dtype=float)
    if ages.shape != prices.shape or ages.ndim != 1:
        raise ValueError("fit_resale_curve needs ages_years and prices_usd as two lists of the same length.")
    if len(ages) < 4:
        raise ValueError(f"fit_resale_curve needs at least 4 price observations; got {len(ages)}.")
    if np.any(ages < 0) or np.any(prices < 0) or not reference_price_usd > 0:
        raise ValueError("fit_resale_curve needs ages ≥ 0, prices ≥ 0 and a reference price above 0.")
    fractions = prices / reference_price_usd
    start = (float(fractions[np.argmin(ages)]), float(np.min(fractions)), 0.5)
    upper = (max(2.0, 1.5 * float(np.max(fractions))), max(2.0, float(np.max(fractions))), 20.0)
    params, covariance = curve_fit(exponential_floor, ages, fractions, p0=start,
                                   bounds=((0.0, 0.0, 0.0), upper), maxfev=20_000)
    residuals = fractions - exponential_floor(ages, *params)
    with np.errstate(invalid="ignore"):
        errors = np.sqrt(np.diag(covariance))
    names = ("initial_fraction", "floor_fraction", "decay_per_year")
    return ResaleCurve(
        initial_fraction=float(params[0]), floor_fraction=float(params[1]), decay_per_year=float(params[2]),
        reference_price_usd=float(reference_price_usd),
        stderr={name: float(err) for name, err in zip(names, errors, strict=True)},
        rmse_fraction=float(np.sqrt(np.mean(residuals**2))), n_points=len(ages), source=source,
    )


def remaining_fraction(method: str, held_years: ArrayLike, *, life_years: ArrayLike,
                       resale_fraction: ArrayLike, declining_balance_rate: ArrayLike | None = None) -> Any:
    """Value left after ``held_years`` as a fraction of the purchase price, for a named schedule.

    ``fitted`` is not handled here: a :class:`ResaleCurve` values the card in dollars.
    """
    if method == "straight-line":
        return straight_line_fraction(held_years, life_years, resale_fraction)
    if method == "declining-balance":
        rate = (declining_balance_rate_for(life_years, resale_fraction)
                if declining_balance_rate is None else declining_balance_rate)
        return declining_balance_fraction(held_years, rate)
    if method == "macrs-5":
        return macrs5_fraction(held_years)
    raise ValueError(f"Unknown depreciation {method!r}; use one of {', '.join(DEPRECIATION_METHODS)}.")
