"""Fleet planning: how many cards to own and how many GPU-hours to rent each week.

Given weekly demand split by job class (each class runs only on the GPUs it fits on), the plan
chooses an integer number of machines of each owned type and the rented hours of each rented type
per week that meet every week's demand at the least present-value cost, with
``scipy.optimize.milp`` (HiGHS). The same program with renting switched off (all-own) or owning
switched off (all-rent) gives the alternatives printed next to the plan; the plan is their
superset, so it is never dearer (and the returned plan is the cheapest of the three).

Units: demand is in *reference GPU-hours* (hours on the reference GPU, e.g. an RTX 4090); each
candidate has a ``speed``, the reference GPU-hours one hour of that machine or rented option does.
Time runs in weeks of 7 days; week ``w`` flows are paid at its end and discounted at the owners'
rate ``(1 + r)^(-7w/365.25)``. An owned machine is bought in week 0 and sold at the end at its
depreciated value; it can work ``7 × (powered_hours_per_day or 24)`` hours a week, drawing idle power
whenever powered and load power when busy. Rented hours cost the price path of the week (weekly
steps of the same yearly changes as the break-even model), times overheads; a rented type's storage
is paid every week once the type is used at all (a binary variable).

``fits_on`` entries are GPU ids (any machine of that GPU) or ``Nx<gpu>`` (a machine or rental with
at least N of that GPU), so a class needing 48 GB can be written ``2xrtx-4090; h100-sxm``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizer import vectorized as vec
from optimizer.costs import Assumption, Infeasible, OwnOption, RentOption

DAYS_PER_WEEK = 7.0
WEEKS_PER_YEAR = vec.DAYS_PER_YEAR / DAYS_PER_WEEK
_FITS_TOKEN = re.compile(r"^(?:(\d+)x)?([a-z0-9][a-z0-9-]*)$")


def parse_fits_token(token: str) -> tuple[int, str]:
    """``2xrtx-4090`` → (2, "rtx-4090"); ``h100-sxm`` → (1, "h100-sxm")."""
    match = _FITS_TOKEN.match(token)
    if not match:
        raise ValueError(f"fits_on entry {token!r} is not a GPU id or Nx<gpu id>.")
    return int(match.group(1) or 1), match.group(2)


@dataclass(frozen=True)
class JobClass:
    """A kind of job and the hardware it fits on (``rtx-4090``, ``2xrtx-4090``, ``h100-sxm``...)."""

    name: str
    fits_on: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("JobClass.name cannot be empty.")
        if not self.fits_on:
            raise ValueError(f"Job class {self.name!r}: fits_on must list at least one GPU.")
        for token in self.fits_on:
            if not _FITS_TOKEN.match(token):
                raise ValueError(f"Job class {self.name!r}: fits_on entry {token!r} is not a GPU id "
                                 "or Nx<gpu id>.")

    def accepts(self, gpu: str, count: int) -> bool:
        """Whether a machine of ``count`` × ``gpu`` can run this class."""
        return any(fit_gpu == gpu and count >= need for need, fit_gpu in map(parse_fits_token, self.fits_on))


@dataclass(frozen=True)
class Demand:
    """Reference GPU-hours needed per week (rows) and job class (columns)."""

    classes: tuple[JobClass, ...]
    gpu_hours: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        hours = np.asarray(self.gpu_hours, dtype=float)
        if hours.ndim != 2 or hours.shape[0] == 0 or hours.shape[1] != len(self.classes):
            raise ValueError("demand: gpu_hours must have one row per week (at least one) and one column "
                             "per job class.")
        if np.any(~np.isfinite(hours)) or np.any(hours < 0):
            raise ValueError("demand: gpu_hours must be finite and zero or more.")
        if not np.any(hours > 0):
            raise ValueError("demand: every week asks for 0 GPU-hours; there is nothing to plan.")
        object.__setattr__(self, "gpu_hours", hours)

    @property
    def weeks(self) -> int:
        return int(self.gpu_hours.shape[0])

    @property
    def horizon_years(self) -> float:
        return self.weeks / WEEKS_PER_YEAR


def parse_demand_csv(text: str) -> Demand:
    """Read ``week,job_class,gpu_hours,fits_on`` rows (``fits_on`` separated by ``;``, ``|`` or spaces).

    Weeks start at 1; missing weeks have no demand; repeated (week, class) rows add up. A class's
    ``fits_on`` may be given on any of its rows but must not contradict itself.
    """
    reader = csv.DictReader(io.StringIO(text))
    required = {"week", "job_class", "gpu_hours", "fits_on"}
    if reader.fieldnames is None or not required <= {name.strip() for name in reader.fieldnames}:
        raise ValueError("demand: the CSV needs the columns week, job_class, gpu_hours and fits_on.")
    fits: dict[str, tuple[str, ...]] = {}
    entries: list[tuple[int, str, float]] = []
    for line, raw in enumerate(reader, start=2):
        row = {key.strip(): (value or "").strip() for key, value in raw.items() if key}
        try:
            week = int(row["week"])
            hours = float(row["gpu_hours"])
        except ValueError:
            raise ValueError(f"demand line {line}: week must be a whole number and gpu_hours a number.") from None
        if week < 1:
            raise ValueError(f"demand line {line}: week must be 1 or more; got {week}.")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"demand line {line}: gpu_hours must be zero or more; got {row['gpu_hours']}.")
        name = row["job_class"]
        if not name:
            raise ValueError(f"demand line {line}: job_class is empty.")
        tokens = tuple(token for token in re.split(r"[;|\s]+", row["fits_on"].lower()) if token)
        if tokens:
            if name in fits and set(fits[name]) != set(tokens):
                raise ValueError(f"demand line {line}: job class {name!r} lists different fits_on GPUs "
                                 "than on an earlier line.")
            fits.setdefault(name, tokens)
        entries.append((week, name, hours))
    if not entries:
        raise ValueError("demand: the file has no rows.")
    names = list(dict.fromkeys(name for _, name, _ in entries))
    missing = [name for name in names if name not in fits]
    if missing:
        raise ValueError(f"demand: job class {missing[0]!r} never says which GPUs it fits on (fits_on).")
    hours = np.zeros((max(week for week, _, _ in entries), len(names)))
    for week, name, value in entries:
        hours[week - 1, names.index(name)] += value
    return Demand(tuple(JobClass(name, fits[name]) for name in names), hours)


@dataclass(frozen=True)
class OwnedType:
    """A machine the plan may buy: the option, its speed in reference GPU-hours per hour, a cap."""

    option: OwnOption
    speed: float
    max_units: int | None = None

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"{self.option.label}: speed must be above 0; got {self.speed}.")
        if self.max_units is not None and self.max_units < 0:
            raise ValueError(f"{self.option.label}: max_units cannot be negative.")

    @property
    def hours_per_week(self) -> float:
        """Hours a week one machine can work: its powered hours (24 when on only while busy)."""
        powered = self.option.powered_hours_per_day
        return DAYS_PER_WEEK * (24.0 if powered is None else powered)


@dataclass(frozen=True)
class RentedType:
    """A rental the plan may buy hours of: the option, its speed, an optional weekly cap on hours."""

    option: RentOption
    speed: float
    max_hours_per_week: float | None = None

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"{self.option.label}: speed must be above 0; got {self.speed}.")
        if self.max_hours_per_week is not None and self.max_hours_per_week < 0:
            raise ValueError(f"{self.option.label}: max_hours_per_week cannot be negative.")


@dataclass(frozen=True)
class FleetPlan:
    """A solved plan: machines bought, hours used and rented per week, and what it costs."""

    name: str
    owned_units: dict[str, int]
    owned_busy_hours: dict[str, np.ndarray]
    rented_hours: dict[str, np.ndarray]
    lines_usd: dict[str, float]
    weeks: int
    discount_rate: float

    @property
    def total_usd(self) -> float:
        """Present value of the plan over the demand's horizon."""
        return float(sum(self.lines_usd.values()))

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per candidate used: machines or rented hours, with utilization."""
        rows: list[dict[str, Any]] = []
        for label, units in self.owned_units.items():
            busy = float(self.owned_busy_hours[label].sum())
            rows.append({"option": label, "machines": units, "busy_hours": busy,
                         "peak_week_hours": float(self.owned_busy_hours[label].max(initial=0.0))})
        for label, hours in self.rented_hours.items():
            rows.append({"option": label, "machines": None, "busy_hours": float(hours.sum()),
                         "peak_week_hours": float(hours.max(initial=0.0))})
        return rows


@dataclass(frozen=True)
class FleetResult:
    """The plan and the two pure alternatives (each a plan or the reason it is impossible)."""

    plan: FleetPlan | Infeasible
    all_rent: FleetPlan | Infeasible
    all_own: FleetPlan | Infeasible

    def comparison_rows(self) -> list[dict[str, Any]]:
        rows = []
        for item in (self.plan, self.all_rent, self.all_own):
            if isinstance(item, Infeasible):
                rows.append({"plan": item.option, "total_usd": None, "note": item.reason})
            else:
                bought = ", ".join(f"{n} x {label}" for label, n in item.owned_units.items() if n) or "nothing"
                rented = sum(float(h.sum()) for h in item.rented_hours.values())
                rows.append({"plan": item.name, "total_usd": item.total_usd,
                             "note": f"buy {bought}; rent {rented:,.0f} h"})
        return rows


def _week_factors(weeks: int, discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Discount factor at the end of each week and the week's start time in years."""
    ends = np.arange(1, weeks + 1) / WEEKS_PER_YEAR
    return vec.discount_factor(discount_rate, ends), ends - 1 / WEEKS_PER_YEAR


