"""A local HTTP server standing in for a price provider, for end-to-end tests on loopback.

Routes map (method, path) to (status, body, content type); the query string is ignored. A delay
makes a response slow enough to interrupt a process in the middle of a refresh; a gate holds every
response until the test opens it, for orderings that must not depend on timing.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Route = tuple[int, bytes, str]


def json_route(payload: Any, status: int = 200) -> Route:
    return status, json.dumps(payload).encode("utf-8"), "application/json"


class StandIn:
    def __init__(self, routes: dict[tuple[str, str], Route], delay_seconds: float = 0.0) -> None:
        self.routes = routes
        self.delay_seconds = delay_seconds
        self.gate: threading.Event | None = None  # when set to an Event, responses wait for it
        self.requests: list[tuple[str, str]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                path = urlsplit(self.path).path
                standin.requests.append((self.command, path))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                time.sleep(standin.delay_seconds)
                if standin.gate is not None:
                    standin.gate.wait(timeout=120)
                status, body, content_type = standin.routes.get((self.command, path),
                                                               (404, b'{"error": "no such route"}', "application/json"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *_args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
