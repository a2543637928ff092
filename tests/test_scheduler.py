"""The scheduler: triggers from settings, a persistent job store that survives restarts, --once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, text

from config.settings import Settings
from jobs import scheduler
from store import queries
from store.db import session_scope


@pytest.fixture
def settings(use_database: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RENTBUY_SCHEDULE__REFRESH_MINUTES", "30")
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_DAY", "tue")
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME", "06:45")
    monkeypatch.setenv("RENTBUY_SCHEDULE__TIMEZONE", "Europe/Berlin")
    from config.settings import get_settings
    from store.db import make_engine, upgrade

    get_settings.cache_clear()
    upgrade(make_engine(use_database))
    return get_settings()


def test_jobs_have_the_configured_triggers(settings: Settings) -> None:
    by_id = scheduler.triggers(settings)
    assert isinstance(by_id["refresh"], IntervalTrigger)
    assert by_id["refresh"].interval.total_seconds() == 30 * 60
    weekly = by_id["weekly-report"]
    assert isinstance(weekly, CronTrigger)
    fields = {f.name: str(f) for f in weekly.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("tue", "6", "45")
    assert str(weekly.timezone) == "Europe/Berlin"


def _job_rows(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = [r[0] for r in connection.execute(text("SELECT id FROM apscheduler_jobs ORDER BY id"))]
    engine.dispose()
    return rows


def test_restart_with_the_persistent_store_does_not_duplicate_jobs(settings: Settings) -> None:
    first = scheduler.job_table(settings)
    assert {row["job"] for row in first} == {"refresh", "weekly-report", "retention"}
    assert all(row["next_run"] is not None for row in first)
    again = scheduler.job_table(settings)  # a second start against the same database
    assert len(again) == 3
    assert _job_rows(settings.effective_database_url) == ["refresh", "retention", "weekly-report"]


def test_once_runs_only_what_is_due(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(scheduler, "RUNNERS", {name: (lambda n=name: ran.append(n)) for name in scheduler.RUNNERS})
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # before Tuesday 06:45 Berlin
    assert scheduler.run_once(settings, now=monday) == {"refresh": "ok", "retention": "ok"}
    assert ran == ["refresh", "retention"]

    from rentbuy.context import open_database

    with session_scope(open_database(settings)) as session:
        run = queries.start_refresh_run(session, "vast", monday)
        queries.finish_refresh_run(session, run, "ok")
    ran.clear()
    # A fresh success means no refresh is due; Wednesday is past the weekly slot: the report is due.
    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert scheduler.due_jobs(settings, now=wednesday) == ["weekly-report", "retention"]


def test_a_failing_job_does_not_stop_the_others(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise RuntimeError("provider down")

    runners: dict[str, Any] = {"refresh": boom, "weekly-report": lambda: None, "retention": lambda: None}
    monkeypatch.setattr(scheduler, "RUNNERS", runners)
    outcome = scheduler.run_once(settings, now=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert outcome["refresh"].startswith("failed: provider down")
    assert outcome["retention"] == "ok"
