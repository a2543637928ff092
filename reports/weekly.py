"""The weekly e-mail's content: what moved week over week, whether the decision changed, and how
fresh the data is. Rendered through the report's document blocks, so text and HTML agree."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd


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


def street_moves(now: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """Latest street price per GPU and condition now against a week ago."""
    merged = now.merge(then, on=["gpu", "condition", "basis"], how="left", suffixes=("", "_prev"))
    merged["change_pct"] = (merged["usd"] / merged["usd_prev"] - 1.0) * 100.0
    return merged[["gpu", "condition", "basis", "usd", "usd_prev", "change_pct", "source", "observed_at"]]


def _money(value: Any, decimals: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"${value:,.{decimals}f}"


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.1f}%"


def _hours(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return "never" if math.isinf(value) else f"{value:.1f} h/day"


def windows_label(now: datetime) -> str:
    """Which days the two weeks are, e.g. "21-27 Nov vs 14-20 Nov, whole UTC days"."""
    from store.queries import week_windows

    (this_start, this_end), (last_start, last_end) = week_windows(now)
    span = [f"{start:%d %b}-{end - timedelta(days=1):%d %b}" for start, end in ((this_start, this_end),
                                                                              (last_start, last_end))]
    return f"{span[0]} vs {span[1]}, whole UTC days"


def _headline_move(moves: pd.DataFrame) -> str:
    known = moves.dropna(subset=["median_change_pct"])
    if known.empty:
        return "no week-over-week price data"
    focus = known[known["gpu"] == "h100-sxm"]
    row = focus.iloc[0] if not focus.empty else known.loc[known["median_change_pct"].abs().idxmax()]
    return f"{row['gpu']} {row['pricing']} rent {row['median_change_pct']:+.1f}% w/w"


def _best_own(plan: Any) -> Any:
    owned = plan.table[(plan.table["kind"] == "own") & plan.table["feasible"]]
    return None if owned.empty else owned.iloc[0]


def _decision(plans: list[tuple[Any, Any, Any]]) -> str:
    """The subject's second half: the first workload where owning is on the table."""
    for named, plan, _ in plans:
        best = plan.table[plan.table["feasible"]]
        if best.empty:
            continue
        mine = _best_own(plan)
        if best.iloc[0]["kind"] == "own" and mine is not None and math.isfinite(mine["payback_months"]):
            return (f"{mine['option'].removeprefix('own ')} pays back in {mine['payback_months']:.0f} months at "
                    f"{mine['busy_hours_per_day']:.1f} h/day ({named.key})")
        return f"{best.iloc[0]['option']} is cheapest for {named.key}"
    return "no feasible option"


def _break_even_rows(plans: list[tuple[Any, Any, Any]]) -> list[dict[str, Any]]:
    rows = []
    for named, now, then in plans:
        best_now = now.table[now.table["feasible"]]
        best_then = then.table[then.table["feasible"]]
        mine, mine_then = _best_own(now), _best_own(then)
        rows.append({
            "workload": named.title,
            "cheapest now": best_now.iloc[0]["option"] if not best_now.empty else "none",
            "a week ago": best_then.iloc[0]["option"] if not best_then.empty else "none",
            "best owned": mine["option"] if mine is not None else "none fits",
            "break-even now": _hours(mine["break_even_hours_per_day"]) if mine is not None else "–",
            "a week ago ": _hours(mine_then["break_even_hours_per_day"]) if mine_then is not None else "–",
            "payback now": (f"{mine['payback_months']:.0f} months" if mine is not None
                            and math.isfinite(mine["payback_months"]) else "–"),
        })
    return rows


def compose(now: datetime, moves: pd.DataFrame, street: pd.DataFrame, plans: list[tuple[Any, Any, Any]],
            failures: list[Any], newest: datetime | None, stale_after_days: float,
            week: str | None = None) -> WeeklyContent:
    """The e-mail from the week's numbers: ``plans`` are (workload, plan now, plan a week ago).
    ``week`` is the ISO week it counts as (the job passes the schedule timezone's; default UTC's)."""
    from reports.document import html, text

    stale = newest is None or now - newest > timedelta(days=stale_after_days)
    week = week or iso_week(now)
    subject = f"rentbuy {week}: {_headline_move(moves)}; {_decision(plans)}"
    freshness = f"Newest rental price: {newest:%Y-%m-%d %H:%M UTC}." if newest else "No rental prices stored."
    if stale:
        freshness += " WARNING: prices are stale; check the refresh job."
    move_rows = [{"GPU": r.gpu, "pricing": r.pricing, "median $/GPU-h": _money(r.median),
                  "w/w": _pct(r.median_change_pct), "cheapest": _money(r.cheapest),
                  "w/w ": _pct(r.cheapest_change_pct), "sources": r.sources if isinstance(r.sources, str) else ""}
                 for r in moves.itertuples(index=False)]
    street_rows = [{"GPU": r.gpu, "condition": r.condition, "basis": r.basis, "now": _money(r.usd, 0),
                    "a week ago": _money(r.usd_prev, 0), "change": _pct(r.change_pct), "source": r.source}
                   for r in street.itertuples(index=False)]
    decision_rows = _break_even_rows(plans)
    failure_lines = [f"{run.source} at {run.started_at:%Y-%m-%d %H:%M}: {run.error}" for run in failures]
    doc: list[tuple[Any, ...]] = [("h1", subject), ("warn" if stale else "p", freshness),
                                  ("h2", f"Rental prices this week vs last week ({windows_label(now)})")]
    doc.append(("table", move_rows, list(move_rows[0])) if move_rows
               else ("p", "No prices observed in the last two weeks."))
    doc += [("h2", "Has the decision changed?"),
            ("table", decision_rows, list(decision_rows[0])) if decision_rows else ("p", "No workloads.")]
    doc += [("h2", "Street prices"),
            ("table", street_rows, list(street_rows[0])) if street_rows else ("p", "No street prices.")]
    doc += [("h2", "Refresh failures this week"), ("p", "; ".join(failure_lines) if failure_lines else "none")]
    images = _charts(plans)
    doc += [("img", name, png) for name, png in images.items()]
    data = {"iso_week": week, "subject": subject, "freshness": {"newest": newest, "stale": stale},
            "price_moves": moves.astype(object).where(moves.notna(), None).to_dict("records"),
            "break_even": decision_rows, "refresh_failures": failure_lines}
    return WeeklyContent(week, subject, text([b for b in doc if b[0] != "img"]),
                         html(doc, image_src=lambda name: f"cid:{name}"), images, data)


def _charts(plans: list[tuple[Any, Any, Any]]) -> dict[str, bytes]:
    """The first workload with an owned option: cumulative cost and cost against utilization."""
    from reports.charts import cost_vs_utilization_png, cumulative_cost_png

    for named, now, _ in plans:
        if now.headline is not None:
            return {f"{named.key}-cumulative": cumulative_cost_png(now.headline, now.horizon_years),
                    f"{named.key}-utilization": cost_vs_utilization_png(now.headline, now.horizon_years)}
    return {}
