"""Monotonicity properties of the memory estimate (hypothesis): memory never decreases when the
batch, the sequence, the LoRA rank or the model grows; checkpointing never increases it; more
shards never increase per-GPU model-state memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.memory import Architecture, FineTune, estimate_memory

METHOD = st.sampled_from(["full", "lora", "qlora"])
FRAMEWORK = st.sampled_from(["hf-peft", "torchtune", "unsloth", "litgpt"])
PRECISION = st.sampled_from(["fp32", "bf16-mixed", "bf16-true", "fp16-mixed"])
OPTIMIZER = st.sampled_from(["adamw", "adamw-8bit", "paged-adamw-8bit", "sgd", "adafactor"])


@st.composite
def architectures(draw: st.DrawFn) -> Architecture:
    heads = draw(st.sampled_from([4, 8, 16, 32]))
    kv = draw(st.sampled_from([h for h in (1, 2, 4, 8, 16, 32) if heads % h == 0]))
    head_dim = draw(st.sampled_from([32, 64, 128]))
    return Architecture(hidden_size=heads * head_dim, num_layers=draw(st.integers(1, 48)), num_heads=heads,
                        num_kv_heads=kv, intermediate_size=draw(st.integers(64, 20000)),
                        vocab_size=draw(st.integers(1000, 260000)), tied_embeddings=draw(st.booleans()),
                        mlp=draw(st.sampled_from(["gated", "plain"])))


@st.composite
def jobs(draw: st.DrawFn) -> FineTune:
    method = draw(METHOD)
    return FineTune(
        model=draw(architectures()), method=method, precision=draw(PRECISION), optimizer=draw(OPTIMIZER),
        micro_batch_size=draw(st.integers(1, 16)), seq_len=draw(st.integers(1, 16384)),
        gradient_checkpointing=draw(st.booleans()), attention=draw(st.sampled_from(["sdpa", "eager"])),
        lora_rank=None if method == "full" else draw(st.integers(1, 256)), framework=draw(FRAMEWORK),
        gradient_accumulation_steps=draw(st.integers(1, 4)), compile=draw(st.booleans()),
    )


def peak(job: FineTune) -> int:
    return estimate_memory(job).per_gpu_bytes


@settings(max_examples=150, deadline=None)
@given(jobs(), st.integers(1, 8))
def test_more_batch_never_needs_less(job: FineTune, extra: int) -> None:
    assert peak(job.replace(micro_batch_size=job.micro_batch_size + extra)) >= peak(job)


@settings(max_examples=150, deadline=None)
@given(jobs(), st.integers(1, 4096))
def test_longer_sequences_never_need_less(job: FineTune, extra: int) -> None:
    assert peak(job.replace(seq_len=job.seq_len + extra)) >= peak(job)


@settings(max_examples=150, deadline=None)
@given(jobs(), st.integers(1, 128))
def test_higher_rank_never_needs_less(job: FineTune, extra: int) -> None:
    if job.method == "full":
        return
    assert peak(job.replace(lora_rank=job.rank + extra)) >= peak(job)


@settings(max_examples=150, deadline=None)
@given(jobs(), st.integers(1, 8), st.integers(0, 4096), st.integers(0, 4096))
def test_bigger_models_never_need_less(job: FineTune, layers: int, wider_mlp: int, more_vocab: int) -> None:
    arch = job.architecture
    bigger = Architecture(hidden_size=arch.hidden_size, num_layers=arch.num_layers + layers,
                          num_heads=arch.num_heads, num_kv_heads=arch.num_kv_heads,
                          intermediate_size=arch.intermediate_size + wider_mlp,
                          vocab_size=arch.vocab_size + more_vocab, tied_embeddings=arch.tied_embeddings,
                          mlp=arch.mlp)
    assert bigger.parameter_count() > arch.parameter_count()
    assert peak(job.replace(model=bigger)) >= peak(job)


@settings(max_examples=150, deadline=None)
@given(jobs())
def test_checkpointing_never_increases_memory(job: FineTune) -> None:
    assert peak(job.replace(gradient_checkpointing=True)) <= peak(job.replace(gradient_checkpointing=False))


@settings(max_examples=150, deadline=None)
@given(jobs(), st.sampled_from(["zero1", "zero2", "zero3", "fsdp"]))
def test_more_shards_never_increase_model_states_per_gpu(job: FineTune, sharding: str) -> None:
    def model_states(count: int) -> int:
        c = estimate_memory(job.replace(num_gpus=count, sharding="none" if count == 1 else sharding)).components
        return c["weights"] + c["master_weights"] + c["gradients"] + c["optimizer"]

    states = [model_states(n) for n in (1, 2, 4, 8)]
    assert states == sorted(states, reverse=True)
