"""``rentbuy fleet``: how many cards to buy and how many GPU-hours to rent each week for a demand profile.

The demand file is CSV with ``week,job_class,gpu_hours,fits_on``: reference GPU-hours (hours on
``--reference-gpu``) needed per week by each job class, and the GPUs that class fits on
(``rtx-4090;h100-sxm``, or ``2xrtx-4090`` for a class that needs two cards in one machine).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from rentbuy.errors import UsageError

_SPEC = re.compile(r"^\s*([^=]+?)\s*(?:=\s*([0-9.]+)\s*)?$")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fleet", help="plan owned cards and weekly rented hours for a demand profile (MILP)",
        description="Choose how many cards of each owned type to buy and how many hours of each rented "
        "type to rent each week so that every week's demand is met at the least cost; printed next to "
        "the all-rent and all-own alternatives, with every input and its source.")
    parser.add_argument("--demand", required=True, metavar="FILE.csv",
                        help="CSV with columns week, job_class, gpu_hours, fits_on")
    parser.add_argument("--own", action="append", default=[], metavar="[Nx]GPU[=USD]",
                        help="a machine the plan may buy, price per card optional (repeatable; default: every "
                        "GPU in fits_on with a reference street price)")
    parser.add_argument("--rent", action="append", default=[], metavar="[Nx]GPU[=USD]",
                        help="a rental the plan may use, price per GPU-hour optional (repeatable; default: "
                        "every GPU in fits_on with a reference rental price)")
    parser.add_argument("--max-units", type=int, metavar="N", help="at most N machines of each owned type")
    parser.add_argument("--reference-gpu", default="rtx-4090",
                        help="the GPU whose hours the demand is measured in (default rtx-4090)")
    parser.add_argument("--speed", action="append", default=[], metavar="GPU=X",
                        help="reference GPU-hours one hour of one GPU does (default: throughput model "
                        "for --model/--method)")
    parser.add_argument("--model", default="llama-3.1-8b", help="workload for default speeds (default llama-3.1-8b)")
    parser.add_argument("--method", choices=["full", "lora", "qlora"], default="qlora")
    parser.add_argument("--usd-per-kwh", type=float, metavar="USD", help="electricity price (default: setting)")
    parser.add_argument("--discount-rate", type=float, metavar="RATE", help="annual cost of capital (default: setting)")
    parser.add_argument("--scenario", choices=["flat", "falling", "rebound"], default="flat",
                        help="rental price path (economics.toml)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(func=run)


def _specs(values: list[str], flag: str) -> list[tuple[int, str, float | None]]:
    from rentbuy.commands.breakeven import parse_count_gpu

    out = []
    for text in values:
        match = _SPEC.match(text)
        if not match:
            raise UsageError(f"{flag} {text!r} is not [Nx]GPU[=USD].")
        count, gpu = parse_count_gpu(match.group(1), flag)
        out.append((count, gpu, float(match.group(2)) if match.group(2) else None))
    return out


def _from_fits(demand: Any, has_price: Any) -> list[tuple[int, str, float | None]]:
    """Candidates implied by the demand's fits_on lists, for GPUs with a known price."""
    from optimizer.fleet import parse_fits_token

    seen: dict[tuple[int, str], None] = {}
    for job in demand.classes:
        for token in job.fits_on:
            count, gpu = parse_fits_token(token)
            if has_price(gpu) is not None:
                seen[(count, gpu)] = None
    return [(count, gpu, None) for count, gpu in seen]


def _speeds(args: argparse.Namespace, trail: Any) -> Any:
    """Per-machine speed in reference GPU-hours per hour, from --speed or the throughput model."""
    from optimizer.memory import FineTune
    from optimizer.throughput import scaling_efficiency, tokens_per_second
    from rentbuy.options import check_gpu

    overrides: dict[str, float] = {}
    for text in args.speed:
        gpu, _, value = text.partition("=")
        try:
            overrides[check_gpu(gpu.strip())] = float(value)
        except ValueError:
            raise UsageError(f"--speed {text!r} is not GPU=X with X a number.") from None
    reference = check_gpu(args.reference_gpu)
    base = FineTune(model=args.model, method=args.method)
    reference_tps = tokens_per_second(base, reference)
    cache: dict[tuple[int, str], float] = {}

    def speed(count: int, gpu: str) -> float:
        if (count, gpu) in cache:
            return cache[(count, gpu)]
        job = base.replace(num_gpus=count)
        if gpu in overrides:
            value = count * overrides[gpu] * scaling_efficiency(job, gpu)
            source = f"command line (--speed {gpu}={overrides[gpu]:g}) × {count} GPU(s) × throughput-model scaling"
        else:
            value = tokens_per_second(job, gpu) / reference_tps
            source = f"optimizer.throughput for {args.model} {args.method} against 1x {reference}"
        trail.add(f"speed of {count}x {gpu}", round(value, 4), f"{reference}-hours per hour", source)
        cache[(count, gpu)] = value
        return value

    return speed


