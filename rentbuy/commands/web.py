"""``rentbuy web``: the report page and the JSON API over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def add_http_arguments(parser: argparse.ArgumentParser, when: str = "") -> None:
    """--host and --port, defaulting to the settings (``RENTBUY_WEB__HOST``/``__PORT``; 127.0.0.1:8000)."""
    parser.add_argument("--host", default=None, help=f"address to listen on{when} (default: setting web.host, "
                        "127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port to listen on{when} (default: setting web.port, 8000)")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "web", help="serve the report page and the JSON API over HTTP",
        description="Serve the report page (/) for finance leads, current prices (/prices) and the JSON API "
        "(/api/..., OpenAPI description at /openapi.json) for planning tools. Read-only; when "
        "RENTBUY_WEB__TOKEN is set, every page and endpoint needs it. Stop with Ctrl-C or SIGTERM.")
    add_http_arguments(parser)
    parser.set_defaults(func=run)


def address(args: argparse.Namespace, settings: Any) -> tuple[str, int]:
    from rentbuy.errors import UsageError

    host = args.host or settings.web.host
    port = settings.web.port if args.port is None else args.port
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535; got {port}.")
    return host, port


def run(args: argparse.Namespace) -> int:
    from config.settings import get_settings
    from rentbuy.web import server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    host, port = address(args, settings)
    server.run(settings, host, port)
    return 0
