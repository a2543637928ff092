"""``rentbuy web`` and ``rentbuy serve --http`` as an operator runs them: real processes, real ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.test_cli import help_in_a_fresh_process

ROOT = Path(__file__).parents[1]
SOURCES = ("vast", "runpod", "lambda_cloud", "azure", "aws", "gcp", "cloudrift", "shadeform", "street_prices", "ebay")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENTBUY_")}
    env["RENTBUY_DATA_DIR"] = str(tmp_path / "data")  # a fresh install: the bundled data is seeded at start
    for source in SOURCES:  # the scheduler's first refresh must not reach the internet
        env[f"RENTBUY_PROVIDERS__{source.upper()}__ENABLED"] = "false"
    env.update(extra)
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rentbuy", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _health(port: int, process: subprocess.Popen[str], timeout: float) -> tuple[dict[str, Any], float]:
    """The first /api/health answer, and how long after the start it came."""
    started = time.monotonic()
    while True:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
                return json.loads(response.read()), time.monotonic() - started
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() - started < timeout, "no answer from /api/health"
            time.sleep(0.1)


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    return process.returncode, err


def test_rentbuy_web_answers_health_within_seconds_on_the_bundled_data(tmp_path: Path) -> None:
    port = _free_port()
    process = _start(["web", "--port", str(port)], _env(tmp_path))
    try:
        body, seconds = _health(port, process, timeout=30)
    finally:
        code, err = _stop(process)
    assert body["database"]["reachable"] is True and "bundled-snapshot" in body["last_success_by_source"]
    assert seconds < 20, f"/api/health took {seconds:.1f} s"
    assert code == 0, err
    assert f"Uvicorn running on http://127.0.0.1:{port}" in err  # loopback by default


def test_serve_http_runs_the_web_beside_the_scheduler_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    process = _start(["serve", "--http", "--port", str(port)], _env(tmp_path))
    try:
        body, _seconds = _health(port, process, timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/plan?runs_per_month=4", timeout=30) as response:
            assert json.loads(response.read())["recommendation"]
    finally:
        code, err = _stop(process)
    assert body["database"]["reachable"] is True
    assert code == 0, err
    assert "rentbuy scheduler started" in err and "Scheduler has been shut down" in err
    assert "Application shutdown complete" in err


def test_a_taken_port_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "rentbuy", "web", "--port", str(port)], env=_env(tmp_path),
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"rentbuy: Cannot serve on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_bad_flags_are_usage_errors(tmp_path: Path) -> None:
    for args, text in ((["web", "--port", "70000"], "--port must be between 1 and 65535"),
                       (["serve", "--http", "--once"], "cannot be combined with --once")):
        result = subprocess.run([sys.executable, "-m", "rentbuy", *args], env=_env(tmp_path), cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and text in result.stderr, result.stderr


def test_help_lists_web_without_importing_the_web_stack() -> None:
    loaded, text = help_in_a_fresh_process(("fastapi", "starlette", "uvicorn", "jinja2", "pydantic_core"))
    assert loaded in ([], ["pydantic_core"])  # settings use pydantic; the web stack stays out
    assert " web " in text
