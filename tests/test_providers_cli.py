"""``rentbuy fetch SOURCE`` against a local HTTP server standing in for each provider (base URL
from settings), and ``rentbuy providers``. The server serves the recorded fixtures and checks
that keyed sources send their key."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from providers_helpers import fixture_path

from config.settings import get_settings
from providers import ebay
from rentbuy.cli import main


def _json(source: str, name: str) -> bytes:
    return fixture_path(source, name).read_bytes()


class StandIn(BaseHTTPRequestHandler):
    """Routes each provider's paths to its recorded payloads."""

    html_error = False

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _needs(self, header: str, value: str) -> bool:
        if self.headers.get(header) != value:
            self._send(401, b'{"error": {"code": "unauthorized", "message": "missing or wrong key"}}')
            return False
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = urlsplit(self.path).path
        if path == "/api/v0/bundles/":
            self._send(200, _json("vast", "bundles.json"))
        elif path == "/graphql":
            self._send(200, _json("runpod", "gpu_types.json"))
        elif path == "/api/v1/instance-types/list":
            self._send(200, _json("cloudrift", "instance_types.json"))
        elif path == "/identity/v1/oauth2/token":
            if self.headers.get("Authorization", "").startswith("Basic "):
                self._send(200, _json("ebay", "token.json"))
            else:
                self._send(401, b'{"error": "invalid_client", "error_description": "no basic auth"}')
        else:
            self._send(404, b'{"message": "no such path"}')

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if self.html_error:
            self._send(200, b"<html><head><title>Maintenance</title></head></html>", "text/html")
        elif parts.path == "/api/v1/instance-types":
            if self._needs("Authorization", "Bearer lambda-test-key"):
                self._send(200, _json("lambda_cloud", "instance_types.json"))
        elif parts.path == "/api/retail/prices":
            self._send(200, _json("azure", "page2.json" if query.get("$skip") == ["1000"] else "page1.json"))
        elif parts.path == "/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json":
            self._send(200, fixture_path("aws", "offer_excerpt.json").read_bytes())
        elif parts.path == "/v1/services/6F81-5844-456A/skus":
            if self._needs("X-Goog-Api-Key", "gcp-test-key"):
                self._send(200, _json("gcp", "skus_page2.json" if "pageToken" in query else "skus_page1.json"))
        elif parts.path == "/v1/instances/types":
            if self._needs("X-API-KEY", "shadeform-test-key"):
                self._send(200, _json("shadeform", "instance_types.json"))
        elif parts.path == "/buy/browse/v1/item_summary/search":
            if not self.headers.get("Authorization", "").startswith("Bearer v^1.1"):
                self._send(401, b'{"errors": [{"message": "Invalid access token"}]}')
            elif query.get("offset") == ["200"]:
                self._send(200, _json("ebay", "search_rtx4090_used_p2.json"))
            elif query.get("q") == ["RTX 4090"] and "conditionIds:{3000}" in query.get("filter", [""])[0]:
                self._send(200, _json("ebay", "search_rtx4090_used_p1.json"))
            else:
                self._send(200, _json("ebay", "search_empty.json"))
        elif parts.path == "/prices.csv":
            self._send(200, fixture_path("street_prices", "prices.csv").read_bytes(), "text/csv")
        else:
            self._send(404, b'{"message": "no such path"}')


@pytest.fixture
def stand_in() -> Iterator[str]:
    StandIn.html_error = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"  # conftest refuses any non-loopback connection
    server.shutdown()
    server.server_close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stand_in: str) -> Iterator[str]:
    monkeypatch.setenv("RENTBUY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RENTBUY_DATABASE_URL", f"sqlite:///{tmp_path / 'absent.sqlite3'}")
    for name in ("vast", "runpod", "lambda_cloud", "azure", "aws", "gcp", "cloudrift", "shadeform", "ebay"):
        monkeypatch.setenv(f"RENTBUY_PROVIDERS__{name.upper()}__BASE_URL", stand_in)
    monkeypatch.setenv("RENTBUY_PROVIDERS__STREET_PRICES__BASE_URL", f"{stand_in}/prices.csv")
    monkeypatch.setenv("RENTBUY_PROVIDERS__LAMBDA_CLOUD__API_KEY", "lambda-test-key")
    monkeypatch.setenv("RENTBUY_PROVIDERS__GCP__API_KEY", "gcp-test-key")
    monkeypatch.setenv("RENTBUY_PROVIDERS__SHADEFORM__API_KEY", "shadeform-test-key")
    monkeypatch.setenv("RENTBUY_PROVIDERS__EBAY__API_KEY", "ebay-client-id")
    monkeypatch.setenv("RENTBUY_PROVIDERS__EBAY__API_SECRET", "ebay-client-secret")
    get_settings.cache_clear()
    ebay._TOKENS.clear()
    yield stand_in
    get_settings.cache_clear()
    ebay._TOKENS.clear()


