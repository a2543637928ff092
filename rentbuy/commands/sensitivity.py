"""``rentbuy sensitivity``: which inputs move the answer (tornado) and how likely owning wins (Monte Carlo).

Takes the same flags as ``rentbuy breakeven`` for the base case.
"""

from __future__ import annotations

import argparse
from typing import Any

METRIC_CHOICES = ("break_even_hours_per_day", "break_even_rent_price", "payback_days", "saving_usd")


def register(sub: Any) -> None:
    from rentbuy.commands.breakeven import add_comparison_arguments

    parser = sub.add_parser(
        "sensitivity", help="tornado of what moves the break-even, and a Monte Carlo of the saving",
        description="Move each input across a range one at a time and show how far the answer moves "
        "(widest first), then draw the uncertain inputs (rental price level and trend, resale, "
        "electricity, utilization) from sourced distributions (utilization, electricity and resale "
        "centred on your values) and report the probability that owning is cheaper. The base case "
        "takes the same flags as `rentbuy breakeven`.")
    add_comparison_arguments(parser)
    parser.add_argument("--metric", choices=METRIC_CHOICES, default="break_even_hours_per_day",
                        help="what the tornado measures (default break_even_hours_per_day)")
    parser.add_argument("--samples", type=int, default=20_000,
                        help="Monte Carlo draws (default 20000; 0 skips the Monte Carlo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same answer)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from optimizer.defaults import table
    from optimizer.uncertainty import centred_distributions, monte_carlo, tornado
    from rentbuy.commands.breakeven import comparison_inputs, render_assumptions
    from rentbuy.errors import UsageError
    from reports.render import text_table, to_json

    if args.samples < 0:
        raise UsageError("--samples must be 0 or more.")
    inputs = comparison_inputs(args)
    if inputs.own_infeasible or inputs.rent_infeasible:
        raise UsageError(f"The job does not fit: {inputs.own_infeasible or inputs.rent_infeasible}.")
    usage = {"relative_speed": inputs.relative_speed, "horizon_years": inputs.horizon_years,
             "busy_hours_per_day": inputs.busy_hours_per_day}
    chart = tornado(inputs.own, inputs.rent, metric=args.metric, **usage)
    result = None
    sources = table("monte_carlo")
    # The draws centre on this comparison's utilization, electricity and resale, not on a generic lab.
    distributions = centred_distributions(inputs.own, inputs.rent, horizon_years=inputs.horizon_years,
                                          busy_hours_per_day=inputs.busy_hours_per_day)
    if args.samples:
        result = monte_carlo(inputs.own, inputs.rent, distributions=distributions, samples=args.samples,
                             seed=args.seed, **usage)
    if args.format == "json":
        payload: dict[str, Any] = {
            "metric": chart.metric, "unit": chart.unit, "base": chart.base_result, "tornado": chart.rows(),
            "assumptions": [{"name": a.name, "value": a.value, "unit": a.unit, "source": a.source}
                            for a in inputs.assumptions]}
        if result is not None:
            payload["monte_carlo"] = {
                "samples": result.samples, "seed": result.seed,
                "probability_own_cheaper": result.probability_own_cheaper,
                "mean_saving_usd": result.mean_saving_usd, "percentiles": result.rows(),
                "distributions": {name: {"triangular": _triangle(distributions[name]), "unit": sources[name].unit,
                                         "basis": _centre(name), "shipped": sources[name].value,
                                         "source": sources[name].citation()} for name in result.inputs}}
        print(to_json(payload))
        return 0
    out = [f"Tornado: {chart.metric} ({chart.unit}); base case {chart.base_result:,.4g}",
           text_table(chart.rows()), ""]
    if result is not None:
        out += [f"Monte Carlo, {result.samples:,} draws (seed {result.seed}): owning is cheaper in "
                f"{result.probability_own_cheaper:.1%} of scenarios; mean saving ${result.mean_saving_usd:,.0f} "
                "(rent − own, present value)", text_table(result.rows()), "",
                "Distributions (triangular low / mode / high):"]
        out += [f"  {name}: {' / '.join(f'{v:.4g}' for v in _triangle(distributions[name]))} {sources[name].unit}"
                f"  [{_centre(name)}; shipped {sources[name].value}: {sources[name].citation()}]"
                for name in result.inputs]
        out.append("")
    out.append(render_assumptions(inputs.assumptions))
    print("\n".join(out))
    return 0


def _triangle(distribution: Any) -> list[float]:
    return [float(v) for v in (distribution.low, distribution.mode, distribution.high)]


def _centre(name: str) -> str:
    """Where a Monte Carlo range sits, in words (see optimizer.uncertainty.centred_distributions)."""
    centred = {"busy_hours_per_day": "busy hours per day", "usd_per_kwh": "electricity price",
               "resale_fraction": "resale value at the horizon"}
    if name in centred:
        return f"centred on this comparison's {centred[name]}, with the shipped relative spread"
    if name == "rent_price_multiplier":
        return "multiplies this comparison's rental price"
    return "the shipped range, not centred"
