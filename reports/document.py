"""The rent-or-buy report rendered as terminal text, Markdown, HTML, JSON or CSV.

A :class:`Report` holds every number (plans for the workloads, current and street prices,
week-over-week moves, assumptions, data freshness); ``rentbuy.reporting.build_report`` gathers it.
``blocks`` turns it into a neutral list of headings, paragraphs, tables and images that each text
format renders the same way, so the formats cannot drift apart; JSON and CSV serialise the data.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

import pandas as pd

from reports.prices import RENTAL_COLUMNS, STREET_COLUMNS
from reports.render import format_cell, markdown_table, markdown_text, text_table, to_csv, to_json

HISTORY_GPUS = ("h100-sxm", "rtx-4090")
OPTION_COLUMNS = ["option", "feasible", "per_gpu_memory_gib", "hours_per_run", "busy_hours_per_day",
                  "cost_per_run_usd", "total_cost_usd", "break_even_hours_per_day", "payback_months", "note"]
CSV_COLUMNS = ["workload", "option", "kind", "gpu", "count", "pricing", "feasible", "reason", "per_gpu_memory_gib",
               "hours_per_run", "busy_hours_per_day", "usd_per_gpu_hour", "purchase_usd_per_card",
               "cost_per_run_usd", "total_cost_usd", "break_even_hours_per_day", "payback_months",
               "break_even_against", "price_source"]


@dataclass
class WorkloadPlan:
    key: str
    title: str
    source: str
    plan: Any  # rentbuy.planning.Plan


@dataclass
class Report:
    generated_at: datetime
    database: str
    freshness: dict[str, Any]
    workloads: list[WorkloadPlan]
    rental_prices: pd.DataFrame
    street_prices: pd.DataFrame
    moves: pd.DataFrame
    history: dict[str, pd.DataFrame] = field(default_factory=dict)

    def assumptions(self) -> list[dict[str, Any]]:
        """Every input of every plan, once each, with its source."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for item in self.workloads:
            for a in item.plan.assumptions:
                seen.setdefault((a.name, str(a.value)), {"name": a.name, "value": a.value, "unit": a.unit,
                                                         "source": a.source})
        return list(seen.values())


def freshness_line(report: Report) -> str:
    fresh = report.freshness
    newest = fresh["newest_rental_price"]
    if newest is None:
        return "WARNING: no rental prices in the database; run `rentbuy refresh` or `rentbuy db seed`."
    if fresh["stale"]:
        return (f"WARNING: the newest rental price is from {newest:%Y-%m-%d}, older than "
                f"{fresh['stale_after_days']:g} days (bundled snapshot?); run `rentbuy refresh` for live prices.")
    return f"Prices are current: newest rental price observed {newest:%Y-%m-%d %H:%M UTC}."


# --- the neutral document ---------------------------------------------------------------------------


def records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """DataFrame rows as plain dicts (NaN -> None, Timestamps -> datetimes)."""
    if frame is None or frame.empty:
        return []
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in out:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.to_pydatetime()
    return [{c: row.get(c) for c in columns} for row in out] if columns else out


def _option_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for row in records(table):
        row["note"] = row["reason"] or (f"vs {row['break_even_against']}" if row.get("break_even_against") else "")
        row["feasible"] = "yes" if row["feasible"] else "no"
        rows.append({c: row.get(c) for c in OPTION_COLUMNS})
    return rows


