"""The shipped reference tables: GPU specs and model architectures, each row with its source.

Plain ``csv`` (no pandas) so importing the catalog stays cheap for the CLI and the optimizer.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

# The canonical GPU ids every price, spec and result uses (DESIGN.md, 'Canonical GPU ids').
UNKNOWN_GPU = "unknown"


def data_path(name: str) -> Path:
    """Path of a bundled data file (works from a checkout and from an installed wheel)."""
    return Path(str(resources.files("config") / "data" / name))


def read_rows(name: str) -> list[dict[str, str]]:
    with data_path(name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model as sold, with the figures the optimizer needs."""

    gpu: str
    name: str
    gpu_class: str  # consumer | workstation | datacenter-pcie | datacenter-sxm
    vram_gb: float  # decimal GB as the vendor states it
    mem_bw_gbps: float  # GB/s
    board_power_w: float
    bf16_dense_tflops: float  # dense 16-bit tensor TFLOPS with FP32 accumulate (GeForce half rate)
    nvlink: bool
    launch_date: str
    launch_msrp_usd: float | None
    source: str
    source_date: str

    @property
    def vram_bytes(self) -> int:
        """Card memory in bytes. NVIDIA's "GB" on these parts is binary: a 24 GB 4090 shows
        24,564 MiB in nvidia-smi and an 80 GB A100 81,920 MiB, so GiB is the closer reading."""
        return int(self.vram_gb * 2**30)


@dataclass(frozen=True)
class ModelPreset:
    """Architecture fields of a published base model (from its ``config.json``)."""

    model: str
    name: str
    hf_repo: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tied_embeddings: bool
    qkv_bias: bool
    norms_per_layer: int
    total_params: int
    source: str
    source_date: str


def _float_or_none(text: str) -> float | None:
    return float(text) if text.strip() else None


@cache
def gpus() -> dict[str, GpuSpec]:
    """GPU catalog keyed by canonical id."""
    out: dict[str, GpuSpec] = {}
    for row in read_rows("gpus.csv"):
        out[row["gpu"]] = GpuSpec(
            gpu=row["gpu"],
            name=row["name"],
            gpu_class=row["gpu_class"],
            vram_gb=float(row["vram_gb"]),
            mem_bw_gbps=float(row["mem_bw_gbps"]),
            board_power_w=float(row["board_power_w"]),
            bf16_dense_tflops=float(row["bf16_dense_tflops"]),
            nvlink=row["nvlink"] == "yes",
            launch_date=row["launch_date"],
            launch_msrp_usd=_float_or_none(row["launch_msrp_usd"]),
            source=row["source"],
            source_date=row["source_date"],
        )
    return out


def canonical_gpu_ids() -> tuple[str, ...]:
    return tuple(gpus())


def gpu(gpu_id: str) -> GpuSpec:
    """The spec of one GPU; unknown ids raise ``ValueError`` listing the known ones."""
    table = gpus()
    if gpu_id not in table:
        raise ValueError(f"Unknown GPU id {gpu_id!r}; known GPU ids: {', '.join(table)}.")
    return table[gpu_id]


@cache
def models() -> dict[str, ModelPreset]:
    """Model presets keyed by preset id (``llama-3.1-8b``...)."""
    out: dict[str, ModelPreset] = {}
    for row in read_rows("models.csv"):
        out[row["model"]] = ModelPreset(
            model=row["model"],
            name=row["name"],
            hf_repo=row["hf_repo"],
            hidden_size=int(row["hidden_size"]),
            intermediate_size=int(row["intermediate_size"]),
            num_layers=int(row["num_layers"]),
            num_heads=int(row["num_heads"]),
            num_kv_heads=int(row["num_kv_heads"]),
            head_dim=int(row["head_dim"]),
            vocab_size=int(row["vocab_size"]),
            tied_embeddings=row["tied_embeddings"] == "true",
            qkv_bias=row["qkv_bias"] == "true",
            norms_per_layer=int(row["norms_per_layer"]),
            total_params=int(row["total_params"]),
            source=row["source"],
            source_date=row["source_date"],
        )
    return out


def model(preset: str) -> ModelPreset:
    table = models()
    if preset not in table:
        raise ValueError(f"Unknown model preset {preset!r}; known presets: {', '.join(table)}.")
    return table[preset]
