"""``rentbuy providers``: every price source, what it needs and whether it is ready."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "providers", help="list price sources, the key each needs and when each last worked",
        description="List every price source: rental or purchase, enabled, whether it needs an API key "
        "and whether one is configured (never shown), its base URL and its last successful refresh. "
        "Keys are set with RENTBUY_PROVIDERS__<SOURCE>__API_KEY (eBay also __API_SECRET).")
    parser.add_argument("--format", choices=["text", "json", "csv"], default="text", help="output format")
    parser.set_defaults(func=run)


def last_success(settings: Any) -> dict[str, datetime] | None:
    """Last ``ok`` refresh per source from the store, or ``None`` when there is no usable store.

    Read-only on purpose: listing sources never creates, migrates or seeds a database.
    """
    try:
        from pathlib import Path

        from store.db import make_engine, session_scope
        from store.queries import last_success_by_source

        url = settings.effective_database_url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return None
        engine = make_engine(url)
        try:
            with session_scope(engine) as session:
                return last_success_by_source(session)
        finally:
            engine.dispose()
    except Exception:  # no store yet, schema behind, server down: the column says n/a
        return None


def rows(settings: Any, successes: dict[str, datetime] | None) -> list[dict[str, Any]]:
    from providers.registry import SOURCES

    out = []
    for source in SOURCES.values():
        config = settings.providers.get(source.name)
        present = source.key_present(config)
        when = (successes or {}).get(source.name)
        out.append({
            "source": source.name,
            "kind": source.kind,
            "enabled": "yes" if config.enabled else "no",
            "needs key": source.key,
            "key present": ("yes" if present else "no") if source.key != "none" else "-",
            "base URL": config.options.get("path") or config.base_url,
            "last success": when if when else ("n/a" if successes is None else "never"),
            "status": source.status(config),
            "description": source.description,
        })
    return out


def run(args: argparse.Namespace) -> int:
    from config.settings import get_settings
    from reports.render import render_rows

    settings = get_settings()
    table = rows(settings, last_success(settings))
    columns = list(table[0]) if args.format in ("json", "csv") else [c for c in table[0] if c != "description"]
    print(render_rows(table, columns, args.format), end="")
    return 0
