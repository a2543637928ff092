"""``rentbuy report``: what renting and buying GPUs costs now, from the database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rentbuy.errors import RentbuyError, UsageError


def register(sub: Any) -> None:
    parser = sub.add_parser("report", help="print the rent-or-buy report from the stored prices",
                            description="For the standard workloads (or --workload FILE): the recommendation, "
                            "every option priced for the same work, break-even and payback, current rental and "
                            "street prices, what changed since last week, and every assumption with its source.")
    parser.add_argument("--format", choices=["table", "markdown", "html", "json", "csv"], default="table",
                        help="table (terminal), markdown, html (one self-contained file with charts), json, "
                        "csv (the options table)")
    parser.add_argument("--workload", type=Path, metavar="FILE",
                        help="TOML file of workloads (format: config/data/workloads.toml)")
    parser.add_argument("--output", type=Path, help="write to this file instead of standard output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rentbuy.reporting import build_report
    from reports.document import render

    workloads = None
    if args.workload:
        from rentbuy.workloads import load_workloads

        try:
            workloads = load_workloads(args.workload)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    text = render(build_report(workloads=workloads), args.format)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RentbuyError(f"Cannot write {args.output}: {exc.strerror}.") from exc
        print(f"Wrote {args.output}.", file=sys.stderr)
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0
