"""``rentbuy serve`` and ``rentbuy schedule``: the unattended service and its timetable."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from reports.render import text_table


def register(sub: Any) -> None:
    parser = sub.add_parser("serve", help="run the scheduler: refresh, weekly report, retention",
                            description="Run the scheduled jobs until SIGTERM/SIGINT. The schedule lives in "
                            "the project database, so a restart resumes it. --once runs every due job "
                            "once and exits (for cron).")
    parser.add_argument("--once", action="store_true", help="run the due jobs once and exit")
    parser.set_defaults(func=run)
    schedule = sub.add_parser("schedule", help="list the scheduled jobs and their next run times")
    schedule.set_defaults(func=run_schedule)


def run(args: argparse.Namespace) -> int:
    from jobs import scheduler
    from rentbuy.context import open_database

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    open_database()  # migrate/seed first, so the job store and jobs find a current schema
    if args.once:
        outcome = scheduler.run_once()
        print(text_table([{"job": job, "outcome": result} for job, result in outcome.items()]))
        return 0 if all(v == "ok" for v in outcome.values()) else 1
    scheduler.serve()
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    from jobs.scheduler import job_table
    from rentbuy.context import open_database

    open_database()
    print(text_table(job_table()))
    return 0
