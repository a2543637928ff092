"""Retention: raw rows past the window become daily aggregates equal to what the raw rows gave."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from store import queries
from store.db import session_scope
from store.retention import compact

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def _obs(day_offset: int, hour: int, key: str, usd: float, **extra: Any) -> dict[str, Any]:
    when = datetime(2026, 11, 28, tzinfo=UTC) - timedelta(days=day_offset) + timedelta(hours=hour)
    row = {"source": "vast", "offer_key": key, "gpu": "h100-sxm", "gpu_raw_name": "H100 SXM", "gpu_count": 1,
           "region": "US", "pricing": "on-demand", "usd_per_gpu_hour": usd, "observed_at": when, "flagged": False}
    row.update(extra)
    return row


def test_compaction_keeps_the_distribution_and_deletes_only_covered_rows(engine: Any) -> None:
    old_prices = [1.8, 2.0, 2.2, 2.5, 3.1]
    rows = [_obs(40, h, f"m{i}", p) for i, p in enumerate(old_prices) for h in (0, 12)]
    rows.append(_obs(40, 1, "bogus", 0.01, flagged=True))          # implausible: counted, not used
    rows.append(_obs(40, 2, "a100", 1.2, gpu="a100-sxm-80gb"))
    rows += [_obs(2, 0, "m0", 2.4)]                                   # inside the window: stays raw
    with session_scope(engine) as session:  # rows of a live refresh, as `rentbuy refresh` writes them
        run = queries.start_refresh_run(session, "vast", NOW - timedelta(days=40))
        queries.insert_price_observations(session, rows, refresh_run_id=run.id)

    result = compact(engine, retention_days=30, now=NOW)
    assert result.days == 1
    assert result.raw_rows_deleted == len(rows) - 1
    with session_scope(engine) as session:
        assert queries.row_counts(session)["price_observation"] == 1
        history = queries.price_history(session, "h100-sxm")
    old = history[history["day"] == (NOW - timedelta(days=40)).date()].iloc[0]
    both_hours = old_prices * 2
    assert old["usd_min"] == pytest.approx(min(both_hours))
    assert old["usd_median"] == pytest.approx(statistics.median(both_hours))
    assert old["usd_max"] == pytest.approx(max(both_hours))
    assert old["offers"] == len(both_hours)
    recent = history[history["day"] == (NOW - timedelta(days=2)).date()].iloc[0]
    assert recent["usd_median"] == pytest.approx(2.4)  # read from raw rows, transparently

    again = compact(engine, retention_days=30, now=NOW)
    assert (again.days, again.raw_rows_deleted) == (0, 0)


def _two_weeks_of_rows() -> list[dict[str, Any]]:
    """Three weeks of hourly-ish rows: two sources, two pricing kinds, a flagged and an unknown GPU."""
    rows = []
    for day in range(1, 22):
        for hour in (0, 7, 13, 23):
            for i in range(5):
                usd = round(2.0 + 0.1 * ((i * 7 + day * 3 + hour) % 11), 4)
                rows.append(_obs(day, hour, f"m{i}", usd, source="vast" if i % 2 else "runpod"))
            rows.append(_obs(day, hour, "s0", round(1.1 + 0.01 * day, 4), pricing="spot"))
            rows.append(_obs(day, hour, "bad", 0.01, flagged=True))
            rows.append(_obs(day, hour, "mi300", 1.9, gpu="unknown"))
    return rows


def _brute_force(rows: list[dict[str, Any]], start: datetime, end: datetime) -> dict[tuple[str, str], Any]:
    chosen: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if start <= row["observed_at"] < end and not row["flagged"] and row["gpu"] != "unknown":
            chosen.setdefault((row["gpu"], row["pricing"]), []).append(row["usd_per_gpu_hour"])
    return {key: (min(v), statistics.median(v), len(v)) for key, v in chosen.items()}


def _as_dict(frame: Any) -> dict[tuple[str, str], Any]:
    return {(r.gpu, r.pricing): (r.cheapest, r.median, r.offers) for r in frame.itertuples(index=False)}


def test_week_windows_are_whole_utc_days_before_today() -> None:
    (this_start, this_end), (last_start, last_end) = queries.week_windows(NOW)
    assert this_end == datetime(2026, 11, 28, tzinfo=UTC)
    assert this_start == last_end == datetime(2026, 11, 21, tzinfo=UTC)
    assert last_start == datetime(2026, 11, 14, tzinfo=UTC)


def test_roll_up_keeps_raw_rows_and_every_read_gives_the_same_numbers(engine: Any) -> None:
    from store.retention import roll_up

    rows = _two_weeks_of_rows()
    with session_scope(engine) as session:
        queries.insert_price_observations(session, rows)
    odd_start, odd_end = NOW - timedelta(days=9, hours=5), NOW - timedelta(days=2, hours=3)  # mid-day edges
    with session_scope(engine) as session:
        raw_weeks = [_as_dict(w) for w in queries.week_over_week(session, NOW)]
        raw_odd = _as_dict(queries.window_statistics(session, odd_start, odd_end))
        raw_history = queries.price_history(session, "h100-sxm", since=NOW - timedelta(days=30))

    assert roll_up(engine, now=NOW)[0] == 21
    assert roll_up(engine, now=NOW) == (0, 0)  # each day once
    with session_scope(engine) as session:
        assert queries.row_counts(session)["price_observation"] == len(rows)  # raw rows stay
        for _start, end in queries.week_windows(NOW):  # stored with their last day: read, not recomputed
            assert not queries.stored_window(session, end.date(), 7).empty
        rolled_weeks = [_as_dict(w) for w in queries.week_over_week(session, NOW)]
        recomputed = [_as_dict(w) for w in queries.week_over_week(session, NOW, stored=False)]
        rolled_odd = _as_dict(queries.window_statistics(session, odd_start, odd_end))
        rolled_history = queries.price_history(session, "h100-sxm", since=NOW - timedelta(days=30))

    for (start, end), raw, rolled, again in zip(queries.week_windows(NOW), raw_weeks, rolled_weeks, recomputed,
                                                strict=True):
        expected = _brute_force(rows, start, end)
        assert set(raw) == set(rolled) == set(again) == set(expected) == {("h100-sxm", "on-demand"),
                                                                          ("h100-sxm", "spot")}
        for key, (cheapest, median, offers) in expected.items():
            assert raw[key] == rolled[key] == again[key] == (pytest.approx(cheapest), pytest.approx(median), offers)
    expected_odd = _brute_force(rows, odd_start, odd_end)
    assert {k: v[2] for k, v in rolled_odd.items()} == {k: v[2] for k, v in expected_odd.items()}
    for key, (cheapest, median, _) in expected_odd.items():  # counted days plus raw edges
        assert rolled_odd[key][:2] == raw_odd[key][:2] == (pytest.approx(cheapest), pytest.approx(median))
    columns = ["day", "source", "pricing", "usd_min", "usd_median", "usd_max", "offers"]
    assert len(rolled_history) == len(raw_history) == 3 * 21  # runpod and vast on-demand, vast spot, per day
    pd.testing.assert_frame_equal(rolled_history[columns], raw_history[columns], check_dtype=False, rtol=1e-9)


def test_roll_up_fills_counts_for_days_aggregated_before_counts_existed(engine: Any) -> None:
    from sqlalchemy import delete, func, select

    from store.models import PriceDaily, PriceDailyCount
    from store.retention import roll_up

    with session_scope(engine) as session:
        queries.insert_price_observations(session, _two_weeks_of_rows())
    roll_up(engine, now=NOW)
    with session_scope(engine) as session:
        aggregates = session.scalar(select(func.count()).select_from(PriceDaily))
        session.execute(delete(PriceDailyCount).where(PriceDailyCount.day >= datetime(2026, 11, 20).date()))
    days, written = roll_up(engine, now=NOW)
    assert (days, written) == (8, 0)  # counts for 20-27 November; their aggregates were already there
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(PriceDaily)) == aggregates
        assert session.scalar(select(func.count(func.distinct(PriceDailyCount.day)))) == 21


def test_compaction_keeps_the_bundled_snapshot_standing(engine: Any) -> None:
    """Snapshot rows are months old but stand as current offers until a live source replaces
    them; retention aggregates their days and keeps the rows."""
    from jobs.seed import seed

    seed(engine)
    with session_scope(engine) as session:
        before = queries.current_offers(session)
        snapshot_rows = queries.row_counts(session)["price_observation"]
    assert len(before) > 100

    result = compact(engine, retention_days=30, now=NOW)
    assert (result.days, result.raw_rows_deleted) == (0, 0)
    assert result.aggregates_written > 0  # their days are in the daily history all the same
    with session_scope(engine) as session:
        assert queries.row_counts(session)["price_observation"] == snapshot_rows
        after = queries.current_offers(session)
    columns = ["source", "offer_key", "pricing", "usd_per_gpu_hour"]
    pd.testing.assert_frame_equal(after[columns], before[columns])
    assert compact(engine, retention_days=30, now=NOW).aggregates_written == 0  # nothing twice


def test_a_day_is_rolled_up_only_once_no_refresh_can_still_write_into_it(engine: Any) -> None:
    """A refresh stamps its rows with the slot it began in and may commit after midnight: rolling
    the day up at 00:10 would freeze its statistics without those rows (and retention would later
    delete them uncounted)."""
    from store.retention import DEAD_RUN_AFTER, ROLL_UP_GRACE, roll_up

    day = datetime(2026, 11, 20, tzinfo=UTC)
    early = [_obs(8, 22, f"m{i}", 2.0) for i in range(3)]   # 20 November, 22:00
    late = [_obs(8, 23, f"m{i}", 1.0) for i in range(3)]    # 23:00 slot, committed after midnight
    with session_scope(engine) as session:
        queries.insert_price_observations(session, early)
    assert roll_up(engine, now=day + timedelta(days=1, minutes=10)) == (0, 0)  # not settled yet
    with session_scope(engine) as session:
        queries.insert_price_observations(session, late)
        slow = queries.start_refresh_run(session, "aws", day + timedelta(hours=23, minutes=30))  # still running
    settled = day + timedelta(days=1) + ROLL_UP_GRACE
    assert roll_up(engine, now=settled) == (0, 0)  # held back by the run that began before midnight
    with session_scope(engine) as session:
        queries.finish_refresh_run(session, session.get(type(slow), slow.id), "ok")
    assert roll_up(engine, now=settled)[0] == 1
    with session_scope(engine) as session:
        stats = queries.window_statistics(session, day, day + timedelta(days=1))
    assert (stats["cheapest"].min(), int(stats["offers"].sum())) == (pytest.approx(1.0), 6)

    # A run left "running" by a process that died does not hold roll-up back for ever.
    with session_scope(engine) as session:
        queries.insert_price_observations(session, [_obs(7, 5, "m9", 3.0)])  # 21 November
        died = day + timedelta(days=1, hours=23, minutes=30)
        queries.start_refresh_run(session, "aws", died)
    assert roll_up(engine, now=day + timedelta(days=2) + ROLL_UP_GRACE) == (0, 0)
    assert roll_up(engine, now=died + DEAD_RUN_AFTER + timedelta(minutes=1))[0] == 1


def test_the_retention_window_counts_utc_days_whatever_the_zone_of_now(engine: Any) -> None:
    from zoneinfo import ZoneInfo

    local_now = datetime(2026, 11, 29, 8, 0, tzinfo=ZoneInfo("Pacific/Kiritimati"))  # 28 Nov 18:00 UTC
    with session_scope(engine) as session:
        run = queries.start_refresh_run(session, "vast", local_now - timedelta(days=31))
        # 29 October, inside a 30-day window counted in UTC days; outside it if counted in UTC+14 days
        queries.insert_price_observations(session, [_obs(30, 12, "m0", 2.0)], refresh_run_id=run.id)
    assert compact(engine, retention_days=30, now=local_now).raw_rows_deleted == 0
    assert compact(engine, retention_days=30, now=local_now.astimezone(UTC) + timedelta(days=1)).raw_rows_deleted == 1
