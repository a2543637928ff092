"""Break-even solvers: hand-worked cases, published worked examples, closed form vs brentq, never/always."""

from __future__ import annotations

import math

import pytest

from optimizer import vectorized as vec
from optimizer.breakeven import (
    ALWAYS,
    FOUND,
    NEVER,
    break_even_days,
    break_even_hours_per_day,
    break_even_hours_per_day_brentq,
    break_even_rent_price,
    break_even_rent_price_brentq,
    compare,
    owner_cost_per_gpu_hour,
    payback_days_brentq,
    solve_break_even_days,
    solve_break_even_hours_per_day,
    solve_break_even_rent_price,
)
from optimizer.costs import Infeasible, OwnOption, RentOption, own_cost, rent_cost

DAYS_3Y = 3 * 365.25  # 1,095.75 days

# The case: a $1,800 card, 40 % resale after 3 years, 450 W at $0.15/kWh, against a rented
# H100 at $2.50/h that does the work 3x faster.
CARD = OwnOption(purchase_usd=1800.0, resale_fraction=0.4, life_years=3.0, load_watts=450.0, usd_per_kwh=0.15)
H100 = RentOption(usd_per_gpu_hour=2.50)
# Per owned busy hour: energy 0.45 kWh x $0.15 = $0.0675; rent avoided $2.50 / 3 = $0.8333;
# net saving $0.765833 per busy hour. Capital net of resale: 1,800 - 720 = $1,080.
NET_SAVING_PER_HOUR = 2.50 / 3 - 0.45 * 0.15


def test_hand_worked_break_even_hours_per_day() -> None:
    # 1,080 / 0.765833 = 1,410.23 busy hours over 3 years = 1,410.23 / 1,095.75 d = 1.2870 h/day.
    expected = 1080 / NET_SAVING_PER_HOUR / DAYS_3Y
    assert expected == pytest.approx(1.28700, abs=1e-5)
    assert break_even_hours_per_day(CARD, H100, relative_speed=3.0, horizon_years=3.0) == pytest.approx(expected)


def test_hand_worked_payback_days() -> None:
    # At 6 h/day the rent avoided net of electricity is 6 x 0.765833 = $4.595 a day; resale not
    # counted, the $1,800 is covered after 1,800 / 4.595 = 391.73 days.
    assert break_even_days(CARD, H100, busy_hours_per_day=6.0, relative_speed=3.0) == pytest.approx(391.7301, abs=1e-3)


def test_hand_worked_break_even_rent_price() -> None:
    # Owning at 6 h/day over 3 years: 1,080 + 0.0675 x 6 x 1,095.75 = $1,523.78.
    # Rented hours for the same work: 6 / 3 x 1,095.75 = 2,191.5 -> 1,523.78 / 2,191.5 = $0.6953/h.
    assert break_even_rent_price(CARD, busy_hours_per_day=6.0, relative_speed=3.0, horizon_years=3.0) == \
        pytest.approx(1523.77875 / 2191.5)


def test_hand_worked_owner_cost_per_gpu_hour() -> None:
    # Over the 3-year life at 6 h/day: $1,523.78 / (6 x 1,095.75 = 6,574.5 h) = $0.2318 per busy GPU-hour.
    assert owner_cost_per_gpu_hour(CARD, busy_hours_per_day=6.0) == pytest.approx(1523.77875 / 6574.5)
    # Two cards: twice the cost over twice the GPU-hours, plus a $600 system shared by both.
    pair = OwnOption(count=2, system_usd=600.0, purchase_usd=1800.0, load_watts=450.0, usd_per_kwh=0.15)
    expected = (2 * 1523.77875 + 600 * 0.6) / (2 * 6574.5)
    assert owner_cost_per_gpu_hour(pair, busy_hours_per_day=6.0) == pytest.approx(expected)


def test_hand_worked_always_on_machine_with_idle_draw() -> None:
    # On 24 h a day, idling at 50 W: each day costs 24 x 0.05 x 0.15 = $0.18 of idle power, and each
    # busy hour replaces idle with load: 0.0675 - 0.0075 = $0.06. Per day:
    # 1,080 / 1,095.75 + 0.18 = (2.50/3 - 0.06) x h  ->  h = 1.50728.
    always_on = OwnOption(purchase_usd=1800.0, load_watts=450.0, idle_watts=50.0, powered_hours_per_day=24.0,
                          usd_per_kwh=0.15)
    expected = (1080 / DAYS_3Y + 0.18) / (2.50 / 3 - 0.06)
    assert break_even_hours_per_day(always_on, H100, 3.0, 3.0) == pytest.approx(expected)


