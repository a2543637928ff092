"""Throughput against published tokens/s (tests/data/throughput_published.csv) and the relative
speed of GPU pairs, which is what the break-even numbers actually consume.

``fit`` rows (torchtune on an RTX 4090 and 8x A100, Soup on an H100, MosaicML's same MPT jobs on
8x A100 and 8x H100) chose MATMUL_UTILISATION, FRAMEWORK_EFFICIENCY, GENERATION_EFFICIENCY and
ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN in optimizer/calibration.py; the ``holdout`` sources
(torchtune's single-A100 table; Answer.AI's same Llama-2 jobs on 2x RTX 3090 / 2x RTX 4090 and
Llama-2 70B QLoRA on A100 40GB, H100 and RTX 6000 Ada) never did.
Run directly to print the table used in docs/accuracy.md, or with ``--fit`` to redo the search.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import published_rows  # noqa: E402
from published_rows import job_from_row  # noqa: E402

from optimizer.memory import FineTune  # noqa: E402
from optimizer.throughput import relative_speed, tokens_per_second  # noqa: E402

DATA = ROOT / "tests" / "data" / "throughput_published.csv"


def load_rows() -> list[dict[str, str]]:
    return published_rows.load_rows(DATA)


def errors(rows: list[dict[str, str]]) -> list[tuple[str, str, float, float]]:
    """(row id, split, predicted, measured) for each row."""
    return [(r["row_id"], r["split"], tokens_per_second(job_from_row(r), r["gpu"]), float(r["tokens_per_s"]))
            for r in rows]


ROWS = load_rows()

#: A 7-8B LoRA job as people run it on one card: bf16, checkpointing on, batch 2 x 2048.
LORA_8B = FineTune(model="llama-3.1-8b", method="lora", micro_batch_size=2, seq_len=2048,
                   gradient_checkpointing=True)


def test_rows_carry_source_and_url() -> None:
    assert ROWS
    for row in ROWS:
        assert row["url"].startswith("https://") and row["source_date"], row["row_id"]
        assert row["split"] in ("fit", "holdout"), row["row_id"]
        assert float(row["tokens_per_s"]) > 0


@pytest.mark.parametrize("row_id", [r["row_id"] for r in ROWS if r["split"] == "fit"])
def test_each_fit_row_within_a_factor(row_id: str) -> None:
    row = next(r for r in ROWS if r["row_id"] == row_id)
    predicted = tokens_per_second(job_from_row(row), row["gpu"])
    measured = float(row["tokens_per_s"])
    # Throughput of one configuration is a weaker promise than memory: compile, kernels and data
    # loading move it. Every fit row must land within a factor of 1.75 either way, except the one
    # with FSDP CPU offload (torchtune 70B full): its optimizer step runs on the host, which the
    # model does not time, so it is over-predicted (measured +82 %); its bound records that.
    factor = 1.9 if row["offload"] else 1.75
    assert 1 / factor <= predicted / measured <= factor, f"{row_id}: {predicted:.0f} vs {measured:.0f} tokens/s"


def _source_errors(source_id: str) -> list[float]:
    ids = {r["row_id"] for r in ROWS if r["source_id"] == source_id}
    return [p / m - 1 for row_id, _, p, m in errors(ROWS) if row_id in ids]


def test_median_errors_fit_and_holdout() -> None:
    # Measured: fit 7 %, held-out 18 % (docs/accuracy.md); the bounds keep a small margin.
    for split, bound in (("fit", 0.10), ("holdout", 0.22)):
        errs = [abs(p / m - 1) for _, s, p, m in errors(ROWS) if s == split]
        assert statistics.median(errs) <= bound, (split, errs)


def test_held_out_a100_rows_are_no_longer_under_predicted_by_half() -> None:
    # torchtune's single-A100 table: first-sight signed median -47 %, now +5 % (median abs 6 %).
    errs = _source_errors("torchtune-flags")
    assert abs(statistics.median(errs)) <= 0.10, errs
    assert statistics.median(abs(e) for e in errs) <= 0.10, errs


def test_held_out_answerai_rows_stay_at_the_reported_figures() -> None:
    # Answer.AI (Transformers + PEFT, pure bf16): under-predicted, median -36 % (first sight -29 %:
    # the framework factor fitted on one Soup H100 source makes Transformers look slower than this
    # source measured). Recorded, not hidden; docs/accuracy.md.
    errs = _source_errors("answerai-fsdp-qlora")
    assert statistics.median(abs(e) for e in errs) <= 0.40, errs
    assert max(abs(e) for e in errs) <= 0.50, errs


def test_a100_vs_h100_matches_mosaicml_same_job_pairs() -> None:
    # MosaicML's same MPT jobs: H100 / A100 80GB tokens/s between 2.12x and 2.34x (fit rows).
    rows = {r["row_id"]: r for r in ROWS if r["source_id"] == "mosaicml-foundry"}
    ids = sorted(rows)
    for h100_id, a100_id in zip(ids[0::2], ids[1::2], strict=True):
        h100, a100 = rows[h100_id], rows[a100_id]
        measured = float(h100["tokens_per_s"]) / float(a100["tokens_per_s"])
        predicted = (tokens_per_second(job_from_row(h100), h100["gpu"])
                     / tokens_per_second(job_from_row(a100), a100["gpu"]))
        assert abs(predicted / measured - 1) <= 0.25, (h100_id, predicted, measured)


def test_4090_vs_3090_matches_answerai_same_job_ddp_rows() -> None:
    # Held-out: the same Llama-2 7B LoRA job (DDP, bs 4 x 2048) ran 2.02x faster on 2x 4090 than on
    # 2x 3090 (power-limited to 280 W), QLoRA 1.94x.
    rows = {r["row_id"]: r for r in ROWS}
    for fast, slow in (("answerai-fsdp-qlora-01", "answerai-fsdp-qlora-03"),
                       ("answerai-fsdp-qlora-02", "answerai-fsdp-qlora-04")):
        measured = float(rows[fast]["tokens_per_s"]) / float(rows[slow]["tokens_per_s"])
        predicted = (tokens_per_second(job_from_row(rows[fast]), "rtx-4090")
                     / tokens_per_second(job_from_row(rows[slow]), "rtx-3090"))
        assert abs(predicted / measured - 1) <= 0.25, (fast, predicted, measured)


def test_h100_vs_4090_lora_lands_near_the_measured_three_times() -> None:
    # Measured anchors: H100 9,621 tok/s (Soup #78) vs RTX 4090 3,083 tok/s (torchtune) for
    # Llama-3.1-8B LoRA, about 3.1x; peak TFLOPS alone would say 6x.
    ratio = relative_speed(LORA_8B, "h100-sxm", "rtx-4090")
    assert 2.5 <= ratio <= 4.0, ratio


def test_4090_vs_3090_lora() -> None:
    ratio = relative_speed(LORA_8B, "rtx-4090", "rtx-3090")
    assert 1.6 <= ratio <= 2.4, ratio


def test_relative_speed_is_consistent_across_batch_sizes() -> None:
    for batch in (1, 4, 8):
        ratio = relative_speed(LORA_8B.replace(micro_batch_size=batch), "h100-sxm", "rtx-4090")
        assert 2.0 <= ratio <= 4.5, (batch, ratio)


# -- report and fit ----------------------------------------------------------------------------------

FIT_GRID: dict[str, tuple[float, ...]] = {
    "consumer": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "datacenter": (0.6, 0.7, 0.8, 0.9, 1.0),
    "hopper": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "torchtune": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "hf-peft": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN": (150.0, 300.0, 450.0, 600.0, 800.0),
}


def fit_objective(rows: list[tuple[str, str, float, float]], source_of: dict[str, str]) -> float:
    """Mean over sources of each source's median absolute log error, so that a source with many
    rows (MosaicML's table) does not outvote the others."""
    import math

    by_source: dict[str, list[float]] = {}
    for row_id, _, predicted, measured in rows:
        by_source.setdefault(source_of[row_id], []).append(abs(math.log(predicted / measured)))
    return statistics.fmean(statistics.median(v) for v in by_source.values())


def fit_constants() -> dict[str, float]:
    """Grid search on the fit rows only (never the held-out ones)."""
    import itertools

    from optimizer import calibration

    fit_rows = [r for r in ROWS if r["split"] == "fit"]
    source_of = {r["row_id"]: r["source_id"] for r in fit_rows}
    saved = (dict(calibration.MATMUL_UTILISATION), dict(calibration.FRAMEWORK_EFFICIENCY),
             dict(calibration.GENERATION_EFFICIENCY), calibration.ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN)
    hopper_cards = list(calibration.GENERATION_EFFICIENCY)
    best: tuple[float, dict[str, float]] = (float("inf"), {})
    try:
        for consumer, datacenter, hopper, torchtune, hf, elem in itertools.product(*FIT_GRID.values()):
            calibration.MATMUL_UTILISATION.update({"consumer": consumer, "workstation": datacenter,
                                                   "datacenter-pcie": datacenter, "datacenter-sxm": datacenter})
            calibration.FRAMEWORK_EFFICIENCY.update({"torchtune": torchtune, "hf-peft": hf})
            calibration.GENERATION_EFFICIENCY.update(dict.fromkeys(hopper_cards, hopper))
            calibration.ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN = elem
            objective = fit_objective(errors(fit_rows), source_of)
            if objective < best[0]:
                best = (objective, {"consumer": consumer, "datacenter": datacenter, "hopper": hopper,
                                    "torchtune": torchtune, "hf-peft": hf, "elementwise": elem})
    finally:
        calibration.MATMUL_UTILISATION.update(saved[0])
        calibration.FRAMEWORK_EFFICIENCY.update(saved[1])
        calibration.GENERATION_EFFICIENCY.update(saved[2])
        calibration.ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN = saved[3]
    return best[1]


def markdown_report() -> str:
    lines = ["| row | split | GPU | measured tok/s | predicted tok/s | error |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for (row_id, split, predicted, measured), row in zip(errors(ROWS), ROWS, strict=True):
        lines.append(f"| {row_id} | {split} | {row['num_gpus']}x {row['gpu']} | {measured:,.0f} | "
                     f"{predicted:,.0f} | {predicted / measured - 1:+.0%} |")
    for split in ("fit", "holdout"):
        errs = [abs(p / m - 1) for _, s, p, m in errors(ROWS) if s == split]
        lines.append(f"| **{split}: median / worst abs error** | | | | | {statistics.median(errs):.0%} / "
                     f"{max(errs):.0%} |")
    lines.append("")
    lines.append(f"H100 SXM vs RTX 4090, Llama-3.1-8B LoRA (bs 2 x 2048, checkpointing): "
                 f"{relative_speed(LORA_8B, 'h100-sxm', 'rtx-4090'):.2f}x; "
                 f"RTX 4090 vs RTX 3090: {relative_speed(LORA_8B, 'rtx-4090', 'rtx-3090'):.2f}x; "
                 f"H100 SXM vs A100 80GB SXM: {relative_speed(LORA_8B, 'h100-sxm', 'a100-sxm-80gb'):.2f}x; "
                 f"A100 80GB SXM vs RTX 4090: {relative_speed(LORA_8B, 'a100-sxm-80gb', 'rtx-4090'):.2f}x; "
                 f"RTX 5090 vs RTX 4090: {relative_speed(LORA_8B, 'rtx-5090', 'rtx-4090'):.2f}x.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(fit_constants() if "--fit" in sys.argv else markdown_report())
