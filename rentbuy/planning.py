"""``rentbuy.plan``: every way to get a fine-tuning workload done, priced for the same work.

For each option — owned cards (1×3090, 1×4090, 2×4090, 1×5090) and rented types (H100, A100,
rented 4090/3090/5090, on-demand and spot) — the planner asks the memory model whether the job
fits (rented types at the smallest GPU count of 1, 2, 4, 8 that does), the throughput model how
long a run takes, and the cost model what the work costs over the horizon. Owned options also get
their break-even against the cheapest feasible rental and their payback at the workload's use.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from optimizer.costs import Assumption, OwnOption, RentOption, own_cost, rent_cost
from optimizer.memory import FineTune, estimate_memory, usable_vram_bytes
from optimizer.throughput import training_hours
from optimizer.vectorized import DAYS_PER_MONTH

if TYPE_CHECKING:
    import pandas as pd

    from config.settings import Settings
    from rentbuy.pricebook import Price, PriceBook

OWN_OPTIONS: tuple[tuple[str, int], ...] = (("rtx-3090", 1), ("rtx-4090", 1), ("rtx-4090", 2), ("rtx-5090", 1))
RENT_GPUS: tuple[str, ...] = ("h100-sxm", "h100-pcie", "a100-sxm-80gb", "rtx-4090", "rtx-3090", "rtx-5090")
RENT_COUNTS: tuple[int, ...] = (1, 2, 4, 8)
COLUMNS = ["option", "kind", "gpu", "count", "pricing", "feasible", "reason", "per_gpu_memory_gib",
           "hours_per_run", "busy_hours_per_day", "usd_per_gpu_hour", "purchase_usd_per_card", "cost_per_run_usd",
           "total_cost_usd", "break_even_hours_per_day", "payback_months", "break_even_against", "price_source"]


@dataclass(frozen=True)
class JobClass:
    """One kind of run in a workload: the job, how many tokens a run trains on, how often it runs."""

    job: FineTune
    tokens_per_run: float
    runs_per_month: float
    name: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.tokens_per_run, int | float) and 0 < self.tokens_per_run < math.inf):
            raise ValueError(f"tokens_per_run must be a positive, finite number of tokens; "
                             f"got {self.tokens_per_run!r}.")
        if not (isinstance(self.runs_per_month, int | float) and 0 <= self.runs_per_month < math.inf):
            raise ValueError(f"runs_per_month must be a finite number, zero or more; got {self.runs_per_month!r}.")

    @property
    def label(self) -> str:
        arch = self.job.model if isinstance(self.job.model, str) else "custom model"
        return self.name or f"{arch} {self.job.method}"


@dataclass(frozen=True)
class Workload:
    """Several job classes that share the same hardware."""

    classes: tuple[JobClass, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError("A workload needs at least one job class.")

    @property
    def label(self) -> str:
        return self.name or " + ".join(c.label for c in self.classes)


@dataclass(frozen=True)
class Option:
    kind: str  # own | rent
    gpu: str
    count: int
    pricing: str = "on-demand"

    @property
    def label(self) -> str:
        spot = " spot" if self.pricing == "spot" else ""
        return f"{self.kind} {self.count}x {self.gpu}{spot}"


@dataclass(frozen=True)
class Pairing:
    """One owned option against one rented option for the same work (charts, tornado)."""

    own: OwnOption
    rent: RentOption
    relative_speed: float  # owned busy hours one rented hour replaces
    busy_hours_per_day: float  # the owned option's busy hours a day under this workload


@dataclass
class Plan:
    """The options table, the one-sentence recommendation and every input with its source.

    ``break_even`` holds every feasible owned option against every feasible rented one;
    ``headline`` is the best owned option against the cheapest on-demand rental (None when
    either side has no feasible option).
    """

    workload: Workload
    horizon_years: float
    table: pd.DataFrame
    recommendation: str
    assumptions: list[Assumption] = field(default_factory=list)
    break_even: pd.DataFrame | None = None
    headline: Pairing | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the same numbers as ``table`` (JSON report, HTTP API)."""
        records = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return {
            "workload": {"name": self.workload.label, "classes": [
                {"name": c.label, "model": c.job.model if isinstance(c.job.model, str) else "custom",
                 "method": c.job.method, "seq_len": c.job.seq_len, "micro_batch_size": c.job.micro_batch_size,
                 "gradient_checkpointing": c.job.gradient_checkpointing, "tokens_per_run": c.tokens_per_run,
                 "runs_per_month": c.runs_per_month} for c in self.workload.classes]},
            "horizon_years": self.horizon_years,
            "options": records,
            "break_even": ([] if self.break_even is None else
                           self.break_even.astype(object).where(self.break_even.notna(), None).to_dict("records")),
            "recommendation": self.recommendation,
            "assumptions": [{"name": a.name, "value": a.value, "unit": a.unit, "source": a.source}
                            for a in self.assumptions],
        }


