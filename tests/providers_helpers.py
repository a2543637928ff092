"""Shared helpers for the provider tests: fixtures on disk, a strict HTTP mock, a network guard.

Kept out of conftest.py (shared with other test suites); test modules import what they use.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import responses
from pydantic import SecretStr

from config.settings import ProviderSettings
from providers.http import RentbuySession, RetryPolicy, make_session

OBSERVED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"
UNMATCHED = "Connection refused by Responses"


def fixture_path(source: str, name: str) -> Path:
    return FIXTURES / source / name


def fixture_json(source: str, name: str) -> Any:
    return json.loads(fixture_path(source, name).read_text(encoding="utf-8"))


def fixture_text(source: str, name: str) -> str:
    return fixture_path(source, name).read_text(encoding="utf-8")


def provider_settings(base_url: str, *, key: str | None = None, secret: str | None = None,
                      **options: Any) -> ProviderSettings:
    return ProviderSettings(
        base_url=base_url, api_key=SecretStr(key) if key else None,
        api_secret=SecretStr(secret) if secret else None, options=options,
    )


class Sleeps(list[float]):
    """A ``sleep`` that records instead of waiting, so retry tests take no time."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def quick_session(max_attempts: int = 3, total_seconds: float = 300.0) -> tuple[RentbuySession, Sleeps]:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=max_attempts, backoff_base_seconds=0.5, total_seconds=total_seconds)
    return make_session(policy=policy, sleep=sleeps, rng=random.Random(7)), sleeps


@contextlib.contextmanager
def strict_responses() -> Iterator[responses.RequestsMock]:
    """A ``responses`` mock where a request nobody registered fails the test (even if the code
    under test caught the resulting ConnectionError and retried), and every registered
    response must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        unmatched = [call.request.url for call in mock.calls
                     if isinstance(call.response, Exception) and UNMATCHED in str(call.response)]
        assert not unmatched, f"unexpected HTTP requests: {unmatched}"
