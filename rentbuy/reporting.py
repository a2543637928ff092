"""Gather the report's numbers: one database read, one plan per workload (rendering is in ``reports``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from config.settings import Settings, get_settings
from rentbuy.context import open_database
from rentbuy.planning import plan
from rentbuy.pricebook import PriceBook
from rentbuy.workloads import NamedWorkload, standard_workloads
from reports.document import HISTORY_GPUS, Report, WorkloadPlan
from reports.prices import rental_summary, street_summary
from reports.weekly import price_moves
from store import queries
from store.db import safe_url, session_scope


def build_report(settings: Settings | None = None, now: datetime | None = None,
                 workloads: list[NamedWorkload] | None = None) -> Report:
    """Gather every number the report shows (one database read, one plan per workload)."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    engine = open_database(settings)
    with session_scope(engine) as session:
        offers = queries.current_offers(session)
        purchases = queries.purchase_observations(session)
        this_week, last_week = queries.week_over_week(session, now)
        history = {gpu: queries.price_history(session, gpu, since=now - timedelta(days=90)) for gpu in HISTORY_GPUS}
    book = PriceBook(offers, purchases, settings.economics.rent_statistic, settings.economics.purchase_condition)
    named = workloads if workloads is not None else standard_workloads()
    plans = [WorkloadPlan(w.key, w.title, w.source, plan(workload=w.workload, settings=settings, prices=book))
             for w in named]
    rental = rental_summary(offers)
    newest = pd.to_datetime(rental["observed_at"]).max() if not rental.empty else None
    newest_dt = newest.to_pydatetime() if newest is not None else None
    freshness = {
        "newest_rental_price": newest_dt,
        "stale": newest_dt is None or (now - newest_dt) > timedelta(days=settings.stale_after_days),
        "stale_after_days": settings.stale_after_days,
    }
    return Report(now, safe_url(settings.effective_database_url), freshness, plans, rental,
                  street_summary(purchases), price_moves(this_week, last_week), history)
