"""``rentbuy memory``: table and JSON output, every preset, a custom architecture, bad input."""

from __future__ import annotations

import json

import pytest

from config import catalog
from rentbuy.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["memory", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_shows_breakdown_totals_in_gb_and_gib_and_every_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--model", "llama-3.1-8b", "--method", "qlora", "--seq-len", "2048", "--batch", "4",
                       "--gradient-checkpointing")
    assert code == 0
    for word in ("weights", "optimizer", "activations", "logits", "overhead", "GB", "GiB", "Per GPU:", "Host RAM:"):
        assert word in out
    for gpu in catalog.gpus():
        assert gpu in out
    assert "yes" in out


def test_json_output_parses_and_agrees_with_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    from optimizer.memory import FineTune, estimate_memory

    code, out, _ = run(capsys, "--model", "mistral-7b", "--method", "lora", "--gpu", "rtx-4090", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    expected = estimate_memory(FineTune(model="mistral-7b", method="lora"))
    assert payload["breakdown_bytes"] == expected.breakdown
    assert payload["job"]["per_gpu_GiB"] == pytest.approx(expected.per_gpu_bytes / 2**30)
    assert [g["gpu"] for g in payload["gpus"]] == ["rtx-4090"]


@pytest.mark.parametrize("preset", sorted(catalog.models()))
def test_every_preset_works(capsys: pytest.CaptureFixture[str], preset: str) -> None:
    code, out, _ = run(capsys, "--model", preset, "--format", "json", "--gpu", "h100-sxm")
    assert code == 0 and json.loads(out)["job"]["total_params"] == catalog.model(preset).total_params


def test_custom_architecture_by_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--model", "custom", "--hidden-size", "2048", "--num-layers", "16", "--num-heads", "16",
                       "--num-kv-heads", "4", "--intermediate-size", "8192", "--vocab-size", "50000",
                       "--tied-embeddings", "--format", "json")
    assert code == 0
    assert json.loads(out)["job"]["model"] == "custom"


def test_fsdp_no_sync_flag_reaches_the_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    common = ("--model", "llama-2-7b", "--framework", "litgpt", "--precision", "bf16-true", "--num-gpus", "2",
              "--sharding", "fsdp", "--grad-accum", "8", "--gpu", "a100-sxm-80gb", "--format", "json")
    _, preset, _ = run(capsys, *common)
    _, off, _ = run(capsys, *common, "--fsdp-no-sync", "off")
    held = json.loads(preset)["components_bytes"]["unsynced_gradients"]
    assert held > 0 and json.loads(off)["components_bytes"]["unsynced_gradients"] == 0
    assert json.loads(preset)["job"]["per_gpu_GiB"] > json.loads(off)["job"]["per_gpu_GiB"]


@pytest.mark.parametrize(("args", "field"), [
    (("--model", "llama-9b"), "model"),
    (("--method", "full", "--lora-rank", "8"), "lora_rank"),
    (("--batch", "0"), "micro_batch_size"),
    (("--num-gpus", "0"), "num_gpus"),
    (("--sharding", "fsdp"), "sharding"),
    (("--framework", "axolotl"), "framework"),
    (("--fsdp-no-sync", "always"), "fsdp_no_sync"),
    (("--method", "full", "--quantization", "nf4"), "quantization"),
    (("--gpu", "rtx-9090"), "GPU"),
    (("--model", "custom", "--hidden-size", "64"), "--num-layers"),
    (("--hidden-size", "64",), "--model custom"),
])
def test_bad_input_is_one_sentence_and_exit_2(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                              field: str) -> None:
    code, _out, err = run(capsys, *args)
    assert code == 2
    assert field in err and err.startswith("rentbuy: ") and err.count("\n") == 1
    assert "Traceback" not in err