def test_hand_worked_discounting_at_12_percent() -> None:
    # $1,200 card, no resale, no power; rent $1/h at speed 1; 12 %/yr cost of capital, monthly flows.
    # Break-even h/day = 1,200 / (30.4375 x sum_{m=1..36} 1.12^(-m/12)) = 1,200 / (30.4375 x 30.3748).
    own = OwnOption(purchase_usd=1200.0, resale_fraction=0.0, load_watts=0.0, discount_rate=0.12)
    rent = RentOption(usd_per_gpu_hour=1.0)
    annuity = sum(1.12 ** (-m / 12) for m in range(1, 37))
    assert annuity == pytest.approx(30.374754, abs=1e-6)
    assert break_even_hours_per_day(own, rent, 1.0, 3.0) == pytest.approx(1200 / (30.4375 * annuity))
    # Discounted payback at 2 h/day: $60.875 a month, discounted, until the sum reaches $1,200.
    cumulative, month = 0.0, 0
    while cumulative < 1200:
        month += 1
        previous, cumulative = cumulative, cumulative + 60.875 * 1.12 ** (-month / 12)
    expected_days = (month - 1 + (1200 - previous) / (cumulative - previous)) * 30.4375
    assert break_even_days(own, rent, 2.0, 1.0) == pytest.approx(expected_days)
    assert expected_days > 1200 / 2  # discounting makes payback later than 600 days


# --------------------------------------------------------------------------- published examples


def test_dettmers_desktop_vs_aws_v100_breaks_even_in_about_300_days() -> None:
    # Tim Dettmers, "Which GPU(s) to Get for Deep Learning" (2020-09 edition, cloud vs desktop section,
    # https://timdettmers.com/2023/01/30/which-gpu-for-deep-learning/): a $2,200 RTX 3090 desktop,
    # 350 W GPU + 100 W CPU at $0.12/kWh, 15 % utilization -> 591 kWh ($71) a year; an AWS V100 at
    # $2.14/h of similar speed; break-even "about 300 days ($2,311 vs $2,270)".
    desktop = OwnOption(gpu="rtx-3090", purchase_usd=2200.0, resale_fraction=0.0, load_watts=450.0,
                        usd_per_kwh=0.12)
    v100 = RentOption(gpu="a100-sxm-40gb", usd_per_gpu_hour=2.14)  # stands in for the V100 (not in the catalog)
    busy = 0.15 * 24  # 3.6 h a day
    year = own_cost(desktop, busy, horizon_years=1.0)
    assert year.lines_usd["energy"] / 0.12 == pytest.approx(591, abs=1)  # kWh (their year: 365 days)
    assert year.lines_usd["energy"] == pytest.approx(71, abs=0.5)
    assert rent_cost(v100, busy, 1.0, horizon_years=300 / 365.25).total_usd == pytest.approx(2311.2)
    # Exact payback: 2,200 / (3.6 x (2.14 - 0.45 x 0.12)) = 292.96 days, "about 300 days".
    days = break_even_days(desktop, v100, busy, relative_speed=1.0)
    assert days == pytest.approx(2200 / (3.6 * (2.14 - 0.054)))
    assert round(days, -2) == 300


def test_web3vero_lambda_vs_local_machine_6000_hours() -> None:
    # web3vero/agent-trading src/scripts/lambda_vs_local.py: a $6,000 machine, Lambda at $1.50/h,
    # electricity $0.50/h, 6 h/day x 6 days/week -> 6000 / (1.50 - 0.50) = 6,000 hours, 3.2 years.
    machine = OwnOption(gpu="rtx-4090", purchase_usd=6000.0, resale_fraction=0.0, load_watts=500.0, usd_per_kwh=1.0)
    lambda_gpu = RentOption(gpu="a100-sxm-40gb", usd_per_gpu_hour=1.50)
    busy = 36 / 7  # 36 h a week
    days = break_even_days(machine, lambda_gpu, busy, relative_speed=1.0)
    assert days * busy == pytest.approx(6000.0)
    assert round(days / 365.25, 1) == 3.2


