"""Tornado, sensitivity grids and Monte Carlo: they agree with the scalar solvers and are reproducible."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer.breakeven import break_even_hours_per_day, break_even_rent_price, compare
from optimizer.costs import OwnOption, RentOption
from optimizer.uncertainty import (
    Fixed,
    InputRange,
    Triangular,
    Uniform,
    default_distributions,
    monte_carlo,
    sensitivity_grid,
    tornado,
)

OWN = OwnOption(purchase_usd=1800.0, resale_fraction=0.4, load_watts=450.0, usd_per_kwh=0.15)
RENT = RentOption(usd_per_gpu_hour=2.50)


def test_tornado_ends_are_the_scalar_answers_and_widest_comes_first() -> None:
    ranges = [InputRange("own.purchase_usd", 1500.0, 2100.0), InputRange("rent.usd_per_gpu_hour", 1.0, 4.0),
              InputRange("own.usd_per_kwh", 0.10, 0.30)]
    chart = tornado(OWN, RENT, relative_speed=3.0, horizon_years=3.0, ranges=ranges)
    assert chart.base_result == pytest.approx(break_even_hours_per_day(OWN, RENT, 3.0, 3.0))
    by_name = {bar.name: bar for bar in chart.bars}
    low_rent = break_even_hours_per_day(OWN, replace(RENT, usd_per_gpu_hour=1.0), 3.0, 3.0)
    high_price = break_even_hours_per_day(replace(OWN, purchase_usd=2100.0), RENT, 3.0, 3.0)
    assert by_name["rent.usd_per_gpu_hour"].result_at_low == pytest.approx(low_rent)
    assert by_name["own.purchase_usd"].result_at_high == pytest.approx(high_price)
    swings = [bar.swing for bar in chart.bars]
    assert swings == sorted(swings, reverse=True)
    assert chart.bars[0].name == "rent.usd_per_gpu_hour"
    assert chart.rows()[0]["input"] == "rent.usd_per_gpu_hour"


def test_tornado_default_ranges_cover_the_questioned_inputs_and_other_metrics() -> None:
    chart = tornado(OWN, RENT, relative_speed=3.0, busy_hours_per_day=6.0)
    names = {bar.name for bar in chart.bars}
    assert {"rent.usd_per_gpu_hour", "own.resale_fraction", "own.usd_per_kwh", "relative_speed",
            "rent.annual_price_change"} <= names
    assert "busy_hours_per_day" not in names  # the break-even utilization does not depend on it
    price_chart = tornado(OWN, RENT, relative_speed=3.0, busy_hours_per_day=6.0, metric="break_even_rent_price")
    assert price_chart.base_result == pytest.approx(break_even_rent_price(OWN, 6.0, 3.0, 3.0, RENT))
    assert "busy_hours_per_day" in {bar.name for bar in price_chart.bars}


def test_tornado_rejects_unknown_inputs_and_metrics() -> None:
    with pytest.raises(ValueError, match="Unknown input"):
        tornado(OWN, RENT, ranges=[InputRange("colour", 0, 1)])
    with pytest.raises(ValueError, match="both options"):
        tornado(OWN, RENT, ranges=[InputRange("count", 1, 2)])
    with pytest.raises(ValueError, match="metric"):
        tornado(OWN, RENT, metric="vibes")


def test_grid_equals_scalar_comparisons() -> None:
    axes = {"busy_hours_per_day": [1.0, 6.0, 12.0], "rent_usd_per_gpu_hour": [1.0, 2.5],
            "usd_per_kwh": [0.1, 0.3], "resale_fraction": [0.2, 0.6]}
    grid = sensitivity_grid(OWN, RENT, axes, relative_speed=3.0, metric="saving_usd")
    assert grid.shape == (3, 2, 2, 2)
    for i, busy in enumerate(axes["busy_hours_per_day"]):
        for j, price in enumerate(axes["rent_usd_per_gpu_hour"]):
            for k, kwh in enumerate(axes["usd_per_kwh"]):
                for m, resale in enumerate(axes["resale_fraction"]):
                    own = replace(OWN, usd_per_kwh=kwh, resale_fraction=resale)  # life = horizon = 3 years
                    result = compare(own, replace(RENT, usd_per_gpu_hour=price), busy_hours_per_day=busy,
                                     relative_speed=3.0)
                    assert grid[i, j, k, m] == pytest.approx(result.saving_usd)


def test_monte_carlo_is_reproducible_with_a_seed() -> None:
    first = monte_carlo(OWN, RENT, relative_speed=3.0, samples=5000, seed=7)
    again = monte_carlo(OWN, RENT, relative_speed=3.0, samples=5000, seed=7)
    other = monte_carlo(OWN, RENT, relative_speed=3.0, samples=5000, seed=8)
    assert first == again
    assert first.saving_percentiles_usd != other.saving_percentiles_usd
    assert 0.0 <= first.probability_own_cheaper <= 1.0
    values = list(first.saving_percentiles_usd.values())
    assert values == sorted(values)
    assert set(first.inputs) == set(default_distributions())


def test_monte_carlo_with_fixed_inputs_is_the_scalar_answer() -> None:
    fixed = {"usd_per_kwh": Fixed(0.15), "busy_hours_per_day": Fixed(6.0), "rent_price_multiplier": Fixed(1.0)}
    result = monte_carlo(OWN, RENT, relative_speed=3.0, distributions=fixed, samples=100, seed=1)
    saving = compare(OWN, RENT, busy_hours_per_day=6.0, relative_speed=3.0).saving_usd
    assert result.probability_own_cheaper == 1.0
    assert all(value == pytest.approx(saving) for value in result.saving_percentiles_usd.values())
    assert result.break_even_hours_percentiles[50] == pytest.approx(break_even_hours_per_day(OWN, RENT, 3.0, 3.0))


def test_monte_carlo_probability_tracks_utilization() -> None:
    # At well under the 1.29 h/day break-even owning rarely wins; well above it, nearly always.
    low = monte_carlo(OWN, RENT, relative_speed=3.0, distributions={"busy_hours_per_day": Uniform(0.0, 0.8)},
                      samples=2000, seed=3)
    high = monte_carlo(OWN, RENT, relative_speed=3.0, distributions={"busy_hours_per_day": Uniform(3.0, 8.0)},
                       samples=2000, seed=3)
    assert low.probability_own_cheaper == 0.0 and high.probability_own_cheaper == 1.0


def test_distributions_validate() -> None:
    with pytest.raises(ValueError, match="mode"):
        Triangular(1.0, 0.5, 2.0)
    with pytest.raises(ValueError, match="low"):
        Uniform(2.0, 1.0)
    with pytest.raises(ValueError, match="unknown input"):
        monte_carlo(OWN, RENT, distributions={"moon_phase": Fixed(1.0)})
    with pytest.raises(ValueError, match="samples"):
        monte_carlo(OWN, RENT, samples=0)
    assert np.all(Triangular(1.0, 1.0, 1.0).sample(np.random.default_rng(0), 3) == 1.0)


def test_centred_distributions_keep_the_shipped_spread_around_the_options_values() -> None:
    from optimizer.uncertainty import centred_distributions

    own = replace(OWN, usd_per_kwh=0.30, resale_fraction=0.5)
    shipped = default_distributions()
    centred = centred_distributions(own, RENT, horizon_years=3.0, busy_hours_per_day=12.0)
    assert set(centred) == set(shipped)
    hours = centred["busy_hours_per_day"]
    assert (hours.low, hours.mode, hours.high) == pytest.approx((4.0, 12.0, 24.0))  # 12 × 8.4 / 3.6 = 28, cut at 24
    kwh, ref = centred["usd_per_kwh"], shipped["usd_per_kwh"]
    assert (kwh.low, kwh.mode, kwh.high) == pytest.approx((0.30 * ref.low / ref.mode, 0.30, 0.30 * ref.high / ref.mode))
    resale = centred["resale_fraction"]
    assert (resale.low, resale.mode, resale.high) == pytest.approx((0.25, 0.5, 0.75))  # life = horizon: the option's
    assert centred["rent_annual_price_change"] == shipped["rent_annual_price_change"]
    # Centred draws follow the utilization: idle and busy labs no longer share one answer.
    idle = monte_carlo(OWN, RENT, relative_speed=3.0, busy_hours_per_day=0.5, samples=2000, seed=1,
                       distributions=centred_distributions(OWN, RENT, busy_hours_per_day=0.5))
    busy = monte_carlo(OWN, RENT, relative_speed=3.0, busy_hours_per_day=20.0, samples=2000, seed=1,
                       distributions=centred_distributions(OWN, RENT, busy_hours_per_day=20.0))
    assert idle.probability_own_cheaper < 0.1 < 0.9 < busy.probability_own_cheaper


def test_tornado_keeps_declining_balance_resale_above_zero() -> None:
    own = replace(OWN, depreciation="declining-balance", resale_fraction=0.15)
    chart = tornado(own, RENT, relative_speed=3.0)
    bar = next(bar for bar in chart.bars if bar.name == "own.resale_fraction")
    assert bar.low == pytest.approx(0.01) and bar.high == pytest.approx(0.35)
    assert bar.result_at_low > bar.result_at_high  # less left to sell: owning needs more use to pay
    straight = next(bar for bar in tornado(replace(OWN, resale_fraction=0.15), RENT, relative_speed=3.0).bars
                    if bar.name == "own.resale_fraction")
    assert straight.low == 0.0  # straight-line can reach zero
