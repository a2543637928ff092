"""``rentbuy breakeven``: own a card or rent GPUs for the same work? Break-even figures, both cost
breakdowns and every input with where it came from, so a finance lead can audit the answer.

The option-building helpers here are shared with ``rentbuy sensitivity``.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rentbuy.errors import UsageError

_OPTION_SPEC = re.compile(r"^\s*(?:(\d+)\s*x\s*)?([a-z0-9][a-z0-9-]*)\s*$")
PRICE_SCENARIOS = ("flat", "falling", "rebound")


def parse_count_gpu(text: str, flag: str) -> tuple[int, str]:
    """``2xrtx-4090`` → (2, "rtx-4090"); the GPU id is checked against the catalog."""
    from rentbuy.options import check_gpu

    match = _OPTION_SPEC.match(text.lower())
    if not match:
        raise UsageError(f"{flag} {text!r} is not a GPU id or COUNTxGPU such as 2xrtx-4090.")
    count = int(match.group(1) or 1)
    if count < 1:
        raise UsageError(f"{flag} {text!r}: the GPU count must be at least 1.")
    return count, check_gpu(match.group(2))


def add_comparison_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that describe one owned option, one rented option and the work."""
    what = parser.add_argument_group("what to compare")
    what.add_argument("--own", metavar="[Nx]GPU",
                      help="the card(s) to buy, e.g. rtx-4090 or 2xrtx-4090 (default rtx-4090)")
    what.add_argument("--rent", metavar="[Nx]GPU",
                      help="the GPUs to rent for the same work, e.g. h100-sxm or 4xh100-sxm (default h100-sxm)")
    what.add_argument("--price", type=float, metavar="USD",
                      help="rental price per GPU-hour today (default: the reference price in "
                      "config/data/economics.toml)")
    what.add_argument("--speed", type=float, metavar="X",
                      help="relative speed: owned busy hours one rented hour replaces (H100 doing in one "
                      "hour what a 4090 does in three: 3.0). Default: from --model via the throughput "
                      "model, else the ratio of dense BF16 TFLOPS in the GPU catalog")
    what.add_argument("--hours-per-day", type=float, metavar="H",
                      help="busy hours per day of the owned machine (default: setting economics.busy_hours_per_day)")
    what.add_argument("--horizon", type=float, metavar="YEARS", help="years compared (default: setting)")

    job = parser.add_argument_group("the job (optional: checks that it fits and derives --speed)")
    job.add_argument("--model", help="model preset, e.g. llama-3.1-8b")
    job.add_argument("--method", choices=["full", "lora", "qlora"], default="qlora")
    job.add_argument("--seq-len", type=int, default=2048)
    job.add_argument("--micro-batch-size", type=int, default=1)
    job.add_argument("--gradient-checkpointing", action="store_true")
    job.add_argument("--sharding", choices=["none", "fsdp", "zero1", "zero2", "zero3"], default="none",
                     help="how a multi-GPU option splits the model (default none: each GPU holds it)")

    owning = parser.add_argument_group("owning")
    owning.add_argument("--purchase-usd", type=float, metavar="USD", help="price per card (default: reference "
                        "street price in economics.toml, else launch MSRP)")
    owning.add_argument("--system-usd", type=float, metavar="USD",
                        help="the rest of the machine (default in economics.toml: 0, an existing workstation)")
    owning.add_argument("--life", type=float, metavar="YEARS", help="depreciation life (default in economics.toml)")
    owning.add_argument("--resale", type=float, metavar="FRACTION",
                        help="value left at the end of the life, 0-1 (default: setting economics.resale_fraction)")
    owning.add_argument("--depreciation", choices=["straight-line", "declining-balance", "macrs-5", "fitted"],
                        help="schedule (default: setting); fitted = curve fitted to used-price history")
    owning.add_argument("--purchase-age", type=float, metavar="YEARS",
                        help="with --depreciation fitted: the model's age when bought (default: since launch)")
    owning.add_argument("--load-watts", type=float, metavar="W", help="draw per card when busy (default: board power)")
    owning.add_argument("--idle-watts", type=float, default=0.0, metavar="W", help="draw per card when on and idle")
    owning.add_argument("--powered-hours", type=float, metavar="H",
                        help="hours a day the machine is on (default: only while busy)")
    owning.add_argument("--usd-per-kwh", type=float, metavar="USD", help="electricity price (default: setting)")
    owning.add_argument("--pue", type=float, metavar="X", help="cooling/overhead factor on energy (default: setting)")
    owning.add_argument("--maintenance", type=float, metavar="USD", help="maintenance per year (default: setting)")
    owning.add_argument("--admin-hours", type=float, metavar="H", help="admin hours per month (default 0)")
    owning.add_argument("--admin-rate", type=float, metavar="USD", help="admin cost per hour (default 0)")
    owning.add_argument("--discount-rate", type=float, metavar="RATE",
                        help="annual cost of capital, e.g. 0.08 (default: setting)")
    owning.add_argument("--own-scaling", type=float, metavar="X",
                        help="multi-GPU scaling efficiency of the owned machine (default: throughput model)")

    renting = parser.add_argument_group("renting")
    renting.add_argument("--price-change", type=float, metavar="RATE",
                         help="yearly change of the rental price, e.g. -0.2")
    renting.add_argument("--scenario", choices=PRICE_SCENARIOS, help="named rental price path (economics.toml)")
    renting.add_argument("--spot", action="store_true", help="spot/interruptible capacity")
    renting.add_argument("--interruption-overhead", type=float, metavar="FRACTION",
                         help="extra billed hours on spot (default in economics.toml)")
    renting.add_argument("--overhead-hours", type=float, default=0.0, metavar="H",
                         help="billed hours per job for spin-up and data upload")
    renting.add_argument("--job-hours", type=float, metavar="H", help="rented hours of work per job")
    renting.add_argument("--storage-usd-per-month", type=float, default=0.0, metavar="USD")
    renting.add_argument("--rent-scaling", type=float, metavar="X",
                         help="multi-GPU scaling efficiency of the rented option (default: throughput model)")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "breakeven", help="own or rent: break-even utilization, payback and price, with the working",
        description="Compare buying GPUs with renting them for the same work: the busy hours per day at "
        "which owning pays, the payback period at your utilization, the rental price at which owning "
        "wins, both cost breakdowns, and every input with its source.")
    add_comparison_arguments(parser)
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(func=run)