# --- feasibility and time ------------------------------------------------------------------------


def _layout(job: FineTune, gpu: str, count: int) -> tuple[FineTune, int]:
    """The job on ``count`` GPUs: each GPU holding the model if it fits, else FSDP-sharded.

    Returns the job as laid out and its per-GPU peak bytes.
    """
    plain = job.replace(num_gpus=count, sharding="none")
    need = estimate_memory(plain).per_gpu_bytes
    if count == 1 or need <= usable_vram_bytes(gpu):
        return plain, need
    sharded = job.replace(num_gpus=count, sharding="fsdp")
    return sharded, estimate_memory(sharded).per_gpu_bytes


@dataclass
class _Fit:
    feasible: bool
    reason: str
    per_gpu_bytes: int
    hours_per_run: list[float]
    busy_hours_per_day: float


def _fit(option: Option, workload: Workload) -> _Fit:
    """Whether every class fits the option, and the hours it keeps the option busy."""
    peak = 0
    hours: list[float] = []
    have = usable_vram_bytes(option.gpu)
    for job_class in workload.classes:
        laid_out, need = _layout(job_class.job, option.gpu, option.count)
        peak = max(peak, need)
        if need > have:
            return _Fit(False, f"{job_class.label} needs {need / 2**30:.1f} GiB per GPU; a {option.gpu} has "
                        f"{have / 2**30:.1f} GiB usable", need, [], math.nan)
        hours.append(training_hours(laid_out, option.gpu, job_class.tokens_per_run))
    busy = sum(h * c.runs_per_month for h, c in zip(hours, workload.classes, strict=True)) / DAYS_PER_MONTH
    return _Fit(True, "", peak, hours, busy)


def _rent_options(workload: Workload, gpus: Iterable[str], book: PriceBook, spot: bool) -> list[Option]:
    """Each rented type at the smallest count that fits (or 1, to report why it does not)."""
    options = []
    for gpu in gpus:
        count = next((n for n in RENT_COUNTS if _fit(Option("rent", gpu, n), workload).feasible), RENT_COUNTS[0])
        options.append(Option("rent", gpu, count))
        if spot and book.rent(gpu, "spot") is not None:
            options.append(Option("rent", gpu, count, "spot"))
    return options


# --- money -----------------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Economic inputs resolved once per plan, each recorded with its source."""

    settings: Settings
    book: PriceBook
    horizon_years: float
    trail: list[Assumption]

    def note(self, name: str, value: Any, unit: str, source: str) -> Any:
        self.trail.append(Assumption(name, value, unit, source))
        return value


def _setting_source(settings: Settings, key: str) -> str:
    from optimizer.defaults import default

    if key in settings.economics.model_fields_set:
        return f"setting economics.{key}"
    try:
        return f"default: {default(key).citation()}"
    except ValueError:
        return "rentbuy default"


def _fitted_depreciation(gpu: str, inputs: _Inputs) -> Any:
    """The resale curve fitted to ``gpu``'s street prices, bought at its age today (as ``rentbuy breakeven``).

    A GPU with no shipped used-price history cannot be fitted; it falls back to straight-line so
    one new card does not sink the whole plan, and the trail says so.
    """
    from datetime import date

    from optimizer.defaults import fitted_resale_curve, resale_history

    history = resale_history(gpu)
    if history is None:
        if any(item.name == f"depreciation {gpu}" for item in inputs.trail):
            return "straight-line"
        return inputs.note(f"depreciation {gpu}", "straight-line", "",
                           f"fallback: no used-price history is shipped for {gpu} (config/data/economics.toml "
                           "[resale_history]), so setting economics.depreciation = fitted cannot apply")
    age = round((date.today() - history.launch_date).days / 365.25, 2)
    curve = fitted_resale_curve(gpu, age_at_purchase_years=age)
    name = f"fitted resale curve {gpu}"
    if all(item.name != name for item in inputs.trail):  # 1x and 2x of a card share one curve
        inputs.note(name, curve.describe(), "", f"scipy curve_fit to {curve.source}; bought at age {age:g} years "
                    f"(today minus launch date {history.launch_date})")
    return curve


