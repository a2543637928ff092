"""Unit checks of the memory model: parameter counts, bytes per parameter, the terms of the
breakdown, framework knobs, the fit helpers and every bad-input path."""

from __future__ import annotations

import dataclasses

import pytest

from config import catalog
from optimizer import calibration as cal
from optimizer.memory import (
    FRAMEWORKS,
    Architecture,
    FineTune,
    estimate_memory,
    fits,
    lora_parameter_count,
    max_micro_batch,
    max_seq_len,
    min_gpus,
    usable_vram_bytes,
)

GIB = 2**30


@pytest.mark.parametrize("preset", sorted(catalog.models()))
def test_parameter_count_reproduces_every_preset(preset: str) -> None:
    assert Architecture.from_preset(preset).parameter_count() == catalog.model(preset).total_params


def test_design_md_call_works_unchanged() -> None:
    arch = Architecture(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                        intermediate_size=11008, vocab_size=32000, tied_embeddings=False)
    job = FineTune(model=arch, method="lora", precision="bf16-mixed", quantization=None, optimizer="adamw",
                   micro_batch_size=1, seq_len=2048, gradient_checkpointing=False, attention="sdpa",
                   lora_rank=16, lora_targets="all-linear", num_gpus=1, sharding="none", offload=None)
    m = estimate_memory(job)
    assert set(m.breakdown) >= {"weights", "gradients", "optimizer", "activations", "overhead"}
    assert sum(m.breakdown.values()) == m.per_gpu_bytes
    assert m.cpu_bytes == 0
    assert arch.parameter_count() == catalog.model("llama-2-7b").total_params


def test_lora_count_matches_published_counts() -> None:
    # LitGPT prints 4,194,304 trainable parameters for Llama-2-7B r=8 on q,v; PEFT/Unsloth print
    # 41,943,040 for Llama-3(.1)-8B r=16 on all linear layers (research/model_configs.csv).
    assert lora_parameter_count(FineTune(model="llama-2-7b", lora_rank=8, lora_targets=("q_proj", "v_proj"))) \
        == 4_194_304
    assert lora_parameter_count(FineTune(model="llama-3.1-8b", lora_rank=16)) == 41_943_040


def test_full_mixed_precision_adamw_is_sixteen_bytes_per_param_plus_autocast_copy() -> None:
    job = FineTune(model="llama-2-7b", method="full", precision="bf16-mixed", micro_batch_size=1, seq_len=16)
    c = estimate_memory(job).components
    n = catalog.model("llama-2-7b").total_params
    assert c["master_weights"] == 4 * n and c["weights"] == 2 * n  # fp32 params + 16-bit autocast copy
    assert c["gradients"] == 4 * n and c["optimizer"] == 8 * n  # fp32 grads, m and v


def test_bf16_true_keeps_adam_state_in_bf16_and_no_master() -> None:
    c = estimate_memory(FineTune(model="llama-2-7b", method="full", precision="bf16-true", seq_len=16)).components
    n = catalog.model("llama-2-7b").total_params
    assert (c["weights"], c["master_weights"], c["gradients"], c["optimizer"]) == (2 * n, 0, 2 * n, 4 * n)


@pytest.mark.parametrize(("optimizer", "bytes_per_param"), [("adamw", 8), ("adamw-8bit", 2), ("sgd", 4)])
def test_optimizer_state_bytes(optimizer: str, bytes_per_param: int) -> None:
    job = FineTune(model="tinyllama-1.1b", method="full", precision="fp32", optimizer=optimizer, seq_len=16)
    assert estimate_memory(job).components["optimizer"] == bytes_per_param * job.architecture.parameter_count()


def test_adafactor_state_is_factored_and_tiny() -> None:
    job = FineTune(model="tinyllama-1.1b", method="full", precision="fp32", optimizer="adafactor", seq_len=16)
    assert estimate_memory(job).components["optimizer"] < 0.05 * job.architecture.parameter_count()


def test_paged_optimizer_is_reported_as_pageable_and_on_the_host() -> None:
    job = FineTune(model="llama-3.1-8b", method="full", precision="bf16-true", optimizer="paged-adamw-8bit")
    m = estimate_memory(job)
    assert m.components["optimizer"] == 0
    assert m.pageable_bytes == 2 * job.architecture.parameter_count()
    assert m.cpu_bytes >= m.pageable_bytes
    assert any("Paged" in note for note in m.notes)