def break_even_matrix(pairs: pd.DataFrame | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Owned options as rows, rented options as columns: break-even h/day and payback months."""
    if pairs is None or pairs.empty:
        return [], []
    rents = list(dict.fromkeys(pairs["rent"]))
    rows = []
    for own, group in pairs.groupby("own", sort=False):
        row: dict[str, Any] = {"own \\ rent": own}
        for item in group.itertuples(index=False):
            hours, months = item.break_even_hours_per_day, item.payback_months
            hours_text = "never" if math.isinf(hours) else ("n/a" if math.isnan(hours) else f"{hours:.1f} h/day")
            months_text = (", no payback" if math.isinf(months) else
                           ("" if math.isnan(months) else f", {months:.0f} mo"))
            row[item.rent] = hours_text + months_text
        rows.append(row)
    return rows, ["own \\ rent", *rents]


def _charts(item: WorkloadPlan) -> list[tuple[str, bytes]]:
    from optimizer.uncertainty import tornado
    from reports.charts import cost_vs_utilization_png, cumulative_cost_png, tornado_png

    pairing = item.plan.headline
    if pairing is None:
        return []
    horizon = item.plan.horizon_years
    bars = tornado(pairing.own, pairing.rent, relative_speed=pairing.relative_speed, horizon_years=horizon,
                   busy_hours_per_day=pairing.busy_hours_per_day)
    return [(f"{item.key}-cumulative", cumulative_cost_png(pairing, horizon)),
            (f"{item.key}-utilization", cost_vs_utilization_png(pairing, horizon)),
            (f"{item.key}-tornado", tornado_png(bars))]


def blocks(report: Report, charts: bool = False) -> list[tuple[Any, ...]]:
    """The report as ("h1"|"h2"|"h3"|"p"|"warn"|"table"|"img", ...) blocks in reading order."""
    out: list[tuple[Any, ...]] = [("h1", f"rentbuy report, {report.generated_at:%Y-%m-%d %H:%M UTC}")]
    out.append(("warn" if report.freshness["stale"] else "p", freshness_line(report)))
    out.append(("h2", "Recommendations"))
    for item in report.workloads:
        out.append(("p", item.plan.recommendation))
    for item in report.workloads:
        out.append(("h2", item.title))
        out.append(("p", f"Assumed volume: {item.source}."))
        out.append(("p", item.plan.recommendation))
        out.append(("table", _option_rows(item.plan.table), OPTION_COLUMNS))
        matrix, columns = break_even_matrix(item.plan.break_even)
        if matrix:
            out.append(("h3", "Break-even busy hours a day of each owned option against each rental, and "
                              "months to pay back at this workload's use"))
            out.append(("table", matrix, columns))
        if charts:
            out.extend(("img", name, png) for name, png in _charts(item))
    out.append(("h2", "Rental prices now (USD per GPU-hour, current offers)"))
    out.append(("table", records(report.rental_prices), [c for c in RENTAL_COLUMNS if c != "source_url"]))
    if charts:
        from reports.charts import price_history_png

        for gpu, history in report.history.items():
            png = price_history_png(history, gpu)
            if png:
                out.append(("img", f"history-{gpu}", png))
    out.append(("h2", "Street prices (USD per card, newest per condition)"))
    out.append(("table", records(report.street_prices), [c for c in STREET_COLUMNS if c != "source_url"]))
    from reports.weekly import windows_label

    out.append(("h2", f"What changed since last week ({windows_label(report.generated_at)})"))
    moves = records(report.moves.dropna(subset=["median_change_pct"]))
    out.append(("table", moves, ["gpu", "pricing", "median", "median_prev", "median_change_pct", "cheapest",
                                 "cheapest_change_pct", "sources"]) if moves
               else ("p", "No prices were observed in both of the last two weeks."))
    out.append(("h2", "Assumptions (every input and where it came from)"))
    out.append(("table", report.assumptions(), ["name", "value", "unit", "source"]))
    return out


# --- renderers --------------------------------------------------------------------------------------


def text(doc: list[tuple[Any, ...]], markdown: bool = False) -> str:
    parts = []
    for kind, *body in doc:
        if kind == "table":
            rows, columns = body
            parts.append((markdown_table if markdown else text_table)(rows, columns) if rows else "(none)")
        elif kind in ("h1", "h2", "h3"):
            level = {"h1": 1, "h2": 2, "h3": 3}[kind]
            parts.append(f"{'#' * level} {markdown_text(body[0])}" if markdown else
                         (body[0] if kind != "h2" else f"{body[0]}\n{'=' * len(body[0])}"))
        elif kind == "warn":
            parts.append(f"> **{markdown_text(body[0])}**" if markdown else body[0])
        elif kind == "p":
            parts.append(markdown_text(body[0]) if markdown else body[0])
    return "\n\n".join(parts) + "\n"


CSS = """body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:1em auto;
padding:0 1em;color:#1f2328}table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left}td.n{text-align:right}
th{background:#f6f8fa}.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.5em}
img{max-width:100%;display:block;margin:.5em 0}h2{border-bottom:1px solid #d0d7de}"""


def _html_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c)
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            cells.append(f"<td{' class=n' if numeric else ''}>{escape(format_cell(value))}</td>")
        muted = " style='color:#8c959f'" if row.get("feasible") == "no" else ""
        body.append(f"<tr{muted}>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def html(doc: list[tuple[Any, ...]], image_src: Any = None) -> str:
    """One self-contained page; images inline as data: URIs unless ``image_src(name)`` says otherwise."""
    parts = []
    title = "rentbuy report"
    for kind, *body in doc:
        if kind in ("h1", "h2", "h3"):
            title = body[0] if kind == "h1" else title
            parts.append(f"<{kind}>{escape(body[0])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{escape(body[0])}</p>")
        elif kind == "warn":
            parts.append(f"<p class=warn>{escape(body[0])}</p>")
        elif kind == "table":
            parts.append(_html_table(*body))
        elif kind == "img":
            name, png = body
            src = image_src(name) if image_src else f"data:image/png;base64,{base64.b64encode(png).decode()}"
            parts.append(f"<img alt='{escape(name)}' src='{src}'>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def to_data(report: Report) -> dict[str, Any]:
    """Every number of the report as plain data (the JSON format)."""
    return {
        "generated_at": report.generated_at,
        "freshness": report.freshness,
        "workloads": [{"key": w.key, "title": w.title, "volume_source": w.source, **w.plan.to_dict()}
                      for w in report.workloads],
        "rental_prices": records(report.rental_prices),
        "street_prices": records(report.street_prices),
        "price_moves": records(report.moves),
        "assumptions": report.assumptions(),
    }


def csv_rows(report: Report) -> list[dict[str, Any]]:
    rows = []
    for item in report.workloads:
        for row in records(item.plan.table):
            rows.append({"workload": item.key, **row})
    return rows


FORMATS = ("table", "markdown", "html", "json", "csv")


def render(report: Report, fmt: str) -> str:
    """The report in one of ``FORMATS``; the same numbers in each."""
    if fmt == "json":
        return to_json(to_data(report)) + "\n"
    if fmt == "csv":
        return to_csv(csv_rows(report), CSV_COLUMNS)
    if fmt == "html":
        return html(blocks(report, charts=True))
    if fmt in ("table", "markdown"):
        return text(blocks(report), markdown=fmt == "markdown")
    raise ValueError(f"Unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")
