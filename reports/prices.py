"""Price tables for reports: current rental statistics and the latest street prices per GPU."""

from __future__ import annotations

import pandas as pd

RENTAL_COLUMNS = ["gpu", "pricing", "source", "cheapest_usd_per_gpu_hour", "median_usd_per_gpu_hour",
                  "offers", "observed_at", "source_url"]
STREET_COLUMNS = ["gpu", "condition", "basis", "usd", "observed_at", "source", "source_url"]


def rental_summary(offers: pd.DataFrame) -> pd.DataFrame:
    """Cheapest and median per-GPU-hour price per GPU, pricing kind and source.

    Flagged quotes (outside the sanity bounds) and unknown GPUs are left out of the statistics.
    """
    if offers.empty:
        return pd.DataFrame(columns=RENTAL_COLUMNS)
    usable = offers[~offers["flagged"].astype(bool) & (offers["gpu"] != "unknown")]
    grouped = usable.groupby(["gpu", "pricing", "source"], sort=True)
    summary = grouped.agg(
        cheapest_usd_per_gpu_hour=("usd_per_gpu_hour", "min"),
        median_usd_per_gpu_hour=("usd_per_gpu_hour", "median"),
        offers=("usd_per_gpu_hour", "size"),
        observed_at=("observed_at", "max"),
        source_url=("source_url", "first"),
    ).reset_index()
    return summary[RENTAL_COLUMNS]


def street_summary(purchases: pd.DataFrame) -> pd.DataFrame:
    """The latest street price per GPU, condition and basis, with its source and date."""
    if purchases.empty:
        return pd.DataFrame(columns=STREET_COLUMNS)
    ordered = purchases.sort_values("observed_at", ascending=False)
    latest = ordered.drop_duplicates(["gpu", "condition", "basis"], keep="first")
    return latest.sort_values(["gpu", "condition", "basis"])[STREET_COLUMNS].reset_index(drop=True)
