"""Engines, sessions and schema upgrades for the embedded SQLite default and PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


class StoreError(RuntimeError):
    """The database cannot be used as it is; the message says what to do."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the report read while a refresh writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache instead of 2: index upkeep on a large observation table stops
    # re-reading pages (SQLite ingest +17 %, raw driver +36 % at 1M rows; 256 MiB gave no more).
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; for a SQLite file, its directory is created first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            directory = Path(database).expanduser().parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"Cannot create the data directory {directory}: {exc.strerror}; "
                                 "set RENTBUY_DATA_DIR or RENTBUY_DATABASE_URL to a writable place.") from exc
            if not os.access(directory, os.W_OK):
                raise StoreError(f"The data directory {directory} is not writable; "
                                 "set RENTBUY_DATA_DIR or RENTBUY_DATABASE_URL to a writable place.")
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def alembic_config(url: str, connection: Any | None = None) -> Any:
    """An Alembic ``Config`` for our migrations, usable from a checkout or an installed wheel."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "store:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on the engine's database."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(str(engine.url), connection), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(str(engine.url), connection), revision)


_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]*)?\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|["']([^"']+)["'])\s*$""",
                            re.MULTILINE)


def _head_from_files() -> str | None:
    """The head revision read from the migration files as text; None unless they form one plain
    chain (then ``head_revision`` asks alembic). Importing alembic costs ~0.3 s of a command's start."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _stored_revision(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version`` (None: no table or no row), by plain SQL."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return versions[0] if len(versions) == 1 else None


def ensure_schema(engine: Engine) -> None:
    """Make sure the schema is current before a command uses it.

    An embedded SQLite file belongs to this user, so it is upgraded silently. A PostgreSQL
    database is shared with other instances, so an out-of-date one is reported, not altered.
    """
    try:
        current = _stored_revision(engine)
    except OperationalError as exc:
        where = safe_url(str(engine.url))
        raise StoreError(f"Cannot reach the database at {where}: {_first_line(exc)}") from exc
    if current is not None and current == _head_from_files():
        return  # the everyday case, without importing alembic (a third of a second of every command)
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if engine.dialect.name == "sqlite":
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise StoreError(f"Cannot write the database {engine.url.database}: {_first_line(exc)}") from exc
        return
    state = "is empty" if current is None else f"is at revision {current}, not {head}"
    raise StoreError(f"The database {state}; run `rentbuy db upgrade` to migrate it.")


def _first_line(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return (text[0] if text else type(original).__name__).rstrip(".") + "."


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and ``rentbuy info``."""
    return make_url(url).render_as_string(hide_password=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
