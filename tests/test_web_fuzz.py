"""Property-based fuzzing of the JSON API from its own OpenAPI schema (schemathesis): whatever the
schema allows, and whatever a fuzzer makes of it, the server answers without a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.settings import Settings, WebSettings, get_settings
from rentbuy.web import create_app
from rentbuy.web.service import Database

# The schema is read from the app itself. (schemathesis' fixture-based lazy schema does not run under this
# pytest, so the app is built at import with a placeholder database and pointed at the seeded one per test.)
APP = create_app(Settings(database_url="sqlite://", web=WebSettings()))  # no token, whatever the environment
# Every operation gets schemathesis' coverage phase (each parameter at and beyond its bounds) and a bounded
# fuzzing phase, except the workload POST, whose bodies of up to ten job classes make the coverage phase
# alone take longer than the rest together: it is fuzzed only.
CONFIG = schemathesis.Config.from_dict({"operations": [
    {"include-name": "POST /api/plan", "phases": {"coverage": {"enabled": False}}}]})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(autouse=True)
def _seeded_app(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_DATABASE_URL", seeded_url)
    get_settings.cache_clear()
    APP.state.settings = get_settings()
    APP.state.database = Database(APP.state.settings)


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
