"""``rentbuy report``: what renting and buying GPUs costs now, from the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rentbuy.errors import RentbuyError


def register(sub: Any) -> None:
    parser = sub.add_parser("report", help="print the rent-or-buy report from the stored prices",
                            description="Print current rental prices per GPU (cheapest and median per "
                            "source) and street prices, each with its source and date.")
    parser.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    parser.add_argument("--output", type=Path, help="write to this file instead of standard output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reports.document import build_report, render

    text = render(build_report(), args.format)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RentbuyError(f"Cannot write {args.output}: {exc.strerror}.") from exc
        print(f"Wrote {args.output}.", file=sys.stderr)
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
