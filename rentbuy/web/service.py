"""What the web face computes, free of HTTP: one database read, ``rentbuy.plan`` and the report pieces.

The routes in ``api`` and ``pages`` call these functions, so the JSON API, the page and its
downloads show the same numbers, and those are ``rentbuy.plan``'s: the plan is computed by
``rentbuy.plan`` itself from a ``PriceBook`` read the same way ``plan()`` reads it.
"""

from __future__ import annotations

import argparse
import base64
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from rentbuy.planning import JobClass, Pairing, Plan, Workload, plan
from rentbuy.pricebook import PriceBook
from rentbuy.web.params import (
    BreakevenQuery,
    MemoryQuery,
    PlanQuery,
    PricesQuery,
    WorkloadBody,
    describe_model,
    since_datetime,
)

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from optimizer.breakeven import Comparison
    from reports.document import Report

HISTORY_DAYS = 730  # the page's price history: two years back from now
# matplotlib's pyplot keeps global state; requests run in a thread pool, so charts are drawn one at a time.
_CHART_LOCK = threading.Lock()


class Database:
    """The app's engine: opened (migrated, seeded) on first use, opened again after a failed attempt."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """The engine; raises ``RentbuyError`` with one sentence while the database is unreachable."""
        from rentbuy.context import open_database

        with self._lock:
            if self._engine is None:
                self._engine = open_database(self.settings)
            return self._engine

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


# --- prices as plan() reads them ----------------------------------------------------------------------


@dataclass
class Snapshot:
    """The stored prices behind one answer, and how fresh they are."""

    now: datetime
    offers: pd.DataFrame
    purchases: pd.DataFrame
    book: PriceBook
    freshness: dict[str, Any]
    moves: pd.DataFrame | None = None


class _PriceCache:
    """The current offers and street prices, read again only when the stored data changes.

    Every answer needs them and they are the slowest read; the key is each table's row count and
    each source's last successful refresh, so a refresh, a seed or a retention pass is seen at once.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._value: tuple[pd.DataFrame, pd.DataFrame] | None = None
        self._lock = threading.Lock()

    def get(self, engine: Engine, session: Any, refreshed: dict[str, datetime]) -> tuple[pd.DataFrame, pd.DataFrame]:
        from store import queries

        key = (str(engine.url), tuple(sorted(queries.row_counts(session).items())),
               tuple(sorted((k, v.isoformat()) for k, v in refreshed.items())))
        with self._lock:
            if key == self._key and self._value is not None:
                return self._value
        value = (queries.current_offers(session), queries.purchase_observations(session))
        with self._lock:
            self._key, self._value = key, value
        return value


PRICES = _PriceCache()


def snapshot(engine: Engine, settings: Settings, *, with_moves: bool = False, now: datetime | None = None) -> Snapshot:
    """Current offers and street prices (what ``PriceBook.from_store`` reads) plus freshness."""
    from reports.prices import rental_summary
    from store import queries
    from store.db import session_scope

    now = now or datetime.now(UTC)
    moves = None
    with session_scope(engine) as session:
        refreshed = queries.last_success_by_source(session)
        offers, purchases = PRICES.get(engine, session, refreshed)
        if with_moves:
            from reports.weekly import price_moves

            moves = price_moves(*queries.week_over_week(session, now))
    book = PriceBook(offers, purchases, settings.economics.rent_statistic, settings.economics.purchase_condition)
    return Snapshot(now, offers, purchases, book, freshness(rental_summary(offers), refreshed, settings, now), moves)


def freshness(rental: pd.DataFrame, refreshed: dict[str, datetime], settings: Settings,
              now: datetime) -> dict[str, Any]:
    """The report's freshness fields (``reports.document.freshness_line`` reads them) plus refresh times."""
    import pandas as pd

    newest = pd.to_datetime(rental["observed_at"]).max() if not rental.empty else None
    newest_dt = newest.to_pydatetime() if newest is not None and not pd.isna(newest) else None
    return {
        "newest_rental_price": newest_dt,
        "data_age_hours": None if newest_dt is None else round((now - newest_dt).total_seconds() / 3600, 1),
        "stale": newest_dt is None or (now - newest_dt) > timedelta(days=settings.stale_after_days),
        "stale_after_days": settings.stale_after_days,
        "last_success_by_source": refreshed,
    }


