"""Exactly-once weekly delivery: two senders racing for the same week, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from sqlalchemy import event

from store import deliveries
from store.db import session_factory, session_scope

WEEK = "2026-W48"
TO = ["finance@example.org"]


@pytest.mark.parametrize("last_attempt", ["failed", "stale claim"])
def test_two_senders_racing_for_a_retryable_week_claim_it_once(engine: Any, last_attempt: str) -> None:
    from datetime import UTC, datetime

    long_ago = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        delivery_id = deliveries.claim(session, WEEK, TO, now=long_ago)
        assert delivery_id is not None
        if last_attempt == "failed":
            deliveries.fail(session, delivery_id, "smtp down")

    # Both senders read the row before either writes (on PostgreSQL the second read waits for the
    # first claim's row lock instead, and the barrier gives up after its timeout).
    barrier = threading.Barrier(2, timeout=3)
    paused = threading.local()

    def after_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "report_delivery" in statement \
                and not getattr(paused, "done", False):
            paused.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

    claims: dict[str, int | None] = {}

    def sender(name: str) -> None:
        session = session_factory(engine)()
        try:
            claims[name] = deliveries.claim(session, WEEK, TO)
        finally:
            session.close()

    event.listen(engine, "after_cursor_execute", after_read)
    try:
        threads = [threading.Thread(target=sender, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        event.remove(engine, "after_cursor_execute", after_read)
    assert sorted(claims) == ["a", "b"]
    assert sorted(claims.values(), key=lambda v: v is None) == [delivery_id, None]
    with session_scope(engine) as session:
        (row,) = deliveries.deliveries(session, WEEK)
        assert row.status == "claimed" and row.error is None
