"""``rentbuy memory``: what a fine-tuning job needs in memory, and which GPUs can run it how fast."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from rentbuy.errors import UsageError

GIB = 2**30
GB = 1e9

ARCH_FLAGS = ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size", "vocab_size")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "memory",
        help="VRAM/host RAM breakdown of a fine-tune, which GPUs fit it and how fast",
        description="Estimate the peak GPU memory (per GPU) and host RAM of a fine-tuning job, with a "
        "breakdown, then list every catalog GPU: whether the job fits its usable VRAM and the estimated "
        "tokens/s. GB = 1e9 bytes, GiB = 2^30 bytes; both are printed. Give --model for a preset, or "
        "--model custom with the architecture flags.",
    )
    p.add_argument("--model", default="llama-3.1-8b",
                   help="model preset id (see 'rentbuy info'), or 'custom' with the architecture flags")
    p.add_argument("--method", default="lora", help="full | lora | qlora (default lora)")
    p.add_argument("--precision", default="bf16-mixed", help="fp32 | fp16-mixed | bf16-mixed | bf16-true")
    p.add_argument("--quantization", default=None, help="nf4 | nf4-dq | int8 (qlora defaults to nf4-dq)")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw | adamw-8bit | paged-adamw-8bit | sgd | adafactor")
    p.add_argument("--seq-len", type=int, default=2048, help="tokens per sequence (default 2048)")
    p.add_argument("--batch", type=int, default=1, help="micro-batch size per GPU (default 1)")
    p.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps (default 1)")
    p.add_argument("--gradient-checkpointing", action="store_true", help="recompute activations in backward")
    p.add_argument("--attention", default="sdpa", help="sdpa (flash kernels) | eager")
    p.add_argument("--lora-rank", type=int, default=None, help="LoRA rank (default 16; not with --method full)")
    p.add_argument("--lora-targets", default="all-linear",
                   help="'all-linear' or comma-separated modules: q_proj,k_proj,v_proj,o_proj,gate_proj,"
                        "up_proj,down_proj,lm_head")
    p.add_argument("--num-gpus", type=int, default=1, help="GPUs the job runs on (default 1)")
    p.add_argument("--sharding", default="none", help="none | fsdp | zero1 | zero2 | zero3")
    p.add_argument("--offload", default=None, help="optimizer | optimizer+params")
    p.add_argument("--framework", default="hf-peft", help="hf-peft | torchtune | unsloth | litgpt")
    p.add_argument("--cross-entropy", default=None, help="standard | chunked | fused (default: framework's)")
    p.add_argument("--fsdp-no-sync", default=None,
                   help="off | trainable | units: gradients FSDP holds unsharded while accumulating "
                        "(default: framework's)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile / fused elementwise kernels")
    p.add_argument("--gpu", default=None, help="only this GPU id instead of the whole catalog")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    arch = p.add_argument_group("custom architecture (with --model custom)")
    for name in ARCH_FLAGS:
        arch.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    arch.add_argument("--head-dim", type=int, default=None)
    arch.add_argument("--tied-embeddings", action="store_true")
    arch.add_argument("--qkv-bias", action="store_true")
    p.set_defaults(func=run)


def _model(args: argparse.Namespace) -> Any:
    from optimizer.memory import Architecture

    given = {name: getattr(args, name) for name in ARCH_FLAGS if getattr(args, name) is not None}
    if args.model != "custom":
        if given:
            raise UsageError("architecture flags need --model custom; a preset already fixes the architecture.")
        return args.model
    missing = [f"--{n.replace('_', '-')}" for n in ARCH_FLAGS if n not in given]
    if missing:
        raise UsageError(f"--model custom needs {', '.join(missing)}.")
    return Architecture(**given, head_dim=args.head_dim, tied_embeddings=args.tied_embeddings,
                        qkv_bias=args.qkv_bias)


def build_job(args: argparse.Namespace) -> Any:
    from optimizer.memory import FineTune

    targets = args.lora_targets
    if targets != "all-linear":
        targets = tuple(t.strip() for t in targets.split(",") if t.strip())
    return FineTune(
        model=_model(args), method=args.method, precision=args.precision, quantization=args.quantization,
        optimizer=args.optimizer, micro_batch_size=args.batch, seq_len=args.seq_len,
        gradient_checkpointing=args.gradient_checkpointing, attention=args.attention,
        lora_rank=args.lora_rank, lora_targets=targets, num_gpus=args.num_gpus, sharding=args.sharding,
        offload=args.offload, framework=args.framework, gradient_accumulation_steps=args.grad_accum,
        cross_entropy=args.cross_entropy, compile=args.compile, fsdp_no_sync=args.fsdp_no_sync)


def run(args: argparse.Namespace) -> int:
    from config import catalog
    from reports.memory import memory_summary
    from reports.render import text_table, to_json

    try:
        job = build_job(args)
        gpu_ids = [catalog.gpu(args.gpu).gpu] if args.gpu else list(catalog.gpus())
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    report = memory_summary(job, gpu_ids)
    if args.format == "json":
        print(to_json(report))
        return 0
    from optimizer.memory import estimate_memory

    estimate = estimate_memory(job)
    arch = job.architecture
    gpus = report["gpus"]
    # Decimal keeps two places in every cell and the column right-aligned
    breakdown = [{"component": name, "GB": Decimal(f"{value / GB:.2f}"), "GiB": Decimal(f"{value / GIB:.2f}")}
                 for name, value in estimate.breakdown.items()]
    print(f"{arch.name}, {job.method} ({job.framework}), {job.num_gpus} GPU(s), micro-batch "
          f"{job.micro_batch_size} x {job.seq_len} tokens; {estimate.total_params / 1e9:.2f}B parameters, "
          f"{estimate.trainable_params / 1e6:,.1f}M trainable")
    print()
    print(text_table(breakdown, ["component", "GB", "GiB"]))
    print()
    print(f"Per GPU: {estimate.per_gpu_bytes / GB:.2f} GB ({estimate.per_gpu_bytes / GIB:.2f} GiB) at the "
          f"{estimate.peak_phase} peak")
    print(f"Host RAM: {estimate.cpu_bytes / GB:.2f} GB ({estimate.cpu_bytes / GIB:.2f} GiB)")
    for note in estimate.notes:
        print(f"Note: {note}")
    print()
    rows = [{"gpu": g["gpu"], "usable VRAM (GiB)": g["usable_vram_GiB"], "fits": "yes" if g["fits"] else "no",
             "tokens/s": g["tokens_per_s"]} for g in gpus]
    print(text_table(rows, ["gpu", "usable VRAM (GiB)", "fits", "tokens/s"]))
    return 0
