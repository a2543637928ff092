"""The scheduler: triggers from settings, a persistent job store that survives restarts, --once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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


def _start_service(settings: Settings, run_now: tuple[str, ...] = ()) -> None:
    """What ``serve`` does before it blocks: register the jobs and start with the persistent store."""
    service = scheduler.build_scheduler(settings, blocking=False)
    scheduler.register_jobs(service, settings, run_now=run_now)
    service.start(paused=True)
    service.shutdown(wait=False)


def _stored_next_runs(url: str) -> dict[str, float]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all())
    engine.dispose()
    return rows


def test_restart_with_the_persistent_store_does_not_duplicate_jobs(settings: Settings) -> None:
    _start_service(settings)
    first = scheduler.job_table(settings)
    assert {row["job"] for row in first} == {"refresh", "weekly-report", "retention"}
    assert all(row["next_run"] is not None for row in first)
    _start_service(settings)  # a second start against the same database
    assert len(scheduler.job_table(settings)) == 3
    assert _job_rows(settings.effective_database_url) == ["refresh", "retention", "weekly-report"]


def test_listing_the_jobs_only_reads(settings: Settings) -> None:
    url = settings.effective_database_url
    before = scheduler.job_table(settings)  # no service has started: the configured triggers' times
    assert {row["job"] for row in before} == {"refresh", "weekly-report", "retention"}
    assert all(row["next_run"] is not None for row in before)
    from sqlalchemy import inspect

    engine = create_engine(url)
    assert not inspect(engine).has_table("apscheduler_jobs")
    engine.dispose()
    _start_service(settings)
    stored = _stored_next_runs(url)
    listed = {row["job"]: row["next_run"] for row in scheduler.job_table(settings)}
    time.sleep(0.05)
    scheduler.job_table(settings)
    assert _stored_next_runs(url) == stored  # the service's next refresh was not pushed back
    assert {job: when.timestamp() for job, when in listed.items()} == pytest.approx(stored)


def test_a_restart_keeps_a_run_missed_while_the_service_was_down(settings: Settings) -> None:
    url = settings.effective_database_url
    _start_service(settings)
    missed = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE apscheduler_jobs SET next_run_time = :t WHERE id = 'weekly-report'"),
                           {"t": missed})
    engine.dispose()
    _start_service(settings)  # unchanged definitions: the stored next run times stay
    assert _stored_next_runs(url)["weekly-report"] == pytest.approx(missed)


def test_a_changed_trigger_replaces_the_stored_job(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _start_service(settings)
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME", "09:30")
    changed = Settings()
    _start_service(changed)
    (weekly,) = [row for row in scheduler.job_table(changed) if row["job"] == "weekly-report"]
    assert "hour='9', minute='30'" in weekly["trigger"]


def test_serve_runs_a_due_weekly_report_at_start(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    registered: dict[str, list[str]] = {}

    class Service:
        def start(self) -> None:
            registered["started"] = []

    monkeypatch.setattr(scheduler, "build_scheduler", lambda *_, **__: Service())
    monkeypatch.setattr(scheduler, "register_jobs",
                        lambda _service, _settings, run_now=(): registered.update(run_now=list(run_now)))
    monkeypatch.setattr(scheduler, "due_jobs", lambda *_, **__: ["refresh", "weekly-report", "retention"])
    monkeypatch.setattr(scheduler.signal, "signal", lambda *_: None)
    scheduler.serve(settings)
    assert registered == {"run_now": ["refresh", "weekly-report"], "started": []}


def test_once_runs_only_what_is_due(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(scheduler, "RUNNERS", {name: (lambda n=name: ran.append(n)) for name in scheduler.RUNNERS})
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # before Tuesday 06:45 Berlin
    assert scheduler.run_once(settings, now=monday) == {"refresh": "ok", "retention": "ok"}
    assert ran == ["refresh", "retention"]

    from rentbuy.context import open_database

    wednesday = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    with session_scope(open_database(settings)) as session:
        run = queries.start_refresh_run(session, "vast", wednesday)
        queries.finish_refresh_run(session, run, "ok")
    ran.clear()
    # A fresh success means no refresh is due; Wednesday is past the weekly slot: the report is due.
    assert scheduler.due_jobs(settings, now=wednesday + timedelta(minutes=20)) == ["weekly-report", "retention"]


def test_a_refresh_is_due_an_interval_after_the_last_one_started(settings: Settings) -> None:
    from rentbuy.context import open_database

    started = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    with session_scope(open_database(settings)) as session:
        run = queries.start_refresh_run(session, "vast", started)
        queries.finish_refresh_run(session, run, "ok")
        run.finished_at = started + timedelta(minutes=2)  # the run took two minutes
    # A cron tick every 15 minutes with a 30-minute interval: due at 10:30, not one tick later.
    assert "refresh" not in scheduler.due_jobs(settings, now=started + timedelta(minutes=15))
    assert "refresh" in scheduler.due_jobs(settings, now=started + timedelta(minutes=30))


def test_a_failing_job_does_not_stop_the_others(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise RuntimeError("provider down")

    runners: dict[str, Any] = {"refresh": boom, "weekly-report": lambda: None, "retention": lambda: None}
    monkeypatch.setattr(scheduler, "RUNNERS", runners)
    outcome = scheduler.run_once(settings, now=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert outcome["refresh"].startswith("failed: provider down")
    assert outcome["retention"] == "ok"
