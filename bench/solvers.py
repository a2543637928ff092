"""Solvers: break-even at array speed, Monte Carlo, and the fleet MILP, each against a baseline.

    python -m bench.solvers [--scenarios 1000000] [--loop-sample 2000] [--draws 100000]
                            [--draw-sample 500] [--weeks 156] [--repeats 5]

* Break-even: ``--scenarios`` random scenarios solved by the closed form over whole arrays, against
  one ``brentq`` per scenario on the library's cost functions (the scenarios of
  :mod:`bench.breakeven`; the loop is timed on ``--loop-sample`` of them and extrapolated).
  Target: at least 100x faster than the loop.
* Monte Carlo: :func:`optimizer.uncertainty.monte_carlo` with ``--draws`` draws of the default
  distributions, against the same draws priced one at a time through the scalar API
  (``own_cost``, ``rent_cost``, ``break_even_hours_per_day``; sampled and extrapolated). Target: < 1 s.
* Fleet plan: :func:`optimizer.fleet.plan_fleet` (three HiGHS solves: plan, all-rent, all-own) for
  ``--weeks`` weekly demand of three job classes with 3 owned and 4 rented GPU types, against the
  same three programs with integrality dropped (the LP relaxation), which isolates what the
  integer machine counts cost. Target: < 2 s.

Every figure is the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from unittest import mock

import numpy as np

from bench.breakeven import random_scenarios, scenario_at
from bench.common import Report, Timing, machine_line, time_runs

# ----------------------------------------------------------------------------- break-even


@dataclass(frozen=True)
class BreakEvenResult:
    scenarios: int
    vector: Timing
    loop_sample: int
    loop_seconds_per_scenario: float  # median over repeats of the per-scenario mean
    max_abs_difference_hours: float

    @property
    def loop_extrapolated_seconds(self) -> float:
        return self.loop_seconds_per_scenario * self.scenarios

    @property
    def speedup(self) -> float:
        return self.loop_extrapolated_seconds / self.vector.median


def bench_break_even(scenarios: int, loop_sample: int, repeats: int, seed: int = 0) -> BreakEvenResult:
    from optimizer import vectorized as vec
    from optimizer.breakeven import break_even_hours_brentq_scenario

    batch = random_scenarios(scenarios, seed)
    hours = vec.break_even_hours_per_day(batch)  # warm-up, and the answers to check
    vector = time_runs(lambda: vec.break_even_hours_per_day(batch), repeats)
    picks = np.linspace(0, scenarios - 1, min(loop_sample, scenarios)).astype(int)
    singles = [scenario_at(batch, int(i)) for i in picks]
    break_even_hours_brentq_scenario(singles[0])  # first scipy import
    per_scenario, looped = [], np.empty(len(singles))
    for _ in range(repeats):
        start = time.perf_counter()
        looped = np.array([break_even_hours_brentq_scenario(single) for single in singles])
        per_scenario.append((time.perf_counter() - start) / len(singles))
    closed = hours[picks]
    finite = np.isfinite(closed) & np.isfinite(looped)
    difference = float(np.max(np.abs(closed[finite] - looped[finite]), initial=0.0))
    if not np.array_equal(np.isinf(closed), np.isinf(looped)):
        difference = float("inf")
    return BreakEvenResult(scenarios, vector, len(singles), statistics.median(per_scenario), difference)


# ----------------------------------------------------------------------------- Monte Carlo


def _mc_options() -> tuple[Any, Any, float, float, float]:
    """A 4090 bought against an H100 rented at $2.69/h, 3x as fast, over 3 years."""
    from optimizer.costs import OwnOption, RentOption

    own = OwnOption(gpu="rtx-4090", purchase_usd=1800.0, resale_fraction=0.4, life_years=3.0, load_watts=450.0,
                    usd_per_kwh=0.165, discount_rate=0.05)
    rent = RentOption(gpu="h100-sxm", usd_per_gpu_hour=2.69)
    return own, rent, 3.0, 3.0, 6.0  # relative speed, horizon years, busy hours per day


def _mc_draws(draws: int, seed: int) -> dict[str, np.ndarray]:
    """The draws :func:`monte_carlo` makes with the same seed (same generator, same order)."""
    from optimizer.uncertainty import MONTE_CARLO_INPUTS, default_distributions

    chosen = default_distributions()
    rng = np.random.default_rng(seed)
    return {name: chosen[name].sample(rng, draws) for name in MONTE_CARLO_INPUTS if name in chosen}


def _mc_vectorised_values(draws: dict[str, np.ndarray], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw saving and break-even hours as monte_carlo computes them (to check the loop)."""
    from optimizer import vectorized as vec
    from optimizer.costs import scenarios

    own, rent, speed, horizon, busy = _mc_options()
    base = scenarios(own, rent, relative_speed=speed, horizon_years=horizon, busy_hours_per_day=busy)
    batch = base.replace(usd_per_kwh=draws["usd_per_kwh"], resale_usd=draws["resale_fraction"] * base.capex_usd,
                         busy_hours_per_day=np.clip(draws["busy_hours_per_day"], 0.0, 24.0),
                         annual_price_change=(draws["rent_annual_price_change"],),
                         rent_usd_per_gpu_hour=base.rent_usd_per_gpu_hour * draws["rent_price_multiplier"])
    size = len(draws["usd_per_kwh"])
    return (np.broadcast_to(vec.saving_usd(batch), (size,)),
            np.broadcast_to(vec.break_even_hours_per_day(batch), (size,)))


