"""One refresh per source at a time, across processes and machines sharing a database.

PostgreSQL: a session-level advisory lock keyed by the source name, held on a dedicated
connection (it dies with the process, so a killed refresh never leaves a stale lock).
SQLite: an exclusive ``flock`` on a file beside the database, released likewise by the kernel.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine


def _lock_key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key; derive a stable one from the name.
    digest = hashlib.sha256(f"rentbuy:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def try_lock(engine: Engine, name: str, lock_dir: Path | None = None) -> Iterator[bool]:
    """Yield True while holding the lock for ``name``, or False at once if someone else holds it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            key = _lock_key(name)
            got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            connection.commit()
            try:
                yield got
            finally:
                if got:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    connection.commit()
        return
    directory = lock_dir or Path(engine.url.database or ".").expanduser().resolve().parent
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".rentbuy-{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