def _owned_costs(owned: OwnedType, weeks: int, discount: np.ndarray,
                 rate: float) -> tuple[dict[str, float], np.ndarray]:
    """Per-machine fixed cost lines (PV) over the horizon and the PV cost per busy hour by week, all
    at the plan's discount ``rate`` (the resale too: it was at the option's own rate)."""
    own = owned.option
    horizon = weeks / WEEKS_PER_YEAR
    usd_per_kwh = own.usd_per_kwh * own.pue
    powered = own.powered_hours_per_day
    idle_kw = own.count * own.idle_watts / 1000.0 if powered is not None else 0.0
    load_kw = own.count * own.load_watts / 1000.0
    weekly_fixed = (own.maintenance_usd_per_year / WEEKS_PER_YEAR
                    + own.admin_usd_per_month * vec.MONTHS_PER_YEAR / WEEKS_PER_YEAR)
    idle_energy_week = idle_kw * DAYS_PER_WEEK * (powered or 0.0) * usd_per_kwh
    lines = {
        "capex": own.capex_usd,
        "resale_credit": -float(vec.discount_factor(rate, horizon)) * float(own.resale_usd(horizon)),
        "owned_running": float(discount.sum()) * (weekly_fixed + idle_energy_week),
    }
    per_busy_hour = discount * (load_kw - idle_kw) * usd_per_kwh
    return lines, per_busy_hour


