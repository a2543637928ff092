"""``rentbuy db upgrade|downgrade|seed|current``: manage the database schema and bundled data."""

from __future__ import annotations

import argparse
from typing import Any

from rentbuy.errors import RentbuyError


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="migrate the database or load the bundled prices",
                            description="Manage the database: run migrations (needed once per "
                            "release on PostgreSQL) and load the bundled price snapshot.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("upgrade", help="migrate the schema to the current revision")
    down = actions.add_parser("downgrade", help="migrate the schema down (default: remove everything)")
    down.add_argument("revision", nargs="?", default="base")
    actions.add_parser("seed", help="load the bundled rental snapshot and street prices (idempotent)")
    actions.add_parser("current", help="print the schema revision of the database")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError

    from config.settings import get_settings
    from store.db import (
        StoreError,
        current_revision,
        downgrade,
        head_revision,
        make_engine,
        safe_url,
        upgrade,
    )

    settings = get_settings()
    url = settings.effective_database_url
    try:
        engine = make_engine(url)
        if args.action == "upgrade":
            upgrade(engine)
            print(f"{safe_url(url)} is at revision {head_revision()}.")
        elif args.action == "downgrade":
            downgrade(engine, args.revision)
            print(f"{safe_url(url)} is at revision {current_revision(engine) or 'base (empty)'}.")
        elif args.action == "current":
            print(current_revision(engine) or "base (empty)")
        elif args.action == "seed":
            from jobs.seed import seed
            from rentbuy.context import open_database

            result = seed(open_database(settings, seed=False))
            if result.skipped:
                print("The bundled data is already loaded; nothing to add.")
            else:
                print(f"Loaded {result.price_rows} rental and {result.purchase_rows} street price rows.")
    except StoreError as exc:
        raise RentbuyError(str(exc)) from exc
    except OperationalError as exc:
        raise RentbuyError(f"Cannot use the database at {safe_url(url)}: "
                           f"{str(exc.orig).splitlines()[0] if exc.orig else exc}") from exc
    return 0
