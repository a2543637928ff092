"""Properties of the cost model and solvers, on random inputs (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer import vectorized as vec
from optimizer.breakeven import break_even_days, break_even_hours_per_day, break_even_rent_price
from optimizer.costs import OwnOption, RentOption, own_cost, rent_cost, scenarios

FAST = settings(max_examples=60, deadline=None)

prices = st.floats(200.0, 6000.0)
resales = st.floats(0.0, 0.9)
watts = st.floats(0.0, 700.0)
kwh = st.floats(0.0, 0.6)
rates = st.floats(0.0, 0.2)
rents = st.floats(0.05, 8.0)
speeds = st.floats(0.3, 8.0)
changes = st.floats(-0.5, 0.5)
horizons = st.floats(0.25, 6.0)
busy_hours = st.floats(0.0, 24.0)
powered = st.one_of(st.none(), st.floats(0.0, 24.0))


@st.composite
def own_options(draw: st.DrawFn) -> OwnOption:
    return OwnOption(
        count=draw(st.integers(1, 4)), purchase_usd=draw(prices), system_usd=draw(st.floats(0.0, 3000.0)),
        life_years=draw(st.floats(1.0, 6.0)), resale_fraction=draw(resales),
        depreciation=draw(st.sampled_from(["straight-line", "macrs-5"])), load_watts=draw(watts),
        idle_watts=draw(st.floats(0.0, 80.0)), powered_hours_per_day=draw(powered), usd_per_kwh=draw(kwh),
        pue=draw(st.floats(1.0, 1.6)), maintenance_usd_per_year=draw(st.floats(0.0, 500.0)),
        discount_rate=draw(rates), admin_hours_per_month=draw(st.floats(0.0, 4.0)),
        admin_usd_per_hour=draw(st.floats(0.0, 80.0)))


@st.composite
def rent_options(draw: st.DrawFn) -> RentOption:
    path = draw(st.one_of(changes, st.tuples(changes, changes), st.sampled_from(["flat", "falling", "rebound"])))
    return RentOption(count=draw(st.integers(1, 8)), usd_per_gpu_hour=draw(rents), annual_price_change=path,
                      overhead_hours_per_job=draw(st.floats(0.0, 1.0)), job_hours=draw(st.floats(0.5, 24.0)),
                      interruption_overhead=draw(st.floats(0.0, 0.3)),
                      storage_usd_per_month=draw(st.floats(0.0, 30.0)))


def _replace(option: object, **changes: object) -> object:
    from dataclasses import replace

    return replace(option, **changes)  # type: ignore[type-var]


@FAST
@given(own_options(), rent_options(), speeds, horizons, st.floats(1.01, 3.0))
def test_break_even_hours_fall_when_rent_rises(own: OwnOption, rent: RentOption, speed: float, horizon: float,
                                               factor: float) -> None:
    cheaper = break_even_hours_per_day(own, rent, speed, horizon)
    dearer = break_even_hours_per_day(own, _replace(rent, usd_per_gpu_hour=rent.usd_per_gpu_hour * factor),
                                      speed, horizon)
    assert dearer <= cheaper or math.isclose(dearer, cheaper, rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(own_options(), rent_options(), speeds, horizons, st.floats(1.01, 3.0))
def test_break_even_hours_rise_when_the_purchase_price_rises(own: OwnOption, rent: RentOption, speed: float,
                                                             horizon: float, factor: float) -> None:
    base = break_even_hours_per_day(own, rent, speed, horizon)
    pricier = break_even_hours_per_day(_replace(own, purchase_usd=own.purchase_usd * factor), rent, speed, horizon)
    assert pricier >= base or math.isclose(pricier, base, rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(own_options(), rent_options(), speeds, horizons, busy_hours)
def test_discounting_at_zero_equals_plain_sums(own: OwnOption, rent: RentOption, speed: float, horizon: float,
                                               busy: float) -> None:
    plain = _replace(own, discount_rate=0.0)
    owned = own_cost(plain, busy, horizon)
    rented = rent_cost(rent, busy, speed, horizon, discount_rate=0.0)
    for cost in (owned, rented):
        assert cost.lines_usd["financing"] == 0.0
        assert math.isclose(cost.total_usd, cost.nominal_total_usd, rel_tol=1e-12, abs_tol=1e-9)
    # And the plain sums are what a month-by-month spreadsheet adds up (whole months only).
    months = round(12 * horizon)
    whole = months / 12
    s = scenarios(plain, rent, relative_speed=speed, horizon_years=whole, busy_hours_per_day=busy)
    multiplier = vec.price_multiplier_at(s.annual_price_change, (np.arange(months)) / 12)
    spreadsheet_rent = (float(s.rent_usd_per_gpu_hour) * vec.DAYS_PER_MONTH * busy * float(
        s.rent_gpu_hours_per_busy_hour * s.rent_overhead_factor) * multiplier.sum()
        + months * float(s.storage_usd_per_month))
    assert math.isclose(float(vec.rent_total_usd(s)), spreadsheet_rent, rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(st.lists(st.tuples(own_options(), rent_options(), speeds, horizons, busy_hours), min_size=1, max_size=8))
def test_scalar_equals_vectorised(cases: list[tuple[OwnOption, RentOption, float, float, float]]) -> None:
    built = [scenarios(o, r, relative_speed=v, horizon_years=h, busy_hours_per_day=b) for o, r, v, h, b in cases]
    steps = max(len(s.annual_price_change) for s in built)
    batch = vec.Scenarios(**{
        name: (tuple(np.array([s.annual_price_change[min(k, len(s.annual_price_change) - 1)] for s in built])
                     for k in range(steps)) if name == "annual_price_change"
               else np.array([getattr(s, name) for s in built]))
        for name in vec.Scenarios.__dataclass_fields__})
    hours = vec.break_even_hours_per_day(batch)
    price = vec.break_even_rent_price(batch)
    payback = vec.payback_days(batch)
    for k, (own, rent, speed, horizon, busy) in enumerate(cases):
        assert _same(hours[k], break_even_hours_per_day(own, rent, speed, horizon))
        assert _same(price[k], break_even_rent_price(own, busy, speed, horizon, rent))
        assert _same(payback[k], break_even_days(own, rent, busy, speed))


def _same(a: float, b: float) -> bool:
    return (math.isinf(a) and math.isinf(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@FAST
@given(own_options(), rent_options(), speeds, horizons)
def test_break_even_is_where_the_costs_cross(own: OwnOption, rent: RentOption, speed: float, horizon: float) -> None:
    hours = break_even_hours_per_day(own, rent, speed, horizon)
    s = scenarios(own, rent, relative_speed=speed, horizon_years=horizon)

    def gap(h: float) -> float:
        return float(vec.own_total_usd(s, h) - vec.rent_total_usd(s, h))

    scale = 1e-9 * (1 + float(s.capex_usd) + abs(gap(24.0)))
    if hours == 0.0:
        assert gap(0.0) <= scale
    elif math.isinf(hours):
        assert all(gap(h) > -scale for h in np.linspace(0, 24, 49))
    else:
        assert abs(gap(hours)) <= scale * 10
        assert all(gap(h) > -scale for h in np.linspace(0, hours, 12)[:-1])