def _rent_per_hour(rented: RentedType, starts_years: np.ndarray, discount: np.ndarray) -> np.ndarray:
    rent = rented.option
    multiplier = vec.price_multiplier_at(rent.price_changes, starts_years)
    return discount * rent.count * rent.usd_per_gpu_hour * multiplier * rent.overhead_factor


def plan_fleet(demand: Demand, owned: Sequence[OwnedType], rented: Sequence[RentedType], *,
               discount_rate: float | None = None, time_limit_seconds: float = 60.0) -> FleetResult:
    """The cheapest mix, next to all-rent and all-own. ``discount_rate`` defaults to the owned options'."""
    labels = [o.option.label for o in owned] + [r.option.label for r in rented]
    if len(set(labels)) != len(labels):
        raise ValueError("fleet: each candidate must appear once (two candidates share the label "
                         f"{next(x for x in labels if labels.count(x) > 1)!r}).")
    if not owned and not rented:
        raise ValueError("fleet: give at least one owned or rented candidate.")
    rate = discount_rate if discount_rate is not None else (owned[0].option.discount_rate if owned else 0.0)
    if not (rate >= 0 and math.isfinite(rate)):
        raise ValueError(f"fleet: discount_rate must be zero or more; got {rate}.")
    candidates = _Program(demand, list(owned), list(rented), rate, time_limit_seconds)
    all_rent = candidates.solve("all rent", allow_own=False, allow_rent=True)
    all_own = candidates.solve("all own", allow_own=True, allow_rent=False)
    mixed = candidates.solve("plan", allow_own=True, allow_rent=True)
    # The mixed program contains both alternatives; guard against solver tolerance all the same.
    best = mixed
    for alternative in (all_rent, all_own):
        if isinstance(alternative, FleetPlan) and (
                isinstance(best, Infeasible) or alternative.total_usd < best.total_usd):
            best = FleetPlan("plan", alternative.owned_units, alternative.owned_busy_hours,
                             alternative.rented_hours, alternative.lines_usd, alternative.weeks,
                             alternative.discount_rate)
    return FleetResult(best, all_rent, all_own)


def fleet_assumptions() -> list[Assumption]:
    """The conventions a fleet plan rests on, for the audit trail."""
    convention = "rentbuy model convention (optimizer/fleet.py)"
    return [
        Assumption("time step", "weeks of 7 days; flows paid at each week's end", "", convention),
        Assumption("discounting", "(1 + discount_rate)^(-7·week/365.25), owned and rented alike", "", convention),
        Assumption("owned machines", "bought in week 0, sold at the end at the depreciated value; work at most "
                   "their powered hours (24 h/day when powered only while busy)", "", convention),
        Assumption("work units", "demand and speeds in reference GPU-hours; one speed per GPU for all job "
                   "classes", "", convention),
    ]


