"""How much GPU memory (and host RAM) a fine-tuning job needs, with a breakdown.

The estimate is built from the architecture, not from a parameter count, because what moves the
number is architectural: vocabulary size drives logits memory (128k-256k vocabularies make the
loss the single largest activation), GQA shrinks k/v, gated MLPs keep three intermediates, and
which linears are frozen decides which inputs autograd keeps at all.

Model states (weights, gradients, optimizer) follow the ZeRO paper's accounting (Rajbhandari et
al. 2020, arXiv 1910.02054) with the dtype each framework really keeps: PyTorch AdamW keeps its
two states in the parameter's dtype, so ``bf16-true`` costs 4 B/param of state and mixed precision
(fp32 parameters under autocast) 8 B/param plus the fp32 master copy.

Activations start from Korthikanti et al. 2022 (arXiv 2205.05198), who count the tensors a GPT
layer saves for backward (``s*b*h*(34 + 5*a*s/h)`` bytes). That formula assumes a 4h GeLU MLP,
dropout and eager attention; here the same count is done tensor by tensor for the layer at hand:

* attention: the SDPA/flash kernels keep q, k, v (GQA-sized k/v) and the output plus a log-sum-exp
  row, never the ``a*s^2`` score matrix; eager attention adds it (softmax output, and with dropout
  its mask and the dropped copy);
* MLP: gated (SwiGLU/GeGLU) keeps gate, up and act(gate); a plain GeLU MLP keeps fc1's output;
* a linear layer's *input* is kept only if something needs it for a weight gradient: a trainable
  base weight (full fine-tuning), a LoRA adapter without dropout (with dropout the adapter keeps
  its own dropped copy and mask), or a bitsandbytes 4-bit matmul (``MatMul4Bit`` saves its input
  whether or not the weight is frozen). With a frozen base most inputs are not kept, which is
  why LoRA activations are smaller than full fine-tuning's at the same batch;
* ``torch.compile`` recomputes the MLP's elementwise ops (act(gate) and the gated product) in
  backward instead of storing them (norm outputs feed matmuls and stay);
* full gradient checkpointing keeps each layer's input plus one layer's full set while it is
  recomputed; activation offload (torchtune, Unsloth) moves those inputs to host memory.

Logits and the loss (``tokens x vocab`` elements) are charged separately, per cross-entropy
implementation. On top of the static model states, the peak is the largest of three moments: the
loss (what the layers keep, plus the logits), the first layer's backward (what the layers keep, plus
the layer being recomputed and its backward working set; the logits are freed by then) and the end
of backward (every gradient). Gradients accumulated over micro-steps are alive at all three, and
FSDP's ``no_sync()`` keeps them unsharded. Constants that were fitted live in
:mod:`optimizer.calibration` with the rows they were fitted on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config import catalog
from optimizer import calibration as cal

METHODS = ("full", "lora", "qlora")
PRECISIONS = ("fp32", "fp16-mixed", "bf16-mixed", "bf16-true")
QUANTIZATIONS = ("nf4", "nf4-dq", "int8")
OPTIMIZERS = ("adamw", "adamw-8bit", "paged-adamw-8bit", "sgd", "adafactor")
ATTENTIONS = ("sdpa", "eager")
SHARDINGS = ("none", "fsdp", "zero1", "zero2", "zero3")
OFFLOADS = ("optimizer", "optimizer+params")
CROSS_ENTROPIES = ("standard", "chunked", "fused")
ADAPTER_DTYPES = ("fp32", "compute")
QUANTIZE_SCOPES = ("all-linear", "adapted", "all-linear+head")
NO_SYNC_MODES = ("off", "trainable", "units")
MLP_KINDS = ("gated", "plain")
MEMORY_COUNTERS = ("allocated", "reserved", "device")

ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
GATED_MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
PLAIN_MLP_MODULES = ("up_proj", "down_proj")
HEAD_MODULE = "lm_head"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _positive_int(name: str, value: Any) -> None:
    _require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
             f"{name} must be a positive whole number, got {value!r}.")


def _choice(name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    shown = ", ".join("None" if a is None else str(a) for a in allowed)
    _require(value in allowed, f"{name} must be one of {shown}; got {value!r}.")


def _knob_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """A framework knob: one of ``allowed``, or None for the framework preset's value."""
    _require(value is None or value in allowed,
             f"{name} must be one of {', '.join(allowed)} (or unset for the framework's); got {value!r}.")


