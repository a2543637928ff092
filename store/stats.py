"""Daily price statistics, shared by the history query and retention's aggregates."""

from __future__ import annotations

import pandas as pd

GROUP = ["gpu", "source", "pricing"]
STAT_COLUMNS = ["usd_min", "usd_p10", "usd_median", "usd_p90", "usd_max"]


def daily_statistics(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (gpu, source, pricing): quantiles over unflagged offers; flagged ones only counted.

    A group whose every offer was flagged keeps its (implausible) range with ``offers`` = 0, so
    readers that require ``offers > 0`` skip it while nothing is silently lost.
    """
    flagged = frame["flagged"].astype(bool)
    good = frame[~flagged]
    stats = _quantiles(good)
    stats["offers"] = good.groupby(GROUP)["usd_per_gpu_hour"].count()
    flagged_counts = frame[flagged].groupby(GROUP).size().rename("flagged")
    only_flagged = _quantiles(frame[flagged])
    only_flagged = only_flagged.loc[only_flagged.index.difference(stats.index)]
    only_flagged["offers"] = 0
    out = pd.concat([stats, only_flagged]).join(flagged_counts, how="left").fillna({"flagged": 0})
    return out.reset_index()


def _quantiles(frame: pd.DataFrame) -> pd.DataFrame:
    # Grouped quantiles run in pandas' compiled groupby code; a Python lambda per group took
    # ten times as long, most of a 90-day history query's time (bench/queries.py).
    prices = frame.groupby(GROUP)["usd_per_gpu_hour"]
    return pd.DataFrame({"usd_min": prices.min(), "usd_p10": prices.quantile(0.1), "usd_median": prices.median(),
                         "usd_p90": prices.quantile(0.9), "usd_max": prices.max()})
