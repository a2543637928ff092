"""The solver benchmark (break-even, Monte Carlo, fleet MILP) runs small and computes its baselines."""

from __future__ import annotations

import pytest

from bench.solvers import fleet_problem, main, report, run


def test_solver_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(scenarios=3000, loop_sample=10, draws=2000, draw_sample=10, weeks=12, repeats=1)
    be, mc, fleet = result.break_even, result.monte_carlo, result.fleet
    assert be.speedup > 0 and be.max_abs_difference_hours < 1e-8
    assert mc.speedup > 0 and mc.max_abs_difference_usd < 1e-6 and mc.max_abs_difference_hours < 1e-8
    assert 0.0 <= mc.probability_own_cheaper <= 1.0
    assert fleet.plan_usd > 0 and fleet.milp.median > 0 and fleet.relaxation.median > 0
    text = report(result).render()
    assert "brentq loop" in text and "scalar API per draw" in text and "LP relaxation" in text
    assert main(["--scenarios", "500", "--loop-sample", "5", "--draws", "500", "--draw-sample", "5",
                 "--weeks", "8", "--repeats", "1"]) == 0
    assert "fleet MILP" in capsys.readouterr().out


def test_fleet_problem_is_the_issue_size() -> None:
    demand, owned, rented = fleet_problem(156)
    assert demand.weeks == 156 and len(owned) == 3 and len(rented) == 4