@dataclass
class ComparisonInputs:
    """Everything the optimizer needs for one comparison, plus the audit trail."""

    own: Any
    rent: Any
    relative_speed: float
    horizon_years: float
    busy_hours_per_day: float
    assumptions: list[Any] = field(default_factory=list)
    own_infeasible: str | None = None
    rent_infeasible: str | None = None


class _Trail:
    """Collects (name, value, unit, source) as inputs are resolved."""

    def __init__(self) -> None:
        from optimizer.costs import Assumption

        self._make = Assumption
        self.items: list[Any] = []

    def add(self, name: str, value: Any, unit: str, source: str) -> Any:
        self.items.append(self._make(name, value, unit, source))
        return value


def _setting(args_value: Any, flag: str, key: str, trail: _Trail, name: str, unit: str) -> Any:
    """A flag if given, else the setting, labelled with where it came from."""
    from config.settings import get_settings
    from optimizer.defaults import default

    if args_value is not None:
        return trail.add(name, args_value, unit, f"command line ({flag})")
    economics = get_settings().economics
    value = getattr(economics, key)
    if key in economics.model_fields_set:
        return trail.add(name, value, unit, f"setting economics.{key} (RENTBUY_ECONOMICS__{key.upper()} or "
                         "settings file)")
    try:
        cited = default(key).citation()
    except ValueError:
        cited = "rentbuy default"
    return trail.add(name, value, unit, f"default: {cited}")


def _shipped(args_value: Any, flag: str, key: str, trail: _Trail, name: str, unit: str) -> Any:
    from optimizer.defaults import default

    if args_value is not None:
        return trail.add(name, args_value, unit, f"command line ({flag})")
    item = default(key)
    return trail.add(name, item.value, unit, f"default: {item.citation()}")


DEFAULT_WORKLOAD = "llama-3.1-8b"


def _job(args: argparse.Namespace, count: int) -> Any:
    """The job as the optimizer sees it; without --model, the default workload (an 8B QLoRA)."""
    from optimizer.memory import FineTune

    sharding = args.sharding if count > 1 else "none"
    return FineTune(model=args.model or DEFAULT_WORKLOAD, method=args.method, seq_len=args.seq_len,
                    micro_batch_size=args.micro_batch_size, gradient_checkpointing=args.gradient_checkpointing,
                    num_gpus=count, sharding=sharding)


