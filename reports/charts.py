"""Charts for the report and the e-mail (matplotlib, Agg): PNG bytes sized for e-mail width.

Every chart is drawn from the same model objects the tables use, through the vectorised cost
formulas, so a chart and a table can never disagree.
"""

from __future__ import annotations

import io
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer import vectorized as vec
from optimizer.costs import scenarios

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.uncertainty import Tornado

# ``pairing`` arguments are rentbuy.planning.Pairing: own, rent, relative_speed, busy_hours_per_day.
Pairing = Any

WIDTH_IN, HEIGHT_IN, DPI = 7.0, 3.6, 100  # 700 x 360 px: readable in a 700 px e-mail column
OWN_COLOUR, RENT_COLOUR, MARK_COLOUR = "#1f6feb", "#d1242f", "#57606a"


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.usetex"] = False
    matplotlib.rcParams["text.parse_math"] = False  # "$" in labels is money, not mathtext
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax.grid(alpha=0.3)
    return fig, ax


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _usd(value: float, _pos: Any = None) -> str:
    return f"${value:,.0f}"


def cumulative_cost_png(pairing: Pairing, horizon_years: float) -> bytes:
    """Money paid out month by month, owning vs renting the same work; payback marked.

    Owning is drawn without the resale credit (cash out, the finance view of payback) and, dashed,
    net of what the cards would fetch if sold that month.
    """
    own, rent = pairing.own, pairing.rent
    base = scenarios(own, rent, relative_speed=pairing.relative_speed, horizon_years=horizon_years,
                     busy_hours_per_day=pairing.busy_hours_per_day)
    months = np.arange(1, max(round(horizon_years * 12), 1) + 1, dtype=float)
    years = months / 12.0
    s = replace(base, horizon_years=years, resale_usd=np.asarray(own.resale_usd(years), dtype=float))
    lines = vec.own_lines(s)
    # Month 0 is the purchase itself: the cards paid, nothing rented yet.
    cash_out = np.concatenate([[own.capex_usd], lines["capex"] + lines["energy"] + lines["maintenance"]
                               + lines["admin"]])
    net = np.concatenate([[own.capex_usd], cash_out[1:] + lines["resale_credit"]])
    rented = np.concatenate([[0.0], vec.rent_total_usd(s)])
    months = np.concatenate([[0.0], months])
    fig, ax = _figure()
    ax.plot(months, cash_out, color=OWN_COLOUR, label=f"{own.label}: paid out")
    ax.plot(months, net, color=OWN_COLOUR, linestyle="--", label=f"{own.label}: net of resale")
    ax.plot(months, rented, color=RENT_COLOUR, label=f"{rent.label} (same work)")
    crossing = np.nonzero(rented >= cash_out)[0]
    if crossing.size and crossing[0] > 0:
        m = crossing[0]
        ax.axvline(months[m], color=MARK_COLOUR, linestyle=":")
        ax.annotate(f"pays back ~month {months[m]:.0f}", (months[m], cash_out[m]), textcoords="offset points",
                    xytext=(6, -14), fontsize=8, color=MARK_COLOUR)
    ax.set_xlabel("months since purchase")
    ax.set_ylabel("cumulative cost (USD)")
    ax.yaxis.set_major_formatter(_usd)
    ax.set_title(f"Cumulative cost at {pairing.busy_hours_per_day:.1f} busy h/day, "
                 f"rent {rent.usd_per_gpu_hour:.2f} USD/GPU-h, electricity {own.usd_per_kwh:.3f} USD/kWh", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def cost_vs_utilization_png(pairing: Pairing, horizon_years: float) -> bytes:
    """Total cost over the horizon against the owned machine's busy hours a day; break-even marked."""
    own, rent = pairing.own, pairing.rent
    s = scenarios(own, rent, relative_speed=pairing.relative_speed, horizon_years=horizon_years)
    hours = np.linspace(0.0, 24.0, 97)
    owning = vec.own_total_usd(s, hours)
    renting = vec.rent_total_usd(s, hours)
    break_even = float(vec.break_even_hours_per_day(s))
    fig, ax = _figure()
    ax.plot(hours, owning, color=OWN_COLOUR, label=own.label)
    ax.plot(hours, renting, color=RENT_COLOUR, label=f"{rent.label} (same work)")
    if 0 < break_even < 24 and math.isfinite(break_even):
        ax.axvline(break_even, color=MARK_COLOUR, linestyle=":")
        ax.annotate(f"break-even {break_even:.1f} h/day", (break_even, float(np.interp(break_even, hours, owning))),
                    textcoords="offset points", xytext=(6, 8), fontsize=8, color=MARK_COLOUR)
    ax.axvline(pairing.busy_hours_per_day, color=OWN_COLOUR, alpha=0.3, linewidth=6)
    ax.set_xlabel("owned machine busy hours per day")
    ax.set_ylabel(f"cost over {horizon_years:g} years (USD)")
    ax.yaxis.set_major_formatter(_usd)
    ax.set_xlim(0, 24)
    ax.set_title(f"Own vs rent over {horizon_years:g} years (shaded: this workload's use); "
                 f"resale {own.resale_fraction:.0%}, electricity {own.usd_per_kwh:.3f} USD/kWh", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def price_history_png(history: pd.DataFrame, gpu: str) -> bytes | None:
    """Daily median on-demand price per GPU-hour (all sources pooled), with the min-max band."""
    if history.empty:
        return None
    frame = history[history["pricing"].isin(["on-demand", "community"])]
    if frame.empty:
        return None
    daily = frame.groupby("day").agg(low=("usd_min", "min"), median=("usd_median", "median"),
                                     high=("usd_max", "max")).sort_index()
    fig, ax = _figure()
    days = list(daily.index)
    ax.fill_between(days, daily["low"], daily["high"], color=RENT_COLOUR, alpha=0.15, label="min to max offer")
    ax.plot(days, daily["median"], color=RENT_COLOUR, marker="o", markersize=3, label="median of source medians")
    ax.set_ylabel("USD per GPU-hour")
    ax.yaxis.set_major_formatter(lambda v, _p: f"${v:,.2f}")
    ax.set_title(f"{gpu} on-demand rental price by day (stored observations)", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.autofmt_xdate()
    return _png(fig)


def tornado_png(tornado: Tornado) -> bytes:
    """How far the break-even moves as each input moves across its range, widest first."""
    bars = [bar for bar in tornado.bars if math.isfinite(bar.swing)][:8]
    fig, ax = _figure()
    names = [bar.name.replace("_", " ") for bar in bars][::-1]
    lows = [bar.result_at_low for bar in bars][::-1]
    highs = [bar.result_at_high for bar in bars][::-1]
    base = tornado.base_result
    for i, (low, high) in enumerate(zip(lows, highs, strict=True)):
        ax.barh(i, low - base, left=base, color=OWN_COLOUR, alpha=0.7)
        ax.barh(i, high - base, left=base, color=RENT_COLOUR, alpha=0.7)
    ax.axvline(base, color=MARK_COLOUR)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel(f"{tornado.metric.replace('_', ' ')} ({tornado.unit})")
    ax.set_title(f"Sensitivity: base {base:.2f} {tornado.unit}; blue = input at its low end, red = high end",
                 fontsize=9)
    return _png(fig)
