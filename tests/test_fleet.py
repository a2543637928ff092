"""Fleet planning with scipy.optimize.milp: demand parsing, hand-checkable plans, plan ≤ alternatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from optimizer.costs import Infeasible, OwnOption, RentOption
from optimizer.fleet import (
    WEEKS_PER_YEAR,
    Demand,
    FleetPlan,
    JobClass,
    OwnedType,
    RentedType,
    parse_demand_csv,
    plan_fleet,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_parse_demand_fixture() -> None:
    demand = parse_demand_csv((FIXTURES / "demand_small.csv").read_text())
    assert [job.name for job in demand.classes] == ["qlora", "big"]
    assert demand.classes[1].fits_on == ("2xrtx-4090", "h100-sxm")
    assert demand.gpu_hours.tolist() == [[30, 0], [30, 10], [200, 0], [30, 10]]
    assert demand.weeks == 4


def test_fits_on_tokens_accept_counts() -> None:
    job = JobClass("big", ("2xrtx-4090", "h100-sxm"))
    assert job.accepts("rtx-4090", 2) and job.accepts("rtx-4090", 4) and job.accepts("h100-sxm", 1)
    assert not job.accepts("rtx-4090", 1) and not job.accepts("rtx-3090", 2)


@pytest.mark.parametrize(("text", "match"), [
    ("week,job_class,gpu_hours,fits_on\n", "no rows"),
    ("week,job_class,gpu_hours,fits_on\n1,a,0,rtx-4090\n", "nothing to plan"),
    ("week,job_class,gpu_hours,fits_on\n1,a,-5,rtx-4090\n", "gpu_hours"),
    ("week,job_class,gpu_hours,fits_on\n0,a,5,rtx-4090\n", "week"),
    ("week,job_class,gpu_hours,fits_on\n1,a,5,\n", "fits_on"),
    ("week,job_class,gpu_hours,fits_on\n1,a,5,rtx-4090\n2,a,5,h100-sxm\n", "different fits_on"),
    ("week,hours\n1,5\n", "columns"),
])
def test_bad_demand_raises_naming_the_problem(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_demand_csv(text)


def test_empty_demand_array_is_rejected() -> None:
    with pytest.raises(ValueError, match="demand"):
        Demand((JobClass("a", ("rtx-4090",)),), np.zeros((0, 1)))


def _flat_demand(hours_per_week: float, weeks: int, fits: tuple[str, ...] = ("rtx-4090", "h100-sxm")) -> Demand:
    return Demand((JobClass("qlora", fits),), np.full((weeks, 1), hours_per_week))


def test_steady_heavy_demand_buys_cards_light_demand_rents() -> None:
    # 52 weeks, no discounting. A 4090 bought at $1,800 and sold after a year at straight-line value
    # (40 % over 3 years -> 1 - 0.6/3 = 80 %, $1,440, less a day's rounding of 52 weeks) costs ~$360
    # plus 0.45 kW x $0.10 = $0.045 per busy hour. Renting a 4090 costs $0.50 per hour.
    own = OwnedType(OwnOption(purchase_usd=1800.0, usd_per_kwh=0.10), speed=1.0)
    rent = RentedType(RentOption(gpu="rtx-4090", usd_per_gpu_hour=0.50), speed=1.0)
    heavy = plan_fleet(_flat_demand(100.0, 52), [own], [rent])
    # 5,200 h: renting costs $2,600; owning ~$360 + 5,200 x 0.045 = ~$594 -> buy one card.
    assert isinstance(heavy.plan, FleetPlan)
    assert heavy.plan.owned_units == {own.option.label: 1}
    resale = 1800 * (1 - 0.6 * (52 / WEEKS_PER_YEAR) / 3)
    assert heavy.plan.total_usd == pytest.approx(1800 - resale + 5200 * 0.045)
    assert heavy.all_rent.total_usd == pytest.approx(2600.0)  # type: ignore[union-attr]
    light = plan_fleet(_flat_demand(10.0, 52), [own], [rent])
    # 520 h: renting $260 beats owning's ~$360 of depreciation alone.
    assert isinstance(light.plan, FleetPlan)
    assert light.plan.owned_units == {own.option.label: 0}
    assert light.plan.total_usd == pytest.approx(260.0)


def test_an_explicit_plan_discount_rate_discounts_the_resale_too() -> None:
    # The owned option says 0 %, the plan is asked for 10 %: every flow, the resale included, at 10 %.
    own = OwnedType(OwnOption(purchase_usd=1800.0, usd_per_kwh=0.10, discount_rate=0.0), speed=1.0)
    rent = RentedType(RentOption(gpu="rtx-4090", usd_per_gpu_hour=0.50), speed=1.0)
    result = plan_fleet(_flat_demand(100.0, 52), [own], [rent], discount_rate=0.10)
    assert isinstance(result.plan, FleetPlan) and result.plan.owned_units == {own.option.label: 1}
    horizon = 52 / WEEKS_PER_YEAR
    resale = 1800 * (1 - 0.6 * horizon / 3)
    assert result.plan.lines_usd["resale_credit"] == pytest.approx(-resale / 1.10 ** horizon)


def test_peaks_are_rented_on_top_of_owned_capacity() -> None:
    # One card works at most 168 h a week; a 300 h peak week rents the 132 h above it.
    demand = Demand((JobClass("qlora", ("rtx-4090",)),), np.array([[150.0]] * 51 + [[300.0]]))
    own = OwnedType(OwnOption(purchase_usd=1800.0, usd_per_kwh=0.10), speed=1.0)
    rent = RentedType(RentOption(gpu="rtx-4090", usd_per_gpu_hour=0.50), speed=1.0)
    result = plan_fleet(demand, [own], [rent])
    assert isinstance(result.plan, FleetPlan)
    assert result.plan.owned_units[own.option.label] == 1
    rented = result.plan.rented_hours[rent.option.label]
    assert rented[-1] == pytest.approx(132.0) and rented[:-1].sum() == pytest.approx(0.0)
    assert result.plan.owned_busy_hours[own.option.label][-1] == pytest.approx(168.0)


def test_speed_normalises_work_and_classes_respect_fits() -> None:
    # The "big" class fits only on the H100 (3x a 4090): 30 reference hours need 10 rented hours.
    demand = Demand((JobClass("qlora", ("rtx-4090",)), JobClass("big", ("h100-sxm",))),
                    np.array([[10.0, 30.0]]))
    rent_4090 = RentedType(RentOption(gpu="rtx-4090", usd_per_gpu_hour=0.5), speed=1.0)
    rent_h100 = RentedType(RentOption(gpu="h100-sxm", usd_per_gpu_hour=2.0), speed=3.0)
    result = plan_fleet(demand, [], [rent_4090, rent_h100])
    assert isinstance(result.plan, FleetPlan)
    assert result.plan.rented_hours[rent_h100.option.label].sum() == pytest.approx(10.0)
    assert result.plan.rented_hours[rent_4090.option.label].sum() == pytest.approx(10.0)
    assert result.plan.total_usd == pytest.approx(10 * 2.0 + 10 * 0.5)


def test_all_own_is_infeasible_when_a_class_fits_no_owned_card() -> None:
    demand = Demand((JobClass("big", ("h100-sxm",)),), np.array([[5.0]]))
    own = OwnedType(OwnOption(), speed=1.0)
    rent = RentedType(RentOption(usd_per_gpu_hour=2.0), speed=3.0)
    result = plan_fleet(demand, [own], [rent])
    assert isinstance(result.all_own, Infeasible) and "big" in result.all_own.reason
    assert isinstance(result.plan, FleetPlan)
    rows = result.comparison_rows()
    assert rows[2]["total_usd"] is None and "big" in rows[2]["note"]


def test_rented_storage_is_paid_only_when_the_type_is_used() -> None:
    demand = _flat_demand(5.0, 4, ("rtx-4090",))
    cheap_but_storage = RentedType(RentOption(gpu="rtx-4090", usd_per_gpu_hour=0.30,
                                              storage_usd_per_month=100.0), speed=1.0)
    plain = RentedType(RentOption(gpu="rtx-4090", count=2, usd_per_gpu_hour=0.40), speed=2.0)
    result = plan_fleet(demand, [], [cheap_but_storage, plain])
    # 20 reference hours: 2x4090 at $0.80/h for 10 h = $8 beats $6 + ~$92 of storage.
    assert isinstance(result.plan, FleetPlan)
    assert result.plan.rented_hours[cheap_but_storage.option.label].sum() == 0.0
    assert result.plan.lines_usd["rent_storage"] == 0.0
    assert result.plan.total_usd == pytest.approx(8.0)


def test_duplicate_candidates_are_rejected() -> None:
    own = OwnedType(OwnOption(), speed=1.0)
    with pytest.raises(ValueError, match="once"):
        plan_fleet(_flat_demand(5.0, 2), [own, own], [])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 400.0), st.floats(0.0, 80.0)), min_size=1, max_size=12),
       st.floats(0.2, 3.0), st.floats(800.0, 3000.0), st.floats(0.0, 0.15))
# Found by hypothesis: HiGHS met week 1 only to its feasibility tolerance (4.999999 of 5 hours).
@example([(0.0, 5.0), (7.0, 6.103515625e-05)], 3.0, 800.0, 0.0)
def test_plan_is_never_costlier_than_all_rent_or_all_own(weeks: list[tuple[float, float]], rent_price: float,
                                                         card_price: float, rate: float) -> None:
    hours = np.array(weeks)
    if not np.any(hours > 0):
        hours[0, 0] = 1.0
    demand = Demand((JobClass("qlora", ("rtx-4090", "h100-sxm")), JobClass("big", ("2xrtx-4090", "h100-sxm"))),
                    hours)
    owned = [OwnedType(OwnOption(purchase_usd=card_price, discount_rate=rate), 1.0),
             OwnedType(OwnOption(count=2, purchase_usd=card_price, discount_rate=rate), 1.8)]
    rented = [RentedType(RentOption(usd_per_gpu_hour=rent_price, annual_price_change=-0.2), 3.0)]
    result = plan_fleet(demand, owned, rented)
    assert isinstance(result.plan, FleetPlan)
    for alternative in (result.all_rent, result.all_own):
        if isinstance(alternative, FleetPlan):
            assert result.plan.total_usd <= alternative.total_usd * (1 + 1e-9) + 1e-6
    # Every week's demand is met by the capacity the plan uses.
    served = result.plan.owned_busy_hours[owned[0].option.label] * 1.0 \
        + result.plan.owned_busy_hours[owned[1].option.label] * 1.8 \
        + result.plan.rented_hours[rented[0].option.label] * 3.0
    assert np.all(served >= hours.sum(axis=1) - 1e-9)
