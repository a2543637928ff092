"""``rentbuy breakeven``, ``fleet`` and ``sensitivity`` from the command line: answers with their working."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rentbuy.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_breakeven_table_lists_answers_breakdowns_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "breakeven", "--own", "rtx-4090", "--rent", "h100-sxm", "--price", "2.5",
                        "--speed", "3", "--usd-per-kwh", "0.15", "--hours-per-day", "6", "--purchase-usd", "1800")
    assert code == 0
    assert out.startswith("Own 1x rtx-4090 is cheaper")
    assert "1.287" in out and "391.7" in out  # the hand-worked figures (tests/test_breakeven.py)
    for line in ("cards", "resale credit", "energy", "maintenance", "admin", "financing", "compute", "overhead"):
        assert line in out
    assert "rental price per GPU-hour today: 2.5 USD/GPU-hour  [command line (--price)]" in out
    assert "horizon: 3 years  [default: Tim Dettmers" in out
    assert "catalog board power" in out


def test_breakeven_json_defaults_cite_the_economics_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "breakeven", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["break_even_hours_per_day"]["status"] in ("found", "always", "never")
    sources = {item["name"]: item["source"] for item in payload["assumptions"]}
    # No --price: the stored offers price it (here the bundled snapshot), with their sources and date.
    assert "current on-demand offers" in sources["rental price per GPU-hour today"]
    assert "newest 20" in sources["rental price per GPU-hour today"]
    assert sources["relative speed (owned busy hours per rented hour)"].startswith("optimizer.throughput")
    assert sources["electricity"].startswith("default: US residential average")


def test_breakeven_settings_are_labelled_as_settings(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import get_settings

    monkeypatch.setenv("RENTBUY_ECONOMICS__USD_PER_KWH", "0.30")
    get_settings.cache_clear()
    code, out, _ = _run(capsys, "breakeven", "--format", "json", "--speed", "3")
    payload = json.loads(out)
    electricity = next(item for item in payload["assumptions"] if item["name"] == "electricity")
    assert code == 0 and electricity["value"] == 0.30 and electricity["source"].startswith("setting economics")


def test_breakeven_reports_a_job_that_does_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "breakeven", "--model", "llama-3.1-8b", "--method", "full", "--rent", "4xh100-sxm",
                        "--sharding", "fsdp", "--price", "2.69")
    assert code == 0
    assert "own 1x rtx-4090: infeasible, not priced" in out
    assert out.startswith("Rent:")


def test_breakeven_bad_input_is_one_sentence_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "breakeven", "--price", "-1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "usd_per_gpu_hour" in err
    code, _, err = _run(capsys, "breakeven", "--hours-per-day", "25")
    assert code == 2 and "busy_hours_per_day" in err
    code, _, err = _run(capsys, "breakeven", "--own", "rtx-9999")
    assert code == 2 and "Unknown GPU id" in err
    code, _, err = _run(capsys, "breakeven", "--resale", "1.5")
    assert code == 2 and "resale_fraction" in err


def test_fleet_prints_plan_alternatives_and_assumptions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "fleet", "--demand", str(FIXTURES / "demand_lab_year.csv"))
    assert code == 0
    assert "all rent" in out and "all own" in out and "Cost of the plan" in out
    assert "demand: 52 weeks, 2 job classes" in out
    assert "current on-demand offers" in out and "street price" in out
    code, out, _ = _run(capsys, "fleet", "--demand", str(FIXTURES / "demand_small.csv"), "--own", "2xrtx-4090=1700",
                        "--rent", "h100-sxm=2.5", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["plan"]["feasible"]
    assert payload["plan"]["total_usd"] <= payload["all_rent"]["total_usd"]
    assert len(payload["plan"]["rented_hours_per_week"]["rent 1x h100-sxm"]) == 4


def test_fleet_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "fleet", "--demand", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("week,job_class,gpu_hours,fits_on\n")
    code, _, err = _run(capsys, "fleet", "--demand", str(empty))
    assert code == 2 and "demand" in err


def test_sensitivity_prints_tornado_and_monte_carlo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "sensitivity", "--speed", "3", "--price", "2.5", "--samples", "2000",
                        "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["tornado"][0]["swing"] >= payload["tornado"][-1]["swing"]
    assert 0 <= payload["monte_carlo"]["probability_own_cheaper"] <= 1
    assert payload["monte_carlo"]["distributions"]["usd_per_kwh"]["source"].startswith("EIA")
    code, out, _ = _run(capsys, "sensitivity", "--speed", "3", "--samples", "0")
    assert code == 0 and out.startswith("Tornado") and "Monte Carlo" not in out


def test_breakeven_fitted_curve_spot_and_overheads_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "breakeven", "--own", "rtx-3090", "--depreciation", "fitted", "--purchase-age", "5",
                        "--spot", "--overhead-hours", "0.25", "--job-hours", "4", "--speed", "2.5",
                        "--discount-rate", "0.08", "--scenario", "rebound")
    assert code == 0
    assert "fitted resale curve: value/price = " in out and "±" in out
    assert "the cards follow the fitted curve" in out
    assert "spot interruption overhead: 0.1 fraction" in out
    assert "rental price path: rebound" in out
    assert "total (present value)" in out
    code, _, err = _run(capsys, "breakeven", "--overhead-hours", "0.5")
    assert code == 2 and "--job-hours" in err
