"""Break-even at array speed: one million scenarios vectorised against a per-scenario ``brentq`` loop.

    python -m bench.breakeven [--size 1000000] [--loop-sample 2000] [--seed 0]

Random but plausible scenarios (card price, resale, power, electricity, PUE, idle draw for half of
them, rental price and yearly trend, relative speed, discount rate, whole-month horizons) are solved
for the break-even busy hours per day three ways:

* vectorised: the closed form over the whole arrays (:func:`optimizer.vectorized.break_even_hours_per_day`);
* library loop: one scenario at a time, ``scipy.optimize.brentq`` on the library's cost functions
  (:func:`optimizer.breakeven.break_even_hours_brentq_scenario`), i.e. one Python call per scenario;
* lean loop: one scenario at a time, the monthly sums added up in plain Python floats and ``brentq``
  on the resulting cost gap, the fastest per-scenario code one would reasonably write (and an
  independent check of the closed-form time factors).

The loops are timed on a sample and extrapolated to the full size; all three answers are compared
on the sample. NumPy's element-wise kernels run on one core.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer import vectorized as vec
from optimizer.breakeven import break_even_hours_brentq_scenario


def random_scenarios(size: int, seed: int = 0) -> vec.Scenarios:
    """``size`` plausible owning-vs-renting scenarios (consumer card against a rented GPU)."""
    rng = np.random.default_rng(seed)
    capex = rng.uniform(600.0, 4000.0, size)
    always_on = rng.random(size) < 0.5
    return vec.Scenarios(
        capex_usd=capex,
        resale_usd=capex * rng.uniform(0.0, 0.7, size),
        load_kw=rng.uniform(0.25, 0.6, size),
        idle_kw=rng.uniform(0.01, 0.06, size),
        powered_hours_per_day=np.where(always_on, 24.0, np.nan),
        usd_per_kwh=rng.uniform(0.08, 0.45, size),
        pue=rng.uniform(1.0, 1.3, size),
        maintenance_usd_per_month=rng.uniform(0.0, 20.0, size),
        admin_usd_per_month=0.0,
        own_gpu_count=1.0,
        rent_usd_per_gpu_hour=rng.uniform(0.3, 4.0, size),
        rent_gpu_hours_per_busy_hour=1.0 / rng.uniform(0.5, 4.0, size),
        rent_overhead_factor=rng.uniform(1.0, 1.2, size),
        storage_usd_per_month=0.0,
        annual_price_change=(rng.uniform(-0.35, 0.25, size),),
        discount_rate=rng.uniform(0.0, 0.12, size),
        horizon_years=rng.integers(12, 61, size) / 12.0,
        busy_hours_per_day=0.0,
    )


def scenario_at(s: vec.Scenarios, index: int) -> vec.Scenarios:
    """One scenario of a batch, as 0-d arrays (what a per-scenario loop sees)."""
    def pick(array: np.ndarray) -> np.ndarray:
        return np.broadcast_to(array, s.shape)[index]

    values = {name: pick(getattr(s, name)) for name in s.__dataclass_fields__ if name != "annual_price_change"}
    return vec.Scenarios(**values, annual_price_change=tuple(pick(c) for c in s.annual_price_change))


def _lean_break_even(s: vec.Scenarios) -> float:
    """Per-scenario baseline in plain floats: monthly sums by loop, then brentq on the cost gap."""
    from scipy.optimize import brentq

    value = {name: float(getattr(s, name)) for name in s.__dataclass_fields__ if name != "annual_price_change"}
    rate, change = value["discount_rate"], float(s.annual_price_change[0])
    monthly_discount, monthly_growth = (1 + rate) ** (-1 / 12), (1 + change) ** (1 / 12)
    annuity = path = 0.0
    discount = multiplier = 1.0
    for _ in range(round(12 * value["horizon_years"])):
        discount *= monthly_discount
        annuity += discount
        path += discount * multiplier
        multiplier *= monthly_growth
    usd_per_kwh = value["usd_per_kwh"] * value["pue"]
    powered = value["powered_hours_per_day"]
    idle_hours_at = (lambda h: max(powered - h, 0.0)) if powered == powered else (lambda h: 0.0)
    fixed = (value["capex_usd"] - (1 + rate) ** -value["horizon_years"] * value["resale_usd"]
             + annuity * (value["maintenance_usd_per_month"] + value["admin_usd_per_month"]
                          - value["storage_usd_per_month"]))
    rent_per_hour = (path * value["rent_usd_per_gpu_hour"] * value["rent_gpu_hours_per_busy_hour"]
                     * value["rent_overhead_factor"])
    days = vec.DAYS_PER_MONTH

    def gap(hours: float) -> float:
        energy = (value["load_kw"] * hours + value["idle_kw"] * idle_hours_at(hours)) * usd_per_kwh
        return fixed + days * (annuity * energy - rent_per_hour * hours)

    if gap(0.0) <= 0:
        return 0.0
    knots = [0.0, *([powered] if 0.0 < powered < 24.0 else []), 24.0]
    for low, high in itertools.pairwise(knots):
        if gap(low) > 0 >= gap(high):
            return float(brentq(gap, low, high, xtol=1e-12, rtol=1e-12))
    return float("inf")


def _timed_loop(function: object, singles: list[vec.Scenarios]) -> tuple[np.ndarray, float]:
    function(singles[0])  # type: ignore[operator]  # warm up (first scipy import, caches)
    start = time.perf_counter()
    answers = np.array([function(single) for single in singles])  # type: ignore[operator]
    return answers, (time.perf_counter() - start) / len(singles)


def _agreement(closed: np.ndarray, looped: np.ndarray) -> tuple[float, bool]:
    finite = np.isfinite(closed) & np.isfinite(looped)
    same_status = bool(np.array_equal(np.isinf(closed), np.isinf(looped))
                       and np.array_equal(closed == 0, looped == 0))
    return float(np.max(np.abs(closed[finite] - looped[finite]), initial=0.0)), same_status


@dataclass(frozen=True)
class BenchResult:
    size: int
    build_seconds: float
    vector_seconds: float
    loop_sample: int
    library_loop_seconds_per_scenario: float
    lean_loop_seconds_per_scenario: float
    max_abs_difference_hours: float
    statuses_agree: bool

    def extrapolated(self, per_scenario: float) -> float:
        return per_scenario * self.size

    def report(self) -> str:
        lines = [f"scenarios                      {self.size:,}",
                 f"building the inputs            {self.build_seconds:.3f} s (random draws + validation)",
                 f"vectorised closed form         {self.vector_seconds:.3f} s "
                 f"({self.vector_seconds / self.size * 1e9:.0f} ns per scenario)"]
        for label, per in (("brentq loop, library calls", self.library_loop_seconds_per_scenario),
                           ("brentq loop, lean floats", self.lean_loop_seconds_per_scenario)):
            total = self.extrapolated(per)
            lines.append(f"{label:<31}{per * 1e6:,.0f} µs per scenario (timed on {self.loop_sample:,}), "
                         f"{total:,.0f} s extrapolated, {total / self.vector_seconds:,.0f}x slower")
        lines.append(f"agreement on the sample        max |difference| {self.max_abs_difference_hours:.2e} h/day; "
                     f"never/always cases {'identical' if self.statuses_agree else 'DIFFER'}")
        return "\n".join(lines)


def run(size: int = 1_000_000, loop_sample: int = 2000, seed: int = 0, repeats: int = 3) -> BenchResult:
    """Time both methods on the same scenarios and check they agree."""
    if size < 1 or loop_sample < 1:
        raise ValueError("size and loop_sample must be at least 1.")
    start = time.perf_counter()
    batch = random_scenarios(size, seed)
    build_seconds = time.perf_counter() - start
    vec.break_even_hours_per_day(batch)  # warm up allocations
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        hours = vec.break_even_hours_per_day(batch)
        timings.append(time.perf_counter() - start)
    picks = np.linspace(0, size - 1, min(loop_sample, size)).astype(int)
    singles = [scenario_at(batch, int(i)) for i in picks]
    library, library_seconds = _timed_loop(break_even_hours_brentq_scenario, singles)
    lean, lean_seconds = _timed_loop(_lean_break_even, singles)
    closed = hours[picks]
    difference_library, same_library = _agreement(closed, library)
    difference_lean, same_lean = _agreement(closed, lean)
    return BenchResult(size, build_seconds, min(timings), len(picks), library_seconds, lean_seconds,
                       max(difference_library, difference_lean), same_library and same_lean)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.breakeven", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="scenarios (default 1,000,000)")
    parser.add_argument("--loop-sample", type=int, default=2000, help="scenarios timed in the brentq loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(run(args.size, args.loop_sample, args.seed).report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
