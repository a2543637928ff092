"""The report in every format from the bundled data: same numbers, self-contained HTML, real PNGs."""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

from rentbuy.cli import main
from rentbuy.reporting import build_report
from reports.document import FORMATS, render


@pytest.fixture
def report(use_database: str) -> Any:
    from store.db import make_engine, upgrade

    upgrade(make_engine(use_database))
    return build_report()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_format_renders_the_standard_workloads(report: Any) -> None:
    assert [w.key for w in report.workloads] == ["qlora-8b", "lora-13b", "full-8b", "qlora-70b"]
    for fmt in FORMATS:
        text = render(report, fmt)
        assert len(text) > 500, fmt
    table = render(report, "table")
    assert "WARNING: the newest rental price is from" in table  # only the bundled snapshot is loaded
    for item in report.workloads:
        assert item.plan.recommendation in table


def test_json_and_csv_carry_the_same_numbers_as_the_plans(report: Any) -> None:
    data = json.loads(render(report, "json"))
    for item, section in zip(report.workloads, data["workloads"], strict=True):
        assert section["recommendation"] == item.plan.recommendation
        totals = {o["option"]: o["total_cost_usd"] for o in section["options"]}
        for _, row in item.plan.table.iterrows():
            if row["feasible"]:
                assert totals[row["option"]] == pytest.approx(row["total_cost_usd"])
    csv_lines = render(report, "csv").splitlines()
    assert csv_lines[0].startswith("workload,option,kind,gpu,count")
    assert len(csv_lines) - 1 == sum(len(w.plan.table) for w in report.workloads)


def test_html_is_one_file_with_inline_charts(report: Any) -> None:
    page = render(report, "html")
    assert not re.search(r"""<(link|script)\b|src=['"]https?:|url\(""", page)
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) >= 3  # cumulative cost, cost vs utilization and tornado of a feasible owned option
    for encoded in images:
        assert png_size(base64.b64decode(encoded)) == (700, 360)
    assert "color:#8c959f" in page  # infeasible rows are shown muted, with their reason, not hidden


def test_report_command_writes_each_format(report: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("markdown", "csv"):
        out = tmp_path / f"report.{fmt}"
        assert main(["report", "--format", fmt, "--output", str(out)]) == 0
        assert out.stat().st_size > 500
    assert main(["report", "--workload", str(tmp_path / "missing.toml")]) == 2
    assert "Cannot read the workload file" in capsys.readouterr().err


def test_custom_workload_file(report: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ours.toml"
    path.write_text('[tiny]\ntitle = "TinyLlama LoRA"\n[[tiny.classes]]\nmodel = "tinyllama-1.1b"\n'
                    'method = "lora"\ntokens_per_run = 1e7\nruns_per_month = 10\n', encoding="utf-8")
    assert main(["report", "--workload", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [w["key"] for w in data["workloads"]] == ["tiny"]
    path.write_text('[bad]\n[[bad.classes]]\nmodel = "tinyllama-1.1b"\ntokens_per_run = 1e7\n'
                    'runs_per_month = 1\nwarp_drive = true\n', encoding="utf-8")
    assert main(["report", "--workload", str(path)]) == 2
    assert "unknown fields warp_drive" in capsys.readouterr().err


def test_break_even_matrix_separates_hours_from_no_payback() -> None:
    import math

    import pandas as pd

    from reports.document import break_even_matrix

    pairs = pd.DataFrame([
        {"own": "own 1x rtx-4090", "rent": "rent 1x h100-sxm", "break_even_hours_per_day": 2.1,
         "payback_months": math.inf},
        {"own": "own 1x rtx-4090", "rent": "rent 1x rtx-4090", "break_even_hours_per_day": 5.0,
         "payback_months": 14.2},
        {"own": "own 1x rtx-4090", "rent": "rent 1x rtx-3090", "break_even_hours_per_day": math.inf,
         "payback_months": math.inf},
    ])
    rows, columns = break_even_matrix(pairs)
    assert columns == ["own \\ rent", "rent 1x h100-sxm", "rent 1x rtx-4090", "rent 1x rtx-3090"]
    assert rows[0]["rent 1x h100-sxm"] == "2.1 h/day, no payback"
    assert rows[0]["rent 1x rtx-4090"] == "5.0 h/day, 14 mo"
    assert rows[0]["rent 1x rtx-3090"] == "never, no payback"


@pytest.mark.parametrize(("body", "names"), [
    ('[w]\n[[w.classes]]\nmodel = "tinyllama-1.1b"\ntokens_per_run = "lots"\nruns_per_month = 1\n',
     ("[w] class 1: tokens_per_run must be a number", "'lots'")),
    ('[w]\nclasses = [1]\n', ("[w] classes must be [[w.classes]] tables", "[1]")),
    ('[w]\nclasses = "x"\n', ("[w] classes must be [[w.classes]] tables",)),
    ('[w]\n[[w.classes]]\nmodel = "tinyllama-1.1b"\ntokens_per_run = 1e7\nruns_per_month = true\n',
     ("[w] class 1: runs_per_month must be a number",)),
    ('[w]\n[[w.classes]]\nmodel = "tinyllama-1.1b"\ntokens_per_run = inf\nruns_per_month = 1\n',
     ("[w] class 1: tokens_per_run must be a positive, finite number",)),
    ('[w]\n[[w.classes]]\nmodel = "tinyllama-1.1b"\nseq_len = "long"\ntokens_per_run = 1e7\nruns_per_month = 1\n',
     ("[w] class 1: seq_len",)),
])
def test_bad_workload_files_name_the_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
                                                    names: tuple[str, ...]) -> None:
    path = tmp_path / "ours.toml"
    path.write_text(body, encoding="utf-8")
    assert main(["report", "--workload", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rentbuy: {path}: ") and err.count("\n") == 1 and "unexpected" not in err
    for name in names:
        assert name in err


def test_report_with_fitted_depreciation_prices_cards_without_a_history(use_database: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from config.settings import get_settings
    from store.db import make_engine, upgrade

    upgrade(make_engine(use_database))
    monkeypatch.setenv("RENTBUY_ECONOMICS__DEPRECIATION", "fitted")
    get_settings.cache_clear()
    workload = tmp_path / "one.toml"
    workload.write_text('[tiny]\n[[tiny.classes]]\nmodel = "tinyllama-1.1b"\nmethod = "lora"\n'
                        'tokens_per_run = 1e7\nruns_per_month = 10\n', encoding="utf-8")
    assert main(["report", "--workload", str(workload), "--format", "json"]) == 0
    section = json.loads(capsys.readouterr().out)["workloads"][0]
    rtx_5090 = next(o for o in section["options"] if o["option"] == "own 1x rtx-5090")
    assert rtx_5090["feasible"] and rtx_5090["total_cost_usd"] > 0
    notes = {a["name"]: a for a in section["assumptions"]}
    assert notes["depreciation rtx-5090"]["value"] == "straight-line"
    assert "no used-price history" in notes["depreciation rtx-5090"]["source"]
    assert "fitted resale curve rtx-4090" in notes
