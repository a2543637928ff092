"""Refresh prices from every enabled source: fetch, archive, parse, flag, store.

Guarantees, each source on its own:
- all of a source's quotes from one run land in one transaction, or none do;
- a ``refresh_run`` row says what happened (ok / failed / skipped), committed apart from the data
  so a failure is recorded even though its rows are rolled back;
- ``observed_at`` is the run time truncated to the refresh interval, so a repeated or concurrent
  refresh adds nothing (the observation's natural key already exists);
- the raw payload is archived (gzip) before parsing, so ``reparse`` can parse it again later (it
  adds rows not stored yet; it does not change stored ones);
- one source failing never stops the others;
- a dry run fetches and parses in memory: no database write, no archive.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from config.settings import Settings
from providers.registry import parse_pages
from store import queries
from store.db import session_scope
from store.locks import try_lock

log = logging.getLogger("rentbuy.refresh")

Progress = Callable[[str, str, int | None], None]


class Source(Protocol):
    """What refresh needs of a price source (a ``providers`` module and its registry entry)."""

    name: str
    kind: str  # "rental" | "purchase"
    needs_key: bool

    def fetch(self, session: Any, settings: Any) -> Iterator[Any]: ...
    def parse(self, payload: Any, observed_at: datetime) -> list[Any]: ...


@dataclass
class SourceResult:
    source: str
    status: str  # ok | failed | skipped
    quotes_parsed: int = 0
    rows_written: int = 0
    unknown_gpu_names: set[str] = field(default_factory=set)
    quotes_flagged: int = 0
    error: str | None = None
    raw_path: str | None = None
    run_id: int | None = None
    seconds: float = 0.0
    note: str | None = None  # what a successful run wants the reader to know (a reparse's counts)


def observation_time(now: datetime, interval_minutes: int) -> datetime:
    """``now`` truncated to the refresh interval (UTC), shared by every source of one run."""
    interval = timedelta(minutes=interval_minutes)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((now.astimezone(UTC) - epoch) // interval) * interval


# --- raw payload archive ------------------------------------------------------------------------


def archive_path(data_dir: Path, source: str, observed_at: datetime, run_id: int) -> Path:
    return data_dir / "raw" / source / f"{observed_at:%Y%m%dT%H%M%SZ}-run{run_id}.jsonl.gz"


def _archive_pages(pages: Iterable[Any], path: Path, source: str, observed_at: datetime) -> Iterator[Any]:
    """Write each page to the archive as it passes, then hand it on for parsing.

    JSON-like pages become one line each; a file-like page (a streamed bulk file) is copied to a
    sibling file and handed on re-opened from disk, so it is never held in memory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as archive:
        archive.write(json.dumps({"source": source, "observed_at": observed_at.isoformat()}) + "\n")
        for number, page in enumerate(pages):
            if hasattr(page, "read"):
                blob = path.with_name(f"{path.name.removesuffix('.jsonl.gz')}.page{number}.gz")
                with gzip.open(blob, "wb") as out:
                    shutil.copyfileobj(page, out, length=1 << 20)
                archive.write(json.dumps({"stream": blob.name}) + "\n")
                with gzip.open(blob, "rb") as stream:
                    yield stream
            else:
                archive.write(json.dumps({"page": page}) + "\n")
                yield page


