"""Memory: peak RSS of the AWS offer-file parse and of a large marketplace refresh.

    python -m bench.memory [--aws-mb 300] [--offers 50000] [--repeats 5] [--json-load]

Each measurement runs in a fresh interpreter that imports what it needs, records its RSS (the
baseline: the same process after imports), resets the kernel's high-water mark
(``/proc/self/clear_refs``) and then does the work; the figure is the process's peak RSS
(``VmHWM``) during the work.

* AWS: ``providers.aws.parse`` streaming a generated offer file of ``--aws-mb`` MB (the real
  file's shape, from ``tests/aws_offer_file.py``: products with string attributes, on-demand and
  reserved terms; two GPU rows among non-GPU fillers). Target: peak under 200 MB.
  ``--json-load`` also measures ``json.load`` of the same file, for scale (needs several GB).
* Refresh: ``jobs.refresh.refresh_source`` of the Vast source against a loopback stand-in that
  serves one ``--offers``-offer search response (fetch, gzip archive, parse, bounds, one
  transaction into SQLite), the whole path ``rentbuy refresh`` takes.

Generated files live in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RSS_PRELUDE, Report, machine_line, run_python, scratch_dir

# ----------------------------------------------------------------------------- AWS offer file


def write_aws_offer_file(path: Path, megabytes: float) -> int:
    """An offer file of about ``megabytes`` MB: two GPU rows, then non-GPU fillers (a quarter with
    reserved terms, as in the real file). Returns its size in bytes."""
    from tests.aws_offer_file import product, reserved, write_offer_file

    def rows(count: int) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        yield "GPUP5", product("GPUP5", "p5.48xlarge"), "55.0400000000"
        yield "GPUG6E", product("GPUG6E", "g6e.12xlarge", gpus="4"), "10.4926400000"
        for index in range(count):
            sku = f"FILL{index:08d}"
            yield sku, product(sku, "m7i.large", gpus="0", os="Linux" if index % 3 else "Windows"), "0.1008000000"

    def write(count: int) -> int:
        terms = {f"FILL{i:08d}": reserved(f"FILL{i:08d}", "400", "0.0630000000") for i in range(0, count, 4)}
        with path.open("w", encoding="utf-8") as handle:
            write_offer_file(handle, rows(count), terms)
        return path.stat().st_size

    sample = 2000
    per_product = write(sample) / sample
    return write(max(1, int(megabytes * 1e6 / per_product)))


AWS_CHILD = RSS_PRELUDE + """
from datetime import UTC, datetime
from providers import aws
before = rss_before()
with open(sys.argv[1], "rb") as handle:
    if sys.argv[2] == "stream":
        count = len(aws.parse(handle, datetime(2026, 6, 1, tzinfo=UTC)))
    else:
        count = len(json.load(handle)["products"])
print(json.dumps({"before_kib": before, "peak_kib": rss_peak(), "count": count}))
"""

# ----------------------------------------------------------------------------- refresh


def vast_payload(offers: int) -> dict[str, Any]:
    """A Vast search response in the real shape (see tests/test_refresh.py), a mix of GPUs, half bid on."""
    names = (("RTX 4090", 24564.0, 0.35), ("RTX 3090", 24576.0, 0.2), ("RTX 5090", 32607.0, 0.6),
             ("H100 SXM", 81559.0, 2.2), ("A100 SXM4", 81920.0, 1.2), ("L40S", 46068.0, 0.8))
    out = []
    for i in range(offers):
        name, ram, base = names[i % len(names)]
        gpus = (1, 1, 2, 4, 8)[i % 5]
        dph = round(base * gpus * (0.8 + (i * 37 % 41) / 100.0), 4)
        out.append({"id": 100000 + i, "ask_contract_id": 100000 + i, "machine_id": 9000 + i, "host_id": 77 + i % 500,
                    "gpu_name": name, "num_gpus": gpus, "gpu_ram": ram, "dph_base": dph - 0.01, "dph_total": dph,
                    "min_bid": round(dph * 0.6, 4) if i % 2 else None, "reliability2": 0.995,
                    "verification": "verified", "geolocation": "Texas, US", "hosting_type": 1, "rentable": True,
                    "rented": False, "cpu_name": "AMD EPYC 7763", "cpu_cores_effective": 32, "cpu_ram": 257000,
                    "disk_space": 1500.0, "inet_down": 1200.0, "inet_up": 900.0, "cuda_max_good": 12.4})
    return {"offers": out}


REFRESH_CHILD = RSS_PRELUDE + """
from datetime import UTC, datetime
from types import SimpleNamespace
from config.settings import get_settings
from jobs.refresh import observation_time, refresh_source
from providers import vast
from providers.http import make_session
from store.db import make_engine, upgrade
settings = get_settings()
engine = make_engine(settings.effective_database_url)
upgrade(engine)
source = SimpleNamespace(name=vast.NAME, kind="rental", needs_key=False, fetch=vast.fetch, parse=vast.parse)
before = rss_before()
result = refresh_source(engine, source, settings, observation_time(datetime.now(UTC), 60), http_session=make_session())
print(json.dumps({"before_kib": before, "peak_kib": rss_peak(), "count": result.rows_written,
                  "status": result.status, "error": result.error}))