def _own_option(option: Option, price: Price, inputs: _Inputs) -> OwnOption:
    from config.catalog import gpu as spec
    from optimizer.defaults import default

    economics = inputs.settings.economics
    depreciation: Any = economics.depreciation
    if depreciation == "fitted":
        depreciation = _fitted_depreciation(option.gpu, inputs)
    return OwnOption(
        gpu=option.gpu, count=option.count, purchase_usd=price.usd, life_years=float(default("life_years").value),
        resale_fraction=economics.resale_fraction, depreciation=depreciation,
        load_watts=spec(option.gpu).board_power_w, usd_per_kwh=economics.usd_per_kwh, pue=economics.pue,
        maintenance_usd_per_year=economics.maintenance_usd_per_year, discount_rate=economics.discount_rate,
        system_usd=economics.system_usd)


def _rent_option(option: Option, price: Price) -> RentOption:
    from optimizer.defaults import default

    overhead = float(default("spot_interruption_overhead").value) if option.pricing == "spot" else 0.0
    return RentOption(gpu=option.gpu, count=option.count, usd_per_gpu_hour=price.usd, pricing=option.pricing,
                      interruption_overhead=overhead)


def _rent_total(rent: RentOption, busy_hours_per_day: float, inputs: _Inputs) -> float:
    """What renting costs for ``busy_hours_per_day`` wall hours of the rented option a day.

    The cost model counts work in a machine's busy hours a day (at most 24); a rented fleet can
    run more than a day's worth in parallel, so the excess is carried by ``relative_speed``.
    """
    if busy_hours_per_day <= 0:
        return 0.0
    busy = min(busy_hours_per_day, 24.0)
    speed = busy / busy_hours_per_day
    return rent_cost(rent, busy, speed, inputs.horizon_years,
                     discount_rate=inputs.settings.economics.discount_rate).total_usd


def _hours_per_run(fit: _Fit, workload: Workload) -> float:
    """Hours of an average run, weighted by runs a month like ``cost_per_run_usd`` (plain mean if none run)."""
    if not fit.hours_per_run:
        return math.nan
    weights = [c.runs_per_month for c in workload.classes]
    if sum(weights) <= 0:
        return sum(fit.hours_per_run) / len(fit.hours_per_run)
    return sum(h * w for h, w in zip(fit.hours_per_run, weights, strict=True)) / sum(weights)


def _row(option: Option, fit: _Fit, workload: Workload, horizon_years: float) -> dict[str, Any]:
    runs = sum(c.runs_per_month for c in workload.classes) * 12 * horizon_years
    return {
        "option": option.label, "kind": option.kind, "gpu": option.gpu, "count": option.count,
        "pricing": option.pricing if option.kind == "rent" else "buy", "feasible": fit.feasible,
        "reason": fit.reason, "per_gpu_memory_gib": round(fit.per_gpu_bytes / 2**30, 2),
        "hours_per_run": _hours_per_run(fit, workload),
        "busy_hours_per_day": fit.busy_hours_per_day, "usd_per_gpu_hour": math.nan,
        "purchase_usd_per_card": math.nan, "cost_per_run_usd": math.nan, "total_cost_usd": math.nan,
        "break_even_hours_per_day": math.nan, "payback_months": math.nan, "break_even_against": "",
        "price_source": "", "_runs": runs,
    }


