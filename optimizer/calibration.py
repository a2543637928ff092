"""Every fitted or measured constant of the memory and throughput model, in one place.

Each constant says where it comes from: a derivation (with the paper or code it follows), a
measurement someone published (with the source), or a fit. Fitted constants name the rows they
were fitted on: the rows of ``tests/data/memory_published.csv`` / ``throughput_published.csv``
whose ``split`` column is ``fit``. Rows marked ``holdout`` were never used to choose a value
here; ``tests/test_memory_published.py`` reports both errors separately so the held-out figure
stays an honest estimate of the error on a job nobody has measured.

Fit sources (memory): ``torchtune-flags`` (torchtune README optimisation-flags table, Llama 3.2 3B
on A100), ``litgpt-hub`` (LitGPT config-hub table, A10G), ``hf-docs-bert`` (Transformers
"efficient training on one GPU", bert-large on V100).
Held-out sources (memory): every other source in the table (22 of them; docs/accuracy.md lists
them with how and when each was first scored).

Throughput fit sources: ``torchtune-llama31`` (RTX 4090 and 8x A100 rows), ``soup-78`` (H100) and
``mosaicml-foundry`` (the same MPT training jobs on 8x A100 and 8x H100); held out:
``torchtune-flags`` (one A100) and ``answerai-fsdp-qlora`` (the same Llama-2 jobs on 2x RTX 3090 and
2x RTX 4090, Llama-2 70B QLoRA on A100 40GB, H100 and RTX 6000 Ada).

How the fit was done: the constants marked FITTED were chosen by a coarse grid search on the fit
rows only (``FIT_GRID`` and ``fit_constants`` in tests/test_memory_published.py and
tests/test_throughput_published.py; run those files with ``--fit`` to redo it), all other
constants fixed at their derived or measured values. The held-out rows were scored after each
fit; docs/accuracy.md records every scoring, including those before each structural change
(eager-RMSNorm fp32 copies, Unsloth's fused kernels; FSDP ``no_sync()`` gradients and the loss peak
apart from the backward peak in the fourth sitting), so nobody mistakes the figures for a single
blind pass.
"""

from __future__ import annotations

GIB = 2**30
MIB = 2**20

# --------------------------------------------------------------------------------------------
# Weights: bytes per parameter of a quantized base (QLoRA paper, Dettmers et al. 2023, §3).
# --------------------------------------------------------------------------------------------
#: NF4 with block size 64 and one fp32 absmax per block: 4 + 32/64 = 4.5 bits.
NF4_BITS_PER_PARAM = 4.0 + 32.0 / 64.0
#: NF4 with double quantization: 8-bit block constants, one fp32 constant per 256 blocks:
#: 4 + 8/64 + 32/(64*256) = 4.127 bits (the paper's "0.127 bits per parameter" for constants).
NF4_DQ_BITS_PER_PARAM = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)
#: LLM.int8 (bitsandbytes): one byte per weight plus one fp32 scale per output row (added per
#: matrix in the code, so it is exact for any shape).
INT8_BITS_PER_PARAM = 8.0

# --------------------------------------------------------------------------------------------
# Activations (per-tensor model in optimizer.memory; derivation in its docstring).
# --------------------------------------------------------------------------------------------
#: FITTED. Multiplier on the per-layer tensors the derivation says autograd keeps. Above 1 it
#: absorbs what a tensor-by-tensor count misses (RoPE and dtype-cast temporaries, attention
#: backward workspaces, allocator rounding to 512-byte blocks). It does not apply to the layer
#: inputs kept between layers under checkpointing, which are single plain tensors (re-fitted on the
#: fit rows after that change: same value).
ACTIVATION_SCALE = 1.3
#: FITTED. Transient memory of one layer's backward (gradients of its activations), as a fraction
#: of that layer's saved activations. Alive while a layer runs its backward, not at the loss: the
#: logits and the loss's tensors are freed before the last layer's backward starts (1.0 while the
#: model still added the two; re-fitted to 1.5 in the fourth sitting when they were separated).
BACKWARD_WORKING_SET_FACTOR = 1.5

