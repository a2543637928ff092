"""How fast a fine-tuning job runs on a GPU, and how long it takes.

Time per token is the sum of two parts that run on different hardware limits:

* matrix multiplies: training FLOPs per token (Kaplan et al. 2020, arXiv 2001.08361: ~6N for full
  fine-tuning; ~4N with a frozen base, because the base needs input gradients but no weight
  gradients; +2N when activations are recomputed; plus PaLM's attention term ``12*L*H*Q*T``,
  Chowdhery et al. 2022, Appendix B) divided by the card's dense 16-bit tensor peak (GeForce
  FP32-accumulate half rate, from the catalog) times a utilisation: a per-class value for the
  best-tuned stack, scaled by how close the job's framework gets to it and by the card's
  generation (Hopper/Blackwell peaks are reached less than Ampere/Ada ones), all fitted;
* memory-bound kernels: norms, activations, RoPE, residual adds, LoRA's thin matmuls, the loss
  over the vocabulary, streaming the weights once per pass and the optimizer step, all at the
  card's memory bandwidth.

That split is what makes consumer cards land near the *bandwidth* ratio against an H100 (about
3x for a 4090) rather than the TFLOPS ratio (6x): a small-batch fine-tune spends a large share of
its time in bandwidth-bound kernels. QLoRA's dequantization is a measured time factor. Several
GPUs add collective traffic over NVSwitch, an NVLink bridge or PCIe, partly hidden behind compute.
Fitted constants live in :mod:`optimizer.calibration`.
"""

from __future__ import annotations

from config import catalog
from optimizer import calibration as cal
from optimizer.memory import FineTune, lora_parameter_count


def flops_per_token(job: FineTune) -> float:
    """Hardware FLOPs per trained token (forward + backward, and recompute when checkpointing)."""
    arch = job.architecture
    n = float(arch.matmul_params())
    n_lora = float(lora_parameter_count(job))
    attention_fwd = 4.0 * arch.num_layers * arch.q_dim * job.seq_len  # QK^T and AV, 2 FLOPs per MAC
    # Frozen base (LoRA/QLoRA): forward 2N + input gradients 2N, adapters 6N_lora; attention has no
    # weights, so its backward costs the full 2x forward either way.
    flops = 6.0 * n + 3.0 * attention_fwd if job.method == "full" else 4.0 * n + 6.0 * n_lora + 3.0 * attention_fwd
    if job.gradient_checkpointing:
        flops += 2.0 * n + 2.0 * n_lora + attention_fwd
    return flops


def _memory_seconds_per_token(job: FineTune, bandwidth_bytes_per_s: float) -> float:
    arch = job.architecture
    tokens_per_step = job.micro_batch_size * job.seq_len
    act_bytes = 4 if job.precision == "fp32" else 2
    elementwise = cal.ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN * arch.num_layers * arch.hidden_size
    elementwise *= act_bytes / 2.0
    if job.gradient_checkpointing:
        elementwise *= 4.0 / 3.0  # the recomputed forward touches its tensors once more
    if job.knob("compile"):
        elementwise *= cal.FUSED_ELEMENTWISE_FACTOR
    loss = 0.0
    if arch.lm_head:
        loss = arch.vocab_size * (4.0 if job.knob("cross_entropy") == "fused" else 12.0)
    # Weights stream from DRAM once per pass: forward, input-gradient backward, weight-gradient
    # backward (full only) and recompute.
    passes = 2 + (1 if job.method == "full" else 0) + (1 if job.gradient_checkpointing else 0)
    weight_bytes = arch.parameter_count() * (4 if job.precision == "fp32" else 2)
    weights = passes * weight_bytes / tokens_per_step
    trainable = arch.parameter_count() if job.method == "full" else lora_parameter_count(job)
    step_bytes_per_param = {"adamw": 30.0, "adamw-8bit": 14.0, "paged-adamw-8bit": 14.0, "sgd": 18.0,
                            "adafactor": 16.0}[job.optimizer]
    if job.precision == "bf16-true":
        step_bytes_per_param /= 2.0
    optimizer = trainable * step_bytes_per_param / (tokens_per_step * job.gradient_accumulation_steps)
    return (elementwise + loss + weights + optimizer) / bandwidth_bytes_per_s


