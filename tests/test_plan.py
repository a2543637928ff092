"""rentbuy.plan: feasibility, smallest fitting rented count, costs from the cost model, one answer."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

import rentbuy
from optimizer.costs import OwnOption, own_cost
from optimizer.memory import FineTune
from rentbuy.planning import JobClass, Workload, plan
from rentbuy.pricebook import PriceBook

SEEN = datetime(2026, 11, 20, tzinfo=UTC)


def offers(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"source": "test", "offer_key": f"{gpu}-{pricing}-{usd}", "gpu": gpu, "pricing": pricing,
                          "usd_per_gpu_hour": usd, "flagged": False, "observed_at": pd.Timestamp(SEEN)}
                         for gpu, pricing, usd in rows])


def purchases(*rows: tuple[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"source": "test shop", "gpu": gpu, "condition": "new", "basis": "retail", "usd": usd,
                          "observed_at": pd.Timestamp(SEEN)} for gpu, usd in rows])


@pytest.fixture
def book() -> PriceBook:
    return PriceBook(
        offers(("h100-sxm", "on-demand", 2.50), ("h100-sxm", "on-demand", 3.10), ("h100-sxm", "spot", 1.40),
               ("h100-pcie", "on-demand", 2.20), ("a100-sxm-80gb", "on-demand", 1.60),
               ("rtx-4090", "on-demand", 0.40), ("rtx-3090", "on-demand", 0.25), ("rtx-5090", "on-demand", 0.80)),
        purchases(("rtx-3090", 800.0), ("rtx-4090", 1900.0), ("rtx-5090", 2700.0)),
        statistic="median")


QLORA_8B = FineTune(model="llama-3.1-8b", method="qlora", gradient_checkpointing=True)
FULL_8B = FineTune(model="llama-3.1-8b", method="full", gradient_checkpointing=True)


def test_full_fine_tune_of_8b_is_not_priced_on_24gb_cards(book: PriceBook) -> None:
    result = plan(FULL_8B, tokens_per_run=5e7, runs_per_month=2, prices=book)
    table = result.table.set_index("option")
    for option in ("own 1x rtx-3090", "own 1x rtx-4090", "own 1x rtx-5090"):
        assert not table.loc[option, "feasible"]
        assert "GiB per GPU" in table.loc[option, "reason"]
        assert math.isnan(table.loc[option, "total_cost_usd"])
    # Rented H100s appear at the smallest count that fits: one 80 GB card is not enough.
    h100 = table.loc["rent 2x h100-sxm"]
    assert h100["feasible"] and h100["per_gpu_memory_gib"] < 77.6
    from rentbuy.planning import Option, _fit

    assert not _fit(Option("rent", "h100-sxm", 1), result.workload).feasible


def test_recommendation_names_the_cheapest_feasible_option(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, horizon_years=3.0, prices=book)
    feasible = result.table[result.table["feasible"]]
    cheapest = feasible.loc[feasible["total_cost_usd"].idxmin()]
    assert result.recommendation.lower().startswith(cheapest["option"].lower())
    assert f"${cheapest['total_cost_usd']:,.0f}" in result.recommendation


def test_owned_cost_is_the_cost_model_at_the_workload_utilization(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, horizon_years=3.0, prices=book)
    row = result.table.set_index("option").loc["own 1x rtx-4090"]
    # busy hours a day = hours per run x runs a month / days in a month (365.25 / 12)
    assert row["busy_hours_per_day"] == pytest.approx(row["hours_per_run"] * 8 / (365.25 / 12))
    expected = own_cost(OwnOption(gpu="rtx-4090", purchase_usd=1900.0, load_watts=450.0),
                        row["busy_hours_per_day"], 3.0).total_usd
    assert row["total_cost_usd"] == pytest.approx(expected)
    assert row["cost_per_run_usd"] == pytest.approx(expected / (8 * 12 * 3))


def test_rented_price_is_the_configured_statistic(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, prices=book)
    table = result.table.set_index("option")
    assert table.loc["rent 1x h100-sxm", "usd_per_gpu_hour"] == pytest.approx(2.80)  # median of 2.50 and 3.10
    assert table.loc["rent 1x h100-sxm spot", "usd_per_gpu_hour"] == pytest.approx(1.40)
    cheapest = PriceBook(book.offers, book.purchases, statistic="cheapest")
    assert cheapest.rent("h100-sxm").usd == pytest.approx(2.50)


def test_break_even_is_against_the_cheapest_on_demand_rental(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, prices=book)
    table = result.table
    on_demand = table[(table["kind"] == "rent") & (table["pricing"] == "on-demand") & table["feasible"]]
    reference = on_demand.loc[on_demand["total_cost_usd"].idxmin(), "option"]
    owned = table[(table["kind"] == "own") & table["feasible"]]
    assert set(owned["break_even_against"]) == {reference}
    pairs = result.break_even
    assert len(pairs) == len(owned) * len(table[(table["kind"] == "rent") & table["feasible"]])
    against = pairs[pairs["rent"] == reference].set_index("own")
    for _, row in owned.iterrows():
        assert row["break_even_hours_per_day"] == pytest.approx(against.loc[row["option"], "break_even_hours_per_day"])
    # A dearer rental can only make owning pay off sooner (fewer busy hours a day).
    dearest = on_demand.loc[on_demand["total_cost_usd"].idxmax(), "option"]
    dear = pairs[pairs["rent"] == dearest].set_index("own")
    for own in owned["option"]:
        assert dear.loc[own, "break_even_hours_per_day"] <= against.loc[own, "break_even_hours_per_day"] + 1e-9


def test_json_and_dataframe_agree(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, prices=book)
    data = result.to_dict()
    assert data["recommendation"] == result.recommendation
    for record, (_, row) in zip(data["options"], result.table.iterrows(), strict=True):
        for column in ("option", "total_cost_usd", "hours_per_run", "break_even_hours_per_day"):
            value = row[column]
            if isinstance(value, float) and math.isnan(value):
                assert record[column] is None
            else:
                assert record[column] == value
    assert {a["name"] for a in data["assumptions"]} >= {"horizon", "usd per kwh", "purchase price rtx-4090"}


def test_a_workload_of_two_classes_needs_both_to_fit(book: PriceBook) -> None:
    workload = Workload((JobClass(QLORA_8B, 6e7, 8, "qlora"), JobClass(FULL_8B, 2e7, 1, "full")), "mixed")
    result = plan(workload=workload, prices=book)
    table = result.table.set_index("option")
    assert not table.loc["own 1x rtx-4090", "feasible"]
    assert "full needs" in table.loc["own 1x rtx-4090", "reason"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"tokens_per_run": -1.0, "runs_per_month": 8}, "tokens_per_run"),
    ({"tokens_per_run": 1e8, "runs_per_month": -2}, "runs_per_month"),
    ({"tokens_per_run": 1e8, "runs_per_month": 8, "horizon_years": 0}, "horizon_years"),
])
def test_bad_input_names_the_field(book: PriceBook, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        plan(QLORA_8B, prices=book, **kwargs)


def test_design_call_on_the_bundled_database(use_database: str) -> None:
    from store.db import make_engine, upgrade

    upgrade(make_engine(use_database))
    job = FineTune(model="llama-3.1-8b", method="lora", gradient_checkpointing=True)
    result = rentbuy.plan(job=job, tokens_per_run=2e8, runs_per_month=8, horizon_years=3.0)
    assert list(result.table.columns[:3]) == ["option", "kind", "gpu"]
    assert result.recommendation.endswith(".")
    assert any("bundled" in a.source or "offers" in a.source or "reference" in a.source
               for a in result.assumptions)
    frame = rentbuy.prices(gpu="h100-sxm", since="5y")
    assert {"source", "observed_at", "usd_per_gpu_hour"} <= set(frame.columns) and len(frame) > 0


def test_a_workload_with_no_runs_costs_owning_only_its_fixed_costs(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=0, prices=book)
    table = result.table.set_index("option")
    assert table.loc["rent 1x h100-sxm", "total_cost_usd"] == 0.0
    assert table.loc["own 1x rtx-4090", "total_cost_usd"] > 0  # the card still loses value
    assert result.headline is None
    assert result.recommendation.startswith("Rent")


def _fitted_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    from config.settings import get_settings

    monkeypatch.setenv("RENTBUY_ECONOMICS__DEPRECIATION", "fitted")
    get_settings.cache_clear()
    return get_settings()


def test_fitted_depreciation_falls_back_for_a_gpu_without_history(book: PriceBook,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from optimizer.defaults import resale_history

    assert resale_history("rtx-5090") is None  # the case: no used-price series is shipped
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, prices=book, settings=_fitted_settings(monkeypatch))
    row = result.table.set_index("option").loc["own 1x rtx-5090"]
    assert row["feasible"] and math.isfinite(row["total_cost_usd"])
    notes = {a.name: a for a in result.assumptions}
    assert notes["depreciation rtx-5090"].value == "straight-line"
    assert "no used-price history is shipped for rtx-5090" in notes["depreciation rtx-5090"].source
    assert "fitted resale curve rtx-3090" in notes


def test_fitted_depreciation_buys_at_the_age_since_launch(book: PriceBook, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace
    from datetime import date

    from optimizer.defaults import default, fitted_resale_curve, resale_history

    settings = _fitted_settings(monkeypatch)
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=8, prices=book, settings=settings,
                  own_options=(("rtx-3090", 1),))
    row = result.table.set_index("option").loc["own 1x rtx-3090"]
    age = round((date.today() - resale_history("rtx-3090").launch_date).days / 365.25, 2)
    economics = settings.economics
    own = OwnOption(gpu="rtx-3090", purchase_usd=800.0, load_watts=350.0,
                    life_years=float(default("life_years").value), resale_fraction=economics.resale_fraction,
                    usd_per_kwh=economics.usd_per_kwh, pue=economics.pue,
                    maintenance_usd_per_year=economics.maintenance_usd_per_year,
                    discount_rate=economics.discount_rate,
                    depreciation=fitted_resale_curve("rtx-3090", age_at_purchase_years=age))
    busy, horizon = row["busy_hours_per_day"], result.horizon_years
    assert row["total_cost_usd"] == pytest.approx(own_cost(own, busy, horizon).total_usd)
    # Bought as a new model (age 0) the card would lose value faster: not what the buyer gets today.
    as_new = replace(own, depreciation=fitted_resale_curve("rtx-3090"))
    assert row["total_cost_usd"] != pytest.approx(own_cost(as_new, busy, horizon).total_usd)
    assert any(f"bought at age {age:g} years" in a.source for a in result.assumptions)


def test_hours_per_run_is_weighted_by_runs_like_cost_per_run(book: PriceBook) -> None:
    short = JobClass(QLORA_8B, 1e7, 9, "short")
    long = JobClass(QLORA_8B, 9e7, 1, "long")
    result = plan(workload=Workload((short, long), "mixed"), prices=book)
    row = result.table.set_index("option").loc["own 1x rtx-4090"]
    single = plan(QLORA_8B, tokens_per_run=1e7, runs_per_month=1, prices=book).table.set_index("option")
    hours_short = single.loc["own 1x rtx-4090", "hours_per_run"]
    # Nine short runs and one nine times as long: the average run is (9·1 + 1·9) / 10 = 1.8 short runs.
    assert row["hours_per_run"] == pytest.approx(1.8 * hours_short, rel=1e-6)
    assert row["busy_hours_per_day"] == pytest.approx(row["hours_per_run"] * 10 / (365.25 / 12))
    idle = plan(workload=Workload((JobClass(QLORA_8B, 1e7, 0, "a"), JobClass(QLORA_8B, 9e7, 0, "b"))), prices=book)
    assert idle.table.set_index("option").loc["own 1x rtx-4090", "hours_per_run"] == pytest.approx(5 * hours_short,
                                                                                                     rel=1e-6)


def test_no_runs_leaves_the_cost_per_run_out_of_the_recommendation(book: PriceBook) -> None:
    result = plan(QLORA_8B, tokens_per_run=6e7, runs_per_month=0, prices=book)
    assert "nan" not in result.recommendation
    assert " h a run)" in result.recommendation and "a run," not in result.recommendation


def test_the_rest_of_the_machine_is_a_setting_the_plan_counts_and_names(monkeypatch: pytest.MonkeyPatch,
                                                                        book: PriceBook) -> None:
    """Owning was always cards only in the report; ``economics.system_usd`` prices each owned machine."""
    from config.settings import Settings

    workload = Workload((JobClass(FineTune(model="llama-3.1-8b", method="qlora", gradient_checkpointing=True),
                                  6e7, 8),), "lab")

    def owned_totals(result: Any) -> dict[str, float]:
        rows = result.table[(result.table["kind"] == "own") & result.table["feasible"]]
        return dict(zip(rows["option"], rows["total_cost_usd"], strict=True))

    base = plan(workload=workload, settings=Settings(), prices=book)
    monkeypatch.setenv("RENTBUY_ECONOMICS__SYSTEM_USD", "1500")
    with_machine = plan(workload=workload, settings=Settings(), prices=book)
    own, own_machine = owned_totals(base), owned_totals(with_machine)
    assert own and own.keys() == own_machine.keys()
    for option, total in own.items():
        assert own_machine[option] > total + 500  # the machine, less its resale at the horizon
    assert any(a.name == "system usd" and a.value == 1500 and "setting economics.system_usd" in a.source
               for a in with_machine.assumptions)