def _mc_scalar_draw(draws: dict[str, np.ndarray], i: int) -> tuple[float, float]:
    """One draw through the scalar API: option objects, cost breakdowns, break-even."""
    from optimizer.breakeven import break_even_hours_per_day
    from optimizer.costs import own_cost, rent_cost

    own, rent, speed, horizon, _ = _mc_options()
    own_i = replace(own, usd_per_kwh=float(draws["usd_per_kwh"][i]), resale_fraction=float(draws["resale_fraction"][i]),
                    life_years=horizon)
    rent_i = replace(rent, usd_per_gpu_hour=rent.usd_per_gpu_hour * float(draws["rent_price_multiplier"][i]),
                     annual_price_change=float(draws["rent_annual_price_change"][i]))
    busy = min(max(float(draws["busy_hours_per_day"][i]), 0.0), 24.0)
    saving = (rent_cost(rent_i, busy, speed, horizon, discount_rate=own.discount_rate).total_usd
              - own_cost(own_i, busy, horizon).total_usd)
    return saving, break_even_hours_per_day(own_i, rent_i, speed, horizon)


@dataclass(frozen=True)
class MonteCarloResult:
    draws: int
    vector: Timing
    draw_sample: int
    loop_seconds_per_draw: float
    max_abs_difference_usd: float
    max_abs_difference_hours: float
    probability_own_cheaper: float

    @property
    def loop_extrapolated_seconds(self) -> float:
        return self.loop_seconds_per_draw * self.draws

    @property
    def speedup(self) -> float:
        return self.loop_extrapolated_seconds / self.vector.median


def bench_monte_carlo(draws: int, draw_sample: int, repeats: int, seed: int = 0) -> MonteCarloResult:
    from optimizer.uncertainty import monte_carlo

    own, rent, speed, horizon, busy = _mc_options()

    def vectorised() -> Any:
        return monte_carlo(own, rent, relative_speed=speed, horizon_years=horizon, busy_hours_per_day=busy,
                           samples=draws, seed=seed)

    answer = vectorised()  # warm-up (imports, defaults file)
    vector = time_runs(vectorised, repeats)
    values = _mc_draws(draws, seed)
    saving, hours = _mc_vectorised_values(values, seed)
    picks = np.linspace(0, draws - 1, min(draw_sample, draws)).astype(int)
    _mc_scalar_draw(values, int(picks[0]))
    per_draw, looped = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        looped = [_mc_scalar_draw(values, int(i)) for i in picks]
        per_draw.append((time.perf_counter() - start) / len(picks))
    loop_saving = np.array([s for s, _ in looped])
    loop_hours = np.array([h for _, h in looped])
    finite = np.isfinite(loop_hours) & np.isfinite(hours[picks])
    return MonteCarloResult(
        draws, vector, len(picks), statistics.median(per_draw),
        float(np.max(np.abs(loop_saving - saving[picks]))),
        float(np.max(np.abs(loop_hours[finite] - hours[picks][finite]), initial=0.0)),
        answer.probability_own_cheaper)