def read_archive(path: Path) -> tuple[dict[str, Any], Iterator[Any]]:
    """The archive's header and its pages, in the order they were fetched."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())

    def pages() -> Iterator[Any]:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            handle.readline()  # the header
            for line in handle:
                entry = json.loads(line)
                if "stream" in entry:
                    with gzip.open(path.with_name(entry["stream"]), "rb") as stream:
                        yield stream
                else:
                    yield entry["page"]

    return header, pages()


# --- one source ---------------------------------------------------------------------------------


def _store(session: Any, source: Source, quotes: list[Any], run_id: int) -> int:
    if source.kind == "purchase":
        return queries.insert_purchase_observations(session, quotes)
    return queries.insert_price_observations(session, quotes, refresh_run_id=run_id)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.startswith(type(exc).__name__) or ":" in text else f"{type(exc).__name__}: {text}"


def refresh_source(
    engine: Engine, source: Source, settings: Settings, observed_at: datetime, *,
    http_session: Any = None, dry_run: bool = False, progress: Progress | None = None,
) -> SourceResult:
    """Fetch, archive, parse and store one source; never raises for the source's own faults."""
    progress = progress or (lambda *_: None)
    started = time.monotonic()
    source_settings = settings.providers.get(source.name)
    if not source_settings.enabled:
        return SourceResult(source.name, "skipped", error="disabled in settings")
    key_present = getattr(source, "key_present", None)
    has_key = key_present(source_settings) if key_present else source_settings.key_present()
    if source.needs_key and not has_key:
        return _record_skip(engine, source.name, "no API key configured "
                            f"(set RENTBUY_PROVIDERS__{source.name.upper()}__API_KEY)", dry_run)

    if dry_run:
        return _dry_run_source(source, source_settings, observed_at, http_session, progress, started)

    with try_lock(engine, f"refresh-{source.name}", settings.data_dir / "locks") as locked:
        if not locked:
            return SourceResult(source.name, "skipped", error="another refresh of this source is running")
        with session_scope(engine) as session:
            queries.fail_interrupted_runs(session, source.name)
            run = queries.start_refresh_run(session, source.name, datetime.now(UTC))
            run_id = run.id
        raw = archive_path(settings.data_dir, source.name, observed_at, run_id)
        result = SourceResult(source.name, "failed", run_id=run_id, raw_path=str(raw))
        try:
            progress(source.name, "fetching", None)
            pages = _archive_pages(source.fetch(http_session, source_settings), raw, source.name, observed_at)
            quotes = _parse_into(result, source.name, pages, observed_at, progress)
            with session_scope(engine) as session:
                result.rows_written = _store(session, source, quotes, run_id)
                run = session.get(type(run), run_id)
                queries.finish_refresh_run(session, run, "ok", quotes_parsed=result.quotes_parsed,
                                           rows_written=result.rows_written,
                                           unknown_gpu_names=result.unknown_gpu_names,
                                           quotes_flagged=result.quotes_flagged, raw_path=str(raw))
            result.status = "ok"
            progress(source.name, "written", result.rows_written)
        except Exception as exc:  # one bad source must not stop the others
            result.error = _error_text(exc)
            log.warning("refresh of %s failed: %s", source.name, result.error)
            with session_scope(engine) as session:
                run = session.get(type(run), run_id)
                queries.finish_refresh_run(session, run, "failed", quotes_parsed=result.quotes_parsed,
                                           error=result.error, raw_path=str(raw) if raw.exists() else None)
            result.raw_path = str(raw) if raw.exists() else None
        result.seconds = time.monotonic() - started
        return result


def _parse_into(result: SourceResult, name: str, pages: Iterable[Any], observed_at: datetime,
                progress: Progress) -> list[Any]:
    """Parse the pages, recording the counts on ``result``; the quotes to store."""
    parsed = parse_pages(name, pages, observed_at, on_page=lambda count: progress(name, "parsed", count))
    result.unknown_gpu_names, result.quotes_flagged = set(parsed.unknown_gpu_names), parsed.flagged
    result.quotes_parsed = len(parsed.quotes)
    return parsed.quotes


def _dry_run_source(source: Source, source_settings: Any, observed_at: datetime, http_session: Any,
                    progress: Progress, started: float) -> SourceResult:
    """Fetch and parse in memory only: a dry run writes no refresh_run row (which ``due_jobs``
    would count as a refresh) and archives nothing."""
    result = SourceResult(source.name, "failed")
    try:
        progress(source.name, "fetching", None)
        _parse_into(result, source.name, source.fetch(http_session, source_settings), observed_at, progress)
        result.status = "ok"
        progress(source.name, "written", 0)
    except Exception as exc:  # one bad source must not stop the others
        result.error = _error_text(exc)
        log.warning("dry run of %s failed: %s", source.name, result.error)
    result.seconds = time.monotonic() - started
    return result