# --- plans --------------------------------------------------------------------------------------------


def settings_for(settings: Settings, usd_per_kwh: float | None) -> Settings:
    """The settings with the request's electricity price, when it gives one."""
    if usd_per_kwh is None:
        return settings
    economics = settings.economics.model_copy(update={"usd_per_kwh": usd_per_kwh})
    return settings.model_copy(update={"economics": economics})


def plan_query(query: PlanQuery, settings: Settings, book: PriceBook) -> Plan:
    """``rentbuy.plan`` for one job class, called exactly as a Python planning tool would call it."""
    return plan(query.job(), query.tokens_per_run, query.runs_per_month, query.horizon_years,
                settings=settings_for(settings, query.usd_per_kwh), prices=book)


def plan_workload(body: WorkloadBody, settings: Settings, book: PriceBook) -> Plan:
    """``rentbuy.plan`` for a workload of several job classes."""
    classes = tuple(JobClass(c.job(), c.tokens_per_run, c.runs_per_month, c.name) for c in body.classes)
    return plan(workload=Workload(classes, body.name), horizon_years=body.horizon_years,
                settings=settings_for(settings, body.usd_per_kwh), prices=book)


@dataclass
class WhatIf:
    """The headline pair (best owned option, cheapest on-demand rental) at a chosen utilization.

    ``busy_hours_per_day`` is the owned card's busy hours a day: the request's what-if value, else
    what the workload implies. The rented side does the same work (``relative_speed``).
    """

    pairing: Pairing
    source: str  # "request" | "workload"
    comparison: Comparison

    @property
    def busy_hours_per_day(self) -> float:
        return self.pairing.busy_hours_per_day

    def sentence(self) -> str:
        """Owning against renting at this use, in the words a finance lead reads."""
        from optimizer.vectorized import DAYS_PER_MONTH

        c = self.comparison
        own, rent = c.own, c.rent
        years = f"{c.horizon_years:g} year" + ("" if c.horizon_years == 1 else "s")
        where = "your what-if" if self.source == "request" else "what this work needs"
        text = (f"At {self.busy_hours_per_day:.1f} busy hours a day on {own.option} ({where}), owning costs "
                f"${own.total_usd:,.0f} over {years} against ${rent.total_usd:,.0f} for {rent.option} doing the "
                "same work")
        saving = c.saving_usd or 0.0
        text += f": owning saves ${saving:,.0f}." if saving > 0 else f": renting saves ${-saving:,.0f}."
        if c.break_even_hours_per_day is not None:
            text += " " + c.break_even_hours_per_day.explanation
        if c.payback is not None and c.payback.status == "found":
            text += (f" At this use the purchase pays for itself in {c.payback.value / DAYS_PER_MONTH:.1f} months "
                     "(resale not counted).")
        elif c.payback is not None and c.payback.status == "never":
            text += " At this use the rent avoided never pays for the purchase."
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"busy_hours_per_day": self.busy_hours_per_day, "source": self.source,
                "own": self.pairing.own.label, "rent": self.pairing.rent.label,
                "relative_speed": self.pairing.relative_speed, "sentence": self.sentence(),
                "comparison": self.comparison.to_dict()}


def what_if(result: Plan, busy_hours_per_day: float | None) -> WhatIf | None:
    """The headline comparison at ``busy_hours_per_day`` (None when no owned and rented option both fit)."""
    from optimizer.breakeven import compare

    if result.headline is None:
        return None
    source = "workload" if busy_hours_per_day is None else "request"
    pairing = result.headline
    if busy_hours_per_day is not None:
        pairing = replace(pairing, busy_hours_per_day=float(busy_hours_per_day))
    if pairing.busy_hours_per_day > 24:
        return None
    comparison = compare(pairing.own, pairing.rent, busy_hours_per_day=pairing.busy_hours_per_day,
                         relative_speed=pairing.relative_speed, horizon_years=result.horizon_years)
    return WhatIf(pairing, source, comparison)