def _job_label(args: argparse.Namespace) -> str:
    name = args.model or f"default workload {DEFAULT_WORKLOAD}"
    return f"{name} {args.method}, seq {args.seq_len}, micro-batch {args.micro_batch_size}"


def _scaling(args: argparse.Namespace, flag_value: float | None, flag: str, count: int, gpu: str,
             trail: _Trail, side: str) -> float:
    from optimizer.throughput import scaling_efficiency

    name = f"{side} multi-GPU scaling efficiency"
    if flag_value is not None:
        return trail.add(name, flag_value, "fraction", f"command line ({flag})")
    if count == 1:
        return trail.add(name, 1.0, "fraction", "one GPU: no scaling loss")
    value = min(1.0, scaling_efficiency(_job(args, count), gpu))
    return trail.add(name, round(value, 4), "fraction", f"optimizer.throughput for {_job_label(args)}")


def _fit(args: argparse.Namespace, count: int, gpu: str, trail: _Trail, side: str) -> str | None:
    """None when the job fits each GPU of the option, else the reason."""
    from config.catalog import gpu as spec
    from optimizer.memory import estimate_memory, usable_vram_bytes

    need = estimate_memory(_job(args, count)).per_gpu_bytes
    have = usable_vram_bytes(gpu)
    trail.add(f"{side} memory per GPU needed", round(need / 2**30, 2), "GiB",
              f"optimizer.memory estimate for {_job_label(args)}, {count} GPU(s) "
              f"({have / 2**30:.1f} GiB usable)")
    if need <= have:
        return None
    return (f"{args.model} {args.method} needs {need / 2**30:.1f} GiB per GPU but a {spec(gpu).name} "
            f"offers {have / 2**30:.1f} GiB usable")


def _relative_speed(args: argparse.Namespace, own: Any, rent: Any, trail: _Trail) -> float:
    from optimizer.throughput import tokens_per_second

    name = "relative speed (owned busy hours per rented hour)"
    if args.speed is not None:
        return trail.add(name, args.speed, "x", "command line (--speed)")
    own_tps = tokens_per_second(_job(args, own.count), gpu=own.gpu)
    rent_tps = tokens_per_second(_job(args, rent.count), gpu=rent.gpu)
    if args.own_scaling is None and args.rent_scaling is None:
        return trail.add(name, round(rent_tps / own_tps, 4), "x",
                         f"optimizer.throughput: {rent_tps:,.0f} vs {own_tps:,.0f} tokens/s for {_job_label(args)}")
    # A scaling flag overrides the throughput model's multi-GPU loss: rebuild each option's speed
    # from its per-GPU tokens/s and the efficiency recorded on the option (flag or model).
    from optimizer.costs import option_relative_speed

    own_gpu_tps = _per_gpu_tokens_per_second(args, own.count, own.gpu)
    rent_gpu_tps = _per_gpu_tokens_per_second(args, rent.count, rent.gpu)
    speed = option_relative_speed(own, rent, own_gpu_speed=own_gpu_tps, rent_gpu_speed=rent_gpu_tps)
    return trail.add(name, round(speed, 4), "x",
                     f"optimizer.throughput per-GPU speed × count × scaling efficiency: "
                     f"{rent.count} × {rent.scaling_efficiency:g} × {rent_gpu_tps:,.0f} vs "
                     f"{own.count} × {own.scaling_efficiency:g} × {own_gpu_tps:,.0f} tokens/s for {_job_label(args)}")


def _per_gpu_tokens_per_second(args: argparse.Namespace, count: int, gpu: str) -> float:
    """One GPU's tokens/s in the option's layout, before any multi-GPU scaling loss."""
    from optimizer.throughput import scaling_efficiency, tokens_per_second

    job = _job(args, count)
    return tokens_per_second(job, gpu=gpu) / (count * scaling_efficiency(job, gpu))


# How long one read of the stored prices serves: a CLI run uses it many times; a long-running web
# server must still see the next refresh.
PRICE_BOOK_SECONDS = 60.0
_books: dict[tuple[str, str, str], tuple[float, Any]] = {}