# ----------------------------------------------------------------------------------------------
# Architecture
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """The fields of a decoder (or encoder) that decide its memory and FLOPs.

    Defaults describe a Llama-style model: RMSNorm, SwiGLU, no biases, causal LM head. The extra
    switches (``mlp``, ``linear_bias``, ``norm_bias``, ``dropout``, ``lm_head``, ``extra_params``)
    let older or encoder architectures (BERT, GPT-NeoX, Phi-2) be described too.
    """

    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    tied_embeddings: bool = False
    head_dim: int | None = None  # None: hidden_size // num_heads (Gemma sets it explicitly)
    qkv_bias: bool = False  # Qwen2
    norms_per_layer: int = 2  # Gemma-2 has 4
    mlp: str = "gated"  # "gated" (gate/up/down) | "plain" (up/down with GeLU)
    linear_bias: bool = False  # a bias on every linear layer (BERT, GPT-2, Phi-2)
    norm_bias: bool = False  # LayerNorm with bias instead of RMSNorm
    extra_params: int = 0  # position/type embeddings, pooler, classifier head...
    lm_head: bool = True  # False: encoder classifier, no vocabulary logits
    dropout: bool = False  # hidden/attention dropout active while training (BERT)
    name: str = "custom"

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size",
                     "vocab_size"):
            _positive_int(name, getattr(self, name))
        if self.head_dim is not None:
            _positive_int("head_dim", self.head_dim)
        else:
            _require(self.hidden_size % self.num_heads == 0,
                     "hidden_size must be divisible by num_heads when head_dim is not given.")
        _require(self.num_heads % self.num_kv_heads == 0,
                 f"num_kv_heads must divide num_heads ({self.num_heads}); got {self.num_kv_heads}.")
        _positive_int("norms_per_layer", self.norms_per_layer)
        _choice("mlp", self.mlp, MLP_KINDS)
        _require(isinstance(self.extra_params, int) and self.extra_params >= 0,
                 f"extra_params must be zero or a positive whole number, got {self.extra_params!r}.")

    @classmethod
    def from_preset(cls, preset: str) -> Architecture:
        """The architecture of a catalog model preset (``llama-3.1-8b``...)."""
        spec = catalog.model(preset)
        return cls(hidden_size=spec.hidden_size, num_layers=spec.num_layers, num_heads=spec.num_heads,
                   num_kv_heads=spec.num_kv_heads, intermediate_size=spec.intermediate_size,
                   vocab_size=spec.vocab_size, tied_embeddings=spec.tied_embeddings,
                   head_dim=spec.head_dim, qkv_bias=spec.qkv_bias,
                   norms_per_layer=spec.norms_per_layer, name=preset)

    # -- shapes --------------------------------------------------------------------------------
    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_heads

    @property
    def q_dim(self) -> int:
        """Width of the query projection (num_heads x head_dim; wider than hidden on Gemma)."""
        return self.num_heads * self.resolved_head_dim

    @property
    def kv_dim(self) -> int:
        """Width of each of the k and v projections under GQA."""
        return self.num_kv_heads * self.resolved_head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """``(d_in, d_out)`` of every linear layer in one block, keyed by the PEFT module name."""
        h, i = self.hidden_size, self.intermediate_size
        shapes = {"q_proj": (h, self.q_dim), "k_proj": (h, self.kv_dim), "v_proj": (h, self.kv_dim),
                  "o_proj": (self.q_dim, h)}
        if self.mlp == "gated":
            shapes.update(gate_proj=(h, i), up_proj=(h, i), down_proj=(i, h))
        else:
            shapes.update(up_proj=(h, i), down_proj=(i, h))
        return shapes

    def module_names(self) -> tuple[str, ...]:
        return (*self.linear_shapes(), HEAD_MODULE) if self.lm_head else tuple(self.linear_shapes())

    # -- parameter counts ----------------------------------------------------------------------
    def bias_params_per_layer(self) -> int:
        shapes = self.linear_shapes()
        if self.linear_bias:
            return sum(d_out for _, d_out in shapes.values())
        if self.qkv_bias:
            return self.q_dim + 2 * self.kv_dim
        return 0

    def linear_params_per_layer(self) -> int:
        return sum(d_in * d_out for d_in, d_out in self.linear_shapes().values())

    def norm_params_per_layer(self) -> int:
        return self.norms_per_layer * self.hidden_size * (2 if self.norm_bias else 1)

    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def head_params(self) -> int:
        """Parameters of an untied LM head (zero when tied to the embeddings or absent)."""
        return 0 if (self.tied_embeddings or not self.lm_head) else self.vocab_size * self.hidden_size

    def parameter_count(self) -> int:
        """Total parameters: embeddings, per-layer attention (GQA) + MLP + biases + norms, the
        final norm and an untied head. Reproduces the catalog presets' ``total_params`` exactly."""
        per_layer = self.linear_params_per_layer() + self.bias_params_per_layer() + self.norm_params_per_layer()
        final_norm = self.hidden_size * (2 if self.norm_bias else 1)
        return (self.embedding_params() + self.num_layers * per_layer + final_norm + self.head_params()
                + self.extra_params)

    def matmul_params(self) -> int:
        """Parameters that take part in a matrix multiply per token: all block linears plus the
        output projection (tied or not); embedding lookups cost no FLOPs."""
        head = self.vocab_size * self.hidden_size if self.lm_head else 0
        return self.num_layers * self.linear_params_per_layer() + head


# ----------------------------------------------------------------------------------------------
# Frameworks
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Framework:
    """How a training stack differs in ways published memory numbers show.

    ``quant_saves_input``: the 4-bit matmul keeps its input for backward even for a frozen weight
    (bitsandbytes ``MatMul4Bit``); torchao's NF4 and Unsloth's kernels do not.
    ``reports``: the counter its logs print, to read its published numbers right.
    ``fsdp_no_sync``: what FSDP holds between gradient-accumulation micro-steps. ``off``: gradients
    are reduce-scattered every micro-step, so they stay sharded. ``trainable``: the loop runs
    inside FSDP's ``no_sync()``, which keeps every trainable parameter's gradient unsharded until
    the synchronising step. ``units``: the same, with frozen and trainable weights in one flat
    parameter (``use_orig_params=True`` wrapping whole blocks), so the gradient is as large as every
    block that holds a trainable weight.
    """

    name: str
    cross_entropy: str
    adapter_dtype: str
    quantize_scope: str
    lora_dropout: float
    compile: bool
    activation_offload: bool
    quant_saves_input: bool
    reports: str
    fsdp_no_sync: str
    note: str


