"""The memory estimate against published measurements (tests/data/memory_published.csv).

Rows are split by *source*: the ``fit`` sources were used to choose the fitted constants in
optimizer/calibration.py, the ``holdout`` sources never were. Each published number is compared
with the counter its source used (allocated, reserved, device total, the model weights at init,
or a card's capacity for "longest context that fit" rows), in the source's own unit.

Run this file directly to print the per-source error table used in docs/accuracy.md:
``.venv/bin/python tests/test_memory_published.py``.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

import published_rows  # noqa: E402
from published_rows import job_from_row  # noqa: E402

from optimizer.memory import FineTune, estimate_memory, rule_of_thumb_bytes  # noqa: E402

DATA = ROOT / "tests" / "data" / "memory_published.csv"
UNIT_BYTES = {"GB": 1e9, "GiB": 2.0**30, "MiB": 2.0**20}
REQUIRED_COLUMNS = {"source", "url", "source_date", "split", "unit", "counter", "measured_value"}


def load_rows() -> list[dict[str, str]]:
    return published_rows.load_rows(DATA)


@dataclass(frozen=True)
class Scored:
    row_id: str
    source_id: str
    split: str
    measured_bytes: float
    predicted_bytes: float
    rule_of_thumb_bytes: float

    @property
    def error(self) -> float:
        return (self.predicted_bytes - self.measured_bytes) / self.measured_bytes

    @property
    def rule_error(self) -> float:
        return (self.rule_of_thumb_bytes - self.measured_bytes) / self.measured_bytes


def score(row: dict[str, str]) -> Scored:
    job = job_from_row(row)
    estimate = estimate_memory(job)
    measured = float(row["measured_value"]) * UNIT_BYTES[row["unit"]]
    counter = row["counter"]
    if row["kind"] == "init-weights":
        predicted = float(estimate.components["weights"])
    elif counter == "capacity":
        predicted = float(estimate.per_gpu_bytes)
    else:
        predicted = float(estimate.reported(counter))
    rule = rule_of_thumb_bytes(estimate.total_params / 1e9, job.method) * 1e9
    if job.num_gpus > 1:
        rule /= job.num_gpus  # the kindest reading of the rule for a per-GPU number
    return Scored(row["row_id"], row["source_id"], row["split"], measured, predicted, rule)


def scored_rows() -> list[Scored]:
    return [score(row) for row in load_rows()]


def summarise(rows: Iterable[Scored]) -> dict[str, float]:
    rows = list(rows)
    errors = [abs(r.error) for r in rows]
    rule = [abs(r.rule_error) for r in rows]
    return {
        "rows": len(rows),
        "median_abs_error": statistics.median(errors),
        "worst_abs_error": max(errors),
        "within_30": sum(e <= 0.30 for e in errors) / len(errors),
        "rule_median_abs_error": statistics.median(rule),
        "rule_worst_abs_error": max(rule),
    }


def by_source(rows: list[Scored]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for source in dict.fromkeys(r.source_id for r in rows):
        out[source] = summarise(r for r in rows if r.source_id == source)
    return out


# -- tests ---------------------------------------------------------------------------------------

ROWS = load_rows()
SCORED = [score(row) for row in ROWS]
HOLDOUT = [r for r in SCORED if r.split == "holdout"]
FIT = [r for r in SCORED if r.split == "fit"]

#: Worst absolute error each source's rows must stay within. Set from the measured errors with
#: headroom and a reason; a source whose rows are approximate gets a wider bound.
SOURCE_BOUNDS = {
    "torchtune-flags": 0.40,  # compile and chunked-loss rows move the peak between phases
    "litgpt-hub": 0.35,
    "hf-docs-bert": 0.20,  # eager attention with dropout on a V100, nvidia-smi totals
    "torchtune-llama31": 0.25,
    "torchtune-1398": 0.15,  # weights only: the most exact comparison there is
    # Max-context rows; optimizer and checkpointing of the HF arm not stated. Worst: Unsloth's own arm at
    # 343k tokens, +61 % (conservative: the recomputed layer's working set with Unsloth's kernels is smaller).
    "unsloth-context": 0.65,
    "soup-78": 0.35,  # LoRA targets and counter not stated
    # Added with first-sight scoring (docs/accuracy.md); bounds = measured worst + a small margin.
    "answerai-fsdp-qlora": 0.50,  # worst: QLoRA at batch 10-12 x 2048 over-estimated by 41-46 %
    "torchtune-qlora-tutorial": 0.45,  # worst: the QLoRA row's reserved peak holds init-time cache
    "torchtune-961": 0.15,
    # First sight, worst +338 %: the 2x4090 LoRA row (config leaves checkpointing off) and the 70B LoRA
    # row (+141 %) cannot have run the table's stated sequence length on every sample (docs/accuracy.md).
    "torchtune-955": 3.45,
    # Third sitting's fresh batch, entered blind and scored once (docs/accuracy.md, "Third sitting").
    # First sight -74 %: its FSDP rows accumulate inside no_sync() with blocks as mixed flat parameters;
    # modelled since the fourth sitting (fsdp_no_sync='units'), they sit at -10 % to +5 %.
    "litgpt-resource-tables": 0.20,
    "qwen1-profiling": 0.35,  # all under-estimated; counter and unit not stated by the source
    "peft-fsdp-qlora-docs": 0.10,
    "peft-deepspeed-docs": 0.10,
    "torchtune-1909": 0.10,  # weights at init
    # Fourth sitting: the sealed batch, entered blind and scored once (docs/accuracy.md, "Fourth sitting").
    "msswift-megatron-bench": 0.15,
    "msswift-tuners-bench": 0.50,  # all under-estimated; the three rows differ only in settings the model ignores
    "sarkale-lora-deepdive": 0.25,
    "dschat-step1-opt13b": 0.35,
    "fmsaccel-a100-refs": 0.75,  # worst: 1-GPU accelerated-peft-bnb QLoRA at batch 8 x 4096, +70 %
    "thunder-474": 0.55,  # worst: Llama-2-13B cut to 2 layers, +48 %
    "thunder-940": 0.15,
    "litgpt-hub-v1": 0.15,
    "litgpt-hub-v2-fsdp": 0.40,  # worst: Gemma-2B full fine-tune on 4 GPUs, -34 %
    # Fourth sitting, second round: the fresh batch, entered blind and scored once.
    "thunder-1175": 0.15,
    "thunder-1176": 0.45,  # worst: one ZeRO-2 cell at 8192 tokens, 56.7 GB beside 35-38 GB for its siblings
    "thunder-1621": 0.45,  # +40 %: Llama-2-7B at 4096 on a 48 GB card
    "thunder-1616": 0.40,  # eager rows of the 4-layer cuts over-estimated by 19-35 %
    "thunder-1608": 0.10,
    "thunder-1370": 0.15,
    "thunder-216": 0.35,
    "thunder-2189": 0.10,
    "opt-benchmark-ds": 0.50,  # +46 %: ZeRO-3 with parameter and optimizer offload, DeepSpeed 0.6
    "colossalai-pl-gpt-bench": 0.70,  # worst: GPT2-XL ZeRO-3 at micro-batch 40, +65 %
}


def _check_provenance(row: dict[str, str]) -> None:
    assert set(row) >= REQUIRED_COLUMNS, row["row_id"]
    assert row["url"].startswith("https://"), row["row_id"]
    assert row["source_date"], row["row_id"]
    assert row["unit"] in UNIT_BYTES, row["row_id"]
    assert row["counter"] in ("allocated", "reserved", "device", "capacity"), row["row_id"]
    assert row["split"] in ("fit", "holdout"), row["row_id"]
    assert float(row["measured_value"]) > 0, row["row_id"]


def test_every_row_carries_its_source_and_how_it_was_measured() -> None:
    assert ROWS, "no published rows"
    for row in ROWS:
        _check_provenance(row)


def test_split_is_by_source_and_holds_out_a_third_of_the_sources() -> None:
    split_of: dict[str, set[str]] = {}
    for row in ROWS:
        split_of.setdefault(row["source_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in split_of.values()), "a source straddles fit and holdout"
    held_out = [s for s, splits in split_of.items() if "holdout" in splits]
    assert len(held_out) >= len(split_of) / 3


def test_sources_named_in_bounds_are_exactly_the_sources_in_the_table() -> None:
    assert set(SOURCE_BOUNDS) == {r.source_id for r in SCORED}


@pytest.mark.parametrize("source_id", sorted(SOURCE_BOUNDS))
def test_each_source_within_its_bound(source_id: str) -> None:
    rows = [r for r in SCORED if r.source_id == source_id]
    worst = max(rows, key=lambda r: abs(r.error))
    assert abs(worst.error) <= SOURCE_BOUNDS[source_id], (
        f"{worst.row_id}: predicted {worst.predicted_bytes / 2**30:.2f} GiB vs measured "
        f"{worst.measured_bytes / 2**30:.2f} GiB ({worst.error:+.0%})")


def test_held_out_error_stays_at_the_reported_figures() -> None:
    # The issue asks for a held-out median of at most 15 % and 80 % of rows within +-30 %. All 227
    # held-out rows: 10.8 % and 86.8 % (197 rows). The fourth sitting's sealed batch, scored once at 16.9 %
    # and 79.3 % (65 of 82), missed both; after the second change it stands at 12.2 % and 85.4 % (70 rows),
    # as a development set. The fresh batch that followed, scored once: 6.7 % and 85.7 % (36 of 42).
    # docs/accuracy.md says which rows miss and why. These bounds record the figures so a change cannot
    # make them worse unnoticed.
    summary = summarise(HOLDOUT)
    assert summary["rows"] == 227, summary
    assert summary["median_abs_error"] <= 0.11, summary
    assert summary["within_30"] >= 197 / 227 - 1e-9, summary
    sealed = summarise(r for r in HOLDOUT if r.source_id in SEALED_SOURCES)
    assert sealed["rows"] == 82, sealed
    assert sealed["median_abs_error"] <= 0.13 and sealed["within_30"] >= 70 / 82 - 1e-9, sealed
    fresh = summarise(r for r in HOLDOUT if r.source_id in FRESH_SOURCES)
    assert fresh["rows"] == 42, fresh
    assert fresh["median_abs_error"] <= 0.07 and fresh["within_30"] >= 36 / 42 - 1e-9, fresh


#: The fourth sitting's sealed batch (entered blind in the third and fourth sittings, scored once).
SEALED_SOURCES = frozenset({
    "msswift-megatron-bench", "msswift-tuners-bench", "sarkale-lora-deepdive", "dschat-step1-opt13b",
    "fmsaccel-a100-refs", "thunder-474", "thunder-940", "litgpt-hub-v1", "litgpt-hub-v2-fsdp",
})


#: The fresh batch of the fourth sitting's second round (entered blind, scored once).
FRESH_SOURCES = frozenset({
    "thunder-1175", "thunder-1176", "thunder-1621", "thunder-1616", "thunder-1608", "thunder-1370",
    "thunder-216", "thunder-2189", "opt-benchmark-ds", "colossalai-pl-gpt-bench",
})


#: First-sight scores of the sources added after the model was fitted (scored before any model or
#: constant change; docs/accuracy.md): median abs error, worst abs error, share within +-30 %.
FIRST_SIGHT = {
    "answerai-fsdp-qlora": (0.14, 0.54, 15 / 17),
    "torchtune-qlora-tutorial": (0.03, 0.40, 2 / 3),
    "torchtune-961": (0.09, 0.15, 1.00),
    # Third sitting, model frozen at 1794b8e, scored once after the batch was committed (bac1421).
    "litgpt-resource-tables": (0.128, 0.743, 17 / 27),
    "qwen1-profiling": (0.138, 0.334, 16 / 18),
    "peft-fsdp-qlora-docs": (0.054, 0.065, 1.00),
    "peft-deepspeed-docs": (0.057, 0.079, 1.00),
    "torchtune-1909": (0.055, 0.055, 1.00),
    # Fourth sitting: the sealed batch, model at a963fc2, scored once after its last blind addition (2c77962).
    "msswift-megatron-bench": (0.081, 0.081, 1 / 1),
    "msswift-tuners-bench": (0.398, 0.445, 1 / 3),
    "sarkale-lora-deepdive": (0.208, 0.208, 1 / 1),
    "dschat-step1-opt13b": (0.274, 0.274, 1 / 1),
    "fmsaccel-a100-refs": (0.184, 0.701, 37 / 49),
    "thunder-474": (0.077, 0.477, 14 / 16),
    "thunder-940": (0.066, 0.116, 7 / 7),
    "litgpt-hub-v1": (0.059, 0.091, 2 / 2),
    "litgpt-hub-v2-fsdp": (0.264, 0.336, 1 / 2),
    # Fourth sitting, second round: the fresh batch, model at ba25ec4, scored once after it was committed (b50cc1a).
    "thunder-1175": (0.040, 0.108, 10 / 10),
    "thunder-1176": (0.067, 0.420, 6 / 7),
    "thunder-1621": (0.403, 0.403, 0 / 1),
    "thunder-1616": (0.126, 0.350, 6 / 8),
    "thunder-1608": (0.038, 0.045, 2 / 2),
    "thunder-1370": (0.059, 0.105, 5 / 5),
    "thunder-216": (0.157, 0.287, 3 / 3),
    "thunder-2189": (0.034, 0.034, 2 / 2),
    "opt-benchmark-ds": (0.459, 0.459, 0 / 1),
    "colossalai-pl-gpt-bench": (0.222, 0.646, 2 / 3),
}


#: First-sight sources that a later change made worse, accepted knowingly and documented in
#: docs/accuracy.md: the figures after that change, which later changes must not worsen.
#: Fourth sitting, second round: the loss peak and the recomputed layer's peak are apart in time, and the
#: constants were re-fitted on the fit rows (BACKWARD_WORKING_SET_FACTOR 1.0 -> 1.5, LOGITS_BYTES_STANDARD
#: 10 -> 12). It improved the held-out rows as a whole (157 -> 161 within +-30 %) and these five sources lost.
ACCEPTED_REGRESSIONS = {
    "torchtune-qlora-tutorial": (0.051, 0.431, 2 / 3),
    "qwen1-profiling": (0.156, 0.335, 15 / 18),
    "msswift-megatron-bench": (0.115, 0.115, 1 / 1),
    "msswift-tuners-bench": (0.419, 0.465, 0 / 3),
    "sarkale-lora-deepdive": (0.235, 0.235, 1 / 1),
}


def test_new_sources_did_not_get_worse_than_first_sight() -> None:
    # The later modelling change (checkpointed layer inputs no longer scaled) was informed by the
    # first-sight residuals of the first three; it must not have made any of those sources worse,
    # and no later change may make any first-sight source worse unnoticed: a source it makes worse is
    # listed in ACCEPTED_REGRESSIONS with its new figures and the reason in docs/accuracy.md.
    for source, first in FIRST_SIGHT.items():
        median, worst, within = ACCEPTED_REGRESSIONS.get(source, first)
        s = summarise(r for r in SCORED if r.source_id == source)
        assert s["median_abs_error"] <= median + 0.02, (source, s)
        assert s["worst_abs_error"] <= worst + 0.02, (source, s)
        assert s["within_30"] >= within - 1e-9, (source, s)


#: LLaMA-Factory README "Hardware Requirement" table, marked "* estimated" by its authors: a rule of
#: thumb with no batch, sequence or checkpointing stated, so it is compared, never scored or fitted.
#: (method, precision label, GB for 7B, GB for 70B).
LLAMA_FACTORY_URL = "https://github.com/hiyouga/LLaMA-Factory/blob/main/README.md#hardware-requirement"
LLAMA_FACTORY_TABLE = (
    ("full", "Full (bf16 or fp16), 32-bit states", 120.0, 1200.0),
    ("full-pure", "Full (pure_bf16)", 60.0, 600.0),
    ("lora", "Freeze/LoRA/GaLore/APOLLO/BAdam, 16-bit", 16.0, 160.0),
    ("qlora", "QLoRA 4-bit", 6.0, 48.0),
)


def llama_factory_reference_job(kind: str, model: str) -> FineTune:
    """The job we read each LLaMA-Factory cell as: its defaults (batch 1, cutoff_len 1024 read as
    the sequence, gradient checkpointing on, LoRA rank 8 on all linears, AdamW, one GPU)."""
    base = FineTune(model=model, micro_batch_size=1, seq_len=1024, gradient_checkpointing=True,
                    lora_rank=8, framework="hf-peft")
    if kind == "full":
        return base.replace(method="full", lora_rank=None, precision="bf16-mixed")
    if kind == "full-pure":
        return base.replace(method="full", lora_rank=None, precision="bf16-true")
    if kind == "lora":
        return base.replace(method="lora", precision="bf16-true")
    return base.replace(method="qlora", quantization="nf4-dq", precision="bf16-true")


def rule_of_thumb_report() -> str:
    lines = ["| LLaMA-Factory row (estimated) | 7B table | rentbuy, Llama-2-7B | 70B table | rentbuy, Llama-2-70B |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for kind, label, gb7, gb70 in LLAMA_FACTORY_TABLE:
        est7 = estimate_memory(llama_factory_reference_job(kind, "llama-2-7b")).per_gpu_bytes / 1e9
        est70 = estimate_memory(llama_factory_reference_job(kind, "llama-2-70b")).per_gpu_bytes / 1e9
        lines.append(f"| {label} | {gb7:.0f} GB | {est7:.1f} GB | {gb70:.0f} GB | {est70:.1f} GB |")
    return "\n".join(lines)


def test_llama_factory_rule_of_thumb_is_compared_not_scored() -> None:
    assert all(row["source_id"] != "llama-factory" for row in ROWS)
    report = rule_of_thumb_report()
    assert report.count("\n") == len(LLAMA_FACTORY_TABLE) + 1


def test_rule_of_thumb_misses_by_more_than_half_where_the_estimate_does_not() -> None:
    held = summarise(HOLDOUT)
    assert held["rule_median_abs_error"] > 0.5 or held["rule_worst_abs_error"] > 0.5
    assert held["median_abs_error"] < held["rule_median_abs_error"]


def test_fit_set_error_is_reported_and_not_better_than_it_can_be() -> None:
    # Guard against a silently broken fit: the fitted constants must describe their own rows.
    summary = summarise(FIT)
    assert summary["median_abs_error"] <= 0.15, summary


# -- report ----------------------------------------------------------------------------------------


def markdown_report() -> str:
    scored = scored_rows()
    lines = ["| source | split | rows | median abs error | worst abs error | within ±30% | "
             "16/2/0.5 rule: median | rule: worst |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    split_of = {r.source_id: r.split for r in scored}
    for source, s in by_source(scored).items():
        lines.append(f"| {source} | {split_of[source]} | {s['rows']:.0f} | {s['median_abs_error']:.0%} | "
                     f"{s['worst_abs_error']:.0%} | {s['within_30']:.0%} | {s['rule_median_abs_error']:.0%} | "
                     f"{s['rule_worst_abs_error']:.0%} |")
    for split in ("fit", "holdout"):
        s = summarise(r for r in scored if r.split == split)
        # one decimal on the totals: they are compared with the 15 % and 80 % targets
        lines.append(f"| **all {split} rows** | {split} | {s['rows']:.0f} | {s['median_abs_error']:.1%} | "
                     f"{s['worst_abs_error']:.0%} | {s['within_30']:.1%} | {s['rule_median_abs_error']:.0%} | "
                     f"{s['rule_worst_abs_error']:.0%} |")
    return "\n".join(lines)


def row_report() -> str:
    lines = ["| row | split | measured | predicted | error | rule of thumb |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in scored_rows():
        lines.append(f"| {r.row_id} | {r.split} | {r.measured_bytes / 2**30:.2f} GiB | "
                     f"{r.predicted_bytes / 2**30:.2f} GiB | {r.error:+.0%} | {r.rule_error:+.0%} |")
    return "\n".join(lines)


#: The grid the FITTED constants of optimizer/calibration.py were chosen from (fit rows only).
FIT_GRID: dict[str, tuple[float, ...]] = {
    "ACTIVATION_SCALE": (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5),
    "BACKWARD_WORKING_SET_FACTOR": (0.0, 0.5, 1.0, 1.5, 2.0, 2.5),
    "LOGITS_BYTES_STANDARD": (8.0, 10.0, 12.0, 14.0, 16.0),
    "LOGITS_BYTES_CHUNKED": (2.0, 3.0, 4.0, 6.0),  # 2: the 16-bit chunks alone; no lower
    "FRAGMENTATION_FRACTION": (0.0, 0.03, 0.06, 0.09, 0.12),
}


def fit_objective(rows: list[Scored]) -> float:
    """Median absolute error plus half the mean: the median alone would ignore a few rows that
    are far off, the mean alone would let one odd row drive every constant."""
    errors = [abs(r.error) for r in rows]
    return statistics.median(errors) + 0.5 * statistics.fmean(errors)


def fit_constants() -> dict[str, float]:
    """Grid search over FIT_GRID on the ``fit`` rows only (never the held-out ones)."""
    import itertools

    from optimizer import calibration

    fit_rows = [row for row in load_rows() if row["split"] == "fit"]
    saved = {name: getattr(calibration, name) for name in FIT_GRID}
    best: tuple[float, dict[str, float]] = (float("inf"), {})
    try:
        for values in itertools.product(*FIT_GRID.values()):
            for name, value in zip(FIT_GRID, values, strict=True):
                setattr(calibration, name, value)
            objective = fit_objective([score(row) for row in fit_rows])
            if objective < best[0]:
                best = (objective, dict(zip(FIT_GRID, values, strict=True)))
    finally:
        for name, value in saved.items():
            setattr(calibration, name, value)
    return best[1]


if __name__ == "__main__":
    if "--fit" in sys.argv:
        print(fit_constants())
    else:
        print(markdown_report())
        print()
        print(row_report())
        print()
        print(rule_of_thumb_report())