def price_book() -> Any:
    """Prices from the database (live refreshes, else the bundled snapshot), read at most once a minute."""
    import time

    from config.settings import get_settings
    from rentbuy.context import open_database
    from rentbuy.pricebook import PriceBook

    settings = get_settings()
    key = (settings.effective_database_url, settings.economics.rent_statistic, settings.economics.purchase_condition)
    read_at, book = _books.get(key, (-math.inf, None))
    if time.monotonic() - read_at > PRICE_BOOK_SECONDS:
        book = PriceBook.from_store(open_database(settings), settings)
        _books[key] = (time.monotonic(), book)
    return book


def stored_purchase(gpu: str, trail: _Trail, name: str, flag: str) -> float:
    """A card's price from the stored street prices (or the shipped reference), with its source."""
    price = price_book().purchase(gpu)
    if price is None:
        raise UsageError(f"No purchase price is known for {gpu}; pass {flag}.")
    return trail.add(name, round(price.usd, 2), "USD", price.source)


def rent_price_from(book: Any, gpu: str, pricing: str, price_flag: str, spot_flag: str) -> Any:
    """The stored GPU-hour price for ``pricing`` (on-demand falls back to any), shared by the CLI and
    the web API, whose flags are named ``price_flag`` and ``spot_flag`` in the error.

    Spot never borrows the on-demand price: that plus the spot surcharge would be dearer than either.
    """
    price = book.rent(gpu, pricing)
    if price is None and pricing == "spot":
        raise UsageError(f"No spot price is known for {gpu}; pass {price_flag} or drop {spot_flag}.")
    price = price or book.rent(gpu)
    if price is None:
        raise UsageError(f"No rental price is known for {gpu}; pass {price_flag}.")
    return price


def stored_rent(gpu: str, trail: _Trail, name: str, flag: str, pricing: str = "on-demand") -> float:
    """A GPU-hour price from the current stored offers (or the shipped reference), with its source."""
    price = rent_price_from(price_book(), gpu, pricing, flag, "--spot")
    return trail.add(name, round(price.usd, 4), "USD/GPU-hour", price.source)


def _purchase(args: argparse.Namespace, gpu: str, trail: _Trail) -> float:
    name = "purchase price per card"
    if args.purchase_usd is not None:
        return trail.add(name, args.purchase_usd, "USD", "command line (--purchase-usd)")
    return stored_purchase(gpu, trail, name, "--purchase-usd")


def _rent_price(args: argparse.Namespace, gpu: str, trail: _Trail) -> float:
    name = "rental price per GPU-hour today"
    if args.price is not None:
        return trail.add(name, args.price, "USD/GPU-hour", "command line (--price)")
    return stored_rent(gpu, trail, name, "--price", "spot" if args.spot else "on-demand")


def _depreciation(args: argparse.Namespace, gpu: str, trail: _Trail) -> Any:
    method = _setting(args.depreciation, "--depreciation", "depreciation", trail, "depreciation", "")
    if method != "fitted":
        return method
    from optimizer.defaults import fitted_resale_curve, resale_history

    history = resale_history(gpu)
    if history is None and args.depreciation is None:
        # The setting asks for fitted curves in general; one card without a history must not fail every run.
        return trail.add("depreciation (cards)", "straight-line", "",
                         f"fallback: no used-price history is shipped for {gpu} (config/data/economics.toml "
                         "[resale_history]), so setting economics.depreciation = fitted cannot apply")
    if history is None:
        raise UsageError(f"--depreciation fitted: no used-price history is shipped for {gpu}; "
                         "use straight-line, declining-balance or macrs-5.")
    if args.purchase_age is not None:
        age = trail.add("model age at purchase", args.purchase_age, "years", "command line (--purchase-age)")
    else:
        age = trail.add("model age at purchase", round((date.today() - history.launch_date).days / 365.25, 2),
                        "years", f"today minus launch date {history.launch_date}")
    curve = fitted_resale_curve(gpu, age_at_purchase_years=age)
    trail.add("fitted resale curve", curve.describe(), "", f"scipy curve_fit to {curve.source}")
    return curve