FRAMEWORKS: Mapping[str, Framework] = {
    "hf-peft": Framework(
        "hf-peft", cross_entropy="standard", adapter_dtype="fp32", quantize_scope="all-linear",
        lora_dropout=0.05, compile=False, activation_offload=False, quant_saves_input=True,
        reports="reserved", fsdp_no_sync="trainable",
        note="Transformers + PEFT + bitsandbytes: fp32 adapters (PEFT autocast_adapter_dtype), "
             "full fp32 logits in the loss, every linear but the head in 4-bit; Accelerate accumulates "
             "inside FSDP no_sync() (sync_each_batch off by default) and PEFT's FSDP wrap policy gives the "
             "adapters their own flat parameters."),
    "torchtune": Framework(
        "torchtune", cross_entropy="chunked", adapter_dtype="compute", quantize_scope="all-linear",
        lora_dropout=0.0, compile=False, activation_offload=False, quant_saves_input=False,
        reports="allocated", fsdp_no_sync="off",
        note="torchtune: adapters in the model dtype, CEWithChunkedOutputLoss, torchao NF4 "
             "(before PR #1485 only the linears carrying LoRA were quantized: quantize_scope='adapted'); "
             "FSDP gradients are reduce-scattered every micro-step."),
    "unsloth": Framework(
        "unsloth", cross_entropy="fused", adapter_dtype="compute", quantize_scope="all-linear",
        lora_dropout=0.0, compile=True, activation_offload=True, quant_saves_input=False,
        reports="reserved", fsdp_no_sync="off",
        note="Unsloth: Cut Cross-Entropy, Triton kernels for RMSNorm/RoPE/SwiGLU/LoRA (counted like "
             "compile=True), checkpoints offloaded to host RAM when gradient checkpointing is on."),
    "litgpt": Framework(
        "litgpt", cross_entropy="chunked", adapter_dtype="compute", quantize_scope="all-linear+head",
        lora_dropout=0.05, compile=False, activation_offload=False, quant_saves_input=True,
        reports="allocated", fsdp_no_sync="units",
        note="LitGPT: bf16-true adapters, chunked lm-head + chunked cross-entropy, Fabric's "
             "bitsandbytes plugin quantizes every linear including the head; Fabric accumulates inside "
             "no_backward_sync (FSDP no_sync) with use_orig_params=True, so each block's flat parameter "
             "mixes frozen and LoRA weights and its whole gradient stays unsharded."),
    "llm-foundry": Framework(
        "llm-foundry", cross_entropy="standard", adapter_dtype="compute", quantize_scope="all-linear",
        lora_dropout=0.0, compile=False, activation_offload=False, quant_saves_input=True,
        reports="allocated", fsdp_no_sync="trainable",
        note="MosaicML Composer / llm-foundry: FSDP with hand-written flash-attention (Triton) kernels and "
             "low-precision LayerNorm, no torch.compile; its published benchmarks are full training steps; "
             "Composer's default SINGLE_AUTO_SYNC accumulates inside no_sync()."),
}


