"""The weekly e-mail's content: what moved week over week, and how fresh the data is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from store import queries
from store.db import session_scope


@dataclass
class WeeklyContent:
    iso_week: str
    subject: str
    text: str
    html: str
    images: dict[str, bytes] = field(default_factory=dict)  # content-id -> PNG
    data: dict[str, Any] = field(default_factory=dict)


def iso_week(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def price_moves(this_week: pd.DataFrame, last_week: pd.DataFrame) -> pd.DataFrame:
    """Median and cheapest price per GPU and pricing kind, this week against last, in percent."""
    merged = this_week.merge(last_week, on=["gpu", "pricing"], how="outer", suffixes=("", "_prev"))
    merged["median_change_pct"] = (merged["median"] / merged["median_prev"] - 1.0) * 100.0
    merged["cheapest_change_pct"] = (merged["cheapest"] / merged["cheapest_prev"] - 1.0) * 100.0
    columns = ["gpu", "pricing", "median", "median_prev", "median_change_pct", "cheapest", "cheapest_prev",
               "cheapest_change_pct", "offers", "sources"]
    return merged[columns].sort_values(["gpu", "pricing"]).reset_index(drop=True)


def _headline(moves: pd.DataFrame) -> str:
    known = moves.dropna(subset=["median_change_pct"])
    if known.empty:
        return "no week-over-week price data"
    focus = known[known["gpu"] == "h100-sxm"]
    row = (focus if not focus.empty else known.reindex(known["median_change_pct"].abs()
                                                       .sort_values(ascending=False).index)).iloc[0]
    return f"{row['gpu']} {row['pricing']} rent {row['median_change_pct']:+.1f}% w/w"


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return f"{value:+.1f}%" if pct else f"${value:,.2f}"


def build_weekly(engine: Engine, now: datetime | None = None, stale_after_days: float = 7.0) -> WeeklyContent:
    """Gather the week's numbers from the store and render them as text and HTML."""
    from html import escape

    now = now or datetime.now(UTC)
    week_start = now - timedelta(days=7)
    with session_scope(engine) as session:
        this_week = queries.window_statistics(session, week_start, now)
        last_week = queries.window_statistics(session, week_start - timedelta(days=7), week_start)
        failures = queries.failed_runs_since(session, week_start)
        dates = queries.data_dates(session)
    moves = price_moves(this_week, last_week)
    newest = dates["price_observation"][1]
    stale = newest is None or now - newest > timedelta(days=stale_after_days)
    week = iso_week(now)
    headline = _headline(moves)
    subject = f"rentbuy {week}: {headline}"
    freshness = (f"Newest rental price: {newest:%Y-%m-%d %H:%M UTC}." if newest else "No rental prices stored.")
    if stale:
        freshness += " WARNING: prices are stale; check the refresh job."
    rows = [[r.gpu, r.pricing, _fmt(r.median), _fmt(r.median_change_pct, True), _fmt(r.cheapest),
             _fmt(r.cheapest_change_pct, True), str(r.sources if isinstance(r.sources, str) else "")]
            for r in moves.itertuples(index=False)]
    header = ["GPU", "pricing", "median $/GPU-h", "w/w", "cheapest", "w/w", "sources"]
    failure_lines = [f"{run.source} at {run.started_at:%Y-%m-%d %H:%M}: {run.error}" for run in failures]

    from rentbuy.render import text_table

    text_parts = [subject, "", freshness, "", "Rental prices this week vs last week:",
                  text_table([dict(zip(header, r, strict=True)) for r in rows], header) if rows
                  else "(no prices observed in the last two weeks)", ""]
    text_parts += ["Refresh failures this week:", *(failure_lines or ["none"])]
    text = "\n".join(text_parts) + "\n"

    table_html = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>" + escape(subject) + "</title>"
        "<style>body{font-family:sans-serif;max-width:720px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>{escape(subject)}</h1><p>{escape(freshness)}</p>"
        "<h2>Rental prices this week vs last week</h2>"
        + (f"<table><tr>{''.join(f'<th>{escape(h)}</th>' for h in header)}</tr>{table_html}</table>"
           if rows else "<p>No prices observed in the last two weeks.</p>")
        + "<h2>Refresh failures this week</h2><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in failure_lines or ["none"])
        + "</ul></body></html>"
    )
    data = {"iso_week": week, "subject": subject, "freshness": {"newest": newest, "stale": stale},
            "price_moves": moves.astype(object).where(moves.notna(), None).to_dict("records"),
            "refresh_failures": failure_lines}
    return WeeklyContent(week, subject, text, html, {}, data)