def comparison_inputs(args: argparse.Namespace) -> ComparisonInputs:
    """Resolve every input from flags, settings and shipped defaults, recording each source."""
    from config.catalog import gpu as spec
    from optimizer.costs import OwnOption, RentOption, model_assumptions

    trail = _Trail()
    own_count, own_gpu = parse_count_gpu(args.own or "rtx-4090", "--own")
    rent_count, rent_gpu = parse_count_gpu(args.rent or "h100-sxm", "--rent")
    trail.add("owned option", f"{own_count}x {own_gpu}", "", "command line (--own)" if args.own else "default")
    trail.add("rented option", f"{rent_count}x {rent_gpu}", "", "command line (--rent)" if args.rent else "default")
    busy = _setting(args.hours_per_day, "--hours-per-day", "busy_hours_per_day", trail,
                    "busy hours per day (owned machine)", "hours/day")
    horizon = _setting(args.horizon, "--horizon", "horizon_years", trail, "horizon", "years")
    purchase = _purchase(args, own_gpu, trail)
    system = _setting(args.system_usd, "--system-usd", "system_usd", trail, "rest of the machine", "USD")
    life = _shipped(args.life, "--life", "life_years", trail, "depreciation life", "years")
    depreciation = _depreciation(args, own_gpu, trail)
    resale = _setting(args.resale, "--resale", "resale_fraction", trail,
                      "resale value at end of life" + ("" if isinstance(depreciation, str) else
                                                       " (the system only: the cards follow the fitted curve)"),
                      "fraction of price")
    card = spec(own_gpu)
    load = (trail.add("power per card while busy", args.load_watts, "W", "command line (--load-watts)")
            if args.load_watts is not None else
            trail.add("power per card while busy", card.board_power_w, "W",
                      f"catalog board power ({card.source}, {card.source_date})"))
    trail.add("power per card while idle", args.idle_watts, "W",
              "command line (--idle-watts)" if args.idle_watts else "default: 0 (off when not busy)")
    trail.add("powered hours per day", "only while busy" if args.powered_hours is None else args.powered_hours,
              "hours/day", "command line (--powered-hours)" if args.powered_hours is not None
              else "default: powered only while busy")
    usd_per_kwh = _setting(args.usd_per_kwh, "--usd-per-kwh", "usd_per_kwh", trail, "electricity", "USD/kWh")
    pue = _setting(args.pue, "--pue", "pue", trail, "PUE / cooling factor", "x")
    maintenance = _setting(args.maintenance, "--maintenance", "maintenance_usd_per_year", trail, "maintenance",
                           "USD/year")
    admin_hours = _shipped(args.admin_hours, "--admin-hours", "admin_hours_per_month", trail, "admin time",
                           "hours/month")
    admin_rate = _shipped(args.admin_rate, "--admin-rate", "admin_usd_per_hour", trail, "admin cost", "USD/hour")
    discount = _setting(args.discount_rate, "--discount-rate", "discount_rate", trail, "discount rate",
                        "per year")
    own_scaling = _scaling(args, args.own_scaling, "--own-scaling", own_count, own_gpu, trail, "owned")
    rent_scaling = _scaling(args, args.rent_scaling, "--rent-scaling", rent_count, rent_gpu, trail, "rented")

    price = _rent_price(args, rent_gpu, trail)
    if args.price_change is not None and args.scenario is not None:
        raise UsageError("Give --price-change or --scenario, not both.")
    if args.scenario is not None:
        from optimizer.defaults import table

        entry = table("rent_price_scenarios")[args.scenario]
        path: Any = args.scenario
        trail.add("rental price path", f"{args.scenario}: {entry.value} per year", "", f"--scenario; "
                  f"{entry.citation()}")
    else:
        path = args.price_change if args.price_change is not None else 0.0
        trail.add("rental price change", path, "per year",
                  "command line (--price-change)" if args.price_change is not None else "default: flat")
    interruption = 0.0
    if args.spot or args.interruption_overhead is not None:
        interruption = (_shipped(args.interruption_overhead, "--interruption-overhead",
                                 "spot_interruption_overhead", trail, "spot interruption overhead", "fraction"))
    if args.overhead_hours:
        trail.add("overhead per job", args.overhead_hours, "hours", "command line (--overhead-hours)")
        if args.job_hours is None:
            raise UsageError("--overhead-hours needs --job-hours (rented hours of work per job).")
        trail.add("rented hours per job", args.job_hours, "hours", "command line (--job-hours)")
    if args.storage_usd_per_month:
        trail.add("rented storage", args.storage_usd_per_month, "USD/month", "command line (--storage-usd-per-month)")

    own = OwnOption(gpu=own_gpu, count=own_count, purchase_usd=purchase, system_usd=system,
                    life_years=life, resale_fraction=resale, depreciation=depreciation, load_watts=load,
                    idle_watts=args.idle_watts, powered_hours_per_day=args.powered_hours,
                    usd_per_kwh=usd_per_kwh, pue=pue, maintenance_usd_per_year=maintenance,
                    discount_rate=discount, admin_hours_per_month=admin_hours, admin_usd_per_hour=admin_rate,
                    scaling_efficiency=own_scaling)
    rent = RentOption(gpu=rent_gpu, count=rent_count, usd_per_gpu_hour=price,
                      overhead_hours_per_job=args.overhead_hours, annual_price_change=path,
                      job_hours=args.job_hours, pricing="spot" if args.spot else "on-demand",
                      interruption_overhead=interruption, storage_usd_per_month=args.storage_usd_per_month,
                      scaling_efficiency=rent_scaling)
    own_infeasible = _fit(args, own_count, own_gpu, trail, "owned") if args.model else None
    rent_infeasible = _fit(args, rent_count, rent_gpu, trail, "rented") if args.model else None
    speed = _relative_speed(args, own, rent, trail)
    return ComparisonInputs(own, rent, speed, horizon, busy, [*trail.items, *model_assumptions()],
                            own_infeasible, rent_infeasible)


