"""Shared helpers for the benchmarks: timing with medians, peak RSS, scratch databases, machine info.

Every benchmark reports a median over repeated runs next to a baseline measured in the same run,
because a number alone says little about a machine we have not seen.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs; the median is what we report (robust to one hiccup)."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def spread(self) -> str:
        return f"min {min(self.seconds):.4g} s, max {max(self.seconds):.4g} s, n={len(self.seconds)}"


def time_runs(function: Callable[[], Any], repeats: int, setup: Callable[[], Any] | None = None,
              warmup: int = 0) -> Timing:
    """Time ``function`` ``repeats`` times; ``setup`` runs untimed before each call."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1.")
    for _ in range(warmup):
        if setup is not None:
            setup()
        function()
    seconds = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds))


@dataclass
class Row:
    """One line of a benchmark's table: what was measured, its figure, the baseline's, the target."""

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Measured over baseline (how many times the baseline's figure this is)."""
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Report:
    """A benchmark's printed result: a title, rows, and free-text lines (plans, notes)."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    def render(self) -> str:
        lines = [self.title, "=" * len(self.title)]
        width = max((len(r.name) for r in self.rows), default=10)
        for r in self.rows:
            text = f"{r.name:<{width}}  {fmt(r.value)} {r.unit}"
            if r.baseline is not None:
                ratio = r.ratio
                text += f"  | baseline {r.baseline_name}: {fmt(r.baseline)} {r.unit}"
                if ratio is not None:
                    text += f" (ratio {ratio:.3g})"
            if r.target:
                verdict = "" if r.met is None else (" MET" if r.met else " MISSED")
                text += f"  | target {r.target}{verdict}"
            if r.note:
                text += f"  [{r.note}]"
            lines.append(text)
        lines.extend(self.notes)
        return "\n".join(lines)


def fmt(value: float) -> str:
    """Three significant figures, with thousands separators for big numbers."""
    if value != value:  # NaN
        return "nan"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def machine() -> dict[str, str]:
    """What the figures were measured on: cores, CPU model, memory, Python, date."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {"cores": str(os.cpu_count()), "cpu": cpu, "memory": memory,
            "python": platform.python_version(), "os": platform.platform(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def machine_line() -> str:
    m = machine()
    return f"{m['date']}; {m['cores']} cores, {m['cpu']}, {m['memory']}; Python {m['python']}"


# --- databases ----------------------------------------------------------------------------------


def postgres_base_url() -> str:
    """The server the benchmarks use (``RENTBUY_BENCH_POSTGRES_URL``, else the local test server)."""
    return os.environ.get("RENTBUY_BENCH_POSTGRES_URL",
                          os.environ.get("RENTBUY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))


def postgres_available(url: str | None = None) -> str | None:
    """None when the server answers, else why not (benchmarks then skip their PostgreSQL part)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url or postgres_base_url())
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return None
    except Exception as exc:  # any driver error means "not usable here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema(base_url: str | None = None, prefix: str = "bench") -> Iterator[tuple[str, str]]:
    """A fresh schema on the server, dropped afterwards: yields (url with search_path, schema)."""
    from sqlalchemy import create_engine, text

    base = base_url or postgres_base_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(base, schema), schema
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def psycopg_dsn(sqlalchemy_url: str) -> str:
    """The libpq form of a ``postgresql+psycopg://`` URL, for the raw-driver baselines."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    query = dict(url.query)
    options = query.pop("options", None)
    dsn = url.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    if options:
        from urllib.parse import quote

        dsn += ("&" if "?" in dsn else "?") + "options=" + quote(str(options))
    return dsn


@contextmanager
def scratch_dir(prefix: str = "rentbuy-bench-") -> Iterator[Path]:
    """A temporary directory removed afterwards, however the benchmark ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


# --- processes ----------------------------------------------------------------------------------


def run_python(code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600.0) -> str:
    """Run ``code`` in a fresh interpreter of this venv from the repository root; return stdout."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def time_command(argv: Sequence[str], repeats: int, env: dict[str, str] | None = None,
                 warmup: int = 1) -> Timing:
    """Wall time of a command, start to exit (output discarded); warm-up runs fill the page cache."""
    def once() -> None:
        subprocess.run(list(argv), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, timeout=300)

    return time_runs(once, repeats, warmup=warmup)


# Measures in the child itself: VmRSS after imports, then VmHWM (peak) after the work. The
# peak is reset after imports (clear_refs 5), so "after" is the work's own peak.
RSS_PRELUDE = """
import json, resource, sys

def _status_kib(field):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None

def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False

def rss_before():
    return _status_kib("VmRSS") if _reset_peak() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def rss_peak():
    return _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
