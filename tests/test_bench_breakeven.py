"""The break-even benchmark runs at a small size and computes its comparison."""

from __future__ import annotations

import pytest

from bench.breakeven import main, run


def test_benchmark_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(size=2000, loop_sample=10, seed=1, repeats=1)
    assert result.size == 2000 and result.loop_sample == 10
    assert result.vector_seconds > 0 and result.library_loop_seconds_per_scenario > 0
    assert result.lean_loop_seconds_per_scenario > 0
    assert result.statuses_agree and result.max_abs_difference_hours < 1e-8
    assert main(["--size", "500", "--loop-sample", "5"]) == 0
    out = capsys.readouterr().out
    assert "vectorised closed form" in out and "x slower" in out and "identical" in out