# --------------------------------------------------------------------------------------------
# Logits and the loss: bytes per (token x vocabulary) element at the loss peak.
# --------------------------------------------------------------------------------------------
#: FITTED around a derivation. Hugging Face style loss: fp32 upcast of the 16-bit logits (4),
#: a shifted fp32 copy (4), log-softmax saved for backward (4) and its fp32 gradient (4); the
#: 16-bit logits are freed after the upcast. Derived 16; fit value below (10 before the fourth
#: sitting's re-fit).
LOGITS_BYTES_STANDARD = 12.0
#: FITTED. Chunked cross-entropy (torchtune ``CEWithChunkedOutputLoss``, LitGPT
#: ``chunked_cross_entropy``): 16-bit logits stay (2), each chunk's fp32 log-softmax is saved
#: (4), gradients are produced chunk by chunk. Derived 6; fit value below.
LOGITS_BYTES_CHUNKED = 2.0
#: Fused linear + cross-entropy (Liger, Unsloth Cut Cross-Entropy, torchtune
#: ``LinearCrossEntropyLoss``) never materialises full logits; it works on chunks of this many
#: tokens at a time at the standard cost per element (an upper bound on the chunk buffers).
FUSED_CE_CHUNK_TOKENS = 1024

# --------------------------------------------------------------------------------------------
# Overheads outside the tensors.
# --------------------------------------------------------------------------------------------
#: CUDA context + cuBLAS/cuDNN workspaces, resident before the first tensor. Measured 1,343 MiB
#: on a V100 by the Transformers docs ("efficient training on one GPU", v4.27). Newer CUDA with
#: lazy module loading needs less (several hundred MiB), so this is on the safe side for fits.
CUDA_CONTEXT_BYTES = 1343 * MIB
#: FITTED. Caching-allocator fragmentation: reserved minus allocated, as a fraction of the
#: allocated peak. Anchors: torchtune #1398 logged 14.62 vs 14.41 GiB (1.5 %) right after init;
#: Answer.AI reported 10.22 GiB reserved vs 9.16 GiB allocated (12 %) while training.
FRAGMENTATION_FRACTION = 0.03
#: Share of the card's memory a job should not plan to use: driver-reserved pages, ECC and
#: display buffers, and allocator spikes this model does not see. nvidia-smi shows 24,564 MiB of
#: a 24,576 MiB RTX 4090, so the hard reserve is small; the rest is a safety margin.
USABLE_VRAM_RESERVE_FRACTION = 0.03

# --------------------------------------------------------------------------------------------
# Sharding and offload.
# --------------------------------------------------------------------------------------------
#: FSDP / ZeRO-3 keeps the current and the prefetched layer unsharded: two layers of 16-bit
#: parameters (DeepSpeed's estimator charges 4 bytes x largest layer for the same buffers).
GATHERED_LAYERS = 2
#: Host RAM per offloaded byte: DeepSpeed's ``estimate_zero*_model_states_mem_needs`` use a CPU
#: buffer factor of 1.5 (pinned staging buffers on top of the states themselves).
HOST_OFFLOAD_BUFFER_FACTOR = 1.5
#: Activation offload keeps this many layers' checkpoints on the GPU while the rest stream to the
#: host (the one being computed plus one in flight).
OFFLOAD_RESIDENT_LAYERS = 2

