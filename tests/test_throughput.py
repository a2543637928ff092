"""Unit checks of the FLOP count, the time model and multi-GPU scaling."""

from __future__ import annotations

import pytest

from optimizer import calibration as cal
from optimizer.memory import FineTune, lora_parameter_count
from optimizer.throughput import flops_per_token, scaling_efficiency, tokens_per_second, training_hours

JOB = FineTune(model="llama-3.1-8b", method="lora", micro_batch_size=2, seq_len=2048)


def test_flops_follow_6n_4n_and_recompute() -> None:
    full = JOB.replace(method="full", lora_rank=None)
    arch = JOB.architecture
    n = arch.matmul_params()
    attention = 12 * arch.num_layers * arch.q_dim * JOB.seq_len  # PaLM appendix B, fwd + bwd
    assert flops_per_token(full) == pytest.approx(6 * n + attention)
    assert flops_per_token(JOB) == pytest.approx(4 * n + 6 * lora_parameter_count(JOB) + attention)
    ckpt = flops_per_token(full.replace(gradient_checkpointing=True)) - flops_per_token(full)
    assert ckpt == pytest.approx(2 * n + attention / 3)


def test_qlora_is_slower_than_lora_by_the_measured_factor() -> None:
    lora = tokens_per_second(JOB, "rtx-4090")
    qlora = tokens_per_second(JOB.replace(method="qlora"), "rtx-4090")
    assert lora / qlora == pytest.approx(cal.QLORA_TIME_FACTOR, rel=0.02)


def test_faster_cards_are_faster_and_hours_scale_with_tokens() -> None:
    assert tokens_per_second(JOB, "h100-sxm") > tokens_per_second(JOB, "a100-sxm-80gb") > 0
    assert tokens_per_second(JOB, "rtx-5090") > tokens_per_second(JOB, "rtx-4090") > tokens_per_second(JOB, "rtx-3090")
    one = training_hours(JOB, "rtx-4090", tokens=1e8)
    assert training_hours(JOB, "rtx-4090", tokens=2e8) == pytest.approx(2 * one)
    assert one == pytest.approx(1e8 / tokens_per_second(JOB, "rtx-4090") / 3600)


def test_multi_gpu_scales_sublinearly_and_worse_over_pcie_than_nvswitch() -> None:
    for gpu in ("rtx-4090", "h100-sxm"):
        two = JOB.replace(num_gpus=2, sharding="fsdp")
        assert tokens_per_second(JOB, gpu) < tokens_per_second(two, gpu) < 2 * tokens_per_second(JOB, gpu)
    pcie = scaling_efficiency(JOB.replace(num_gpus=4, sharding="fsdp"), "rtx-4090")
    nvswitch = scaling_efficiency(JOB.replace(num_gpus=4, sharding="fsdp"), "h100-sxm")
    assert 0 < pcie < nvswitch <= 1
    assert scaling_efficiency(JOB, "rtx-4090") == 1.0


def test_fp32_is_slower_than_16_bit() -> None:
    assert tokens_per_second(JOB.replace(precision="fp32"), "a100-sxm-80gb") < tokens_per_second(JOB, "a100-sxm-80gb")


@pytest.mark.parametrize("tokens", [0, -1.0])
def test_training_hours_rejects_non_positive_tokens(tokens: float) -> None:
    with pytest.raises(ValueError, match="tokens"):
        training_hours(JOB, "rtx-4090", tokens=tokens)


def test_unknown_gpu_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="GPU"):
        tokens_per_second(JOB, "gtx-1080")
