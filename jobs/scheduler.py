"""The scheduler service behind ``rentbuy serve``: refresh, weekly report, retention.

APScheduler 3 keeps its job table in the project database (``SQLAlchemyJobStore``), so a restart
resumes the schedule instead of forgetting it; jobs are added under fixed ids with
``replace_existing`` so restarts never duplicate them. ``coalesce`` plus a grace time make a
service that was down run a missed job once, not once per missed slot.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from config.settings import Settings, get_settings

log = logging.getLogger("rentbuy.scheduler")

# Set by the signal handler; the refresh checks it between sources.
STOP = threading.Event()

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # "module:function", as the persistent job store needs
    description: str
    misfire_grace_seconds: int


JOBS = (
    JobSpec("refresh", "jobs.scheduler:run_refresh", "refresh prices from every enabled source", 3600),
    JobSpec("weekly-report", "jobs.scheduler:run_weekly_report", "build and e-mail the weekly report", 86400),
    JobSpec("retention", "jobs.scheduler:run_retention", "fold raw prices past the window into daily aggregates",
            86400),
)


def triggers(settings: Settings) -> dict[str, Any]:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    schedule = settings.schedule
    hour, minute = (int(part) for part in schedule.weekly_report_time.split(":"))
    return {
        "refresh": IntervalTrigger(minutes=schedule.refresh_minutes, timezone=schedule.timezone),
        "weekly-report": CronTrigger(day_of_week=schedule.weekly_report_day, hour=hour, minute=minute,
                                     timezone=schedule.timezone),
        "retention": CronTrigger(hour=3, minute=17, timezone=schedule.timezone),
    }


def build_scheduler(settings: Settings | None = None, blocking: bool = True) -> Any:
    """A scheduler whose job store is the project database, with our jobs registered."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    settings = settings or get_settings()
    store = SQLAlchemyJobStore(url=settings.effective_database_url, tablename="apscheduler_jobs")
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(jobstores={"default": store}, timezone=settings.schedule.timezone,
                    job_defaults={"coalesce": True, "max_instances": 1})
    return scheduler


def register_jobs(scheduler: Any, settings: Settings, run_now: Iterable[str] = ()) -> None:
    """Add (or replace) our jobs; those named in ``run_now`` fire at once instead of waiting a
    whole interval (a service started with stale prices refreshes straight away)."""
    by_id = triggers(settings)
    now_ids = set(run_now)
    for spec in JOBS:
        extra = {"next_run_time": datetime.now(UTC)} if spec.id in now_ids else {}
        scheduler.add_job(spec.func, trigger=by_id[spec.id], id=spec.id, name=spec.description,
                          replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=spec.misfire_grace_seconds, **extra)


def job_table(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Each job with its trigger and next run time, as the persistent store has them."""
    settings = settings or get_settings()
    scheduler = build_scheduler(settings, blocking=False)
    scheduler.start(paused=True)
    try:
        register_jobs(scheduler, settings)
        return [{"job": job.id, "what": job.name, "trigger": str(job.trigger),
                 "next_run": job.next_run_time.astimezone(UTC) if job.next_run_time else None}
                for job in scheduler.get_jobs()]
    finally:
        scheduler.shutdown(wait=False)


# --- the job functions (module-level so the persistent store can reference them) ---------------


def run_refresh() -> None:
    from jobs.refresh import refresh
    from providers.registry import enabled_sources
    from rentbuy.context import open_database
    from store.retention import roll_up

    settings = get_settings()
    engine = open_database(settings)
    results = refresh(engine, settings, enabled_sources(settings), stop=STOP)
    for result in results:
        log.info("refresh %s: %s (%d written)%s", result.source, result.status, result.rows_written,
                 f": {result.error}" if result.error else "")
    # The day that just ended gets its counts now rather than at the nightly retention run, so
    # the report's week-over-week reads stay on the fast path (a no-op on other refreshes).
    if not STOP.is_set():
        roll_up(engine)


def run_weekly_report() -> None:
    from jobs.weekly_report import send_weekly

    send_weekly(get_settings())


def run_retention() -> None:
    from rentbuy.context import open_database
    from store.retention import compact

    settings = get_settings()
    result = compact(open_database(settings), settings.schedule.retention_days)
    log.info("retention: %d days folded, %d raw rows removed", result.days, result.raw_rows_deleted)


# --- due-ness for `serve --once` (cron users) ---------------------------------------------------


def due_jobs(settings: Settings, now: datetime | None = None) -> list[str]:
    """Which jobs are due now, judged from the data itself (so cron needs no scheduler state):
    refresh when no source succeeded within the interval; the weekly report once its weekly time
    has passed this ISO week and it was not delivered; retention always (it is idempotent)."""
    from rentbuy.context import open_database
    from store import queries
    from store.db import session_scope

    now = now or datetime.now(UTC)
    engine = open_database(settings)
    due = []
    with session_scope(engine) as session:
        last = max(queries.last_success_by_source(session, exclude=("bundled-snapshot",)).values(), default=None)
        if last is None or now - last >= timedelta(minutes=settings.schedule.refresh_minutes):
            due.append("refresh")
        if _weekly_time_passed(settings, now) and not queries.week_delivered(session, _iso_week(now)):
            due.append("weekly-report")
    due.append("retention")
    return due


def _iso_week(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _weekly_time_passed(settings: Settings, now: datetime) -> bool:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(settings.schedule.timezone))
    hour, minute = (int(part) for part in settings.schedule.weekly_report_time.split(":"))
    target_day = WEEKDAYS.index(settings.schedule.weekly_report_day)
    return (local.weekday(), local.hour, local.minute) >= (target_day, hour, minute)


RUNNERS: dict[str, Callable[[], None]] = {
    "refresh": run_refresh, "weekly-report": run_weekly_report, "retention": run_retention,
}


def run_once(settings: Settings | None = None, now: datetime | None = None) -> dict[str, str]:
    """Run every due job once; one failing job does not stop the others."""
    settings = settings or get_settings()
    outcome = {}
    for job in due_jobs(settings, now):
        try:
            RUNNERS[job]()
            outcome[job] = "ok"
        except Exception as exc:
            log.exception("job %s failed", job)
            outcome[job] = f"failed: {exc}"
    return outcome


def serve(settings: Settings | None = None, on_stop: Callable[[], None] | None = None) -> None:
    """Run the schedule until SIGTERM/SIGINT; the job under way finishes cleanly first.

    ``on_stop`` is called from the signal handler too: ``serve --http`` stops its web server with it.
    """
    settings = settings or get_settings()
    scheduler = build_scheduler(settings, blocking=True)
    due_now = [job for job in due_jobs(settings) if job == "refresh"]
    register_jobs(scheduler, settings, run_now=due_now)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing the job under way, then stopping", signum)
        STOP.set()
        if on_stop is not None:
            on_stop()
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("rentbuy scheduler started; jobs: %s", ", ".join(spec.id for spec in JOBS))
    scheduler.start()
