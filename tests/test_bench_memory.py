"""The memory benchmark measures peak RSS of a streamed AWS parse and of a Vast refresh, in fresh
processes, each next to the same process's RSS after imports."""

from __future__ import annotations

from pathlib import Path

from bench.memory import report, run, vast_payload, write_aws_offer_file


def test_generated_offer_file_has_about_the_asked_size(tmp_path: Path) -> None:
    size = write_aws_offer_file(tmp_path / "index.json", 3.0)
    assert 2.5e6 < size < 3.5e6


def test_memory_benchmark_smoke(tmp_path: Path) -> None:
    aws, refresh = run(aws_mb=2.0, offers=300, repeats=1, workdir=tmp_path)
    assert aws.count == 2 and aws.peak > 0 and aws.before > 0
    assert refresh.count == len(vast_payload(300)["offers"]) * 3 // 2  # half are bid on: a spot quote too
    assert refresh.peak >= refresh.before > 0
    assert not list(tmp_path.glob("*.json"))  # the generated file is gone
    assert "same process after imports" in report([aws, refresh]).render()