# source -> (quotes, one row that must be there)
EXPECTED: dict[str, tuple[int, dict[str, Any]]] = {
    "vast": (17, {"offer_key": "21874502", "gpu": "h100-sxm", "gpu_count": 8, "usd_per_gpu_hour": 2.22655,
                  "pricing": "on-demand"}),
    "runpod": (29, {"offer_key": "NVIDIA GeForce RTX 4090/community", "gpu": "rtx-4090", "pricing": "community",
                    "usd_per_gpu_hour": 0.34}),
    "lambda_cloud": (10, {"offer_key": "gpu_8x_h100_sxm5", "gpu": "h100-sxm", "gpu_count": 8,
                          "usd_per_gpu_hour": 2.99}),
    "azure": (11, {"offer_key": "eastus/Standard_ND96isr_H100_v5", "pricing": "spot", "usd_per_gpu_hour": 4.916}),
    "aws": (7, {"offer_key": "us-east-1/p5.48xlarge", "gpu": "h100-sxm", "usd_per_gpu_hour": 6.88}),
    "gcp": (9, {"offer_key": "4E5F-6071-8293", "gpu": "h200", "pricing": "spot", "usd_per_gpu_hour": 3.72}),
    "cloudrift": (5, {"offer_key": "rtx59-16c-nr.1", "gpu": "rtx-5090", "usd_per_gpu_hour": 0.65}),
    "shadeform": (7, {"offer_key": "lambdalabs/gpu_8x_h100_sxm5", "gpu": "h100-sxm", "gpu_count": 8}),
    "street_prices": (6, {"gpu": "rtx-4090", "condition": "used", "usd": 1790.25, "currency": "EUR"}),
    "ebay": (1, {"gpu": "rtx-4090", "condition": "used", "usd": 1849.0, "basis": "asking"}),
}


@pytest.mark.parametrize("source", list(EXPECTED))
def test_fetch_against_a_local_stand_in(source: str, env: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw"
    assert main(["fetch", source, "--format", "json", "--save-raw", str(raw)]) == 0
    out, err = capsys.readouterr()
    quotes = json.loads(out)
    count, row = EXPECTED[source]
    assert len(quotes) == count
    assert any(all(quote.get(k) == v for k, v in row.items()) for quote in quotes), row
    assert f"{source}: {count} quotes" in err
    saved = sorted(raw.iterdir())
    assert saved and all(path.stat().st_size > 0 for path in saved)
    for secret in ("lambda-test-key", "gcp-test-key", "shadeform-test-key", "ebay-client-secret"):
        assert secret not in out and secret not in err


def test_fetch_text_output_and_unknown_names(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "lambda_cloud"]) == 0
    out, err = capsys.readouterr()
    assert "gpu_8x_h100_sxm5" in out and "usd_per_gpu_hour" in out
    assert "3 with unknown GPU names: A10 (24 GB PCIe) (1), GH200 (96 GB) (1), RTX 6000 (24 GB) (1)" in err


def test_fetch_unknown_source_is_a_usage_error(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "nosuch"]) == 2
    assert "Unknown price source 'nosuch'; known sources: vast, runpod" in capsys.readouterr().err


def test_fetch_without_key_says_which_variable(env: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RENTBUY_PROVIDERS__SHADEFORM__API_KEY")
    get_settings.cache_clear()
    assert main(["fetch", "shadeform"]) == 1
    assert "RENTBUY_PROVIDERS__SHADEFORM__API_KEY" in capsys.readouterr().err


def test_fetch_reports_a_provider_failure_in_one_sentence(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    StandIn.html_error = True
    assert main(["fetch", "azure"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rentbuy: fetching azure: returned an HTML page instead of JSON") and "Traceback" not in err


def test_providers_lists_every_source(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers", "--format", "json"]) == 0
    table = {row["source"]: row for row in json.loads(capsys.readouterr().out)}
    assert list(table) == list(EXPECTED)
    assert table["gcp"]["needs key"] == "required" and table["gcp"]["key present"] == "yes"
    assert table["azure"]["key present"] == "-" and table["azure"]["base URL"] == env
    assert table["vast"]["needs key"] == "optional"
    assert all(row["last success"] == "n/a" for row in table.values())  # no database yet
    assert "gcp-test-key" not in json.dumps(table)


def test_providers_text_table(env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RENTBUY_PROVIDERS__LAMBDA_CLOUD__API_KEY")
    monkeypatch.setenv("RENTBUY_PROVIDERS__VAST__ENABLED", "false")
    get_settings.cache_clear()
    assert main(["providers"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert lines["lambda_cloud"].rstrip().endswith("needs key")
    assert lines["vast"].rstrip().endswith("disabled")