def plan_payload(result: Plan, extra: WhatIf | None, snap: Snapshot, model_notes: list[str]) -> dict[str, Any]:
    """``plan.to_dict()`` unchanged, plus the what-if comparison, data freshness and model notes."""
    return {**result.to_dict(), "utilization": None if extra is None else extra.to_dict(),
            "freshness": snap.freshness, "model_notes": model_notes}


def model_notes(models: list[str]) -> list[str]:
    return [note for note in dict.fromkeys(describe_model(m) for m in models) if note]


# --- charts -------------------------------------------------------------------------------------------


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def history(engine: Engine, gpu: str, since: datetime | None) -> pd.DataFrame:
    from store import queries
    from store.db import session_scope

    with session_scope(engine) as session:
        return queries.price_history(session, gpu, since=since)


def plan_charts(result: Plan, extra: WhatIf | None) -> dict[str, bytes]:
    """Cost vs utilization (break-even marked) and cumulative cost at the what-if use, as PNG bytes."""
    from reports.charts import cost_vs_utilization_png, cumulative_cost_png

    out: dict[str, bytes] = {}
    if extra is not None:
        with _CHART_LOCK:
            out["utilization"] = cost_vs_utilization_png(extra.pairing, result.horizon_years)
            out["cumulative"] = cumulative_cost_png(extra.pairing, result.horizon_years)
    return out


def history_chart(frame: pd.DataFrame, gpu: str) -> bytes | None:
    from reports.charts import price_history_png

    with _CHART_LOCK:
        return price_history_png(frame, gpu)


def history_gpu(result: Plan) -> str:
    """The rented GPU the recommendation compares against (its price history is the one that matters)."""
    return result.headline.rent.gpu if result.headline is not None else "h100-sxm"


# --- downloads: the report formats of `rentbuy report`, for this one plan --------------------------------


def report_for(settings: Settings, snap: Snapshot, result: Plan, title: str,
               histories: dict[str, pd.DataFrame]) -> Report:
    """A ``Report`` (as ``rentbuy report`` builds) holding this one plan, for the download formats."""
    import pandas as pd

    from reports.document import Report, WorkloadPlan
    from reports.prices import rental_summary, street_summary
    from store.db import safe_url

    moves = snap.moves if snap.moves is not None else pd.DataFrame(
        columns=["gpu", "pricing", "median", "median_prev", "median_change_pct", "cheapest", "cheapest_change_pct",
                 "sources"])
    return Report(snap.now, safe_url(settings.effective_database_url), snap.freshness,
                  [WorkloadPlan("web", title, "the inputs of this page", result)], rental_summary(snap.offers),
                  street_summary(snap.purchases), moves, histories)


def render_download(report: Report, extra: WhatIf | None, fmt: str, extra_charts: dict[str, bytes]) -> str:
    """The report as ``rentbuy report --format`` renders it, with the what-if utilization added."""
    from reports.document import blocks, csv_rows, html, to_data
    from reports.render import to_csv, to_json

    if fmt == "json":
        return to_json({**to_data(report), "utilization": None if extra is None else extra.to_dict()}) + "\n"
    if fmt == "csv":
        from reports.document import CSV_COLUMNS

        return to_csv(csv_rows(report), CSV_COLUMNS)
    with _CHART_LOCK:
        doc = blocks(report, charts=True)
    if extra is not None:
        doc.insert(2, ("p", extra.sentence()))
        if extra.source == "request":
            doc.extend(("img", f"what-if-{name}", png) for name, png in extra_charts.items() if name != "history")
    return html(doc)


# --- prices, health, memory, breakeven ---------------------------------------------------------------


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from reports.document import records as to_records

    return to_records(frame)