# ----------------------------------------------------------------------------------------------
# The job
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FineTune:
    """One fine-tuning job. Fields after ``offload`` are framework knobs: ``None`` takes the
    value of the ``framework`` preset, so the DESIGN.md call works unchanged."""

    model: Architecture | str = "llama-3.1-8b"
    method: str = "lora"
    precision: str = "bf16-mixed"
    quantization: str | None = None
    optimizer: str = "adamw"
    micro_batch_size: int = 1
    seq_len: int = 2048
    gradient_checkpointing: bool = False
    attention: str = "sdpa"
    lora_rank: int | None = None  # None: 16 for lora/qlora; must stay None for full
    lora_targets: str | tuple[str, ...] = "all-linear"
    num_gpus: int = 1
    sharding: str = "none"
    offload: str | None = None
    # -- beyond DESIGN.md: framework behaviour ---------------------------------------------------
    framework: str = "hf-peft"
    gradient_accumulation_steps: int = 1
    lora_dropout: float | None = None
    cross_entropy: str | None = None
    adapter_dtype: str | None = None
    quantize_scope: str | None = None
    compile: bool | None = None  # fused elementwise kernels: torch.compile, Liger, Unsloth's Triton
    activation_offload: bool | None = None
    optimizer_in_backward: bool = False
    fsdp_no_sync: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.model, str):
            _require(self.model in catalog.models(),
                     f"model must be an Architecture or one of the presets "
                     f"{', '.join(catalog.models())}; got {self.model!r}.")
        else:
            _require(isinstance(self.model, Architecture),
                     f"model must be an Architecture or a preset id; got {type(self.model).__name__}.")
        _choice("method", self.method, METHODS)
        _choice("precision", self.precision, PRECISIONS)
        _choice("quantization", self.quantization, (None, *QUANTIZATIONS))
        _require(not (self.method == "full" and self.quantization is not None),
                 f"quantization is only supported with method lora or qlora (a quantized base cannot be "
                 f"fully fine-tuned); got quantization={self.quantization!r} with method='full'.")
        _require(not (self.method == "lora" and self.quantization is not None),
                 "quantization with method='lora' is QLoRA: use method='qlora' with quantization "
                 f"one of {', '.join(QUANTIZATIONS)}.")
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _positive_int("micro_batch_size", self.micro_batch_size)
        _positive_int("seq_len", self.seq_len)
        _choice("attention", self.attention, ATTENTIONS)
        if self.method == "full":
            _require(self.lora_rank is None,
                     f"lora_rank applies only to method lora or qlora, not to method 'full' "
                     f"(got {self.lora_rank!r}).")
        elif self.lora_rank is not None:
            _positive_int("lora_rank", self.lora_rank)
        _positive_int("num_gpus", self.num_gpus)
        _choice("sharding", self.sharding, SHARDINGS)
        _require(not (self.sharding != "none" and self.num_gpus == 1),
                 f"sharding={self.sharding!r} needs num_gpus of 2 or more; use sharding='none' on one GPU.")
        _choice("offload", self.offload, (None, *OFFLOADS))
        _require(not (self.offload == "optimizer+params" and self.sharding not in ("fsdp", "zero3")),
                 "offload='optimizer+params' needs sharding 'fsdp' or 'zero3' (parameters are offloaded "
                 "shard by shard).")
        _choice("framework", self.framework, tuple(FRAMEWORKS))
        _positive_int("gradient_accumulation_steps", self.gradient_accumulation_steps)
        if self.lora_dropout is not None:
            _require(0.0 <= self.lora_dropout < 1.0,
                     f"lora_dropout must be in [0, 1); got {self.lora_dropout!r}.")
        _knob_choice("cross_entropy", self.cross_entropy, CROSS_ENTROPIES)
        _knob_choice("adapter_dtype", self.adapter_dtype, ADAPTER_DTYPES)
        _knob_choice("quantize_scope", self.quantize_scope, QUANTIZE_SCOPES)
        _knob_choice("fsdp_no_sync", self.fsdp_no_sync, NO_SYNC_MODES)
        _require(not (self.optimizer_in_backward and self.gradient_accumulation_steps > 1),
                 "optimizer_in_backward needs gradient_accumulation_steps=1 (the step runs inside backward).")
        if self.method != "full":
            targets = self.target_modules()
            _require(len(targets) > 0, "lora_targets must name at least one module.")

    # -- resolved views ------------------------------------------------------------------------
    def replace(self, **changes: Any) -> FineTune:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def architecture(self) -> Architecture:
        return self.model if isinstance(self.model, Architecture) else Architecture.from_preset(self.model)

    @property
    def preset(self) -> Framework:
        return FRAMEWORKS[self.framework]

    @property
    def rank(self) -> int:
        """The LoRA rank in use (0 for full fine-tuning)."""
        if self.method == "full":
            return 0
        return self.lora_rank if self.lora_rank is not None else 16

    @property
    def resolved_quantization(self) -> str | None:
        if self.method == "qlora":
            return self.quantization or "nf4-dq"
        return None

    def knob(self, name: str) -> Any:
        """A framework knob: the job's own value, else the framework preset's."""
        own = getattr(self, name)
        return own if own is not None else getattr(self.preset, name)

    def target_modules(self) -> tuple[str, ...]:
        """LoRA targets as module names. ``all-linear`` is every block linear (PEFT's meaning:
        the output head is not included; name ``lm_head`` to adapt it)."""
        arch = self.architecture
        known = arch.module_names()
        if isinstance(self.lora_targets, str):
            if self.lora_targets == "all-linear":
                return tuple(arch.linear_shapes())
            names: tuple[str, ...] = tuple(t.strip() for t in self.lora_targets.split(",") if t.strip())
        else:
            names = tuple(self.lora_targets)
        for name in names:
            _require(name in known, f"lora_targets must be 'all-linear' or names from {', '.join(known)}; "
                                    f"got {name!r}.")
        return tuple(dict.fromkeys(names))


