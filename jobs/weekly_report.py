"""Build the weekly report e-mail and deliver it exactly once per ISO week and recipient list."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from sqlalchemy.engine import Engine

from config.settings import Settings, get_settings
from jobs.mailer import MailError, send
from jobs.scheduler import schedule_week
from rentbuy.planning import plan
from rentbuy.pricebook import PriceBook
from rentbuy.workloads import standard_workloads
from reports.prices import street_summary
from reports.weekly import WeeklyContent, compose, price_moves, street_moves
from store import queries
from store.db import session_scope

log = logging.getLogger("rentbuy.weekly")


class WeeklyReportError(RuntimeError):
    """Sending failed; the week stays retryable."""


@dataclass(frozen=True)
class WeeklyOutcome:
    status: str  # sent | skipped | dry-run
    iso_week: str
    recipients: tuple[str, ...]
    path: Path | None = None  # the .eml (dry run) or the archived HTML
    subject: str = ""


def build_weekly(engine: Engine, settings: Settings, now: datetime | None = None) -> WeeklyContent:
    """Gather the week's numbers from the store: price windows, offers now and a week ago, plans."""
    now = now or datetime.now(UTC)
    week_ago = now - timedelta(days=7)
    with session_scope(engine) as session:
        this_week, last_week = queries.week_over_week(session, now)
        failures = queries.failed_runs_since(session, week_ago)
        newest = queries.data_dates(session)["price_observation"][1]
        offers_now = queries.current_offers(session, as_of=now)
        offers_then = queries.current_offers(session, as_of=week_ago)
        purchases = queries.purchase_observations(session)
    purchases_then = purchases[purchases["observed_at"] <= week_ago] if not purchases.empty else purchases
    economics = settings.economics
    book_now = PriceBook(offers_now, purchases, economics.rent_statistic, economics.purchase_condition)
    book_then = PriceBook(offers_then, purchases_then, economics.rent_statistic, economics.purchase_condition)
    plans = [(w, plan(workload=w.workload, settings=settings, prices=book_now),
              plan(workload=w.workload, settings=settings, prices=book_then)) for w in standard_workloads()]
    street = street_moves(street_summary(purchases), street_summary(purchases_then))
    # The job decides and records the week in the schedule's timezone; the e-mail names that week.
    return compose(now, price_moves(this_week, last_week), street, plans, failures, newest,
                   settings.stale_after_days, week=schedule_week(settings, now))


def build_message(content: WeeklyContent, sender: str, recipients: list[str]) -> EmailMessage:
    """multipart/alternative (text, then HTML); images ride inline as multipart/related cid: parts."""
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "rentbuy.local")
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    html_part = message.get_payload()[1]
    for cid, png in content.images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    return message


def _archive(content: WeeklyContent, data_dir: Path) -> Path:
    from reports.render import to_json

    folder = data_dir / "reports" / content.iso_week
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weekly.json").write_text(to_json(content.data), encoding="utf-8")
    html = folder / "weekly.html"
    html.write_text(content.html, encoding="utf-8")
    return html


def send_weekly(settings: Settings | None = None, *, dry_run: bool = False, force: bool = False,
                to: list[str] | None = None, now: datetime | None = None) -> WeeklyOutcome:
    """Send (or, dry, write to the outbox) this week's report, once per week and recipient list."""
    from rentbuy.context import open_database
    from store import deliveries
    from store.db import session_factory

    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    recipients = list(to or settings.smtp.recipients)
    if not recipients and not dry_run:
        raise WeeklyReportError("No recipients: set RENTBUY_SMTP__RECIPIENTS or pass --to.")
    engine = open_database(settings)
    content = build_weekly(engine, settings, now)
    message = build_message(content, settings.smtp.sender, recipients or ["nobody@localhost"])
    if dry_run:
        outbox = settings.data_dir / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"weekly-{content.iso_week}-{now:%Y%m%dT%H%M%SZ}.eml"
        path.write_bytes(message.as_bytes())
        return WeeklyOutcome("dry-run", content.iso_week, tuple(recipients), path, content.subject)

    session = session_factory(engine)()
    try:
        delivery_id = deliveries.claim(session, content.iso_week, recipients, force=force, now=now)
        if delivery_id is None:
            return WeeklyOutcome("skipped", content.iso_week, tuple(recipients), None, content.subject)
        try:
            send(message, settings.smtp)
        except MailError as exc:
            deliveries.fail(session, delivery_id, str(exc))
            raise WeeklyReportError(f"The weekly report for {content.iso_week} was not sent ({exc}); "
                                    "it will be retried.") from exc
        # Sent: record it before anything else can fail, or the week would be sent again.
        deliveries.complete(session, delivery_id)
        log.info("weekly report %s sent to %d recipients", content.iso_week, len(recipients))
        archived: Path | None = None
        try:
            archived = _archive(content, settings.data_dir)
            deliveries.record_archive(session, delivery_id, str(archived))
        except Exception as exc:  # best effort: the message is out; a missing copy must not resend it
            session.rollback()
            log.error("weekly report %s was sent but not archived: %s", content.iso_week, exc)
        return WeeklyOutcome("sent", content.iso_week, tuple(recipients), archived, content.subject)
    finally:
        session.close()