class _Program:
    """The MILP: variables [units per owned type | rent-used flags | owned hours | rented hours]."""

    def __init__(self, demand: Demand, owned: list[OwnedType], rented: list[RentedType], rate: float,
                 time_limit_seconds: float) -> None:
        self.demand, self.owned, self.rented = demand, owned, rented
        self.rate, self.time_limit = rate, time_limit_seconds
        self.weeks = demand.weeks
        self.discount, self.starts = _week_factors(self.weeks, rate)
        self.own_pairs = [(i, c) for i, o in enumerate(owned) for c, job in enumerate(demand.classes)
                          if job.accepts(o.option.gpu, o.option.count)]
        self.rent_pairs = [(j, c) for j, r in enumerate(rented) for c, job in enumerate(demand.classes)
                           if job.accepts(r.option.gpu, r.option.count)]
        self.own_fixed = []
        self.own_hourly = []
        for o in owned:
            lines, hourly = _owned_costs(o, self.weeks, self.discount, rate)
            self.own_fixed.append(lines)
            self.own_hourly.append(hourly)
        self.rent_hourly = [_rent_per_hour(r, self.starts, self.discount) for r in rented]
        self.rent_storage = [float(self.discount.sum()) * r.option.storage_usd_per_month * vec.MONTHS_PER_YEAR
                             / WEEKS_PER_YEAR for r in rented]

    def _unserved(self, allow_own: bool, allow_rent: bool) -> str | None:
        for c, job in enumerate(self.demand.classes):
            if not np.any(self.demand.gpu_hours[:, c] > 0):
                continue
            served = (allow_own and any(cc == c for _, cc in self.own_pairs)) or (
                allow_rent and any(cc == c for _, cc in self.rent_pairs))
            if not served:
                kinds = " and ".join(k for k, ok in (("owned", allow_own), ("rented", allow_rent)) if ok)
                return (f"job class {job.name!r} fits on {', '.join(job.fits_on)}, none of which is among "
                        f"the {kinds} candidates")
        return None

    def solve(self, name: str, *, allow_own: bool, allow_rent: bool) -> FleetPlan | Infeasible:
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import lil_matrix

        reason = self._unserved(allow_own, allow_rent)
        if reason:
            return Infeasible(name, reason)
        weeks, n_own, n_rent = self.weeks, len(self.owned), len(self.rented)
        n_x, n_y = len(self.own_pairs) * weeks, len(self.rent_pairs) * weeks
        x0 = n_own + n_rent
        y0 = x0 + n_x
        size = y0 + n_y
        cost = np.zeros(size)
        lower, upper = np.zeros(size), np.full(size, np.inf)
        integrality = np.zeros(size)
        integrality[:x0] = 1
        for i, o in enumerate(self.owned):
            cost[i] = sum(self.own_fixed[i].values())
            upper[i] = (o.max_units if o.max_units is not None else np.inf) if allow_own else 0
        for j in range(n_rent):
            cost[n_own + j] = self.rent_storage[j]
            upper[n_own + j] = 1 if allow_rent else 0
        for k, (i, _) in enumerate(self.own_pairs):
            cost[x0 + k * weeks: x0 + (k + 1) * weeks] = self.own_hourly[i]
            if not allow_own:
                upper[x0 + k * weeks: x0 + (k + 1) * weeks] = 0
        for k, (j, _) in enumerate(self.rent_pairs):
            cost[y0 + k * weeks: y0 + (k + 1) * weeks] = self.rent_hourly[j]
            if not allow_rent:
                upper[y0 + k * weeks: y0 + (k + 1) * weeks] = 0

        classes = len(self.demand.classes)
        n_rows = classes * weeks + n_own * weeks + 2 * n_rent * weeks
        matrix = lil_matrix((n_rows, size))
        row_low, row_high = np.full(n_rows, -np.inf), np.zeros(n_rows)
        week_index = np.arange(weeks)
        # Demand of each class in each week is met by the machines and rentals it fits on.
        for k, (i, c) in enumerate(self.own_pairs):
            matrix[c * weeks + week_index, x0 + k * weeks + week_index] = self.owned[i].speed
        for k, (j, c) in enumerate(self.rent_pairs):
            matrix[c * weeks + week_index, y0 + k * weeks + week_index] = self.rented[j].speed
        row_low[:classes * weeks] = self.demand.gpu_hours.T.ravel()
        row_high[:classes * weeks] = np.inf
        # An owned type works at most its weekly hours per machine bought.
        base = classes * weeks
        for k, (i, _) in enumerate(self.own_pairs):
            matrix[base + i * weeks + week_index, x0 + k * weeks + week_index] = 1.0
        for i, o in enumerate(self.owned):
            matrix[base + i * weeks + week_index, i] = -o.hours_per_week
        # A rented type is capped per week, and used at all only when its storage flag is on.
        base += n_own * weeks
        total_work = float(self.demand.gpu_hours.sum())
        for k, (j, _) in enumerate(self.rent_pairs):
            matrix[base + j * weeks + week_index, y0 + k * weeks + week_index] = 1.0
            matrix[base + (n_rent + j) * weeks + week_index, y0 + k * weeks + week_index] = 1.0
        for j, r in enumerate(self.rented):
            cap = r.max_hours_per_week
            row_high[base + j * weeks: base + (j + 1) * weeks] = np.inf if cap is None else cap
            big_m = total_work / r.speed + 1.0
            matrix[base + (n_rent + j) * weeks + week_index, n_own + j] = -big_m
        result = milp(cost, constraints=LinearConstraint(matrix.tocsr(), row_low, row_high),
                      integrality=integrality, bounds=Bounds(lower, upper),
                      options={"mip_rel_gap": 1e-9, "time_limit": self.time_limit, "disp": False})
        if result.x is None:
            return Infeasible(name, f"no plan meets the demand ({result.message.strip()})")
        return self._plan(name, np.asarray(result.x))

    def _cover_shortfall(self, solution: np.ndarray) -> np.ndarray:
        """HiGHS meets each demand row only to its feasibility tolerance (a plan found short by 1e-6 h),
        and the dust clean-up can take a little more: top up the option doing most of that class's work
        that week, so the plan serves every hour it is asked for and its cost counts them."""
        weeks, x0 = self.weeks, len(self.owned) + len(self.rented)
        y0 = x0 + len(self.own_pairs) * weeks
        columns = [(x0 + k * weeks, self.owned[i].speed, c) for k, (i, c) in enumerate(self.own_pairs)]
        columns += [(y0 + k * weeks, self.rented[j].speed, c) for k, (j, c) in enumerate(self.rent_pairs)]
        for c in range(len(self.demand.classes)):
            mine = [(start, speed) for start, speed, cc in columns if cc == c]
            if not mine:
                continue
            work = np.array([speed * solution[start:start + weeks] for start, speed in mine])
            short = self.demand.gpu_hours[:, c] - work.sum(axis=0)
            for week in np.nonzero(short > 0)[0]:
                start, speed = mine[int(work[:, week].argmax())]
                solution[start + week] += short[week] / speed
        return solution

    def _plan(self, name: str, solution: np.ndarray) -> FleetPlan:
        # HiGHS leaves feasibility-tolerance dust (1e-11 h) on unused variables; an hour's millionth is 0.
        solution = self._cover_shortfall(np.where(np.abs(solution) < 1e-6, 0.0, solution))
        weeks, n_own, n_rent = self.weeks, len(self.owned), len(self.rented)
        x0 = n_own + n_rent
        y0 = x0 + len(self.own_pairs) * weeks
        units = {o.option.label: round(solution[i]) for i, o in enumerate(self.owned)}
        busy = {o.option.label: np.zeros(weeks) for o in self.owned}
        hourly_own = 0.0
        for k, (i, _) in enumerate(self.own_pairs):
            hours = np.maximum(solution[x0 + k * weeks: x0 + (k + 1) * weeks], 0.0)
            busy[self.owned[i].option.label] += hours
            hourly_own += float(hours @ self.own_hourly[i])
        rented = {r.option.label: np.zeros(weeks) for r in self.rented}
        rent_usd = 0.0
        for k, (j, _) in enumerate(self.rent_pairs):
            hours = np.maximum(solution[y0 + k * weeks: y0 + (k + 1) * weeks], 0.0)
            rented[self.rented[j].option.label] += hours
            rent_usd += float(hours @ self.rent_hourly[j])
        storage = sum(self.rent_storage[j] for j, r in enumerate(self.rented)
                      if rented[r.option.label].sum() > 0)
        lines = {"capex": 0.0, "resale_credit": 0.0, "owned_running": 0.0}
        for i, o in enumerate(self.owned):
            for key, value in self.own_fixed[i].items():
                lines[key] += units[o.option.label] * value
        lines["owned_energy"] = hourly_own
        lines["rent"] = rent_usd
        lines["rent_storage"] = storage
        return FleetPlan(name, units, busy, rented, lines, weeks, self.rate)
