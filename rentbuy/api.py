"""The Python API that planning tools import (DESIGN.md, 'Public Python API')."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from config.settings import Settings
from rentbuy.planning import JobClass, Plan, Workload, plan

__all__ = ["JobClass", "Plan", "Workload", "plan", "prices"]

if TYPE_CHECKING:
    import pandas as pd


def prices(
    gpu: str | None = None,
    since: str | datetime | None = None,
    source: str | None = None,
    pricing: str | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Rental price observations as a DataFrame (newest first) with ``source`` and ``observed_at``.

    ``since`` takes a duration (``"7d"``, ``"12h"``) or a datetime; an unknown GPU raises
    ``ValueError``.
    """
    from config.catalog import gpu as gpu_spec
    from rentbuy.context import open_database
    from rentbuy.options import parse_since
    from store import queries
    from store.db import session_scope

    if gpu is not None:
        gpu_spec(gpu)  # raises ValueError naming the known ids
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a whole number of rows, 0 or more (0 or None: all); got {limit!r}.")
    since_at = parse_since(since) if isinstance(since, str) else since
    engine = open_database(settings)
    with session_scope(engine) as session:
        return queries.price_observations(session, gpu=gpu, since=since_at, source=source, pricing=pricing,
                                          limit=limit)
