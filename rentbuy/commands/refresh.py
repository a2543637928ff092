"""``rentbuy refresh`` and ``rentbuy reparse``: fetch live prices into the database."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from rentbuy.errors import RentbuyError, UsageError
from reports.render import text_table


def register(sub: Any) -> None:
    parser = sub.add_parser("refresh", help="fetch current prices from the enabled sources",
                            description="Fetch prices from every enabled source (or those named), each "
                            "in its own transaction, and print a per-source summary. Exits non-zero only "
                            "when every source failed.")
    parser.add_argument("--source", nargs="+", metavar="NAME", help="only these sources (see `rentbuy providers`)")
    parser.add_argument("--dry-run", action="store_true", help="fetch and parse, but write nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.set_defaults(func=run)
    again = sub.add_parser("reparse", help="parse a refresh run's archived payload again",
                           description="Re-derive quotes from a run's archived raw payload, e.g. after a "
                           "parser fix; rows already stored are not duplicated.")
    again.add_argument("run_id", type=int, metavar="RUN_ID")
    again.set_defaults(func=run_reparse)


class TerminalProgress:
    """One status line per source on a terminal: fetching, parsed N, written N."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __call__(self, source: str, stage: str, count: int | None) -> None:
        text = f"{source}: {stage}" + (f" {count}" if count is not None else "")
        end = "\n" if stage == "written" else ""
        self.stream.write(f"\r\033[K{text}{end}")
        self.stream.flush()


def _selected(names: list[str] | None, settings: Any) -> list[Any]:
    from providers.registry import SOURCES, enabled_sources, get_source

    if not names:
        return enabled_sources(settings)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise UsageError(f"Unknown source {unknown[0]!r}; known sources: {', '.join(SOURCES)}.")
    return [get_source(name) for name in names]


def run(args: argparse.Namespace) -> int:
    from config.settings import get_settings
    from jobs.refresh import refresh, summary_rows
    from rentbuy.context import open_database

    settings = get_settings()
    sources = _selected(args.source, settings)
    if not sources:
        raise RentbuyError("No source is enabled; enable one with RENTBUY_PROVIDERS__<SOURCE>__ENABLED=true.")
    interactive = sys.stderr.isatty() and not args.quiet
    if not interactive and not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    progress = TerminalProgress(sys.stderr) if interactive else None
    results = refresh(open_database(settings), settings, sources, dry_run=args.dry_run, progress=progress)
    print(text_table(summary_rows(results)))
    attempted = [r for r in results if r.status != "skipped"]
    if attempted and all(r.status == "failed" for r in attempted):
        raise RentbuyError("Every source failed; see the errors above.")
    return 0


def run_reparse(args: argparse.Namespace) -> int:
    from config.settings import get_settings
    from jobs.refresh import reparse, summary_rows
    from providers.registry import get_source
    from rentbuy.context import open_database
    from store import queries
    from store.db import session_scope

    settings = get_settings()
    engine = open_database(settings)
    with session_scope(engine) as session:
        run = queries.get_refresh_run(session, args.run_id)
        if run is None:
            raise UsageError(f"There is no refresh run {args.run_id}; `rentbuy info` shows the runs.")
        name = run.source
    result = reparse(engine, args.run_id, get_source(name), settings)
    print(text_table(summary_rows([result])))
    return 0
