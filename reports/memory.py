"""The memory estimate as data: the job, its breakdown and every GPU's fit (CLI and HTTP API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optimizer.memory import FineTune, estimate_memory, usable_vram_bytes
from optimizer.throughput import tokens_per_second

GB, GIB = 1e9, 2**30


def memory_summary(job: FineTune, gpu_ids: Sequence[str], model_label: str | None = None) -> dict[str, Any]:
    """What ``rentbuy memory --format json`` and ``GET /api/memory`` return, built once."""
    estimate = estimate_memory(job)
    gpus = []
    for gpu_id in gpu_ids:
        usable = usable_vram_bytes(gpu_id)
        fits = estimate.per_gpu_bytes <= usable
        gpus.append({"gpu": gpu_id, "usable_vram_GiB": usable / GIB, "fits": fits,
                     "tokens_per_s": tokens_per_second(job, gpu_id) if fits else None})
    summary = {
        "model": model_label or job.architecture.name, "method": job.method, "framework": job.framework,
        "num_gpus": job.num_gpus, "micro_batch_size": job.micro_batch_size, "seq_len": job.seq_len,
        "total_params": estimate.total_params, "trainable_params": estimate.trainable_params,
        "per_gpu_GB": estimate.per_gpu_bytes / GB, "per_gpu_GiB": estimate.per_gpu_bytes / GIB,
        "host_GB": estimate.cpu_bytes / GB, "host_GiB": estimate.cpu_bytes / GIB,
        "pageable_optimizer_GiB": estimate.pageable_bytes / GIB, "peak_phase": estimate.peak_phase,
    }
    return {"job": summary, "breakdown_bytes": estimate.breakdown, "components_bytes": estimate.components,
            "notes": list(estimate.notes), "gpus": gpus}