def plan(
    job: FineTune | None = None,
    tokens_per_run: float | None = None,
    runs_per_month: float | None = None,
    horizon_years: float | None = None,
    *,
    workload: Workload | None = None,
    settings: Settings | None = None,
    prices: PriceBook | None = None,
    own_options: Sequence[tuple[str, int]] = OWN_OPTIONS,
    rent_gpus: Sequence[str] = RENT_GPUS,
    spot: bool = True,
) -> Plan:
    """Every option for ``job`` (or a multi-class ``workload``), cheapest feasible first.

    Prices come from the database (``prices`` overrides, e.g. for a planning tool's own quotes);
    economics from the settings. Raises ``ValueError`` naming the field for impossible input.
    """
    import pandas as pd

    from config.settings import get_settings
    from rentbuy.pricebook import PriceBook

    settings = settings or get_settings()
    if workload is None:
        if job is None or tokens_per_run is None or runs_per_month is None:
            raise ValueError("plan() needs job, tokens_per_run and runs_per_month, or a workload.")
        workload = Workload((JobClass(job, tokens_per_run, runs_per_month),))
    horizon = settings.economics.horizon_years if horizon_years is None else horizon_years
    if not (isinstance(horizon, int | float) and 0 < horizon <= 100):
        raise ValueError(f"horizon_years must be between 0 and 100 years; got {horizon!r}.")
    if prices is None:
        from rentbuy.context import open_database

        prices = PriceBook.from_store(open_database(settings), settings)
    inputs = _Inputs(settings, prices, float(horizon), [])
    inputs.note("horizon", float(horizon), "years",
                "argument horizon_years" if horizon_years is not None else _setting_source(settings, "horizon_years"))
    economics = settings.economics
    for key, unit in (("usd_per_kwh", "USD/kWh"), ("pue", "x"), ("resale_fraction", "fraction of price"),
                      ("depreciation", ""), ("discount_rate", "per year"), ("maintenance_usd_per_year", "USD/year"),
                      ("system_usd", "USD per machine"),
                      ("rent_statistic", ""), ("purchase_condition", "")):
        inputs.note(key.replace("_", " "), getattr(economics, key), unit, _setting_source(settings, key))
    for job_class in workload.classes:
        inputs.note(f"workload: {job_class.label}", f"{job_class.tokens_per_run:,.0f} tokens/run, "
                    f"{job_class.runs_per_month:g} runs/month", "", "caller")

    rows: list[dict[str, Any]] = []
    rented: dict[Option, tuple[RentOption, _Fit, float]] = {}
    for option in _rent_options(workload, rent_gpus, prices, spot):
        fit = _fit(option, workload)
        row = _row(option, fit, workload, inputs.horizon_years)
        price = prices.rent(option.gpu, option.pricing)
        if price is None:
            row.update(feasible=False, reason=f"no {option.pricing} price known for {option.gpu}")
        else:
            row.update(usd_per_gpu_hour=price.usd, price_source=price.source)
            inputs.note(f"rent price {option.gpu} {option.pricing}", round(price.usd, 4), "USD/GPU-hour",
                        price.source)
            if fit.feasible:
                rent = _rent_option(option, price)
                row["total_cost_usd"] = _rent_total(rent, fit.busy_hours_per_day, inputs)
                rented[option] = (rent, fit, row["total_cost_usd"])
        rows.append(row)

    on_demand = [value for option, value in rented.items() if option.pricing == "on-demand"]
    reference = min(on_demand, key=lambda value: value[2], default=None)
    owned: dict[Option, tuple[OwnOption, _Fit, float]] = {}
    for gpu, count in own_options:
        option = Option("own", gpu, count)
        fit = _fit(option, workload)
        row = _row(option, fit, workload, inputs.horizon_years)
        price = prices.purchase(gpu)
        if fit.feasible and fit.busy_hours_per_day > 24:
            row.update(feasible=False, reason=f"the workload needs {fit.busy_hours_per_day:.1f} busy hours a day "
                       f"on {option.label}, more than a day has")
        if price is None:
            row.update(feasible=False, reason=f"no purchase price known for {gpu}")
        else:
            row.update(purchase_usd_per_card=price.usd, price_source=price.source)
            inputs.note(f"purchase price {gpu}", round(price.usd, 2), "USD per card", price.source)
        if row["feasible"] and price is not None:
            own = _own_option(option, price, inputs)
            row["total_cost_usd"] = own_cost(own, fit.busy_hours_per_day, inputs.horizon_years).total_usd
            owned[option] = (own, fit, row["total_cost_usd"])
            if reference is not None:
                row.update(_break_even(own, fit, reference[0], reference[1], inputs))
        rows.append(row)

    table = pd.DataFrame(rows)
    table["cost_per_run_usd"] = table["total_cost_usd"] / table.pop("_runs").where(lambda r: r > 0)
    table = table.sort_values(["feasible", "total_cost_usd"], ascending=[False, True], na_position="last")
    table = table[COLUMNS].reset_index(drop=True)
    pairs = [{"own": o.label, "rent": r.label, **_break_even(own, fit, rent, rent_fit, inputs)}
             for o, (own, fit, _) in owned.items() for r, (rent, rent_fit, _) in rented.items()]
    headline = None
    if owned and reference is not None and reference[1].busy_hours_per_day > 0:  # no work, nothing to compare
        own, fit, _ = min(owned.values(), key=lambda value: value[2])
        headline = Pairing(own, reference[0], fit.busy_hours_per_day / reference[1].busy_hours_per_day,
                           fit.busy_hours_per_day)
    return Plan(workload, inputs.horizon_years, table, _recommend(table, workload, inputs), inputs.trail,
                pd.DataFrame(pairs, columns=["own", "rent", *_BREAK_EVEN_FIELDS]), headline)


