"""The report as data (one dict of tables), rendered to text, Markdown or JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from config.settings import Settings, get_settings
from reports.prices import RENTAL_COLUMNS, STREET_COLUMNS, rental_summary, street_summary


def build_report(settings: Settings | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Gather every table the report shows, with the data dates that qualify them."""
    from rentbuy.context import open_database
    from store import queries
    from store.db import safe_url, session_scope

    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    engine = open_database(settings)
    with session_scope(engine) as session:
        offers = queries.current_offers(session)
        purchases = queries.purchase_observations(session)
    rental = rental_summary(offers)
    street = street_summary(purchases)
    newest = pd.to_datetime(rental["observed_at"]).max() if not rental.empty else None
    stale_after = timedelta(days=settings.stale_after_days)
    freshness = {
        "newest_rental_price": newest.to_pydatetime() if newest is not None else None,
        "stale": newest is None or (now - newest.to_pydatetime()) > stale_after,
        "stale_after_days": settings.stale_after_days,
    }
    return {
        "generated_at": now,
        "database": safe_url(settings.effective_database_url),
        "freshness": freshness,
        "rental_prices": rental,
        "street_prices": street,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in out:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.to_pydatetime()
    return out


def _freshness_line(report: dict[str, Any]) -> str:
    fresh = report["freshness"]
    newest = fresh["newest_rental_price"]
    if newest is None:
        return "WARNING: no rental prices in the database; run `rentbuy refresh` or `rentbuy db seed`."
    when = newest.strftime("%Y-%m-%d")
    if fresh["stale"]:
        return (f"WARNING: the newest rental price is from {when}, older than {fresh['stale_after_days']:g} "
                "days (bundled snapshot?); run `rentbuy refresh` for live prices.")
    return f"Newest rental price observed {when}."


def render(report: dict[str, Any], fmt: str) -> str:
    """The report in ``table`` (terminal), ``markdown`` or ``json`` form, same numbers in each."""
    from rentbuy.render import markdown_table, text_table, to_json

    rental = _records(report["rental_prices"])
    street = _records(report["street_prices"])
    rental_cols = [c for c in RENTAL_COLUMNS if c != "source_url"]
    street_cols = [c for c in STREET_COLUMNS if c != "source_url"]
    if fmt == "json":
        return to_json({
            "generated_at": report["generated_at"],
            "freshness": report["freshness"],
            "rental_prices": rental,
            "street_prices": street,
        }) + "\n"
    header = f"rentbuy report, generated {report['generated_at']:%Y-%m-%d %H:%M UTC}"
    if fmt == "markdown":
        return "\n\n".join([
            f"# {header}",
            f"> {_freshness_line(report)}",
            "## Rental prices (USD per GPU-hour)",
            markdown_table(rental, rental_cols),
            "## Street prices (USD per card)",
            markdown_table(street, street_cols),
        ]) + "\n"
    return "\n\n".join([
        header,
        _freshness_line(report),
        "Rental prices (USD per GPU-hour)",
        text_table(rental, rental_cols),
        "Street prices (USD per card)",
        text_table(street, street_cols),
    ]) + "\n"