# ----------------------------------------------------------------------------- fleet


def fleet_problem(weeks: int, seed: int = 0) -> tuple[Any, list[Any], list[Any]]:
    """Three years of a lab's weekly demand (seasonal, with deadline peaks) in three job classes,
    3 owned machine types and 4 rented GPU types."""
    from optimizer.costs import OwnOption, RentOption
    from optimizer.fleet import Demand, JobClass, OwnedType, RentedType

    rng = np.random.default_rng(seed)
    week = np.arange(weeks)
    season = 1.0 + 0.35 * np.sin(2 * np.pi * week / 52.0)
    peaks = np.where(rng.random(weeks) < 0.1, rng.uniform(2.0, 4.0, weeks), 1.0)  # paper deadlines
    growth = 1.0 + week / 156.0
    hours = np.column_stack([
        90.0 * season * peaks * growth * rng.uniform(0.8, 1.2, weeks),    # QLoRA of 7-8B models
        35.0 * season * peaks * growth * rng.uniform(0.6, 1.4, weeks),    # LoRA of 30B (48 GB)
        12.0 * peaks * growth * rng.uniform(0.0, 2.0, weeks),             # full fine-tunes (80 GB class)
    ])
    classes = (JobClass("qlora-8b", ("rtx-3090", "rtx-4090", "rtx-5090", "h100-sxm", "a100-sxm-80gb")),
               JobClass("lora-30b", ("2xrtx-4090", "h100-sxm", "a100-sxm-80gb")),
               JobClass("full-8b", ("h100-sxm", "a100-sxm-80gb")))
    owned = [OwnedType(OwnOption(gpu="rtx-4090", purchase_usd=1800.0, usd_per_kwh=0.165, discount_rate=0.05), 1.0),
             OwnedType(OwnOption(gpu="rtx-4090", count=2, purchase_usd=1800.0, system_usd=1500.0, load_watts=450.0,
                                 usd_per_kwh=0.165, discount_rate=0.05), 1.8),
             OwnedType(OwnOption(gpu="rtx-5090", purchase_usd=2600.0, load_watts=575.0, usd_per_kwh=0.165,
                                 discount_rate=0.05), 1.35, max_units=4)]
    rented = [RentedType(RentOption(gpu="rtx-4090", usd_per_gpu_hour=0.35), 1.0),
              RentedType(RentOption(gpu="rtx-5090", usd_per_gpu_hour=0.65), 1.35),
              RentedType(RentOption(gpu="h100-sxm", usd_per_gpu_hour=2.69, annual_price_change=-0.15), 3.0),
              RentedType(RentOption(gpu="a100-sxm-80gb", usd_per_gpu_hour=1.49, storage_usd_per_month=20.0), 2.0)]
    return Demand(classes, hours), owned, rented


def _relaxed_milp(original: Callable[..., Any]) -> Callable[..., Any]:
    def solve(*args: Any, integrality: Any = None, **kwargs: Any) -> Any:
        return original(*args, integrality=None if integrality is None else np.zeros_like(integrality), **kwargs)
    return solve


@dataclass(frozen=True)
class FleetResult:
    weeks: int
    variables: int
    milp: Timing
    relaxation: Timing
    plan_usd: float
    machines: str


