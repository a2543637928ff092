"""The scheduler service behind ``rentbuy serve``: refresh, weekly report, retention.

APScheduler 3 keeps its job table in the project database (``SQLAlchemyJobStore``), so a restart
resumes the schedule instead of forgetting it; jobs are added under fixed ids, replaced only when
their definition changed, so restarts never duplicate them and keep a stored next run time.
``coalesce`` plus a grace time make a service that was down run a missed job once, not once per
missed slot; ``serve`` also runs a due refresh or weekly report at start.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
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


def _stored_jobs(settings: Settings) -> dict[str, Any]:
    """The jobs in the persistent store, by id, read without writing (no table: none stored)."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy import inspect

    store = SQLAlchemyJobStore(url=settings.effective_database_url, tablename="apscheduler_jobs")
    try:
        if not inspect(store.engine).has_table(store.jobs_t.name):
            return {}
        return {job.id: job for job in store.get_all_jobs()}
    finally:
        store.shutdown()


def _trigger_state(trigger: Any) -> tuple[type, dict[str, Any]]:
    # An IntervalTrigger's start_date is "now" when it is built: not part of what it means.
    state = dict(trigger.__getstate__())
    state.pop("start_date", None)
    return type(trigger), state


def _unchanged(job: Any, spec: JobSpec, trigger: Any) -> bool:
    return (job.func_ref == spec.func and job.name == spec.description
            and job.misfire_grace_time == spec.misfire_grace_seconds and job.coalesce and job.max_instances == 1
            and _trigger_state(job.trigger) == _trigger_state(trigger))


def register_jobs(scheduler: Any, settings: Settings, run_now: Iterable[str] = ()) -> None:
    """Add our jobs, or replace those whose definition changed; those named in ``run_now`` fire
    at once instead of waiting a whole interval (a service started with stale prices refreshes
    straight away).

    A stored job whose definition is unchanged is left as it is: replacing it would overwrite its
    stored next run time with the trigger's next *future* time and drop a run missed while the
    service was down.
    """
    by_id = triggers(settings)
    now_ids = set(run_now)
    stored = _stored_jobs(settings)
    for spec in JOBS:
        existing = stored.get(spec.id)
        if spec.id not in now_ids and existing is not None and _unchanged(existing, spec, by_id[spec.id]):
            continue
        extra = {"next_run_time": datetime.now(UTC)} if spec.id in now_ids else {}
        scheduler.add_job(spec.func, trigger=by_id[spec.id], id=spec.id, name=spec.description,
                          replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=spec.misfire_grace_seconds, **extra)


def job_table(settings: Settings | None = None) -> list[dict[str, Any]]:
    """Each job with its trigger and next run time, as the persistent store has them.

    Only reads: a listing must not reschedule the running service. A job not stored yet (no
    service has started) shows the next time its configured trigger would fire.
    """
    settings = settings or get_settings()
    stored, by_id = _stored_jobs(settings), triggers(settings)
    now = datetime.now(UTC)
    rows = []
    for spec in JOBS:
        job, trigger = stored.get(spec.id), by_id[spec.id]
        next_run = job.next_run_time if job is not None else trigger.get_next_fire_time(None, now)
        rows.append({"job": spec.id, "what": job.name if job is not None else spec.description,
                     "trigger": str(job.trigger if job is not None else trigger),
                     "next_run": next_run.astimezone(UTC) if next_run else None})
    return rows


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
    refresh when no source's successful run started in the current refresh interval slot (a reparse
    is no refresh); the weekly report once its weekly time has passed this ISO week (both in the
    schedule's timezone) and it was not delivered; retention always (it is idempotent)."""
    from jobs.refresh import observation_time
    from rentbuy.context import open_database
    from store import queries
    from store.db import session_scope

    now = now or datetime.now(UTC)
    interval = settings.schedule.refresh_minutes
    engine = open_database(settings)
    due = []
    with session_scope(engine) as session:
        # Measured by observation slot of the last successful start, not from its end: a run's
        # duration would otherwise push every next refresh one cron tick later.
        last = max(queries.last_success_by_source(session, exclude=("bundled-snapshot",), started=True).values(),
                   default=None)
        if last is None or observation_time(now, interval) > observation_time(last, interval):
            due.append("refresh")
        if _weekly_time_passed(settings, now) and not queries.week_delivered(session, schedule_week(settings, now)):
            due.append("weekly-report")
    due.append("retention")
    return due


def schedule_week(settings: Settings, now: datetime) -> str:
    """The ISO week label of ``now`` in the schedule's timezone, e.g. ``2026-W48``.

    The weekly slot is local time, so the week it falls in must be too: a UTC label changes on a
    different day and would let one local week be sent twice.
    """
    from zoneinfo import ZoneInfo

    year, week, _ = now.astimezone(ZoneInfo(settings.schedule.timezone)).isocalendar()
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
    # A refresh or weekly report missed while the service was down runs now, not a period later.
    due_now = [job for job in due_jobs(settings) if job in ("refresh", "weekly-report")]
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