# ----------------------------------------------------------------------------------------------
# The estimate
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory a job needs. All values in bytes.

    ``per_gpu_bytes`` is what each card must hold (the device total, as nvidia-smi would show:
    allocator peak + fragmentation + CUDA context). ``breakdown`` splits it into what is resident
    at the peak and sums to it exactly; ``components`` lists every term at full size.
    """

    per_gpu_bytes: int
    cpu_bytes: int
    breakdown: dict[str, int]
    components: dict[str, int]
    allocated_bytes: int
    reserved_bytes: int
    pageable_bytes: int
    peak_phase: str
    trainable_params: int
    total_params: int
    notes: tuple[str, ...] = field(default=())

    def reported(self, counter: str) -> int:
        """The peak as a given counter reports it: ``allocated`` (torch max_memory_allocated),
        ``reserved`` (max_memory_reserved) or ``device`` (nvidia-smi / NVML)."""
        _choice("counter", counter, MEMORY_COUNTERS)
        return {"allocated": self.allocated_bytes, "reserved": self.reserved_bytes,
                "device": self.per_gpu_bytes}[counter]


def _bytes_per_param_quantized(quantization: str, d_in: int, d_out: int) -> float:
    if quantization == "nf4":
        return cal.NF4_BITS_PER_PARAM / 8.0
    if quantization == "nf4-dq":
        return cal.NF4_DQ_BITS_PER_PARAM / 8.0
    return cal.INT8_BITS_PER_PARAM / 8.0 + 4.0 / d_in  # one fp32 scale per output row


def lora_parameter_count(job: FineTune) -> int:
    """Adapter parameters: ``r*(d_in + d_out)`` per adapted matrix per layer (LoRA paper; GQA-sized
    k/v), plus the head when ``lm_head`` is a target."""
    if job.method == "full":
        return 0
    arch, rank = job.architecture, job.rank
    shapes = arch.linear_shapes()
    total = 0
    for name in job.target_modules():
        if name == HEAD_MODULE:
            total += rank * (arch.hidden_size + arch.vocab_size)
        else:
            d_in, d_out = shapes[name]
            total += arch.num_layers * rank * (d_in + d_out)
    return total


def _activation_bytes(job: FineTune) -> tuple[float, float, float]:
    """(bytes kept per layer without checkpointing, bytes of one layer's input, bytes kept after
    the last layer for the head), for one GPU's micro-batch."""
    arch = job.architecture
    tokens = job.micro_batch_size * job.seq_len
    mixed = job.precision.endswith("-mixed")
    act = 4 if job.precision == "fp32" else 2  # matmul outputs
    fp32_ops = 4 if (mixed or job.precision == "fp32") else 2  # norms/softmax run in fp32 under autocast
    h, i, qd, kvd = arch.hidden_size, arch.intermediate_size, arch.q_dim, arch.kv_dim
    compiled = bool(job.knob("compile"))
    full = job.method == "full"
    targets = set(job.target_modules()) if not full else set()
    dropout = float(job.knob("lora_dropout")) if not full else 0.0
    quantized = _quantized_modules(job)
    saves_input = job.method == "qlora" and job.preset.quant_saves_input

    def needs_input(name: str) -> bool:
        return full or (name in targets and dropout == 0.0) or (name in quantized and saves_input)

    per_token = 0.0
    per_token += act * h  # layer input (attention norm's input)
    per_token += act * h  # residual after attention (MLP norm's input)
    per_token += act * (qd + 2 * kvd)  # q, k, v kept by the attention kernel
    per_token += act * qd + 4 * arch.num_heads  # attention output + fp32 log-sum-exp per head
    # Norms. nn.LayerNorm's kernel saves only its input (already counted) and, under autocast,
    # returns fp32. An eager RMSNorm (HF LlamaRMSNorm, torchtune RMSNorm) upcasts its input to
    # fp32 and autograd keeps that copy for the pow/mul backward; fused kernels (torch.compile,
    # Liger, Unsloth) do not.
    norm_out = fp32_ops if (arch.norm_bias and mixed) else act
    if not arch.norm_bias and not compiled and act == 2:
        per_token += 4 * h * arch.norms_per_layer
    if any(needs_input(n) for n in ("q_proj", "k_proj", "v_proj")):
        per_token += norm_out * h  # attention-norm output
    if any(needs_input(n) for n in ("gate_proj", "up_proj")):
        per_token += norm_out * h  # MLP-norm output
    if arch.mlp == "gated":
        per_token += act * i * (2 if compiled else 3)  # gate, up (and act(gate) unless recomputed)
        if not compiled and needs_input("down_proj"):
            per_token += act * i  # act(gate) * up, the down projection's input
    else:
        per_token += act * i  # fc1 output for the GeLU backward
        if not compiled and needs_input("down_proj"):
            per_token += act * i  # GeLU output, fc2's input
    if arch.dropout:
        per_token += 2 * h  # two residual dropout masks (1 byte each)
    if job.attention == "eager":
        scores = arch.num_heads * job.seq_len  # a*s elements per token (Korthikanti's 5as term)
        per_token += fp32_ops * scores if mixed else act * scores
        if arch.dropout:
            per_token += scores * (1 + act)  # dropout mask + dropped probabilities
    # LoRA adapters: A's output (rank wide) for B's gradient; with dropout a dropped copy + mask.
    shapes = arch.linear_shapes()
    for name in targets - {HEAD_MODULE}:
        d_in, _ = shapes[name]
        per_token += 4 * job.rank  # adapter intermediate (fp32 worst case)
        if dropout > 0.0:
            per_token += d_in * (act + 1)
    head_per_token = act * h  # final norm input
    if HEAD_MODULE in targets or (HEAD_MODULE in quantized and saves_input) or full:
        head_per_token += act * h
    scale = cal.ACTIVATION_SCALE
    # A checkpointed layer input is one plain tensor kept between layers: no temporaries, no workspace,
    # so the fitted scale (which absorbs what the tensor-by-tensor count misses inside a layer) does
    # not apply to it.
    return per_token * tokens * scale, act * h * tokens, head_per_token * tokens * scale


def _quantized_modules(job: FineTune) -> set[str]:
    if job.method != "qlora":
        return set()
    arch = job.architecture
    scope = job.knob("quantize_scope")
    if scope == "adapted":
        return set(job.target_modules())
    mods = set(arch.linear_shapes())
    if scope == "all-linear+head" and arch.lm_head:
        mods.add(HEAD_MODULE)
    return mods


