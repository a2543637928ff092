"""Shared fixtures: an isolated environment per test, databases on SQLite and PostgreSQL, no network.

PostgreSQL comes from ``RENTBUY_TEST_POSTGRES_URL`` (default: the CI server at 127.0.0.1:5432,
database ``test``). Each test gets its own schema, dropped afterwards, so runs leave nothing behind.
Locally an unreachable server skips the PostgreSQL cases; with ``CI`` set it fails them.
Hypothesis draws fresh examples on every local run (to keep finding cases) and a fixed sequence
under ``CI`` (so a landing never hinges on a new draw); a case it finds is pinned with ``@example``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from bench.common import DEFAULT_POSTGRES_URL, postgres_available, postgres_schema

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"tests must not reach the network (tried {host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No developer's RENTBUY_* variables leak in; the data directory is the test's own."""
    for name in list(os.environ):
        if name.startswith("RENTBUY_") and name != "RENTBUY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RENTBUY_DATA_DIR", str(data_dir))
    from config.settings import get_settings

    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def postgres_base_url() -> str:
    return os.environ.get("RENTBUY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = postgres_available(postgres_base_url())
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {postgres_base_url()}: {reason}")
        pytest.skip(f"PostgreSQL unreachable ({reason})")
    return postgres_base_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of the test database."""
    with postgres_schema(postgres_server, prefix="rentbuy_test") as (url, _schema):
        yield url


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite database with the bundled data, shared by a module's read-only tests."""
    from config.settings import Settings
    from rentbuy.context import open_database

    folder = tmp_path_factory.mktemp("seeded-db")
    url = f"sqlite:///{folder / 'rentbuy.sqlite3'}"
    open_database(Settings(database_url=url, data_dir=folder)).dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rentbuy-test.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[object]:
    """A migrated, empty database on each backend."""
    from store.db import make_engine, upgrade

    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def use_database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point rentbuy's settings at the test database (for CLI and API tests)."""
    from config.settings import get_settings

    monkeypatch.setenv("RENTBUY_DATABASE_URL", db_url)
    get_settings.cache_clear()
    return db_url