def bench_fleet(weeks: int, repeats: int, seed: int = 0) -> FleetResult:
    import scipy.optimize

    from optimizer.fleet import FleetPlan, plan_fleet

    demand, owned, rented = fleet_problem(weeks, seed)
    result = plan_fleet(demand, owned, rented)  # warm-up (scipy import) and the answer
    milp = time_runs(lambda: plan_fleet(demand, owned, rented), repeats)
    with mock.patch.object(scipy.optimize, "milp", _relaxed_milp(scipy.optimize.milp)):
        plan_fleet(demand, owned, rented)
        relaxation = time_runs(lambda: plan_fleet(demand, owned, rented), repeats)
    plan = result.plan
    assert isinstance(plan, FleetPlan)
    machines = ", ".join(f"{n} x {label}" for label, n in plan.owned_units.items() if n) or "none"
    pairs = sum(1 for o in owned for job in demand.classes if job.accepts(o.option.gpu, o.option.count))
    pairs += sum(1 for r in rented for job in demand.classes if job.accepts(r.option.gpu, r.option.count))
    return FleetResult(weeks, len(owned) + len(rented) + pairs * weeks, milp, relaxation, plan.total_usd, machines)


# ----------------------------------------------------------------------------- the benchmark


@dataclass(frozen=True)
class SolverResults:
    break_even: BreakEvenResult
    monte_carlo: MonteCarloResult
    fleet: FleetResult


def run(scenarios: int = 1_000_000, loop_sample: int = 2000, draws: int = 100_000, draw_sample: int = 500,
        weeks: int = 156, repeats: int = 5, seed: int = 0) -> SolverResults:
    if min(scenarios, loop_sample, draws, draw_sample, weeks, repeats) < 1:
        raise ValueError("every size and repeats must be at least 1.")
    return SolverResults(bench_break_even(scenarios, loop_sample, repeats, seed),
                         bench_monte_carlo(draws, draw_sample, repeats, seed),
                         bench_fleet(weeks, repeats, seed))


def report(r: SolverResults) -> Report:
    out = Report(f"Solvers (median of {len(r.fleet.milp.seconds)} runs)")
    be, mc, fl = r.break_even, r.monte_carlo, r.fleet
    out.add(f"break-even, {be.scenarios:,} scenarios vectorised", be.vector.median, "s",
            f"brentq loop (timed on {be.loop_sample:,}, extrapolated)", be.loop_extrapolated_seconds,
            target=">= 100x faster than the loop", met=be.speedup >= 100,
            note=f"{be.speedup:,.0f}x faster; max |difference| {be.max_abs_difference_hours:.1e} h/day")
    out.add(f"Monte Carlo, {mc.draws:,} draws", mc.vector.median, "s",
            f"scalar API per draw (timed on {mc.draw_sample:,}, extrapolated)", mc.loop_extrapolated_seconds,
            target="< 1 s", met=mc.vector.median < 1.0,
            note=f"{mc.speedup:,.0f}x faster; P(own cheaper) {mc.probability_own_cheaper:.3f}; max |difference| "
                 f"${mc.max_abs_difference_usd:.1e}, {mc.max_abs_difference_hours:.1e} h/day")
    out.add(f"fleet MILP, {fl.weeks} weeks, 3 owned + 4 rented types", fl.milp.median, "s",
            "LP relaxation (same 3 programs, no integers)", fl.relaxation.median,
            target="< 2 s", met=fl.milp.median < 2.0,
            note=f"{fl.variables:,} variables per program; plan ${fl.plan_usd:,.0f} (buys {fl.machines})")
    out.notes.append(machine_line())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.solvers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=1_000_000, help="break-even scenarios (default 1,000,000)")
    parser.add_argument("--loop-sample", type=int, default=2000, help="scenarios timed in the brentq loop")
    parser.add_argument("--draws", type=int, default=100_000, help="Monte Carlo draws (default 100,000)")
    parser.add_argument("--draw-sample", type=int, default=500, help="draws timed through the scalar API")
    parser.add_argument("--weeks", type=int, default=156, help="weeks of fleet demand (default 156 = 3 years)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(report(run(args.scenarios, args.loop_sample, args.draws, args.draw_sample, args.weeks, args.repeats,
                     args.seed)).render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