@pytest.mark.parametrize(("quantization", "bits"), [("nf4", 4.5), ("nf4-dq", 4.127)])
def test_quantized_weights_use_the_qlora_paper_bits(quantization: str, bits: float) -> None:
    job = FineTune(model="llama-3.1-8b", method="qlora", quantization=quantization, lora_rank=1,
                   lora_targets=("q_proj",), adapter_dtype="compute")
    arch = job.architecture
    linear = arch.num_layers * arch.linear_params_per_layer()
    sixteen_bit = 2 * (arch.parameter_count() - linear)
    adapters = 2 * lora_parameter_count(job)
    weights = estimate_memory(job).components["weights"]
    assert weights - sixteen_bit - adapters == pytest.approx(linear * bits / 8, rel=1e-3)


def test_quantize_scope_adapted_leaves_untouched_linears_in_16_bit() -> None:
    # torchtune before PR #1485: LoRA on q,v only left k/o/MLP in bf16 (issue #1398: 14.41 vs 6.19 GiB).
    base = FineTune(model="llama-3.1-8b", method="qlora", lora_rank=8, lora_targets=("q_proj", "v_proj"),
                    framework="torchtune")
    adapted = estimate_memory(base.replace(quantize_scope="adapted")).components["weights"]
    everything = estimate_memory(base).components["weights"]
    assert adapted > 2 * everything


def test_lora_activations_are_smaller_than_full_and_eager_adds_the_s_squared_term() -> None:
    # With adapters on q,v only, the MLP and output projections keep no inputs for weight gradients.
    lora = FineTune(model="llama-2-7b", method="lora", seq_len=2048, lora_dropout=0.0,
                    lora_targets=("q_proj", "v_proj"))
    full = lora.replace(method="full", lora_rank=None, lora_targets="all-linear")
    assert estimate_memory(lora).components["activations"] < estimate_memory(full).components["activations"]
    # PEFT gives every adapter its own dropped copy of its input: dropout costs memory.
    dropped = estimate_memory(lora.replace(lora_dropout=0.05)).components["activations"]
    assert dropped > estimate_memory(lora).components["activations"]
    eager = estimate_memory(lora.replace(attention="eager")).components["activations"]
    sdpa = estimate_memory(lora).components["activations"]
    arch = lora.architecture
    s_squared = arch.num_layers * arch.num_heads * lora.seq_len**2 * 4  # fp32 softmax under autocast
    assert eager - sdpa == pytest.approx(s_squared * cal.ACTIVATION_SCALE, rel=1e-6)


def test_cross_entropy_implementations_order_the_logits_memory() -> None:
    job = FineTune(model="llama-3.1-8b", micro_batch_size=2, seq_len=4096)
    logits = {ce: estimate_memory(job.replace(cross_entropy=ce)).components["logits"]
              for ce in ("standard", "chunked", "fused")}
    assert logits["standard"] > logits["chunked"] > logits["fused"] > 0
    tokens = 2 * 4096
    assert logits["standard"] == round(tokens * 128256 * cal.LOGITS_BYTES_STANDARD)


def test_encoder_without_lm_head_has_no_logits() -> None:
    arch = Architecture(hidden_size=1024, num_layers=24, num_heads=16, num_kv_heads=16, intermediate_size=4096,
                        vocab_size=30522, mlp="plain", linear_bias=True, norm_bias=True, lm_head=False)
    assert estimate_memory(FineTune(model=arch, method="full", seq_len=512)).components["logits"] == 0


def test_framework_presets_exist_and_set_their_knobs() -> None:
    assert {"hf-peft", "torchtune", "unsloth", "litgpt"} <= set(FRAMEWORKS)
    job = FineTune(model="llama-3.1-8b", framework="unsloth")
    assert job.knob("cross_entropy") == "fused" and job.knob("activation_offload") is True
    assert FineTune(framework="hf-peft").knob("adapter_dtype") == "fp32"
    assert FineTune(framework="torchtune", cross_entropy="standard").knob("cross_entropy") == "standard"


