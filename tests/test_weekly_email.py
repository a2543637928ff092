"""The weekly e-mail against a real SMTP server on loopback (aiosmtpd): once per week, retryable."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config.settings import get_settings
from jobs.weekly_report import WeeklyReportError, send_weekly
from rentbuy.cli import main
from store import deliveries, queries
from store.db import session_scope

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # Tuesday of ISO week 2026-W48


class Inbox:
    """Collects what the server accepted; ``refuse`` makes it answer 554 to DATA."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "554 5.6.0 message rejected for the test"
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch, use_database: str) -> Iterator[Inbox]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("RENTBUY_SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("RENTBUY_SMTP__PORT", str(port))
    monkeypatch.setenv("RENTBUY_SMTP__SENDER", "rentbuy@example.org")
    monkeypatch.setenv("RENTBUY_SMTP__RECIPIENTS", "finance@example.org,lab@example.org")
    monkeypatch.setenv("RENTBUY_SMTP__PASSWORD", "smtp-password-never-shown")
    get_settings.cache_clear()
    from store.db import make_engine, upgrade

    upgrade(make_engine(use_database))
    yield handler
    controller.stop()


def _seed_two_weeks() -> None:
    from rentbuy.context import open_database

    rows = []
    for days_back, usd in ((10, 2.50), (3, 2.40)):
        for i, delta in enumerate((0.0, 0.2, 0.4)):
            rows.append({"source": "vast", "offer_key": f"h{i}", "gpu": "h100-sxm", "gpu_raw_name": "H100 SXM",
                         "gpu_count": 1, "region": "US", "pricing": "on-demand", "usd_per_gpu_hour": usd + delta,
                         "observed_at": NOW - timedelta(days=days_back), "flagged": False})
    with session_scope(open_database(get_settings())) as session:
        queries.insert_price_observations(session, rows)


def test_one_message_per_week_with_text_and_html(inbox: Inbox) -> None:
    _seed_two_weeks()
    first = send_weekly(now=NOW)
    assert first.status == "sent"
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Subject"].startswith("rentbuy 2026-W48: h100-sxm on-demand rent -3.7% w/w")
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.walk()]
    assert "text/plain" in parts and "text/html" in parts
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    html = message.get_body(("html",)).get_content()
    assert len(images) == 2  # cumulative cost and cost vs utilization of the first owned option
    for image in images:
        cid = image["Content-ID"].strip("<>")
        assert f"cid:{cid}" in html
        assert image.get_payload(decode=True)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Has the decision changed?" in html
    text = message.get_body(("plain",)).get_content()
    assert "$2.60" in text and "-3.7%" in text  # median 2.70 -> 2.60
    assert (get_settings().data_dir / "reports" / "2026-W48" / "weekly.json").exists()

    again = send_weekly(now=NOW + timedelta(hours=2))
    assert again.status == "skipped"
    assert len(inbox.messages) == 1
    forced = send_weekly(now=NOW + timedelta(hours=3), force=True)
    assert forced.status == "sent"
    assert len(inbox.messages) == 2


def test_smtp_rejection_leaves_the_week_retryable(inbox: Inbox, capsys: pytest.CaptureFixture[str]) -> None:
    inbox.refuse = True
    assert main(["email-weekly"]) == 1
    err = capsys.readouterr().err
    assert "was not sent" in err and "554" in err
    assert "smtp-password-never-shown" not in err
    from rentbuy.context import open_database

    with session_scope(open_database(get_settings())) as session:
        rows = deliveries.deliveries(session)
        assert [r.status for r in rows] == ["failed"]
    inbox.refuse = False
    assert main(["email-weekly"]) == 0
    assert len(inbox.messages) == 1
    assert main(["email-weekly"]) == 0  # the same week again: nothing sent
    assert len(inbox.messages) == 1
    assert "already sent" in capsys.readouterr().out


def test_refused_connection_is_a_clear_error(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_SMTP__PORT", str(_free_port()))  # nothing listens there
    get_settings.cache_clear()
    with pytest.raises(WeeklyReportError, match="ConnectionRefusedError"):
        send_weekly(now=NOW)


def test_dry_run_writes_an_eml_to_the_outbox(inbox: Inbox) -> None:
    outcome = send_weekly(now=NOW, dry_run=True)
    assert outcome.status == "dry-run"
    assert outcome.path is not None and outcome.path.parent.name == "outbox"
    parsed = email.message_from_bytes(outcome.path.read_bytes(), policy=policy.default)
    assert parsed["To"] == "finance@example.org, lab@example.org"
    assert inbox.messages == []


def test_a_failed_archive_after_sending_does_not_send_the_week_again(inbox: Inbox, monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    import jobs.weekly_report

    def disk_full(*_: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jobs.weekly_report, "_archive", disk_full)
    first = send_weekly(now=NOW)
    assert first.status == "sent" and first.path is None
    assert "sent but not archived" in caplog.text and "No space left on device" in caplog.text
    from rentbuy.context import open_database

    with session_scope(open_database(get_settings())) as session:
        assert [(r.status, r.archive_path) for r in deliveries.deliveries(session)] == [("sent", None)]
    monkeypatch.undo()
    later = send_weekly(now=NOW + deliveries.STALE_CLAIM + timedelta(minutes=1))
    assert later.status == "skipped"
    assert len(inbox.messages) == 1


def test_the_week_is_the_schedule_timezone_week(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoneinfo import ZoneInfo

    from jobs.scheduler import due_jobs

    monkeypatch.setenv("RENTBUY_SCHEDULE__TIMEZONE", "Pacific/Auckland")
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_DAY", "mon")
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME", "08:00")
    get_settings.cache_clear()
    settings = get_settings()
    auckland = ZoneInfo("Pacific/Auckland")
    # Monday 08:05 in Auckland is still Sunday in UTC (ISO week 47 there, 48 in Auckland).
    monday_morning = datetime(2026, 11, 23, 8, 5, tzinfo=auckland).astimezone(UTC)
    monday_afternoon = datetime(2026, 11, 23, 14, 0, tzinfo=auckland).astimezone(UTC)
    assert "weekly-report" in due_jobs(settings, monday_morning)
    sent = send_weekly(settings, now=monday_morning)
    assert sent.status == "sent" and sent.iso_week == "2026-W48"
    assert inbox.messages[0]["Subject"].startswith("rentbuy 2026-W48:")
    assert (settings.data_dir / "reports" / "2026-W48" / "weekly.json").exists()
    assert "weekly-report" not in due_jobs(settings, monday_afternoon)
    assert send_weekly(settings, now=monday_afternoon).status == "skipped"
    assert len(inbox.messages) == 1