def _logits_bytes(job: FineTune) -> float:
    arch = job.architecture
    if not arch.lm_head:
        return 0.0
    tokens = job.micro_batch_size * job.seq_len
    kind = job.knob("cross_entropy")
    if kind == "standard":
        return tokens * arch.vocab_size * cal.LOGITS_BYTES_STANDARD
    if kind == "chunked":
        return tokens * arch.vocab_size * cal.LOGITS_BYTES_CHUNKED
    return min(tokens, cal.FUSED_CE_CHUNK_TOKENS) * arch.vocab_size * cal.LOGITS_BYTES_STANDARD


def _optimizer_state_bytes(job: FineTune, trainable_shapes: list[tuple[int, int, int]],
                           param_bytes: int) -> float:
    """Optimizer state for the trainable tensors, given as (count, rows, cols)."""
    n = sum(c * r * k for c, r, k in trainable_shapes)
    opt = job.optimizer
    if opt == "adamw":
        return 2 * param_bytes * n  # m and v in the parameter's dtype (fp32 under mixed precision)
    if opt in ("adamw-8bit", "paged-adamw-8bit"):
        return 2.0 * n  # one byte per state (bitsandbytes block-wise; constants negligible)
    if opt == "sgd":
        return param_bytes * n  # momentum buffer
    # Adafactor (factored second moment, no first moment): one row and one column vector per
    # matrix (Shazeer & Stern 2018), kept in fp32.
    return sum(4.0 * c * (r + k) for c, r, k in trainable_shapes)


def _unsynced_gradient_bytes(job: FineTune, weight_bytes: float, trainable_grad_bytes: float,
                             base_bytes: int) -> float:
    """Gradient that FSDP's ``no_sync()`` keeps unsharded on every GPU between accumulation
    micro-steps (0 when the job syncs each micro-step or does not accumulate).

    ``weight_bytes`` is the whole model's unsharded weight storage, ``base_bytes`` the frozen 16/32-bit
    weights' width. Under the ``units`` mode the
    gradient has the size of each flat parameter that holds a trainable weight, frozen part included:
    every transformer block when an adapter sits in the blocks, plus the root unit (embeddings,
    final norm, head) when the head is trained.
    """
    mode = job.knob("fsdp_no_sync")
    if job.sharding != "fsdp" or job.gradient_accumulation_steps == 1 or mode == "off":
        return 0.0
    if mode == "trainable" or job.method == "full":
        return trainable_grad_bytes
    arch = job.architecture
    targets = job.target_modules()
    head_bytes = float(base_bytes * arch.head_params())
    if arch.head_params() and HEAD_MODULE in _quantized_modules(job):
        head_bytes = arch.head_params() * _bytes_per_param_quantized(
            job.resolved_quantization or "nf4-dq", arch.hidden_size, arch.vocab_size)
    final_norm = arch.hidden_size * (2 if arch.norm_bias else 1)
    root_bytes = base_bytes * (arch.embedding_params() + final_norm) + head_bytes
    in_blocks = any(name != HEAD_MODULE for name in targets)
    units = 0.0
    if in_blocks:
        units += weight_bytes - root_bytes
    if HEAD_MODULE in targets:
        units += root_bytes
    return max(units, trainable_grad_bytes)


