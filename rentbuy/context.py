"""What every database-backed command needs: settings, a migrated database and seed data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.settings import Settings, get_settings
from rentbuy.errors import RentbuyError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def open_database(settings: Settings | None = None, *, seed: bool = True) -> Engine:
    """An engine on a current schema; a first run on an empty database loads the bundled data.

    Store errors (unreachable server, read-only directory, schema behind) become one sentence.
    """
    from store.db import StoreError, ensure_schema, make_engine

    settings = settings or get_settings()
    try:
        engine = make_engine(settings.effective_database_url)
        ensure_schema(engine)
        if seed:
            from jobs.seed import needs_seed
            from jobs.seed import seed as load_bundle

            if needs_seed(engine):
                load_bundle(engine)
    except StoreError as exc:
        raise RentbuyError(str(exc)) from exc
    return engine