# --------------------------------------------------------------------------------------------
# Throughput.
# --------------------------------------------------------------------------------------------
#: FITTED. Share of dense 16-bit tensor peak the matrix multiplies reach, by GPU class, for the
#: best-tuned stack in the data (MosaicML llm-foundry: hand-written flash-attention kernels, FSDP) on
#: an Ampere/Ada-generation card. The utilisation of a job is this value x FRAMEWORK_EFFICIENCY of its
#: framework x GENERATION_EFFICIENCY of its card (capped at 1). Fitted on the ``fit`` throughput rows:
#: MosaicML's A100/H100 table (datacenter), torchtune's RTX 4090 and 8x A100 rows, Soup's H100 rows.
#: The workstation and datacenter-PCIe classes have no fit rows and share the datacenter value.
MATMUL_UTILISATION = {
    "consumer": 1.0,  # grid edge: torchtune's 4090 rows sit close to the card's FP32-accumulate peak
    "workstation": 0.80,
    "datacenter-pcie": 0.80,
    "datacenter-sxm": 0.80,
}
#: FITTED. How close a training stack's kernels get to the best-tuned one above. ``llm-foundry`` is
#: the reference (1.0); ``torchtune`` from its RTX 4090 and 8x A100 rows, ``hf-peft`` (Transformers
#: + PEFT, eager) from Soup's H100 rows. No throughput row exists for ``unsloth`` or ``litgpt``:
#: Unsloth (fused Triton kernels) is given torchtune's value and LitGPT (eager PyTorch) hf-peft's,
#: an assumption, not a fit.
FRAMEWORK_EFFICIENCY = {
    "llm-foundry": 1.0,
    "torchtune": 1.0,
    "hf-peft": 0.60,
    "unsloth": 1.0,
    "litgpt": 0.60,
}
#: FITTED on MosaicML's same-job A100 vs H100 pairs (fit rows). Hopper and Blackwell parts reach a
#: smaller share of their datasheet peak than Ampere/Ada parts: their peak needs warpgroup MMA + TMA
#: kernels (cuBLAS on large shapes, FlashAttention-3), while the Ampere-era kernels most training
#: stacks use (FlashAttention-2, Triton) reach well under it (FlashAttention-3 paper, Shah et al. 2024:
#: FlashAttention-2 at 35 % of H100 peak, against 50-73 % of A100 peak in the FlashAttention-2
#: paper). Cards not listed: 1.0.
GENERATION_EFFICIENCY = {
    "h100-sxm": 0.70,
    "h100-pcie": 0.70,
    "h100-nvl": 0.70,
    "h200": 0.70,
    "b200": 0.70,
}
#: FITTED (with the utilisations above). Bytes moved through DRAM per token, per layer, per hidden
#: unit by the memory-bound kernels. A derivation for an eager Llama block gives ~300: two
#: RMSNorms with their fp32 upcasts (~12h elements), RoPE on q and k (~2.5h), SiLU and the gated
#: product (~5I = ~17h), two residual adds (~6h), LoRA's thin matmuls reading their inputs (~14h):
#: ~52h elements x 2 bytes forward, x3 with backward. The fit lands at 450 (it also absorbs kernel
#: launch and framework overhead). This share runs at memory bandwidth, which is why a 4090 is
#: ~3x slower than an H100 (bandwidth ratio), not ~6x (TFLOPS ratio).
ELEMENTWISE_BYTES_PER_TOKEN_LAYER_HIDDEN = 150.0
#: torch.compile / fused kernels fuse chains of pointwise ops, so each tensor makes fewer DRAM
#: round trips; assumed (not fitted) to remove 40 % of that traffic.
FUSED_ELEMENTWISE_FACTOR = 0.6
#: Achievable share of datasheet memory bandwidth for streaming kernels (STREAM-like copies reach
#: 80-90 % on recent NVIDIA parts).
BANDWIDTH_UTILISATION = 0.85
#: Measured QLoRA/LoRA step-time ratio for bitsandbytes/torchao NF4 dequantization, median of the
#: published pairs: 1.28 (torchtune, 4090, 8B), 1.39 and 1.63 (LitGPT, A10G), 1.56 (LitGPT,
#: A100, 7B, from research notes), 1.35 (Qwen README, A100, 7B).
QLORA_TIME_FACTOR = 1.39
#: Multi-GPU: share of communication hidden behind compute. Interconnect bandwidth per GPU for
#: collectives (GB/s, effective bus bandwidth, not the datasheet aggregate): NVSwitch parts reach
#: roughly 40 % of their NVLink aggregate in all-gather/reduce-scatter; two-way bridges and PCIe
#: far less. These are conservative round numbers, not fits.
COMM_OVERLAP = 0.5
INTERCONNECT_GBPS = {
    "nvswitch": 300.0,  # datacenter-sxm (A100/H100/H200/B200 HGX)
    "nvlink-bridge": 50.0,  # 2-way NVLink bridge (RTX 3090, A6000, A100/H100 PCIe pairs)
    "pcie": 16.0,  # PCIe 4.0 x16 without peer-to-peer (GeForce 40/50 series)
}