def run(args: argparse.Namespace) -> int:
    from config.catalog import gpu as spec
    from optimizer.costs import OwnOption, RentOption
    from optimizer.fleet import OwnedType, RentedType, fleet_assumptions, parse_demand_csv, plan_fleet
    from rentbuy.commands.breakeven import _setting, _shipped, _Trail, price_book, stored_purchase, stored_rent

    path = Path(args.demand)
    if not path.is_file():
        raise UsageError(f"--demand {args.demand}: no such file.")
    try:
        demand = parse_demand_csv(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"--demand {args.demand} is not a UTF-8 text file.") from None
    trail = _Trail()
    trail.add("demand", f"{demand.weeks} weeks, {len(demand.classes)} job classes, "
              f"{demand.gpu_hours.sum():,.0f} {args.reference_gpu}-hours", "", f"file {path}")
    usd_per_kwh = _setting(args.usd_per_kwh, "--usd-per-kwh", "usd_per_kwh", trail, "electricity", "USD/kWh")
    discount = _setting(args.discount_rate, "--discount-rate", "discount_rate", trail, "discount rate", "per year")
    pue = _setting(None, "", "pue", trail, "PUE / cooling factor", "x")
    resale = _setting(None, "", "resale_fraction", trail, "resale value at end of life", "fraction of price")
    maintenance = _setting(None, "", "maintenance_usd_per_year", trail, "maintenance per machine", "USD/year")
    life = _shipped(None, "", "life_years", trail, "depreciation life", "years")
    speed = _speeds(args, trail)

    owned = []
    for count, gpu, price in _specs(args.own, "--own") or _from_fits(demand, price_book().purchase):
        if price is None:
            price = stored_purchase(gpu, trail, f"price per card, {gpu}", f"--own {gpu}=USD")
        else:
            trail.add(f"price per card, {gpu}", price, "USD", "command line (--own)")
        card = spec(gpu)
        trail.add(f"power per card, {gpu}", card.board_power_w, "W", f"catalog board power ({card.source_date})")
        option = OwnOption(gpu=gpu, count=count, purchase_usd=price, life_years=life, resale_fraction=resale,
                           load_watts=card.board_power_w, usd_per_kwh=usd_per_kwh, pue=pue,
                           maintenance_usd_per_year=maintenance, discount_rate=discount)
        owned.append(OwnedType(option, speed(count, gpu), args.max_units))
    rented = []
    for count, gpu, price in _specs(args.rent, "--rent") or _from_fits(demand, price_book().rent):
        if price is None:
            price = stored_rent(gpu, trail, f"rental price, {gpu}", f"--rent {gpu}=USD")
        else:
            trail.add(f"rental price, {gpu}", price, "USD/GPU-hour", "command line (--rent)")
        option = RentOption(gpu=gpu, count=count, usd_per_gpu_hour=price, annual_price_change=args.scenario)
        rented.append(RentedType(option, speed(count, gpu)))
    trail.add("rental price path", args.scenario, "", "command line (--scenario)" if args.scenario != "flat"
              else "default: flat")
    if not owned and not rented:
        raise UsageError("No candidates: give --own and/or --rent (no GPU in fits_on has a known price).")
    result = plan_fleet(demand, owned, rented, discount_rate=discount)
    assumptions = [*trail.items, *fleet_assumptions()]
    if args.format == "json":
        print(_json(result, demand, assumptions))
    else:
        print(_table(result, assumptions))
    return 0


def _plan_dict(plan: Any) -> dict[str, Any]:
    from optimizer.costs import Infeasible

    if isinstance(plan, Infeasible):
        return {"name": plan.option, "feasible": False, "reason": plan.reason}
    return {"name": plan.name, "feasible": True, "total_usd": plan.total_usd, "lines_usd": plan.lines_usd,
            "machines": plan.owned_units,
            "owned_busy_hours_per_week": {k: v.round(3).tolist() for k, v in plan.owned_busy_hours.items()},
            "rented_hours_per_week": {k: v.round(3).tolist() for k, v in plan.rented_hours.items()}}


def _json(result: Any, demand: Any, assumptions: list[Any]) -> str:
    from reports.render import to_json

    return to_json({
        "weeks": demand.weeks,
        "job_classes": [{"name": job.name, "fits_on": list(job.fits_on)} for job in demand.classes],
        "plan": _plan_dict(result.plan), "all_rent": _plan_dict(result.all_rent),
        "all_own": _plan_dict(result.all_own),
        "assumptions": [{"name": a.name, "value": a.value, "unit": a.unit, "source": a.source} for a in assumptions],
    })


def _table(result: Any, assumptions: list[Any]) -> str:
    from optimizer.costs import Infeasible
    from rentbuy.commands.breakeven import render_assumptions
    from reports.render import text_table

    out = ["Plan against the all-rent and all-own alternatives (present value over the demand's weeks)",
           text_table(result.comparison_rows()), ""]
    plan = result.plan
    if isinstance(plan, Infeasible):
        out.append(f"No plan: {plan.reason}.")
    else:
        out += ["What the plan buys and rents", text_table(plan.summary_rows()), ""]
        lines = [{"line": name.replace("_", " "), "usd": usd} for name, usd in plan.lines_usd.items()]
        out += ["Cost of the plan", text_table([*lines, {"line": "total", "usd": plan.total_usd}]), ""]
    out.append(render_assumptions(assumptions))
    return "\n".join(out)
