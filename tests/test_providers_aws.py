"""AWS bulk offer file: streamed parse, exact quotes, broken files, and flat memory.

The memory test generates a multi-megabyte offer file in the real shape and parses it in a
fresh interpreter, comparing peak RSS before and after: ``json.load`` of such a file needs
several times its size, the streamed parse needs about one read chunk plus the GPU rows.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_offer_file import product, reserved, write_offer_file
from providers_helpers import OBSERVED, fixture_path

from bench.common import RSS_PRELUDE
from providers import aws
from providers._jsonstream import JsonStream, JsonStreamError
from providers.base import ProviderError

EXPECTED = [
    ("us-east-1/p5.48xlarge", "h100-sxm", 8, 6.88, "on-demand"),  # "55.0400000000" / 8
    ("us-east-1/p4d.24xlarge", "a100-sxm-40gb", 8, 2.7447, "on-demand"),
    ("us-east-1/p4de.24xlarge", "a100-sxm-80gb", 8, 3.430875, "on-demand"),
    ("us-east-1/g6e.12xlarge", "l40s", 4, 2.62316, "on-demand"),
    ("us-east-1/g6e.xlarge", "l40s", 1, 1.861, "on-demand"),
    ("us-east-1/p5en.48xlarge", "h200", 8, 7.912, "on-demand"),
    ("us-east-1/p5.4xlarge", "h100-sxm", 1, 6.88, "on-demand"),
    # skipped: Windows, Dedicated, capacity reservation, m7i (no GPU), SQL Web, $0, g5 (not in the
    # map), a product without OnDemand terms; Reserved terms never read as on-demand
]


def rows(quotes: list[Any]) -> list[tuple[Any, ...]]:
    return [(q.offer_key, q.gpu, q.gpu_count, round(q.usd_per_gpu_hour, 6), q.pricing) for q in quotes]


@pytest.mark.parametrize("kind", ["binary-file", "bytes", "text", "path", "dict"])
def test_offer_excerpt_parses_to_exact_quotes(kind: str) -> None:
    path = fixture_path("aws", "offer_excerpt.json")
    payload: Any = {
        "binary-file": lambda: path.open("rb"),
        "bytes": path.read_bytes,
        "text": path.read_text,
        "path": lambda: path,
        "dict": lambda: json.loads(path.read_text()),
    }[kind]()
    quotes = aws.parse(payload, OBSERVED)
    assert rows(quotes) == EXPECTED
    assert quotes[0].original_amount == 55.04 and quotes[0].region == "us-east-1"
    assert quotes[0].attributes["sku"] == "8WCKUU4MB2Z3FKAE"


def test_terms_before_products_still_pair_up() -> None:
    offer = json.loads(fixture_path("aws", "offer_excerpt.json").read_text())
    reordered = {"terms": offer["terms"], "formatVersion": "v1.0", "products": offer["products"]}
    assert rows(aws.parse(json.dumps(reordered), OBSERVED)) == EXPECTED


def test_truncated_offer_file_is_an_error_with_nothing_returned() -> None:
    data = fixture_path("aws", "offer_excerpt.json").read_bytes()
    with pytest.raises(ProviderError, match=r"aws: the offer file is not valid JSON: .*truncated"):
        aws.parse(io.BytesIO(data[: len(data) * 2 // 3]), OBSERVED)


def test_offer_file_without_terms_is_drift() -> None:
    with pytest.raises(ProviderError, match=r"aws: the offer file has no 'terms'"):
        aws.parse(b'{"formatVersion": "v1.0", "products": {}}', OBSERVED)


def test_trailing_garbage_is_an_error() -> None:
    with pytest.raises(ProviderError, match=r"unexpected data after the document"):
        aws.parse(b'{"products": {}, "terms": {}} {"again": 1}', OBSERVED)


def test_stream_walker_agrees_with_json_load_at_any_chunk_size() -> None:
    text = json.dumps({"a": [1, 2.5e3, {"b": "ünïcødé \"q\" \\ end"}], "n": 1234567890123, "t": True, "z": None,
                       "o": {"x": {"y": []}}})
    for chunk in (1, 2, 3, 7, 64):
        stream = JsonStream(io.BytesIO(text.encode()), chunk_size=chunk)
        out = {key: stream.value() for key in stream.members()}
        stream.end()
        assert out == json.loads(text)
    skipping = JsonStream(io.StringIO(text), chunk_size=3)
    assert [key for key in skipping.members() if skipping.skip() is None] == ["a", "n", "t", "z", "o"]


def test_stream_walker_reports_malformed_input() -> None:
    stream = JsonStream(io.StringIO('{"a": 1 "b": 2}'))
    with pytest.raises(JsonStreamError, match=r"expected ',' or '}' at character 8"):
        for _ in stream.members():
            stream.value()


def _gpu_rows() -> Iterator[tuple[str, dict[str, Any], str | None]]:
    yield from [
        ("GPUP5", product("GPUP5", "p5.48xlarge"), "55.0400000000"),
        ("GPUG6E", product("GPUG6E", "g6e.12xlarge", gpus="4"), "10.4926400000"),
    ]


def generate_offer_file(path: Path, filler_products: int) -> int:
    """A file of ``filler_products`` non-GPU instance rows (each with on-demand and reserved
    terms, as in the real file) around two GPU rows; returns its size in bytes."""

    def rows() -> Iterator[tuple[str, dict[str, Any], str | None]]:
        yield from _gpu_rows()
        for index in range(filler_products):
            sku = f"FILL{index:08d}"
            yield sku, product(sku, "m7i.large", gpus="0", os="Linux" if index % 3 else "Windows"), "0.1008000000"

    reserved_terms = {f"FILL{index:08d}": reserved(f"FILL{index:08d}", "400", "0.0630000000")
                      for index in range(0, filler_products, 4)}
    with path.open("w", encoding="utf-8") as handle:
        write_offer_file(handle, rows(), reserved_terms)
    return path.stat().st_size


# The same in-process measurement as bench/memory.py (VmRSS after imports, then the work's peak).
PEAK_RSS_SCRIPT = RSS_PRELUDE + textwrap.dedent("""
    from datetime import UTC, datetime
    from providers import aws

    before = rss_before()
    if sys.argv[2] == "stream":
        with open(sys.argv[1], "rb") as handle:
            count = len(aws.parse(handle, datetime(2026, 6, 1, tzinfo=UTC)))
    else:
        with open(sys.argv[1], "rb") as handle:
            count = len(json.load(handle)["products"])
    print(json.dumps({"before_kib": before, "after_kib": rss_peak(), "count": count}))
""")


def _peak_rss(path: Path, mode: str) -> dict[str, int]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, str(path), mode], cwd=root,
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


def test_streamed_parse_keeps_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    size = generate_offer_file(path, filler_products=15_000)
    assert size > 25_000_000  # multi-megabyte, like a (small) real regional file
    streamed = _peak_rss(path, "stream")
    growth_mib = (streamed["after_kib"] - streamed["before_kib"]) / 1024
    assert streamed["count"] == 2
    # json.load of the same file, for scale: it needs several times the file's size
    loaded = _peak_rss(path, "json-load")
    load_growth_mib = (loaded["after_kib"] - loaded["before_kib"]) / 1024
    print(f"\nAWS offer file {size / 1e6:.1f} MB: streamed parse peak RSS {streamed['after_kib'] / 1024:.1f} MiB "
          f"(+{growth_mib:.1f} MiB over {streamed['before_kib'] / 1024:.1f} MiB after imports); "
          f"json.load peak {loaded['after_kib'] / 1024:.1f} MiB (+{load_growth_mib:.1f} MiB)")
    assert growth_mib < 16, growth_mib
    assert load_growth_mib > 4 * growth_mib