def test_activation_offload_moves_checkpoints_to_the_host() -> None:
    job = FineTune(model="llama-3.1-8b", seq_len=8192, gradient_checkpointing=True, framework="unsloth")
    on = estimate_memory(job)
    off = estimate_memory(job.replace(activation_offload=False))
    assert on.per_gpu_bytes < off.per_gpu_bytes
    assert on.cpu_bytes > 0 and off.cpu_bytes == 0


def test_sharding_divides_model_states_and_offload_needs_host_ram() -> None:
    job = FineTune(model="llama-3.1-70b", method="full", seq_len=512, gradient_checkpointing=True)
    one = estimate_memory(job).components
    eight = estimate_memory(job.replace(num_gpus=8, sharding="fsdp")).components
    for name in ("optimizer", "gradients", "master_weights"):
        assert eight[name] == pytest.approx(one[name] / 8, rel=1e-9)
    offloaded = estimate_memory(job.replace(num_gpus=8, sharding="fsdp", offload="optimizer+params"))
    assert offloaded.components["optimizer"] == 0 and offloaded.components["weights"] == 0
    # DeepSpeed's rule: host holds >= 16 bytes/param (fp32 master, m, v, grads) x 1.5 buffers.
    assert offloaded.cpu_bytes >= 16 * 1.5 * job.architecture.parameter_count()


def test_fsdp_no_sync_keeps_an_unsharded_gradient_between_micro_steps() -> None:
    # LitGPT/Fabric: no_backward_sync under FSDP with frozen and LoRA weights in one flat parameter
    # per block, so the gradient held between micro-steps is as large as every block.
    job = FineTune(model="llama-2-7b", method="lora", precision="bf16-true", framework="litgpt",
                   num_gpus=2, sharding="fsdp", gradient_accumulation_steps=8)
    arch = job.architecture
    block_params = arch.num_layers * (arch.linear_params_per_layer() + arch.bias_params_per_layer()
                                      + arch.norm_params_per_layer())
    held = estimate_memory(job).components["unsynced_gradients"]
    assert held == pytest.approx(2 * (block_params + lora_parameter_count(job)), rel=1e-6)
    # Nothing is held when every micro-step syncs, when there is nothing to accumulate, or off FSDP.
    assert estimate_memory(job.replace(fsdp_no_sync="off")).components["unsynced_gradients"] == 0
    assert estimate_memory(job.replace(gradient_accumulation_steps=1)).components["unsynced_gradients"] == 0
    assert estimate_memory(job.replace(sharding="zero3")).components["unsynced_gradients"] == 0
    # Separate flat parameters for the adapters (PEFT's FSDP wrap policy): only their gradient.
    trainable = estimate_memory(job.replace(fsdp_no_sync="trainable"))
    assert trainable.components["unsynced_gradients"] == 2 * lora_parameter_count(job)
    # The held gradient does not shrink with more GPUs, and it raises the per-GPU peak.
    four = estimate_memory(job.replace(num_gpus=4)).components["unsynced_gradients"]
    assert four == held
    assert estimate_memory(job).per_gpu_bytes > estimate_memory(job.replace(fsdp_no_sync="off")).per_gpu_bytes


def test_fsdp_no_sync_on_a_full_fine_tune_holds_the_whole_gradient() -> None:
    job = FineTune(model="llama-3.1-8b", method="full", precision="bf16-true", num_gpus=4, sharding="fsdp",
                   gradient_accumulation_steps=4, gradient_checkpointing=True)
    params = job.architecture.parameter_count()
    assert job.knob("fsdp_no_sync") == "trainable"  # Accelerate's default (sync_each_batch off)
    assert estimate_memory(job).components["unsynced_gradients"] == 2 * params
    assert estimate_memory(job.replace(framework="torchtune")).components["unsynced_gradients"] == 0


def test_zero_stages_shard_progressively() -> None:
    job = FineTune(model="llama-3.1-8b", method="full", num_gpus=4, seq_len=256)
    per_stage = [estimate_memory(job.replace(sharding=s)).per_gpu_bytes for s in ("none", "zero1", "zero2", "zero3")]
    assert per_stage == sorted(per_stage, reverse=True)