_BREAK_EVEN_FIELDS = ("break_even_hours_per_day", "payback_months", "break_even_against")


def _break_even(own: OwnOption, fit: _Fit, rent: RentOption, rent_fit: _Fit, inputs: _Inputs) -> dict[str, Any]:
    """Break-even busy hours a day and payback months of ``own`` against ``rent`` for this workload."""
    from optimizer.breakeven import break_even_days, break_even_hours_per_day

    out: dict[str, Any] = dict.fromkeys(_BREAK_EVEN_FIELDS, math.nan)
    out["break_even_against"] = rent.label
    if fit.busy_hours_per_day <= 0 or rent_fit.busy_hours_per_day <= 0:
        return out
    # Owned busy hours one rented hour replaces, for this workload (option to option).
    relative_speed = fit.busy_hours_per_day / rent_fit.busy_hours_per_day
    out["break_even_hours_per_day"] = break_even_hours_per_day(own, rent, relative_speed, inputs.horizon_years)
    days = break_even_days(own, rent, busy_hours_per_day=fit.busy_hours_per_day, relative_speed=relative_speed)
    out["payback_months"] = days / DAYS_PER_MONTH if math.isfinite(days) else math.inf
    return out


def _recommend(table: pd.DataFrame, workload: Workload, inputs: _Inputs) -> str:
    feasible = table[table["feasible"] & table["total_cost_usd"].notna()]
    if feasible.empty:
        return f"No option can run {workload.label}: {table['reason'].iloc[0] if len(table) else 'no options'}."
    best = feasible.iloc[0]
    years = f"{inputs.horizon_years:g} year" + ("" if inputs.horizon_years == 1 else "s")
    # With no runs a month there is no cost per run: leave it out rather than print "$nan".
    per_run = [text for value, text in ((best["cost_per_run_usd"], f"${best['cost_per_run_usd']:,.2f} a run"),
                                        (best["hours_per_run"], f"{best['hours_per_run']:.1f} h a run"))
               if math.isfinite(value)]
    sentence = (f"{best['option'].capitalize()} is the cheapest way to run {workload.label}: "
                f"${best['total_cost_usd']:,.0f} over {years}" + (f" ({', '.join(per_run)})" if per_run else ""))
    runner_up = feasible.iloc[1] if len(feasible) > 1 else None
    if runner_up is not None:
        sentence += f"; next is {runner_up['option']} at ${runner_up['total_cost_usd']:,.0f}"
    if best["kind"] == "own" and math.isfinite(best["payback_months"]):
        sentence += (f"; against {best['break_even_against']} it pays for itself in {best['payback_months']:.1f} "
                     f"months at {best['busy_hours_per_day']:.1f} busy hours a day")
    elif best["kind"] == "rent":
        owned = feasible[feasible["kind"] == "own"]
        if not owned.empty and math.isfinite(owned.iloc[0]["break_even_hours_per_day"]):
            mine = owned.iloc[0]
            sentence += (f"; owning {mine['option'].removeprefix('own ')} beats {mine['break_even_against']} above "
                         f"{mine['break_even_hours_per_day']:.1f} busy hours a day (this workload keeps it busy "
                         f"{mine['busy_hours_per_day']:.1f})")
    return sentence + "."
