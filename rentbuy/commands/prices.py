"""``rentbuy prices``: stored rental observations, with source and observed_at on every row."""

from __future__ import annotations

import argparse
from typing import Any

from rentbuy.options import check_gpu, parse_since
from reports.render import render_rows

COLUMNS = ["observed_at", "gpu", "pricing", "usd_per_gpu_hour", "source", "offer_key", "gpu_count", "region",
           "flagged"]


def register(sub: Any) -> None:
    parser = sub.add_parser("prices", help="list stored rental price observations",
                            description="List rental price observations from the database, newest "
                            "first, each with its source and the time it was observed.")
    parser.add_argument("--gpu", help="canonical GPU id, e.g. h100-sxm (see `rentbuy info`)")
    parser.add_argument("--since", help="how far back: 7d, 12h, 2w, 1y or a date such as 2026-11-01")
    parser.add_argument("--source", help="only this source, e.g. vast or aws")
    parser.add_argument("--pricing", choices=["on-demand", "spot", "community", "reserved-1y", "reserved-3y"])
    parser.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200; 0: all)")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    gpu = check_gpu(args.gpu) if args.gpu else None
    since = parse_since(args.since) if args.since else None
    from rentbuy.api import prices

    frame = prices(gpu=gpu, since=since, source=args.source, pricing=args.pricing, limit=args.limit or None)
    rows = frame[COLUMNS].to_dict("records") if not frame.empty else []
    print(render_rows(rows, COLUMNS, args.format, empty="No price observations match."), end="")
    return 0