def test_legitlads_accelerator_roi_console_default_case() -> None:
    # LegitLads Accelerator ROI Console (https://www.legitlads.com/hub/tools/ai/ai-hardware/accelerator-roi-calculator/),
    # default case: 64 accelerators, $1.92M capex, 4 years, $728.68K energy/ops, 70 % utilization,
    # cloud $3,139,584 (= 64 x 8,760 h x 4 x 0.7 x $2.00). Published: owning $2,648,681, saving $490,903,
    # payback 3.2 years, break-even utilization 59 %. Their year is 8,760 h (365 days), so the 4-year
    # horizon is 1,460 of our days and the ops budget is spread over those days.
    horizon = 1460 / 365.25
    fleet = OwnOption(gpu="h100-sxm", count=64, purchase_usd=30_000.0, resale_fraction=0.0, life_years=horizon,
                      load_watts=0.0, maintenance_usd_per_year=728_681.0 / horizon)
    cloud = RentOption(gpu="h100-sxm", count=64, usd_per_gpu_hour=2.00)
    busy = 0.70 * 24
    result = compare(fleet, cloud, busy_hours_per_day=busy, relative_speed=1.0, horizon_years=horizon)
    assert result.own.total_usd == pytest.approx(2_648_681.0)  # type: ignore[union-attr]
    assert result.rent.total_usd == pytest.approx(3_139_584.0)  # type: ignore[union-attr]
    assert result.saving_usd == pytest.approx(490_903.0)
    assert round(break_even_hours_per_day(fleet, cloud, 1.0, horizon) / 24, 2) == 0.59
    assert round(break_even_days(fleet, cloud, busy, 1.0) / 365, 1) == 3.2


# --------------------------------------------------------------------------- closed form vs brentq


@pytest.mark.parametrize("own", [
    CARD,
    OwnOption(purchase_usd=1800.0, idle_watts=60.0, powered_hours_per_day=24.0, discount_rate=0.07),
    OwnOption(purchase_usd=2500.0, idle_watts=40.0, powered_hours_per_day=10.0, maintenance_usd_per_year=90.0,
              depreciation="declining-balance", life_years=5.0, resale_fraction=0.3),
    OwnOption(count=2, purchase_usd=1700.0, system_usd=1500.0, depreciation="macrs-5", pue=1.2,
              admin_hours_per_month=1.0, admin_usd_per_hour=60.0, discount_rate=0.1),
])
@pytest.mark.parametrize("rent", [
    H100,
    RentOption(usd_per_gpu_hour=2.69, annual_price_change="falling", storage_usd_per_month=10.0),
    RentOption(count=4, usd_per_gpu_hour=2.2, annual_price_change="rebound", overhead_hours_per_job=0.5,
               job_hours=4.0, pricing="spot", interruption_overhead=0.15),
])
def test_closed_forms_agree_with_brentq(own: OwnOption, rent: RentOption) -> None:
    for speed in (1.0, 3.0, 8.0):
        for horizon in (1.0, 2.5, 3.0, 5.0):
            closed = break_even_hours_per_day(own, rent, speed, horizon)
            numeric = break_even_hours_per_day_brentq(own, rent, speed, horizon)
            assert closed == pytest.approx(numeric, rel=1e-9, abs=1e-9)
            price = break_even_rent_price(own, 6.0, speed, horizon, rent)
            assert price == pytest.approx(break_even_rent_price_brentq(own, 6.0, speed, horizon, rent), rel=1e-9)
        days = break_even_days(own, rent, 6.0, speed)
        assert days == pytest.approx(payback_days_brentq(own, rent, 6.0, speed), rel=1e-9)


def test_payback_without_discounting_is_the_textbook_ratio() -> None:
    # No discounting, flat rent: payback = purchase / daily net saving, exactly.
    for busy in (0.5, 2.0, 6.0, 24.0):
        expected = 1800 / (busy * NET_SAVING_PER_HOUR)
        assert break_even_days(CARD, H100, busy, 3.0) == pytest.approx(expected)


# --------------------------------------------------------------------------- never and always


def test_never_when_rent_is_cheaper_even_around_the_clock() -> None:
    # Renting at $0.10/h at the same speed saves 0.10 - 0.0675 = $0.0325 a busy hour;
    # 24 h x 1,095.75 d x 0.0325 = $854.7 < $1,080 of capital: owning never wins in 3 years.
    cheap = RentOption(usd_per_gpu_hour=0.10)
    solution = solve_break_even_hours_per_day(CARD, cheap, 1.0, 3.0)
    assert solution.value == math.inf and solution.status == NEVER
    assert "24 busy hours" in solution.explanation
    # It still pays back eventually (resale is not counted): 1,800 / (6 x 0.0325) = 9,231 days.
    assert break_even_days(CARD, cheap, 6.0, 1.0) == pytest.approx(1800 / (6 * 0.0325))