def estimate_memory(job: FineTune) -> MemoryEstimate:
    """Peak memory per GPU and host RAM of ``job``, with a breakdown (bytes)."""
    arch = job.architecture
    shapes = arch.linear_shapes()
    L = arch.num_layers
    n_gpus = job.num_gpus
    full = job.method == "full"
    quantization = job.resolved_quantization
    quantized = _quantized_modules(job)
    base_bytes = 4 if job.precision == "fp32" else 2
    notes: list[str] = []

    # -- weights -------------------------------------------------------------------------------
    total_params = arch.parameter_count()
    quantized_weight_bytes = 0.0
    quantized_params = 0
    for name in quantized:
        if name == HEAD_MODULE:
            d_in, d_out, count = arch.hidden_size, arch.vocab_size, 1
        else:
            (d_in, d_out), count = shapes[name], L
        quantized_params += count * d_in * d_out
        quantized_weight_bytes += count * d_in * d_out * _bytes_per_param_quantized(quantization or "nf4-dq",
                                                                                      d_in, d_out)
    if HEAD_MODULE in quantized and arch.tied_embeddings:
        notes.append("Tied embeddings: the head shares the embedding, which stays in 16-bit.")
        quantized_params -= arch.vocab_size * arch.hidden_size
        quantized_weight_bytes -= arch.vocab_size * arch.hidden_size * _bytes_per_param_quantized(
            quantization or "nf4-dq", arch.hidden_size, arch.vocab_size)
    dense_params = total_params - quantized_params
    lora_params = lora_parameter_count(job)
    mixed = job.precision.endswith("-mixed")

    if full:
        trainable = total_params
        trainable_bytes = 4 if (mixed or job.precision == "fp32") else 2
        weights = float(trainable_bytes * total_params)
        master = 0.0
        if mixed:
            # PyTorch AMP: the fp32 parameters are the master copy; autocast caches a 16-bit copy
            # of every weight for the forward and backward (HF's 6 B/param for mixed precision).
            master = 4.0 * total_params
            weights = 2.0 * total_params
        trainable_shapes = [(L, d_in, d_out) for d_in, d_out in shapes.values()]
        trainable_shapes.append((1, arch.vocab_size, arch.hidden_size))  # embeddings (+ head)
        if arch.head_params():
            trainable_shapes.append((1, arch.vocab_size, arch.hidden_size))
        other = total_params - sum(c * r * k for c, r, k in trainable_shapes)
        trainable_shapes.append((1, 1, max(other, 0)))
    else:
        trainable = lora_params
        adapter_dtype = job.knob("adapter_dtype")
        trainable_bytes = 4 if (adapter_dtype == "fp32" or job.precision == "fp32") else 2
        weights = base_bytes * dense_params + quantized_weight_bytes + trainable_bytes * lora_params
        master = 0.0
        trainable_shapes = []
        for name in job.target_modules():
            d_in, d_out = (arch.hidden_size, arch.vocab_size) if name == HEAD_MODULE else shapes[name]
            count = 1 if name == HEAD_MODULE else L
            trainable_shapes += [(count, job.rank, d_in), (count, d_out, job.rank)]

    grads = float(trainable_bytes * trainable)
    if job.optimizer_in_backward:
        largest = max(r * k for _, r, k in trainable_shapes)
        grads = float(trainable_bytes * largest)
        notes.append("Optimizer step fused into backward: only one parameter's gradient is alive at a time.")
    optimizer = _optimizer_state_bytes(job, trainable_shapes, trainable_bytes)
    pageable = 0.0
    if job.optimizer == "paged-adamw-8bit":
        pageable, optimizer = optimizer, 0.0
        notes.append("Paged 8-bit AdamW keeps its state in CUDA unified memory: it stays on the GPU when there "
                     "is room and pages to host RAM when there is not; it is not counted in the GPU peak.")

    unsynced = _unsynced_gradient_bytes(job, weights, grads, base_bytes)
    if unsynced:
        notes.append("FSDP accumulates gradients inside no_sync(): they stay unsharded on every GPU until the "
                     "synchronising micro-step (framework knob fsdp_no_sync).")

    # -- sharding and offload --------------------------------------------------------------------
    cpu = 0.0
    gathered = 0.0
    shard = 1.0 / n_gpus
    if job.sharding in ("zero1", "zero2", "zero3", "fsdp"):
        optimizer *= shard
        master *= shard
    if job.sharding in ("zero2", "zero3", "fsdp") and not job.optimizer_in_backward:
        grads *= shard
    if job.sharding in ("zero3", "fsdp"):
        weights *= shard
        layer_params = arch.linear_params_per_layer() + arch.bias_params_per_layer()
        gathered = cal.GATHERED_LAYERS * layer_params * base_bytes
    if job.offload is not None:
        host_states = (optimizer + master) * n_gpus + (4.0 * trainable if mixed or full else 0.0)
        cpu += cal.HOST_OFFLOAD_BUFFER_FACTOR * host_states
        optimizer = master = 0.0
        if job.offload == "optimizer+params":
            cpu += weights * n_gpus + grads * n_gpus
            weights = 0.0
            grads = 0.0
    cpu += pageable * n_gpus

    # -- activations -----------------------------------------------------------------------------
    per_layer, layer_input, head_acts = _activation_bytes(job)
    working = cal.BACKWARD_WORKING_SET_FACTOR * per_layer
    offload_acts = bool(job.knob("activation_offload")) and job.gradient_checkpointing
    if job.gradient_checkpointing:
        # Every layer's input stays (or, offloaded, only the last few). At the loss nothing else of
        # the layers is alive; in backward the layer being recomputed holds its whole set, its own
        # input included.
        resident = min(cal.OFFLOAD_RESIDENT_LAYERS, L) if offload_acts else L
        if offload_acts:
            cpu += L * layer_input * n_gpus
            notes.append("Checkpointed layer inputs are offloaded to host RAM.")
        at_loss = resident * layer_input + head_acts
        in_backward = (resident - 1) * layer_input + per_layer  # plus one layer being recomputed
    else:
        at_loss = L * per_layer + head_acts
        in_backward = L * per_layer
    activations = max(at_loss, in_backward)
    logits = _logits_bytes(job)

    # -- the peak ----------------------------------------------------------------------------------
    static = weights + master + optimizer + gathered
    # Backward starts at the loss: the head's weight gradient (full fine-tuning) appears while
    # every activation is still alive; gradients of earlier micro-batches persist under accumulation.
    head_grad = 0.0
    if full and arch.lm_head and job.offload != "optimizer+params":
        head_grad = trainable_bytes * arch.vocab_size * arch.hidden_size * shard
    persisted = grads if job.gradient_accumulation_steps > 1 else head_grad
    if unsynced:
        # Between micro-steps only the unsharded gradient exists; at the synchronising step each
        # unit's unsharded gradient is freed as its shard is produced.
        persisted = unsynced
    # Three moments can set the peak. At the loss the logits and the loss's own tensors are alive;
    # they are freed once the head's backward has run, before the last layer's backward (and, under
    # checkpointing, its recomputation) starts. At the end of backward every gradient exists.
    loss_phase = at_loss + logits + persisted
    layer_phase = in_backward + working + persisted
    backward_end = max(grads, unsynced) + working
    phases = {"loss": loss_phase, "backward": layer_phase, "backward-end": backward_end}
    phase = max(phases, key=lambda name: phases[name])
    if phase == "loss":
        at_peak_grads, at_peak_acts, at_peak_logits = persisted, at_loss, logits
    elif phase == "backward":
        at_peak_grads, at_peak_acts, at_peak_logits = persisted, in_backward + working, 0.0
    else:
        at_peak_grads, at_peak_acts, at_peak_logits = max(grads, unsynced), working, 0.0
    allocated = static + phases[phase]
    fragmentation = cal.FRAGMENTATION_FRACTION * allocated
    context = float(cal.CUDA_CONTEXT_BYTES)
    reserved = allocated + fragmentation
    device = reserved + context

    breakdown = {
        "weights": round(weights + master + gathered),
        "gradients": round(at_peak_grads),
        "optimizer": round(optimizer),
        "activations": round(at_peak_acts),
        "logits": round(at_peak_logits),
        "overhead": 0,
    }
    breakdown["overhead"] = round(device) - sum(breakdown.values())
    components = {
        "weights": round(weights),
        "master_weights": round(master),
        "gathered_layers": round(gathered),
        "gradients": round(grads),
        "unsynced_gradients": round(unsynced),
        "optimizer": round(optimizer),
        "optimizer_pageable": round(pageable),
        "activations": round(activations),
        "backward_working_set": round(working),
        "logits": round(logits),
        "fragmentation": round(fragmentation),
        "cuda_context": round(context),
    }
    return MemoryEstimate(
        per_gpu_bytes=round(device), cpu_bytes=round(cpu), breakdown=breakdown, components=components,
        allocated_bytes=round(allocated), reserved_bytes=round(reserved), pageable_bytes=round(pageable),
        peak_phase=phase, trainable_params=trainable, total_params=total_params, notes=tuple(notes))


