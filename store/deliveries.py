"""Exactly-once bookkeeping for the weekly report: claim before sending, complete after.

The unique (iso_week, recipients_key) row is the lock: two senders racing for the same week
cannot both claim it, a crash leaves a stale claim that a later run may take over, and a sent
week is never sent again unless forced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import ReportDelivery

# A claim older than this is taken to be from a process that died mid-send.
STALE_CLAIM = timedelta(minutes=30)


def recipients_key(recipients: Sequence[str]) -> str:
    normalised = ",".join(sorted(address.strip().lower() for address in recipients))
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def claim(session: Session, iso_week: str, recipients: Sequence[str], *, force: bool = False,
          now: datetime | None = None) -> int | None:
    """The delivery id to send under, or None when this week is sent (or being sent) already.

    Commits the claim at once, so a concurrent sender sees it. Taking over an existing row is a
    compare-and-set on the status and claim time that were read (SELECT ... FOR UPDATE locks
    nothing on SQLite), so of two racing senders exactly one wins.
    """
    now = now or datetime.now(UTC)
    key = recipients_key(recipients)
    row = session.scalars(select(ReportDelivery).where(ReportDelivery.iso_week == iso_week,
                                                       ReportDelivery.recipients_key == key)
                          .with_for_update()).first()
    if row is not None:
        busy = row.status == "claimed" and now - row.claimed_at < STALE_CLAIM
        if (row.status == "sent" and not force) or busy:
            session.rollback()
            return None
        row_id, seen_status, seen_at = row.id, row.status, row.claimed_at
        taken = session.execute(
            update(ReportDelivery)
            .where(ReportDelivery.id == row_id, ReportDelivery.status == seen_status,
                   ReportDelivery.claimed_at.is_not_distinct_from(seen_at))
            .values(status="claimed", claimed_at=now, error=None)
            .execution_options(synchronize_session=False))
        if taken.rowcount != 1:  # another sender took it between our read and our write
            session.rollback()
            return None
        session.commit()
        return row_id
    row = ReportDelivery(iso_week=iso_week, recipients_key=key, recipients=", ".join(recipients),
                         status="claimed", claimed_at=now)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # another sender claimed it between our read and our insert
        session.rollback()
        return None
    return row.id


def complete(session: Session, delivery_id: int, archive_path: str | None = None) -> None:
    row = session.get(ReportDelivery, delivery_id)
    assert row is not None
    row.status, row.sent_at, row.archive_path, row.error = "sent", datetime.now(UTC), archive_path, None
    session.commit()


def record_archive(session: Session, delivery_id: int, archive_path: str) -> None:
    """Where the sent report was archived (written after ``complete``: archiving is best effort)."""
    row = session.get(ReportDelivery, delivery_id)
    assert row is not None
    row.archive_path = archive_path
    session.commit()


def fail(session: Session, delivery_id: int, error: str) -> None:
    """Leave the week retryable, with the reason."""
    row = session.get(ReportDelivery, delivery_id)
    assert row is not None
    row.status, row.error = "failed", error
    session.commit()


def deliveries(session: Session, iso_week: str | None = None) -> list[ReportDelivery]:
    query = select(ReportDelivery).order_by(ReportDelivery.claimed_at.desc())
    if iso_week:
        query = query.where(ReportDelivery.iso_week == iso_week)
    return list(session.scalars(query))
