"""The shared HTTP session: timeouts, bounded retries with backoff, Retry-After, scoped keys."""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from providers_helpers import Sleeps, quick_session, strict_responses

from providers import http
from providers.base import ProviderError
from providers.http import RetryPolicy, make_session, parse_retry_after

API = "https://api.example-gpu.test/v1/prices"
OTHER = "https://cdn.elsewhere.test/file.json"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with strict_responses() as mock:
        yield mock


def test_user_agent_names_rentbuy_and_timeouts_are_set(rsps: responses.RequestsMock) -> None:
    rsps.get(API, json={"ok": True})
    session, _ = quick_session()
    assert http.request_json("demo", session, "GET", API) == {"ok": True}
    sent = rsps.calls[0].request
    assert sent.headers["User-Agent"].startswith("rentbuy/")
    assert sent.req_kwargs["timeout"] == (10.0, 60.0)


def test_500_then_success_retries_once_with_jittered_backoff(rsps: responses.RequestsMock) -> None:
    rsps.get(API, status=500, json={"message": "internal"})
    rsps.get(API, json={"ok": 1})
    session, sleeps = quick_session()
    assert http.request_json("demo", session, "GET", API) == {"ok": 1}
    assert len(rsps.calls) == 2
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, equal jitter


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base_seconds=1.0, backoff_cap_seconds=5.0)
    rng = random.Random(1)
    waits = [policy.backoff(attempt, rng) for attempt in (1, 2, 3, 4, 5)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0
    assert all(2.5 <= w <= 5.0 for w in waits[3:])


def test_429_waits_for_retry_after_seconds(rsps: responses.RequestsMock) -> None:
    rsps.get(API, status=429, headers={"Retry-After": "2"}, json={"message": "slow down"})
    rsps.get(API, json={"ok": 2})
    session, sleeps = quick_session()
    assert http.request_json("demo", session, "GET", API) == {"ok": 2}
    assert sleeps == [2.0]


def test_retry_after_http_date() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after("garbage") is None


def test_retry_after_beyond_the_cap_is_not_waited_for(rsps: responses.RequestsMock) -> None:
    rsps.get(API, status=429, headers={"Retry-After": "3600"}, json={"message": "quota"})
    session, sleeps = quick_session()
    with pytest.raises(ProviderError, match=r"demo: rate limited \(HTTP 429.*asked to wait 3600 s"):
        http.request_json("demo", session, "GET", API)
    assert sleeps == []


def test_persistent_503_gives_up_after_max_attempts(rsps: responses.RequestsMock) -> None:
    for _ in range(3):
        rsps.get(API, status=503, body="<html><title>503 Service Unavailable</title></html>",
                 content_type="text/html")
    session, sleeps = quick_session(max_attempts=3)
    with pytest.raises(ProviderError, match=r"demo: HTTP 503 .* after 3 attempts: 503 Service Unavailable"):
        http.request_json("demo", session, "GET", API)
    assert len(sleeps) == 2


def test_connection_reset_is_retried_then_reported(rsps: responses.RequestsMock) -> None:
    for _ in range(3):
        rsps.get(API, body=requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")))
    session, sleeps = quick_session(max_attempts=3)
    with pytest.raises(ProviderError, match=r"demo: connection reset by peer \(gave up after 3 attempts"):
        http.request_json("demo", session, "GET", API)
    assert len(sleeps) == 2


def test_total_time_budget_stops_retries_early(rsps: responses.RequestsMock) -> None:
    rsps.get(API, body=requests.exceptions.ReadTimeout("read timed out"))
    ticks = iter([0.0, 9.9, 20.0, 30.0])
    session = make_session(policy=RetryPolicy(max_attempts=10, total_seconds=10.0), sleep=Sleeps(),
                           clock=lambda: next(ticks), rng=random.Random(0))
    with pytest.raises(ProviderError, match=r"timed out waiting for the response \(gave up after 1 attempt in 9.9 s"):
        http.request_json("demo", session, "GET", API)


def test_4xx_is_not_retried_and_quotes_the_api_message(rsps: responses.RequestsMock) -> None:
    rsps.get(API, status=401, json={"error": {"code": "global/invalid-api-key", "message": "API key was invalid"}})
    session, sleeps = quick_session()
    with pytest.raises(ProviderError, match=r"credentials were rejected \(HTTP 401 Unauthorized: API key was invalid"):
        http.request_json("demo", session, "GET", API)
    assert sleeps == []


def test_html_page_with_200_is_an_error(rsps: responses.RequestsMock) -> None:
    rsps.get(API, body="<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
             content_type="text/html; charset=UTF-8")
    session, _ = quick_session()
    with pytest.raises(ProviderError, match=r"HTML page instead of JSON \(HTTP 200.*Just a moment"):
        http.request_json("demo", session, "GET", API)


def test_truncated_json_is_an_error(rsps: responses.RequestsMock) -> None:
    rsps.get(API, body='{"offers": [{"id": 1, "dph_total": 0.4', content_type="application/json")
    session, _ = quick_session()
    with pytest.raises(ProviderError, match=r"invalid JSON \(truncated\)"):
        http.request_json("demo", session, "GET", API)


def test_keys_go_only_to_their_own_origin(rsps: responses.RequestsMock) -> None:
    rsps.get(API, json={})
    rsps.get(OTHER, json={})
    session, _ = quick_session()
    assert http.auth_headers(session, "https://api.example-gpu.test", {"X-API-KEY": "sk-live-123456"}) == {}
    http.request_json("demo", session, "GET", API)
    http.request_json("demo", session, "GET", OTHER)
    assert rsps.calls[0].request.headers["X-API-KEY"] == "sk-live-123456"
    assert "X-API-KEY" not in rsps.calls[1].request.headers


def test_a_redirect_to_another_host_drops_the_key(rsps: responses.RequestsMock) -> None:
    rsps.get(API, status=302, headers={"Location": OTHER})
    rsps.get(OTHER, json={"moved": True})
    session, _ = quick_session()
    http.auth_headers(session, "https://api.example-gpu.test", {"X-API-KEY": "sk-live-123456",
                                                                "Authorization": "Bearer tok-abcdef"})
    assert http.request_json("demo", session, "GET", API) == {"moved": True}
    assert rsps.calls[0].request.headers["X-API-KEY"] == "sk-live-123456"
    final = rsps.calls[1].request.headers
    assert "X-API-KEY" not in final and "Authorization" not in final


def test_keys_never_appear_in_logs_or_errors(rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture) -> None:
    key = "sk-live-secret-987654"
    rsps.get(API, status=500, json={"message": f"bad key {key}"})
    rsps.get(API, status=500, json={"message": f"bad key {key}"})
    session, _ = quick_session(max_attempts=2)
    http.auth_headers(session, "https://api.example-gpu.test", {"Authorization": f"Bearer {key}"})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderError) as raised:
        http.request_json("demo", session, "GET", API)
    assert key not in str(raised.value) and "***" in str(raised.value)
    assert key not in caplog.text


def test_download_streams_to_a_file_and_retries_a_broken_transfer(rsps: responses.RequestsMock) -> None:
    rsps.get(OTHER, body=requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"))
    rsps.get(OTHER, body=b'{"products": {}}')
    session, sleeps = quick_session()
    target = io.BytesIO()
    assert http.download("demo", session, OTHER, target) == 16
    assert target.read() == b'{"products": {}}'
    assert len(sleeps) == 1