def test_overhead_terms_are_explicit() -> None:
    m = estimate_memory(FineTune(model="llama-3.1-8b"))
    assert m.components["cuda_context"] == cal.CUDA_CONTEXT_BYTES
    assert m.components["fragmentation"] == round(cal.FRAGMENTATION_FRACTION * m.allocated_bytes)
    assert m.allocated_bytes < m.reserved_bytes < m.per_gpu_bytes
    assert m.reported("allocated") == m.allocated_bytes and m.reported("device") == m.per_gpu_bytes


def test_fit_helpers_agree_with_each_other() -> None:
    job = FineTune(model="llama-3.1-8b", method="qlora", seq_len=2048, gradient_checkpointing=True)
    batch = max_micro_batch(job, "rtx-4090")
    assert batch >= 1
    assert fits(job.replace(micro_batch_size=batch), "rtx-4090")
    assert not fits(job.replace(micro_batch_size=batch + 1), "rtx-4090")
    length = max_seq_len(job, "rtx-4090")
    assert fits(job.replace(seq_len=length), "rtx-4090") and not fits(job.replace(seq_len=length + 1), "rtx-4090")
    assert usable_vram_bytes("rtx-4090") < catalog.gpu("rtx-4090").vram_bytes


def test_full_8b_does_not_fit_a_4090_and_min_gpus_finds_a_count() -> None:
    full = FineTune(model="llama-3.1-8b", method="full", seq_len=2048, gradient_checkpointing=True)
    assert not fits(full, "rtx-4090")
    assert max_micro_batch(full, "rtx-4090") == 0
    count = min_gpus(full, "h100-sxm")
    assert count in (2, 4, 8)
    assert fits(full.replace(num_gpus=count, sharding="fsdp"), "h100-sxm")
    assert min_gpus(FineTune(model="llama-3.1-70b", method="full", seq_len=8192), "rtx-3090") is None


def test_replace_returns_a_validated_copy() -> None:
    job = FineTune(model="llama-3.1-8b")
    assert job.replace(seq_len=512).seq_len == 512 and job.seq_len == 2048
    assert dataclasses.replace(job, micro_batch_size=3).micro_batch_size == 3
    with pytest.raises(ValueError, match="seq_len"):
        job.replace(seq_len=0)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"model": "llama-9"}, "model"),
    ({"method": "prefix"}, "method"),
    ({"precision": "fp8"}, "precision"),
    ({"micro_batch_size": 0}, "micro_batch_size"),
    ({"seq_len": -5}, "seq_len"),
    ({"method": "full", "lora_rank": 8}, "lora_rank"),
    ({"lora_rank": 0}, "lora_rank"),
    ({"method": "full", "quantization": "nf4"}, "quantization"),
    ({"method": "lora", "quantization": "nf4"}, "quantization"),
    ({"num_gpus": 0}, "num_gpus"),
    ({"sharding": "fsdp"}, "sharding"),
    ({"sharding": "tp"}, "sharding"),
    ({"offload": "optimizer+params", "num_gpus": 2, "sharding": "zero2"}, "offload"),
    ({"framework": "axolotl"}, "framework"),
    ({"optimizer": "lion"}, "optimizer"),
    ({"attention": "flash3"}, "attention"),
    ({"lora_targets": ("q_proj", "w_pack")}, "lora_targets"),
    ({"cross_entropy": "magic"}, "cross_entropy"),
    ({"fsdp_no_sync": "always"}, "fsdp_no_sync"),
])
def test_bad_input_names_the_field_in_one_sentence(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError) as info:
        FineTune(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert field in message
    assert message.endswith(".") and message.count(". ") == 0


@pytest.mark.parametrize("kwargs", [
    {"hidden_size": 0}, {"num_layers": -1}, {"num_kv_heads": 5}, {"vocab_size": 0}, {"mlp": "moe"},
])
def test_bad_architecture_is_rejected(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
                               "intermediate_size": 128, "vocab_size": 100}
    with pytest.raises(ValueError):
        Architecture(**{**base, **kwargs})  # type: ignore[arg-type]


def test_unknown_gpu_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="GPU"):
        fits(FineTune(), "rtx-9090")
