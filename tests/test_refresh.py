"""The refresh pipeline on SQLite and PostgreSQL: per-source atomicity, failures recorded, idempotency."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import responses

from config.settings import Settings, get_settings
from jobs.refresh import observation_time, refresh
from providers import azure, runpod, vast
from providers.http import RetryPolicy, make_session
from store import queries
from store.db import session_scope

NOW = datetime(2026, 11, 28, 10, 7, tzinfo=UTC)


def source(module: Any, needs_key: bool = False) -> Any:
    return SimpleNamespace(name=module.NAME, kind="rental", needs_key=needs_key, fetch=module.fetch,
                           parse=module.parse)


def vast_offer(offer_id: int, gpu_name: str, num_gpus: int, dph_total: float, **extra: Any) -> dict[str, Any]:
    offer = {"id": offer_id, "ask_contract_id": offer_id, "machine_id": 9000 + offer_id, "host_id": 77,
             "gpu_name": gpu_name, "num_gpus": num_gpus, "gpu_ram": 81559.0 if "H100" in gpu_name else 24564.0,
             "dph_base": dph_total - 0.01, "dph_total": dph_total, "min_bid": round(dph_total * 0.6, 4),
             "reliability2": 0.995, "verification": "verified", "geolocation": "Texas, US",
             "hosting_type": 1, "rentable": True, "rented": False}
    offer.update(extra)
    return offer


VAST_PAYLOAD = {"offers": [vast_offer(101, "H100 SXM", 8, 17.6), vast_offer(102, "RTX 4090", 1, 0.35),
                           vast_offer(103, "RTX 4090", 2, 0.80)]}


@pytest.fixture
def settings(use_database: str) -> Settings:
    from store.db import make_engine, upgrade

    upgrade(make_engine(use_database))
    return get_settings()


def fast_session() -> Any:
    return make_session(policy=RetryPolicy(max_attempts=2, backoff_base_seconds=0.0), sleep=lambda _s: None)


def _engine(settings: Settings) -> Any:
    from rentbuy.context import open_database

    return open_database(settings, seed=False)


@responses.activate
def test_one_good_source_lands_while_broken_ones_record_why(settings: Settings) -> None:
    responses.post("https://console.vast.ai/api/v0/bundles/", json=VAST_PAYLOAD)
    responses.post("https://api.runpod.io/graphql", status=500, body="upstream exploded")
    responses.get("https://prices.azure.com/api/retail/prices", body='{"Items": [{"retailPrice": 1.2,',
                  content_type="application/json")
    engine = _engine(settings)
    sources = [source(vast), source(runpod), source(azure)]
    results = refresh(engine, settings, sources, now=NOW, http_session=fast_session())
    by_name = {r.source: r for r in results}
    assert by_name["vast"].status == "ok"
    assert by_name["vast"].rows_written == 6  # 3 offers x (on-demand + spot)
    assert by_name["runpod"].status == "failed" and "500" in (by_name["runpod"].error or "")
    assert by_name["azure"].status == "failed"
    with session_scope(engine) as session:
        stored = queries.price_observations(session)
        runs = {r.source: r for r in queries.refresh_runs(session)}
    assert set(stored["source"]) == {"vast"}
    h100 = stored[(stored["gpu"] == "h100-sxm") & (stored["pricing"] == "on-demand")]
    assert h100["usd_per_gpu_hour"].tolist() == [pytest.approx(2.2)]
    assert {r.status for r in runs.values()} == {"ok", "failed"}
    assert runs["runpod"].error and runs["azure"].error
    assert all(t == observation_time(NOW, 60) for t in stored["observed_at"])

    # The raw payload was archived before parsing and can be read back.
    with gzip.open(runs["vast"].raw_path, "rt") as archive:
        header = json.loads(archive.readline())
        page = json.loads(archive.readline())["page"]
    assert header["source"] == "vast" and page == VAST_PAYLOAD


@responses.activate
def test_a_repeated_refresh_adds_nothing(settings: Settings) -> None:
    responses.post("https://console.vast.ai/api/v0/bundles/", json=VAST_PAYLOAD)
    engine = _engine(settings)
    refresh(engine, settings, [source(vast)], now=NOW, http_session=fast_session())
    second = refresh(engine, settings, [source(vast)], now=NOW.replace(minute=40), http_session=fast_session())
    assert second[0].status == "ok" and second[0].rows_written == 0
    with session_scope(engine) as session:
        assert queries.row_counts(session)["price_observation"] == 6


def test_a_source_without_its_key_is_skipped_and_says_so(settings: Settings) -> None:
    engine = _engine(settings)
    keyed = SimpleNamespace(name="lambda_cloud", kind="rental", needs_key=True,
                            fetch=lambda *_: iter(()), parse=lambda *_: [])
    (result,) = refresh(engine, settings, [keyed], now=NOW, http_session=fast_session())
    assert result.status == "skipped"
    assert "RENTBUY_PROVIDERS__LAMBDA_CLOUD__API_KEY" in (result.error or "")


def test_observation_time_truncates_to_the_interval() -> None:
    assert observation_time(NOW, 60) == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert observation_time(NOW, 15) == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert observation_time(NOW.replace(minute=16), 15) == datetime(2026, 11, 28, 10, 15, tzinfo=UTC)


@responses.activate
def test_reparse_rederives_the_same_quotes_from_the_archive(settings: Settings,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    responses.post("https://console.vast.ai/api/v0/bundles/", json=VAST_PAYLOAD)
    engine = _engine(settings)
    (first,) = refresh(engine, settings, [source(vast)], now=NOW, http_session=fast_session())
    with session_scope(engine) as session:  # pretend a parser bug had lost the RTX 4090 rows
        from sqlalchemy import delete

        from store.models import PriceObservation

        session.execute(delete(PriceObservation).where(PriceObservation.gpu == "rtx-4090"))
    from rentbuy.cli import main

    assert main(["reparse", str(first.run_id)]) == 0
    assert "vast" in capsys.readouterr().out
    with session_scope(engine) as session:
        stored = queries.price_observations(session, source="vast", since=NOW - timedelta(days=1))
    assert len(stored) == 6 and (stored["gpu"] == "rtx-4090").sum() == 4
    assert main(["reparse", "99999"]) == 2


@responses.activate
def test_a_dry_run_writes_nothing_and_leaves_the_refresh_due(settings: Settings) -> None:
    from jobs.scheduler import due_jobs

    responses.post("https://console.vast.ai/api/v0/bundles/", json=VAST_PAYLOAD)
    engine = _engine(settings)
    with session_scope(engine) as session:  # a run left behind by a killed refresh stays as it is
        interrupted = queries.start_refresh_run(session, "vast", NOW - timedelta(hours=5)).id
    (result,) = refresh(engine, settings, [source(vast)], dry_run=True, http_session=fast_session())
    assert result.status == "ok" and result.quotes_parsed == 6 and result.rows_written == 0
    assert result.run_id is None and result.raw_path is None
    with session_scope(engine) as session:
        assert [(r.id, r.status) for r in queries.refresh_runs(session)] == [(interrupted, "running")]
        assert queries.row_counts(session)["price_observation"] == 0
    assert not (settings.data_dir / "raw").exists()
    assert "refresh" in due_jobs(settings)


@responses.activate
def test_a_dry_run_of_a_failing_source_reports_it_and_writes_nothing(settings: Settings) -> None:
    responses.post("https://console.vast.ai/api/v0/bundles/", status=500, body="upstream exploded")
    engine = _engine(settings)
    (result,) = refresh(engine, settings, [source(vast)], dry_run=True, http_session=fast_session())
    assert result.status == "failed" and "500" in (result.error or "")
    with session_scope(engine) as session:
        assert queries.refresh_runs(session) == []


def test_refresh_closes_the_http_sessions_it_made_and_only_those(settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import providers.http

    made: list[Any] = []

    class TrackedSession:
        closed = False

        def close(self) -> None:
            self.closed = True

    def make(**_: Any) -> TrackedSession:
        made.append(TrackedSession())
        return made[-1]

    monkeypatch.setattr(providers.http, "make_session", make)
    engine = _engine(settings)
    empty = [SimpleNamespace(name=name, kind="rental", needs_key=False, fetch=lambda *_: iter(()),
                             parse=lambda *_: []) for name in ("vast", "runpod", "azure")]
    results = refresh(engine, settings, empty, now=NOW)
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert len(made) == 3 and all(s.closed for s in made)
    mine = TrackedSession()
    refresh(engine, settings, empty, now=NOW, http_session=mine, dry_run=True)
    assert not mine.closed and len(made) == 3


@responses.activate
def test_a_price_no_column_can_hold_is_dropped_not_fatal(settings: Settings) -> None:
    absurd = vast_offer(104, "RTX 4090", 1, 2.5e8)  # on-demand 2.5e8 and spot 1.5e8 $/GPU-h
    responses.post("https://console.vast.ai/api/v0/bundles/",
                   json={"offers": [*VAST_PAYLOAD["offers"], absurd]})
    engine = _engine(settings)
    (result,) = refresh(engine, settings, [source(vast)], now=NOW, http_session=fast_session())
    assert result.status == "ok", result.error
    assert result.rows_written == 6 and result.quotes_parsed == 6 and result.quotes_flagged == 2
    with session_scope(engine) as session:
        stored = queries.price_observations(session)
        (run,) = queries.refresh_runs(session)
    assert "104" not in set(stored["offer_key"]) and run.quotes_flagged == 2


@responses.activate
def test_a_reparse_is_not_a_refresh_and_says_what_it_left_unchanged(settings: Settings,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import update

    from jobs.refresh import reparse
    from jobs.scheduler import due_jobs
    from rentbuy.cli import main
    from store.models import RefreshRun

    responses.post("https://console.vast.ai/api/v0/bundles/", json=VAST_PAYLOAD)
    engine = _engine(settings)
    (first,) = refresh(engine, settings, [source(vast)], now=NOW, http_session=fast_session())
    three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
    with session_scope(engine) as session:  # the last real refresh was three hours ago
        session.execute(update(RefreshRun).values(started_at=three_hours_ago, finished_at=three_hours_ago))
    again = reparse(engine, first.run_id, source(vast), settings)
    assert (again.status, again.quotes_parsed, again.rows_written) == ("ok", 6, 0)
    assert again.note is not None and "parsed 6, new 0, already stored 6" in again.note
    assert "does not change stored ones" in again.note
    with session_scope(engine) as session:
        last = queries.last_success_by_source(session)
        reparse_run = queries.get_refresh_run(session, again.run_id)
        assert reparse_run is not None and reparse_run.error == again.note
    assert last["vast"] == three_hours_ago
    assert "refresh" in due_jobs(settings)
    assert main(["reparse", str(first.run_id)]) == 0
    assert "already stored 6" in capsys.readouterr().out
