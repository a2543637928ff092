"""Reading the published-measurement tables (memory and throughput) into jobs, shared by their tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from optimizer.memory import Architecture, FineTune


def load_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _flag(text: str) -> bool | None:
    return {"true": True, "false": False, "": None}[text.strip().lower()]


def job_from_row(row: dict[str, str]) -> FineTune:
    """The FineTune a published row describes."""
    model: Architecture | str = Architecture(**json.loads(row["arch"])) if row["arch"] else row["model"]
    kwargs: dict[str, Any] = {
        "model": model, "method": row["method"], "precision": row["precision"],
        "quantization": row["quantization"] or None, "optimizer": row["optimizer"],
        "micro_batch_size": int(row["micro_batch_size"]), "seq_len": int(row["seq_len"]),
        "gradient_checkpointing": bool(_flag(row["gradient_checkpointing"])),
        "attention": row.get("attention") or "sdpa",
        "num_gpus": int(row["num_gpus"]), "sharding": row["sharding"], "offload": row["offload"] or None,
        "framework": row["framework"],
        "gradient_accumulation_steps": int(row.get("gradient_accumulation_steps") or 1),
        "optimizer_in_backward": bool(_flag(row["optimizer_in_backward"])),
    }
    if row["lora_rank"]:
        kwargs["lora_rank"] = int(row["lora_rank"])
    if row["lora_targets"]:
        kwargs["lora_targets"] = "all-linear" if row["lora_targets"] == "all-linear" else tuple(
            row["lora_targets"].split(";"))
    if row.get("lora_dropout"):
        kwargs["lora_dropout"] = float(row["lora_dropout"])
    for name in ("cross_entropy", "adapter_dtype", "quantize_scope", "fsdp_no_sync"):
        if row.get(name):
            kwargs[name] = row[name]
    for name in ("compile", "activation_offload"):
        flag = _flag(row.get(name, ""))
        if flag is not None:
            kwargs[name] = flag
    return FineTune(**kwargs)
