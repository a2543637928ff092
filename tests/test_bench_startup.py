"""The start-up benchmark times the CLI in fresh processes next to the interpreter's own start-up."""

from __future__ import annotations

from bench.startup import report, run


def test_startup_benchmark_smoke() -> None:
    result = run(repeats=1, warmup=0)
    assert result.python_pass.median > 0 and result.python_imports.median > 0
    assert result.help.median > 0 and result.report_warm.median > 0 and result.report_first_run.median > 0
    text = report(result).render()
    assert "baseline python -c pass" in text and "import pandas, scipy" in text