# ----------------------------------------------------------------------------------------------
# Fit helpers a planner calls
# ----------------------------------------------------------------------------------------------


def usable_vram_bytes(gpu: str) -> int:
    """Card memory a job may plan to use: VRAM less ``USABLE_VRAM_RESERVE_FRACTION`` (driver
    reserve, ECC and display buffers, and a margin for allocator spikes this model misses)."""
    spec = catalog.gpu(gpu)
    return int(spec.vram_bytes * (1.0 - cal.USABLE_VRAM_RESERVE_FRACTION))


def fits(job: FineTune, gpu: str) -> bool:
    """Whether each GPU's peak fits the card's usable VRAM."""
    return estimate_memory(job).per_gpu_bytes <= usable_vram_bytes(gpu)


def _largest_fitting(job: FineTune, gpu: str, field_name: str, upper: int) -> int:
    """Largest value of an integer field (monotone in memory) that still fits, or 0."""
    if not fits(job.replace(**{field_name: 1}), gpu):
        return 0
    lo, hi = 1, 2
    while hi <= upper and fits(job.replace(**{field_name: hi}), gpu):
        lo, hi = hi, hi * 2
    hi = min(hi, upper + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(job.replace(**{field_name: mid}), gpu):
            lo = mid
        else:
            hi = mid
    return lo


def max_micro_batch(job: FineTune, gpu: str, upper: int = 4096) -> int:
    """Largest micro-batch (at the job's sequence length) that fits; 0 when even 1 does not."""
    return _largest_fitting(job, gpu, "micro_batch_size", upper)


def max_seq_len(job: FineTune, gpu: str, upper: int = 2**21) -> int:
    """Longest sequence (at the job's micro-batch) that fits; 0 when even 1 token does not."""
    return _largest_fitting(job, gpu, "seq_len", upper)


def min_gpus(job: FineTune, gpu: str, sharding: str = "fsdp", counts: tuple[int, ...] = (1, 2, 4, 8)) -> int | None:
    """Smallest GPU count (from ``counts``) at which the job fits, sharded with ``sharding``
    beyond one GPU; ``None`` when none does."""
    _choice("sharding", sharding, SHARDINGS[1:])
    for count in counts:
        candidate = job.replace(num_gpus=count, sharding="none" if count == 1 else sharding)
        if fits(candidate, gpu):
            return count
    return None


def rule_of_thumb_bytes(params: float, method: str) -> float:
    """The folk estimate rentbuy is compared against: 16 / 2 / 0.5 GB per billion parameters
    for full / LoRA / QLoRA (GB = 1e9 bytes)."""
    per_billion = {"full": 16.0, "lora": 2.0, "qlora": 0.5}[method]
    return per_billion * params


def bytes_to_gib(value: float) -> float:
    return value / cal.GIB


def bytes_to_gb(value: float) -> float:
    return value / 1e9


__all__ = [
    "FRAMEWORKS", "Architecture", "FineTune", "Framework", "MemoryEstimate", "bytes_to_gb", "bytes_to_gib",
    "estimate_memory", "fits", "lora_parameter_count", "max_micro_batch", "max_seq_len", "min_gpus",
    "rule_of_thumb_bytes", "usable_vram_bytes",
]