def _link(gpu_id: str, count: int) -> str:
    spec = catalog.gpu(gpu_id)
    if spec.gpu_class == "datacenter-sxm":
        return "nvswitch"
    if spec.nvlink and count == 2:
        return "nvlink-bridge"
    return "pcie"


def scaling_efficiency(job: FineTune, gpu: str) -> float:
    """Share of ``num_gpus`` x single-GPU speed the job keeps after communication (1.0 on one GPU)."""
    n = job.num_gpus
    if n == 1:
        return 1.0
    arch = job.architecture
    per_gpu_step_s = job.micro_batch_size * job.seq_len * _seconds_per_token(job, gpu)
    weight_bytes_16 = 2.0 * arch.parameter_count()
    trainable = arch.parameter_count() if job.method == "full" else lora_parameter_count(job)
    grad_bytes = (4.0 if job.precision.endswith("-mixed") else 2.0) * trainable
    ring = (n - 1) / n
    if job.sharding in ("fsdp", "zero3"):
        passes = 3 if job.gradient_checkpointing else 2  # all-gathers: forward, backward (+recompute)
        comm_bytes = ring * (passes * weight_bytes_16 + grad_bytes)
    else:
        comm_bytes = ring * 2.0 * grad_bytes  # all-reduce = reduce-scatter + all-gather
    comm_bytes /= job.gradient_accumulation_steps if job.sharding not in ("fsdp", "zero3") else 1
    if job.offload is not None:
        comm_bytes += weight_bytes_16 / n + grad_bytes / n  # parameters and gradients over PCIe
    link_bps = cal.INTERCONNECT_GBPS[_link(gpu, n)] * 1e9
    exposed = (1.0 - cal.COMM_OVERLAP) * comm_bytes / link_bps
    return per_gpu_step_s / (per_gpu_step_s + exposed)


def matmul_utilisation(job: FineTune, gpu: str) -> float:
    """Share of the card's dense tensor peak the job's matrix multiplies reach: the class value for
    the best-tuned stack x the framework's efficiency x the card generation's (capped at 1)."""
    spec = catalog.gpu(gpu)
    utilisation = (cal.MATMUL_UTILISATION[spec.gpu_class] * cal.FRAMEWORK_EFFICIENCY.get(job.framework, 1.0)
                   * cal.GENERATION_EFFICIENCY.get(spec.gpu, 1.0))
    return min(utilisation, 1.0)


def _seconds_per_token(job: FineTune, gpu: str) -> float:
    """Seconds one GPU spends per token of its own micro-batch."""
    spec = catalog.gpu(gpu)
    peak = spec.bf16_dense_tflops * 1e12
    if job.precision == "fp32":
        peak /= 2.0  # TF32 tensor cores run at half the 16-bit rate
    compute = flops_per_token(job) / (peak * matmul_utilisation(job, gpu))
    memory = _memory_seconds_per_token(job, spec.mem_bw_gbps * 1e9 * cal.BANDWIDTH_UTILISATION)
    seconds = compute + memory
    if job.method == "qlora":
        seconds *= cal.QLORA_TIME_FACTOR
    return seconds


def tokens_per_second(job: FineTune, gpu: str) -> float:
    """Training tokens per second for the whole job across ``job.num_gpus`` GPUs of type ``gpu``."""
    per_gpu = 1.0 / _seconds_per_token(job, gpu)
    return per_gpu * job.num_gpus * scaling_efficiency(job, gpu)


def training_hours(job: FineTune, gpu: str, tokens: float) -> float:
    """Wall-clock hours to train on ``tokens`` tokens (all epochs counted) on ``job.num_gpus`` GPUs."""
    if not tokens > 0:
        raise ValueError(f"tokens must be a positive number, got {tokens!r}.")
    return tokens / tokens_per_second(job, gpu) / 3600.0


def relative_speed(job: FineTune, fast_gpu: str, slow_gpu: str) -> float:
    """How many hours on ``slow_gpu`` one hour on ``fast_gpu`` replaces, for the same job."""
    return tokens_per_second(job, fast_gpu) / tokens_per_second(job, slow_gpu)


__all__ = [
    "flops_per_token", "matmul_utilisation", "relative_speed", "scaling_efficiency", "tokens_per_second",
    "training_hours",
]