def _record_skip(engine: Engine, name: str, reason: str, dry_run: bool) -> SourceResult:
    if dry_run:
        return SourceResult(name, "skipped", error=reason)
    with session_scope(engine) as session:
        run = queries.start_refresh_run(session, name, datetime.now(UTC))
        queries.finish_refresh_run(session, run, "skipped", error=reason)
        return SourceResult(name, "skipped", error=reason, run_id=run.id)


def refresh(
    engine: Engine, settings: Settings, sources: Sequence[Source], *, now: datetime | None = None,
    http_session: Any = None, dry_run: bool = False, progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> list[SourceResult]:
    """Refresh each source in turn (one observation time for all of them).

    ``stop`` (set by a SIGTERM handler) ends the run between sources: the source under way
    finishes or rolls back as a whole, the rest are not started.
    """
    observed_at = observation_time(now or datetime.now(UTC), settings.schedule.refresh_minutes)
    from providers.http import make_session

    results = []
    for source in sources:
        if stop is not None and stop.is_set():
            log.info("stop requested: %s and later sources not refreshed", source.name)
            break
        # One HTTP session per source: credentials are bound to that source's host only. Close the
        # ones made here (their pooled connections would otherwise outlive every scheduled run);
        # a caller's session is the caller's to close.
        own = make_session() if http_session is None else None
        try:
            results.append(refresh_source(engine, source, settings, observed_at,
                                          http_session=own or http_session, dry_run=dry_run,
                                          progress=progress))
        finally:
            if own is not None:
                own.close()
    return results


def reparse(engine: Engine, run_id: int, source: Source, settings: Settings) -> SourceResult:
    """Parse a run's archived payload again and store the rows not stored yet.

    It adds rows; it does not change stored ones (a corrected row has the same natural key as the
    stored one, so it is skipped), and its run is marked with ``REPARSE_NOTE`` so it never counts
    as a refresh of the source. The note says how many parsed rows were already stored.
    """
    with session_scope(engine) as session:
        run = queries.get_refresh_run(session, run_id)
        if run is None or not run.raw_path:
            raise ValueError(f"Refresh run {run_id} does not exist or archived no payload.")
        raw = Path(run.raw_path)
    if not raw.exists():
        raise ValueError(f"The archive of run {run_id} is gone: {raw}.")
    header, pages = read_archive(raw)
    parsed = parse_pages(source.name, pages, datetime.fromisoformat(header["observed_at"]))
    unknown = set(parsed.unknown_gpu_names)
    with session_scope(engine) as session:
        run = queries.start_refresh_run(session, source.name, datetime.now(UTC))
        written = _store(session, source, parsed.quotes, run.id)
        parsed_count = len(parsed.quotes)
        note = (f"{queries.REPARSE_NOTE}{run_id}: parsed {parsed_count}, new {written}, already stored "
                f"{parsed_count - written} (a reparse adds rows; it does not change stored ones)")
        queries.finish_refresh_run(session, run, "ok", quotes_parsed=parsed_count, rows_written=written,
                                   unknown_gpu_names=unknown, quotes_flagged=parsed.flagged, raw_path=str(raw),
                                   error=note)
        return SourceResult(source.name, "ok", parsed_count, written, unknown, parsed.flagged,
                            run_id=run.id, raw_path=str(raw), note=note)


def summary_rows(results: Iterable[SourceResult]) -> list[Mapping[str, Any]]:
    return [{"source": r.source, "status": r.status, "parsed": r.quotes_parsed, "written": r.rows_written,
             "unknown_gpus": len(r.unknown_gpu_names), "flagged": r.quotes_flagged,
             "seconds": round(r.seconds, 2), "error": r.error or r.note or ""} for r in results]
