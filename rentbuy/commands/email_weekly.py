"""``rentbuy email-weekly``: send this week's report once (or write it to the outbox)."""

from __future__ import annotations

import argparse
from typing import Any

from rentbuy.errors import RentbuyError


def register(sub: Any) -> None:
    parser = sub.add_parser("email-weekly", help="e-mail the weekly report (once per ISO week)",
                            description="Build the weekly report and send it over SMTP to the configured "
                            "recipients, at most once per ISO week and recipient list.")
    parser.add_argument("--dry-run", action="store_true", help="write the .eml to the outbox instead of sending")
    parser.add_argument("--force", action="store_true", help="send even if this week was sent already")
    parser.add_argument("--to", action="append", metavar="ADDR", help="recipient (repeatable); overrides settings")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jobs.weekly_report import WeeklyReportError, send_weekly

    try:
        outcome = send_weekly(dry_run=args.dry_run, force=args.force, to=args.to)
    except WeeklyReportError as exc:
        raise RentbuyError(str(exc)) from exc
    if outcome.status == "dry-run":
        print(f"Wrote {outcome.path} ({outcome.subject}).")
    elif outcome.status == "skipped":
        print(f"The report for {outcome.iso_week} was already sent to these recipients; use --force to resend.")
    else:
        print(f"Sent {outcome.iso_week} to {', '.join(outcome.recipients)}: {outcome.subject}")
    return 0