def _solution_rows(comparison: Any) -> list[dict[str, Any]]:
    """The four figures as table rows (infeasible comparisons have none)."""
    rows = []
    for label, item in (("break-even busy hours per day", comparison.break_even_hours_per_day),
                        ("payback at your utilization (days)", comparison.payback),
                        ("rental price at which owning wins (USD/GPU-h)", comparison.break_even_rent_price)):
        if item is not None:
            rows.append({"figure": label, "value": item.value, "status": item.status})
    if comparison.owner_cost_per_gpu_hour is not None:
        rows.append({"figure": "owner cost per busy GPU-hour over the life (USD)",
                     "value": comparison.owner_cost_per_gpu_hour, "status": "found"
                     if math.isfinite(comparison.owner_cost_per_gpu_hour) else "never"})
    return rows


def render_comparison(comparison: Any) -> str:
    """The table format: answer, break-even figures, both breakdowns, assumptions."""
    from optimizer.costs import Infeasible
    from reports.render import text_table

    out = [comparison.verdict, ""]
    rows = _solution_rows(comparison)
    if rows:
        out += [text_table(rows), ""]
        out += [f"  {item.explanation}" for item in (comparison.break_even_hours_per_day, comparison.payback,
                                                     comparison.break_even_rent_price) if item is not None]
        out.append("")
    for side in (comparison.own, comparison.rent):
        if isinstance(side, Infeasible):
            out += [f"{side.option}: infeasible, not priced ({side.reason}).", ""]
            continue
        years = f"{comparison.horizon_years:g} year{'' if comparison.horizon_years == 1 else 's'}"
        per_hour = (f"${side.usd_per_gpu_hour:,.3f} per GPU-hour" if math.isfinite(side.usd_per_gpu_hour)
                    else "no GPU-hours to spread the cost over")
        out.append(f"{side.option}: {side.gpu_hours:,.0f} GPU-hours over {years} ({per_hour})")
        out += [text_table(side.rows()), ""]
    out.append(render_assumptions(comparison.assumptions))
    return "\n".join(out)


def render_assumptions(assumptions: Any) -> str:
    """One line per input: name, value and unit, then where it came from."""
    from reports.render import format_cell

    lines = ["Assumptions (every input and where it came from):"]
    for item in assumptions:
        value = format_cell(item.value) if not isinstance(item.value, str) else item.value
        unit = item.unit or ""
        unit = unit[:-1] if unit.endswith("years") and item.value == 1 else unit  # "1 year", not "1 years"
        unit = f" {unit}" if unit else ""
        lines.append(f"  {item.name}: {value}{unit}  [{item.source}]")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from optimizer.breakeven import compare
    from reports.render import to_json

    inputs = comparison_inputs(args)
    comparison = compare(inputs.own, inputs.rent, busy_hours_per_day=inputs.busy_hours_per_day,
                         relative_speed=inputs.relative_speed, horizon_years=inputs.horizon_years,
                         own_infeasible=inputs.own_infeasible, rent_infeasible=inputs.rent_infeasible,
                         assumptions=inputs.assumptions)
    if args.format == "json":
        print(to_json(comparison.to_dict()))
    else:
        print(render_comparison(comparison))
    return 0