"""


@dataclass(frozen=True)
class PeakRss:
    label: str
    size: str
    before_mib: tuple[float, ...]
    peak_mib: tuple[float, ...]
    count: int

    @property
    def before(self) -> float:
        return statistics.median(self.before_mib)

    @property
    def peak(self) -> float:
        return statistics.median(self.peak_mib)


def _measure(label: str, size: str, code: str, args: Sequence[str], repeats: int,
             env: dict[str, str] | None = None) -> PeakRss:
    before, peak, count = [], [], 0
    for _ in range(repeats):
        out = json.loads(run_python(code, *args, env=env).strip().splitlines()[-1])
        if out.get("status", "ok") != "ok":
            raise RuntimeError(f"{label}: {out.get('error')}")
        before.append(out["before_kib"] / 1024)
        peak.append(out["peak_kib"] / 1024)
        count = out["count"]
    return PeakRss(label, size, tuple(before), tuple(peak), count)


def bench_aws(megabytes: float, repeats: int, workdir: Path, json_load: bool = False) -> list[PeakRss]:
    path = workdir / "index.json"
    size = write_aws_offer_file(path, megabytes)
    try:
        results = [_measure("AWS offer file, streamed parse", f"{size / 1e6:.0f} MB", AWS_CHILD,
                            [str(path), "stream"], repeats)]
        if json_load:
            results.append(_measure("AWS offer file, json.load", f"{size / 1e6:.0f} MB", AWS_CHILD,
                                    [str(path), "json-load"], 1))
        return results
    finally:
        path.unlink(missing_ok=True)


def bench_refresh(offers: int, repeats: int, workdir: Path) -> PeakRss:
    from tests.standin import StandIn, json_route

    payload = vast_payload(offers)
    with StandIn({("POST", "/api/v0/bundles/"): json_route(payload)}) as server:
        size = f"{offers:,} offers, {len(json.dumps(payload)) / 1e6:.0f} MB JSON"
        results = []
        for attempt in range(repeats):
            data = workdir / f"refresh-{attempt}"
            env = {key: value for key, value in os.environ.items() if not key.startswith("RENTBUY_")}
            env.update({"RENTBUY_DATA_DIR": str(data), "RENTBUY_DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}",
                        "RENTBUY_PROVIDERS__VAST__BASE_URL": server.base_url})
            results.append(_measure("Vast refresh into SQLite", size, REFRESH_CHILD, [], 1, env=env))
    return PeakRss(results[0].label, size, tuple(r.before_mib[0] for r in results),
                   tuple(r.peak_mib[0] for r in results), results[0].count)


def run(aws_mb: float = 300.0, offers: int = 50_000, repeats: int = 5, json_load: bool = False,
        workdir: Path | None = None) -> list[PeakRss]:
    if aws_mb <= 0 or offers < 1 or repeats < 1:
        raise ValueError("sizes and repeats must be positive.")
    if workdir is None:
        with scratch_dir() as scratch:
            return run(aws_mb, offers, repeats, json_load, scratch)
    return [*bench_aws(aws_mb, repeats, workdir, json_load), bench_refresh(offers, repeats, workdir)]


def report(results: Sequence[PeakRss]) -> Report:
    out = Report(f"Peak RSS (median of {len(results[0].peak_mib)} fresh processes)" if results else "Peak RSS")
    for r in results:
        aws_stream = "streamed" in r.label
        out.add(f"{r.label} ({r.size})", r.peak, "MiB", "same process after imports", r.before,
                target="< 200 MB" if aws_stream else "", met=(r.peak * 2**20 < 200e6) if aws_stream else None,
                note=f"{r.peak - r.before:+.1f} MiB for the work; {r.count:,} "
                     f"{'quotes' if aws_stream else 'rows' if 'refresh' in r.label else 'products'}")
    out.notes.append(machine_line())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--aws-mb", type=float, default=300.0, help="size of the generated offer file (default 300)")
    parser.add_argument("--offers", type=int, default=50_000, help="offers in the Vast payload (default 50,000)")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per figure (median reported)")
    parser.add_argument("--json-load", action="store_true", help="also measure json.load of the offer file")
    args = parser.parse_args(argv)
    print(report(run(args.aws_mb, args.offers, args.repeats, args.json_load)).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
