"""``rentbuy serve`` and ``rentbuy schedule``: the unattended service and its timetable."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from reports.render import text_table


def register(sub: Any) -> None:
    from rentbuy.commands.web import add_http_arguments

    parser = sub.add_parser("serve", help="run the scheduler: refresh, weekly report, retention",
                            description="Run the scheduled jobs until SIGTERM/SIGINT. The schedule lives in "
                            "the project database, so a restart resumes it. --once runs every due job "
                            "once and exits (for cron). --http also serves the report page and the JSON API "
                            "(as `rentbuy web`) in the same process.")
    parser.add_argument("--once", action="store_true", help="run the due jobs once and exit")
    parser.add_argument("--http", action="store_true", help="also serve the web page and API (see `rentbuy web`)")
    add_http_arguments(parser, " with --http")
    parser.set_defaults(func=run)
    schedule = sub.add_parser("schedule", help="list the scheduled jobs and their next run times")
    schedule.set_defaults(func=run_schedule)


def run(args: argparse.Namespace) -> int:
    from jobs import scheduler
    from rentbuy.context import open_database
    from rentbuy.errors import UsageError

    if args.once and args.http:
        raise UsageError("--http serves until stopped; it cannot be combined with --once.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    open_database()  # migrate/seed first, so the job store and jobs find a current schema
    if args.once:
        outcome = scheduler.run_once()
        print(text_table([{"job": job, "outcome": result} for job, result in outcome.items()]))
        return 0 if all(v == "ok" for v in outcome.values()) else 1
    if not args.http:
        scheduler.serve()
        return 0
    return _serve_with_http(args)


def _serve_with_http(args: argparse.Namespace) -> int:
    """The scheduler in the main thread (it owns SIGTERM/SIGINT), uvicorn in a thread beside it.

    The scheduler's signal handler tells uvicorn to exit too; both finish what is under way.
    """
    from config.settings import get_settings
    from jobs import scheduler
    from rentbuy.commands.web import address
    from rentbuy.web import server

    settings = get_settings()
    host, port = address(args, settings)
    web, thread = server.start_in_thread(settings, host, port)

    def stop_web() -> None:
        web.should_exit = True

    try:
        scheduler.serve(settings, on_stop=stop_web)
    finally:
        stop_web()
        thread.join(timeout=30)
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    from jobs.scheduler import job_table
    from rentbuy.context import open_database

    open_database()
    print(text_table(job_table()))
    return 0