def prices_payload(engine: Engine, query: PricesQuery) -> dict[str, Any]:
    """Observations (newest first) and the current statistics per GPU, pricing kind and source."""
    from reports.prices import rental_summary, street_summary
    from store import queries
    from store.db import session_scope

    since = since_datetime(query.since) if query.since else None
    with session_scope(engine) as session:
        observations = queries.price_observations(session, gpu=query.gpu, since=since, source=query.source,
                                                  pricing=query.pricing, limit=query.limit)
        current = rental_summary(queries.current_offers(session, gpu=query.gpu))
        street = street_summary(queries.purchase_observations(session, gpu=query.gpu))
    if query.source:
        current = current[current["source"] == query.source]
        street = street[street["source"] == query.source]
    if query.pricing:
        current = current[current["pricing"] == query.pricing]
    return {"gpu": query.gpu, "since": since, "source": query.source, "pricing": query.pricing,
            "observations": records(observations), "current": records(current), "street": records(street)}


def health_payload(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Database reachable, last successful refresh per source, and the age of the newest prices."""
    from reports.prices import rental_summary
    from store import queries
    from store.db import session_scope

    now = datetime.now(UTC)
    with session_scope(engine) as session:
        refreshed = queries.last_success_by_source(session)
        dates = queries.data_dates(session)
        offers = queries.current_offers(session)
    fresh = freshness(rental_summary(offers), refreshed, settings, now)
    return {"status": "stale" if fresh["stale"] else "ok",
            "database": {"reachable": True, "backend": engine.dialect.name},
            "last_success_by_source": refreshed,
            "data": {table: {"oldest": oldest, "newest": newest} for table, (oldest, newest) in dates.items()},
            "newest_rental_price": fresh["newest_rental_price"], "data_age_hours": fresh["data_age_hours"],
            "stale": fresh["stale"], "stale_after_days": fresh["stale_after_days"], "checked_at": now}


def memory_payload(query: MemoryQuery) -> dict[str, Any]:
    """The estimate as ``rentbuy memory --format json`` gives it: job, breakdown and every GPU's fit."""
    from config import catalog
    from reports.memory import memory_summary

    job = query.job()
    label = query.model if isinstance(job.model, str) else job.architecture.name
    report = memory_summary(job, [query.gpu] if query.gpu else list(catalog.gpus()), label)
    return {**report, "model_notes": model_notes([query.model])}


# The breakeven command's flags and the API's parameter names, to speak the caller's language.
FLAG_PARAMS = {"--own": "own", "--rent": "rent", "--price": "price", "--speed": "speed",
               "--hours-per-day": "busy_hours_per_day", "--horizon": "horizon_years", "--model": "model",
               "--purchase-usd": "purchase_usd", "--usd-per-kwh": "usd_per_kwh", "--resale": "resale",
               "--depreciation": "depreciation", "--price-change": "price_change", "--system-usd": "system_usd",
               "--spot": "spot", "--seq-len": "seq_len", "--micro-batch-size": "micro_batch_size"}
_FLAG = re.compile(r"--[a-z][a-z-]*")


def speak_params(text: str) -> str:
    """A CLI sentence with each flag replaced by the API parameter ("command line" by "request")."""
    text = text.replace("command line (", "request (")
    return _FLAG.sub(lambda m: FLAG_PARAMS.get(m.group(0), m.group(0)), text)


def breakeven_payload(query: BreakevenQuery, engine: Engine, settings: Settings) -> dict[str, Any]:
    """``rentbuy breakeven --format json`` for the query: inputs resolved by the command's own code.

    Prices the request leaves out are the stored ones ``rentbuy.plan`` uses (the command's own
    lookup, rounded as it rounds them), read from this server's price cache with their sources.
    """
    from optimizer.breakeven import compare
    from rentbuy.commands import breakeven as command
    from rentbuy.errors import UsageError

    parser = argparse.ArgumentParser(add_help=False)
    command.add_comparison_arguments(parser)
    args = parser.parse_args([])
    args.own, args.rent = query.own, query.rent
    args.hours_per_day, args.horizon = query.busy_hours_per_day, query.horizon_years
    args.price, args.purchase_usd, args.speed = query.price, query.purchase_usd, query.speed
    args.model, args.method, args.seq_len = query.model, query.method, query.seq_len
    args.micro_batch_size, args.gradient_checkpointing = query.micro_batch_size, query.gradient_checkpointing
    args.usd_per_kwh, args.resale, args.depreciation = query.usd_per_kwh, query.resale, query.depreciation
    args.spot, args.price_change, args.system_usd = query.spot, query.price_change, query.system_usd
    book = snapshot(engine, settings).book
    stored: dict[str, str] = {}  # assumption name -> where the stored price came from
    if query.price is None:
        _count, gpu = command.parse_count_gpu(query.rent, "rent")
        price = command.rent_price_from(book, gpu, "spot" if query.spot else "on-demand", "price", "spot")
        args.price, stored["rental price per GPU-hour today"] = round(price.usd, 4), price.source
    if query.purchase_usd is None:
        _count, gpu = command.parse_count_gpu(query.own, "own")
        bought = book.purchase(gpu)
        if bought is None:
            raise UsageError(f"No purchase price is known for {gpu}; pass purchase_usd.")
        args.purchase_usd, stored["purchase price per card"] = round(bought.usd, 2), bought.source
    inputs = command.comparison_inputs(args)
    comparison = compare(inputs.own, inputs.rent, busy_hours_per_day=inputs.busy_hours_per_day,
                         relative_speed=inputs.relative_speed, horizon_years=inputs.horizon_years,
                         own_infeasible=inputs.own_infeasible, rent_infeasible=inputs.rent_infeasible,
                         assumptions=inputs.assumptions)
    payload = comparison.to_dict()
    for item in payload["assumptions"]:
        item["source"] = stored.get(item["name"]) or speak_params(str(item["source"]))
    return payload


@dataclass
class PageResult:
    """Everything the report page shows for one set of inputs."""

    query: PlanQuery
    snap: Snapshot
    plan: Plan
    what_if: WhatIf | None
    charts: dict[str, bytes] = field(default_factory=dict)
    history_gpu: str = "h100-sxm"
    notes: list[str] = field(default_factory=list)


class _HistoryCache:
    """Price-history frames and charts by GPU, kept until the stored data changes (a refresh lands).

    The history is the slowest part of a page and does not depend on the form; the key is the GPU,
    the day and every source's last successful refresh.
    """

    def __init__(self, size: int = 32) -> None:
        self._items: dict[tuple[Any, ...], tuple[pd.DataFrame, bytes | None]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, engine: Engine, snap: Snapshot, gpu: str) -> tuple[pd.DataFrame, bytes | None]:
        version = tuple(sorted((k, v.isoformat()) for k, v in snap.freshness["last_success_by_source"].items()))
        key = (str(engine.url), gpu, snap.now.date(), version)
        with self._lock:
            if key in self._items:
                return self._items[key]
        frame = history(engine, gpu, snap.now - timedelta(days=HISTORY_DAYS))
        value = (frame, history_chart(frame, gpu))
        with self._lock:
            if len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value
        return value


HISTORIES = _HistoryCache()


def page_result(engine: Engine, settings: Settings, query: PlanQuery, *, with_moves: bool = False,
                with_charts: bool = True) -> PageResult:
    """The plan, the what-if comparison and (unless a data download needs none) the charts."""
    snap = snapshot(engine, settings, with_moves=with_moves)
    result = plan_query(query, settings, snap.book)
    extra = what_if(result, query.busy_hours_per_day)
    gpu = history_gpu(result)
    charts: dict[str, bytes] = {}
    if with_charts:
        charts = plan_charts(result, extra)
        _frame, png = HISTORIES.get(engine, snap, gpu)
        if png:
            charts["history"] = png
    return PageResult(query, snap, result, extra, charts, gpu, model_notes([query.model]))
