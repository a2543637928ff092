"""``rentbuy fetch SOURCE``: fetch one source live and print the quotes it parsed.

For checking a source by hand, e.g. when a provider changes its format: nothing is stored;
``--save-raw DIR`` keeps the payloads exactly as received, to turn into test fixtures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rentbuy.errors import RentbuyError, UsageError

RENTAL_COLUMNS = ["gpu", "gpu_raw_name", "gpu_count", "usd_per_gpu_hour", "pricing", "region", "offer_key", "flagged"]
PURCHASE_COLUMNS = ["gpu", "gpu_raw_name", "condition", "usd", "basis", "observed_at", "source", "flagged"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fetch", help="fetch one price source live and print the quotes it parsed (stores nothing)",
        description="Fetch one source now (its base URL from settings, e.g. "
        "RENTBUY_PROVIDERS__AZURE__BASE_URL=http://127.0.0.1:8080 for a local stand-in), parse it and "
        "print every quote. Nothing is written to the database. See `rentbuy providers` for sources.")
    parser.add_argument("source", metavar="SOURCE", help="source name, e.g. vast, azure, street_prices")
    parser.add_argument("--save-raw", type=Path, metavar="DIR", help="also save each raw payload page in DIR")
    parser.add_argument("--format", choices=["text", "json", "csv"], default="text", help="output format")
    parser.add_argument("--gpu", metavar="ID", help="only quotes for this canonical GPU id (or 'unknown')")
    parser.set_defaults(func=run)


def _row(quote: Any) -> dict[str, Any]:
    from dataclasses import asdict

    row = asdict(quote)
    if "usd_per_gpu_hour" in row:
        row["usd_per_gpu_hour"] = round(row["usd_per_gpu_hour"], 6)
    return row


def run(args: argparse.Namespace) -> int:
    from config.settings import get_settings
    from providers.base import MissingCredentials, ProviderError
    from providers.registry import SOURCES, collect
    from reports.render import render_rows

    if args.source not in SOURCES:
        raise UsageError(f"Unknown price source {args.source!r}; known sources: {', '.join(SOURCES)}.")
    settings = get_settings()
    source = SOURCES[args.source]
    config = settings.providers.get(source.name)
    if not config.enabled:
        print(f"note: {source.name} is disabled in settings; fetching it anyway", file=sys.stderr)
    try:
        result = collect(source.name, settings, raw_dir=args.save_raw)
    except MissingCredentials as exc:
        raise RentbuyError(str(exc).replace(" (source skipped)", "")) from exc
    except ProviderError as exc:
        raise RentbuyError(f"fetching {exc}") from exc
    quotes = [q for q in result.quotes if args.gpu is None or q.gpu == args.gpu]
    table = [_row(q) for q in quotes]
    columns = PURCHASE_COLUMNS if source.kind == "purchase" else RENTAL_COLUMNS
    print(render_rows(table, columns, args.format, empty="(no quotes)"), end="")
    unknown = ", ".join(f"{name} ({count})" for name, count in sorted(result.unknown_gpu_names.items()))
    print(f"{source.name}: {len(result.quotes)} quotes from {result.pages} page(s); "
          f"{result.flagged} flagged outside sanity bounds; "
          f"{sum(result.unknown_gpu_names.values())} with unknown GPU names{': ' + unknown if unknown else ''}",
          file=sys.stderr)
    for path in result.raw_paths:
        print(f"saved raw payload: {path}", file=sys.stderr)
    return 0
