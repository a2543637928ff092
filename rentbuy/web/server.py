"""Serving the app with uvicorn: in the foreground (``rentbuy web``) or beside the scheduler
(``rentbuy serve --http``), where uvicorn runs in a thread and the scheduler owns the signals."""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
import time
from typing import Any

from config.settings import Settings
from rentbuy.errors import RentbuyError

log = logging.getLogger("rentbuy.web")


def warn_if_exposed(settings: Settings, host: str) -> None:
    """A non-loopback address without a token serves the answers to anyone who can reach it: say so."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and settings.web.token is None:
        log.warning("serving on %s without an access token: anyone who can reach this address can read the "
                    "report; set RENTBUY_WEB__TOKEN to require one", host)


def make_server(settings: Settings, host: str, port: int) -> Any:
    """A uvicorn server for the app; the database is opened (migrated, seeded) first, so the
    first request is quick and a fresh install answers from the bundled data at once."""
    import uvicorn

    from rentbuy.web import create_app

    app = create_app(settings)
    try:
        app.state.database.engine()
    except RentbuyError as exc:  # serve anyway: /api/health says 503 until the database is back
        log.warning("%s The server starts and answers 503 until the database is reachable.", exc)
    warn_if_exposed(settings, host)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False, server_header=False)
    return uvicorn.Server(config)


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT, then finish the requests under way and return (exit status 0).

    uvicorn runs in a thread and this (main) thread owns the signals, as under ``serve --http``;
    left to itself uvicorn would re-raise the signal after shutting down and the process would
    end "killed by SIGTERM" instead of with a clean exit.
    """
    server, thread = start_in_thread(settings, host, port)

    def stop(signum: int, _frame: object) -> None:
        if server.should_exit:  # a second signal: stop without waiting for open connections
            server.force_exit = True
        log.info("signal %d: finishing the requests under way, then stopping", signum)
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while thread.is_alive():
        thread.join(timeout=0.5)


def start_in_thread(settings: Settings, host: str, port: int, timeout: float = 30.0) -> tuple[Any, threading.Thread]:
    """Start serving in a background thread and wait until it listens.

    uvicorn installs no signal handlers outside the main thread; stop it with ``server.should_exit = True``.
    """
    server = make_server(settings, host, port)
    thread = threading.Thread(target=server.run, name="rentbuy-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RentbuyError(f"Cannot serve on {host}:{port} (address in use or not allowed); choose another "
                               "--port or --host.")
        time.sleep(0.05)
    return server, thread