def test_never_pays_back_when_each_busy_hour_costs_more_to_run_than_to_rent() -> None:
    # Rent $0.05/h < electricity $0.0675/h: the saving is negative, payback never comes.
    solution = solve_break_even_days(CARD, RentOption(usd_per_gpu_hour=0.05), 6.0, 1.0)
    assert solution.value == math.inf and solution.status == NEVER
    # A falling price that stays above the running cost can still fail to recover the purchase:
    # 6 h x ($0.10 x 0.5^t - $0.0675)... sums to less than $1,800 over 50 years.
    falling = RentOption(usd_per_gpu_hour=0.50, annual_price_change=-0.5)
    assert break_even_days(CARD, falling, 6.0, 1.0) == math.inf


def test_always_when_renting_has_fixed_costs_above_owning() -> None:
    # $60/month of rented storage for 3 years is $2,160 > the $1,080 owning costs net of resale:
    # owning is no dearer even unused.
    storage_heavy = RentOption(usd_per_gpu_hour=2.5, storage_usd_per_month=60.0)
    solution = solve_break_even_hours_per_day(CARD, storage_heavy, 3.0, 3.0)
    assert solution.value == 0.0 and solution.status == ALWAYS
    assert solve_break_even_rent_price(CARD, 6.0, 3.0, 3.0, storage_heavy).status == ALWAYS


def test_free_card_always_and_zero_use_rent_price_never() -> None:
    free = OwnOption(purchase_usd=0.0, load_watts=0.0)
    assert break_even_hours_per_day(free, H100, 1.0, 3.0) == 0.0
    assert solve_break_even_days(free, H100, 6.0, 1.0).status == ALWAYS
    price = solve_break_even_rent_price(CARD, 0.0, 3.0, 3.0)
    assert price.value == math.inf and price.status == NEVER
    assert owner_cost_per_gpu_hour(CARD, 0.0) == math.inf


def test_solution_explanations_say_what_was_found() -> None:
    found = solve_break_even_hours_per_day(CARD, H100, 3.0, 3.0)
    assert found.status == FOUND and "1.29 busy hours a day" in found.explanation
    assert "392 days" in solve_break_even_days(CARD, H100, 6.0, 3.0).explanation


# --------------------------------------------------------------------------- the comparison


def test_compare_prices_both_sides_for_the_same_work() -> None:
    result = compare(CARD, H100, busy_hours_per_day=6.0, relative_speed=3.0, horizon_years=3.0)
    assert result.own.total_usd == pytest.approx(1523.77875)  # type: ignore[union-attr]
    assert result.rent.total_usd == pytest.approx(2.5 * 2191.5)  # type: ignore[union-attr]
    assert result.verdict.startswith("Own 1x rtx-4090 is cheaper")
    payload = result.to_dict()
    assert payload["break_even_hours_per_day"]["status"] == FOUND
    assert payload["own"]["lines_usd"]["resale_credit"] == pytest.approx(-720.0)


def test_infeasible_option_is_reported_not_priced() -> None:
    reason = "llama-3.1-8b full needs 140 GiB per GPU but an RTX 4090 offers 23 GiB"
    result = compare(CARD, H100, busy_hours_per_day=6.0, relative_speed=3.0, own_infeasible=reason)
    assert isinstance(result.own, Infeasible) and result.own.reason == reason
    assert result.break_even_hours_per_day is None and result.payback is None and result.saving_usd is None
    assert result.verdict.startswith("Rent:") and reason in result.verdict
    assert result.to_dict()["own"] == {"option": CARD.label, "feasible": False, "reason": reason}


@pytest.mark.parametrize(("call", "field"), [
    (lambda: break_even_days(CARD, H100, busy_hours_per_day=25.0), "busy_hours_per_day"),
    (lambda: break_even_days(CARD, H100, busy_hours_per_day=-1.0), "busy_hours_per_day"),
    (lambda: break_even_hours_per_day(CARD, H100, relative_speed=0.0), "relative_speed"),
    (lambda: break_even_hours_per_day(CARD, H100, horizon_years=0.0), "horizon_years"),
    (lambda: break_even_rent_price(CARD, busy_hours_per_day=30.0), "busy_hours_per_day"),
    (lambda: owner_cost_per_gpu_hour(CARD, busy_hours_per_day=24.5), "busy_hours_per_day"),
])
def test_solvers_reject_invalid_usage_naming_the_field(call: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()  # type: ignore[operator]


def test_days_per_month_convention() -> None:
    assert pytest.approx(30.4375) == vec.DAYS_PER_MONTH
