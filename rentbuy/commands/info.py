"""``rentbuy info``: the settings in effect (secrets masked), the database and its data dates."""

from __future__ import annotations

import argparse
from typing import Any

from reports.render import text_table, to_json


def register(sub: Any) -> None:
    parser = sub.add_parser("info", help="show settings in effect, the database and its data dates",
                            description="Show the settings in effect (secrets masked), the database "
                            "URL, row counts and the dates of the newest and oldest data.")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.set_defaults(func=run)


def collect() -> dict[str, Any]:
    from config.settings import get_settings
    from rentbuy.context import open_database
    from store import queries
    from store.db import safe_url, session_scope

    settings = get_settings()
    engine = open_database(settings)
    with session_scope(engine) as session:
        counts = queries.row_counts(session)
        dates = queries.data_dates(session)
    # model_dump(mode="json") keeps SecretStr masked as '**********'.
    dumped = settings.model_dump(mode="json")
    return {
        "version": __import__("rentbuy").__version__,
        "database_url": safe_url(settings.effective_database_url),
        "data_dir": str(settings.data_dir),
        "settings_file": str(settings.toml_file) if settings.toml_file else None,
        "row_counts": counts,
        "data_dates": {table: {"oldest": old, "newest": new} for table, (old, new) in dates.items()},
        "settings": dumped,
    }


def _flatten(prefix: str, value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict) and value:
        rows: list[dict[str, Any]] = []
        for key, inner in value.items():
            rows.extend(_flatten(f"{prefix}.{key}" if prefix else key, inner))
        return rows
    return [{"setting": prefix, "value": "" if value is None else value}]


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.format == "json":
        print(to_json(info))
        return 0
    print(f"rentbuy {info['version']}")
    print(f"database: {info['database_url']}")
    print(f"data directory: {info['data_dir']}")
    print(f"settings file: {info['settings_file'] or '(none)'}")
    print()
    print(text_table([{"table": t, "rows": n} for t, n in info["row_counts"].items()]))
    print()
    print(text_table([{"table": t, "oldest": d["oldest"], "newest": d["newest"]}
                      for t, d in info["data_dates"].items()]))
    print()
    print(text_table(_flatten("", info["settings"])))
    return 0
