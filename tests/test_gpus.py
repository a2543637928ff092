"""Canonicalisation: every GPU spelling in research/price-apis.md, table-driven.

Each row is (where the spelling comes from, raw name, keyword hints, expected id). ``unknown``
rows are deliberate: a different part (3090 Ti is not a 3090, GH200 is not an H200), or a name
that does not say enough (an A100 without its memory, an H100 without its form factor).
"""

from __future__ import annotations

import pytest

from config.catalog import canonical_gpu_ids
from providers.gpus import INSTANCE_TYPES, UNKNOWN, canonical_gpu, instance_gpus

MB = 1 / 1024  # Vast's gpu_ram is MB per GPU

SPELLINGS: list[tuple[str, str, dict[str, object], str]] = [
    # §1 Vast.ai gpu_name (+ gpu_ram for the A100 split)
    ("vast", "RTX 4090", {"memory_gb": 24564 * MB}, "rtx-4090"),
    ("vast", "RTX 3090", {"memory_gb": 24576 * MB}, "rtx-3090"),
    ("vast", "RTX 3090 Ti", {}, "rtx-3090-ti"),
    ("vast", "RTX 5090", {"memory_gb": 32607 * MB}, "rtx-5090"),
    ("vast", "H100 SXM", {"memory_gb": 81559 * MB}, "h100-sxm"),
    ("vast", "H100 PCIE", {"memory_gb": 81559 * MB}, "h100-pcie"),
    ("vast", "H100 NVL", {"memory_gb": 95830 * MB}, "h100-nvl"),
    ("vast", "A100 SXM4", {"memory_gb": 40960 * MB}, "a100-sxm-40gb"),
    ("vast", "A100 SXM4", {"memory_gb": 81920 * MB}, "a100-sxm-80gb"),
    ("vast", "A100 SXM", {"memory_gb": 81920 * MB}, "a100-sxm-80gb"),
    ("vast", "A100 PCIE", {"memory_gb": 40960 * MB}, "a100-pcie-40gb"),
    ("vast", "A100 PCIE", {"memory_gb": 81920 * MB}, "a100-pcie-80gb"),
    ("vast", "A100 SXM4", {}, UNKNOWN),  # 40 or 80 GB: the name does not say
    ("vast", "A100X", {}, UNKNOWN),  # converged accelerator, a different part
    ("vast", "H200", {"memory_gb": 143771 * MB}, "h200"),
    ("vast", "H200 NVL", {}, UNKNOWN),  # the PCIe H200 is not the SXM H200 in the catalog
    ("vast", "GH200 SXM", {}, UNKNOWN),
    ("vast", "RTX 4070S Ti", {}, UNKNOWN),
    ("vast", "RTX 3060 laptop", {}, UNKNOWN),
    ("vast", "Tesla V100", {}, UNKNOWN),
    ("vast", "Q RTX 8000", {}, UNKNOWN),
    ("vast", "RTX 6000Ada", {"memory_gb": 49140 * MB}, "rtx-6000-ada"),
    ("vast", "RTX 4090", {"memory_gb": 49140 * MB}, UNKNOWN),  # a 48 GB "4090" is a modded card
    # §2 RunPod id and displayName
    ("runpod", "NVIDIA H100 80GB HBM3", {"memory_gb": 80}, "h100-sxm"),
    ("runpod", "NVIDIA H100 PCIe", {"memory_gb": 80}, "h100-pcie"),
    ("runpod", "NVIDIA H100 NVL", {"memory_gb": 94}, "h100-nvl"),
    ("runpod", "NVIDIA H200", {"memory_gb": 141}, "h200"),
    ("runpod", "NVIDIA A100-SXM4-80GB", {"memory_gb": 80}, "a100-sxm-80gb"),
    ("runpod", "NVIDIA A100 80GB PCIe", {"memory_gb": 80}, "a100-pcie-80gb"),
    ("runpod", "NVIDIA GeForce RTX 4090", {"memory_gb": 24}, "rtx-4090"),
    ("runpod", "NVIDIA GeForce RTX 3090", {"memory_gb": 24}, "rtx-3090"),
    ("runpod", "NVIDIA GeForce RTX 3090 Ti", {"memory_gb": 24}, "rtx-3090-ti"),
    ("runpod", "NVIDIA GeForce RTX 5090", {"memory_gb": 32}, "rtx-5090"),
    ("runpod", "AMD Instinct MI300X OAM", {"memory_gb": 192}, UNKNOWN),
    ("runpod", "H100 SXM", {}, "h100-sxm"),
    ("runpod", "H100 PCIe", {}, "h100-pcie"),
    ("runpod", "H100 NVL", {}, "h100-nvl"),
    ("runpod", "H200 SXM", {}, "h200"),
    ("runpod", "A100 SXM", {"memory_gb": 80}, "a100-sxm-80gb"),
    ("runpod", "A100 PCIe", {"memory_gb": 80}, "a100-pcie-80gb"),
    ("runpod", "A100 80GB", {}, UNKNOWN),  # old displayName: form factor not stated
    ("runpod", "MI300X", {}, UNKNOWN),
    # §3 Lambda gpu_description (and a description with its count)
    ("lambda", "H100 (80 GB SXM5)", {}, "h100-sxm"),
    ("lambda", "8x H100 (80 GB SXM5)", {}, "h100-sxm"),
    ("lambda", "H100 (80 GB PCIe)", {}, "h100-pcie"),
    ("lambda", "A100 (40 GB SXM4)", {}, "a100-sxm-40gb"),
    ("lambda", "A100 (80 GB SXM4)", {}, "a100-sxm-80gb"),
    ("lambda", "A100 (40 GB PCIe)", {}, "a100-pcie-40gb"),
    ("lambda", "B200 (180 GB SXM6)", {}, "b200"),
    ("lambda", "GH200 (96 GB)", {}, UNKNOWN),
    ("lambda", "A10 (24 GB PCIe)", {}, UNKNOWN),
    ("lambda", "RTX 6000 (24 GB)", {}, UNKNOWN),  # Turing Quadro, not the RTX 6000 Ada
    ("lambda", "RTX A6000 (48 GB)", {}, "rtx-a6000"),
    # §4 Azure armSkuName
    ("azure", "Standard_ND96isr_H100_v5", {}, "h100-sxm"),
    ("azure", "Standard_ND96is_H100_v5", {}, "h100-sxm"),
    ("azure", "Standard_ND48s_H100_v5", {}, "h100-sxm"),
    ("azure", "Standard_NC40ads_H100_v5", {}, "h100-nvl"),
    ("azure", "Standard_NC80adis_H100_v5", {}, "h100-nvl"),
    ("azure", "Standard_NCC40ads_H100_v5", {}, "h100-nvl"),
    ("azure", "Standard_ND96asr_v4", {}, "a100-sxm-40gb"),
    ("azure", "Standard_ND96amsr_A100_v4", {}, "a100-sxm-80gb"),
    ("azure", "Standard_NC24ads_A100_v4", {}, "a100-pcie-80gb"),
    ("azure", "Standard_NC48ads_A100_v4", {}, "a100-pcie-80gb"),
    ("azure", "Standard_NC96ads_A100_v4", {}, "a100-pcie-80gb"),
    ("azure", "Standard_ND96isr_H200_v5", {}, "h200"),
    ("azure", "Standard_ND96is_MI300X_v5", {}, UNKNOWN),
    # §5 AWS instanceType
    ("aws", "p5.48xlarge", {}, "h100-sxm"),
    ("aws", "p5.4xlarge", {}, "h100-sxm"),
    ("aws", "p5e.48xlarge", {}, "h200"),
    ("aws", "p5en.48xlarge", {}, "h200"),
    ("aws", "p4d.24xlarge", {}, "a100-sxm-40gb"),
    ("aws", "p4de.24xlarge", {}, "a100-sxm-80gb"),
    ("aws", "g6e.xlarge", {}, "l40s"),
    ("aws", "g6e.12xlarge", {}, "l40s"),
    ("aws", "g6e.48xlarge", {}, "l40s"),
    # §6 GCP SKU descriptions (after "Spot Preemptible" and "running in ..." are cut)
    ("gcp", "Nvidia H100 80GB GPU", {"source": "gcp"}, "h100-sxm"),
    ("gcp", "Nvidia H100 80GB Mega GPU", {"source": "gcp"}, "h100-sxm"),
    ("gcp", "Nvidia H100 Mega 80GB GPU", {"source": "gcp"}, "h100-sxm"),
    ("gcp", "Nvidia H100 80GB Plus GPU", {"source": "gcp"}, "h100-sxm"),
    ("gcp", "Nvidia Tesla A100 GPU", {"source": "gcp"}, "a100-sxm-40gb"),
    ("gcp", "Nvidia Tesla A100 80GB GPU", {"source": "gcp"}, "a100-sxm-80gb"),
    ("gcp", "Nvidia H200 141GB GPU", {"source": "gcp"}, "h200"),
    ("gcp", "Nvidia B200 (1 gpu slice)", {"source": "gcp"}, "b200"),
    ("gcp", "Nvidia L4 GPU", {"source": "gcp"}, UNKNOWN),
    ("gcp", "Nvidia Tesla T4 GPU", {"source": "gcp"}, UNKNOWN),
    ("gcp", "Nvidia Tesla A100 GPU", {}, UNKNOWN),  # without GCP's house style it is ambiguous
    # §7 CloudRift brand_short (+ vram bytes) and Shadeform gpu_type (+ interconnect, vram)
    ("cloudrift", "RTX 4090", {"memory_gb": 25757220864 / 2**30}, "rtx-4090"),
    ("cloudrift", "RTX 5090", {"memory_gb": 34190917632 / 2**30}, "rtx-5090"),
    ("cloudrift", "RTX PRO 6000", {}, UNKNOWN),  # Blackwell workstation card
    ("cloudrift", "MI350X", {}, UNKNOWN),
    ("shadeform", "H100", {"form_factor": "sxm5", "memory_gb": 80}, "h100-sxm"),
    ("shadeform", "H100", {"form_factor": "pcie", "memory_gb": 80}, "h100-pcie"),
    ("shadeform", "A100", {"form_factor": "sxm4", "memory_gb": 80}, "a100-sxm-80gb"),
    ("shadeform", "A100_80G", {"form_factor": "sxm4"}, "a100-sxm-80gb"),
    ("shadeform", "A100_80G", {}, UNKNOWN),
    ("shadeform", "A6000", {"form_factor": "pcie", "memory_gb": 48}, "rtx-a6000"),
    # §9 nvidia-smi names
    ("nvidia-smi", "NVIDIA A100-SXM4-40GB", {}, "a100-sxm-40gb"),
    ("nvidia-smi", "NVIDIA A100-SXM4-80GB", {}, "a100-sxm-80gb"),
    ("nvidia-smi", "NVIDIA A100 80GB PCIe", {}, "a100-pcie-80gb"),
    ("nvidia-smi", "NVIDIA H100 80GB HBM3", {}, "h100-sxm"),
    ("nvidia-smi", "NVIDIA H100 PCIe", {}, "h100-pcie"),
    ("nvidia-smi", "NVIDIA H100 NVL", {}, "h100-nvl"),
    ("nvidia-smi", "NVIDIA GeForce RTX 4090", {}, "rtx-4090"),
    ("nvidia-smi", "NVIDIA GeForce RTX 3090", {}, "rtx-3090"),
    ("nvidia-smi", "NVIDIA GeForce RTX 5090", {}, "rtx-5090"),
    # §9 research's proposed keys, SkyPilot catalogue names, CLI and marketing spellings
    ("research key", "H100-SXM-80", {}, "h100-sxm"),
    ("research key", "H100-PCIE-80", {}, "h100-pcie"),
    ("research key", "H100-NVL-94", {}, "h100-nvl"),
    ("research key", "H200-141", {}, "h200"),
    ("research key", "A100-SXM-40", {}, "a100-sxm-40gb"),
    ("research key", "A100-SXM-80", {}, "a100-sxm-80gb"),
    ("research key", "A100-PCIE-40", {}, "a100-pcie-40gb"),
    ("research key", "A100-PCIE-80", {}, "a100-pcie-80gb"),
    ("research key", "RTX4090-24", {}, "rtx-4090"),
    ("research key", "RTX3090-24", {}, "rtx-3090"),
    ("research key", "RTX3090TI-24", {}, "rtx-3090-ti"),
    ("research key", "RTX5090-32", {}, "rtx-5090"),
    ("skypilot", "H100", {}, UNKNOWN),  # SXM or PCIe: not said
    ("skypilot", "H100-SXM", {}, "h100-sxm"),
    ("skypilot", "H100-NVL", {}, "h100-nvl"),
    ("skypilot", "A100-80GB", {}, UNKNOWN),  # SkyPilot uses it for both PCIe (RunPod) and SXM (GCP)
    ("skypilot", "A100-80GB-SXM", {}, "a100-sxm-80gb"),
    ("skypilot", "RTX4090", {}, "rtx-4090"),
    ("cli", "H100_SXM", {}, "h100-sxm"),
    ("cli", "RTX_4090", {}, "rtx-4090"),
    ("marketing", "H100 SXM5", {}, "h100-sxm"),
    ("marketing", "H100_NVLINK", {}, UNKNOWN),  # NVLink is sold with both SXM boards and PCIe bridges
    ("ebay", "RTX 4090", {}, "rtx-4090"),
    ("ebay", "RTX4090", {}, "rtx-4090"),
    ("ebay", "4090 FE", {}, "rtx-4090"),
    ("ebay", "GeForce RTX 4090 24GB", {}, "rtx-4090"),
    ("ebay", "NVIDIA GeForce RTX 4090 D 24GB", {}, UNKNOWN),  # China-market 4090 D
    ("ebay", "MSI GeForce RTX 3090 Ti SUPRIM X 24G", {}, "rtx-3090-ti"),
    ("ebay", "RTX 3090 vs 4090 comparison bundle", {}, UNKNOWN),  # two models: not one card
    # rule (c): three different "6000" cards
    ("rule", "RTX 6000 Ada", {}, "rtx-6000-ada"),
    ("rule", "NVIDIA RTX 6000 Ada Generation", {}, "rtx-6000-ada"),
    ("rule", "RTX PRO 6000 Blackwell", {}, UNKNOWN),
    ("rule", "Quadro RTX 6000", {}, UNKNOWN),
    ("rule", "L40S", {}, "l40s"),
    ("rule", "L40", {}, UNKNOWN),
    ("rule", "", {}, UNKNOWN),
]


@pytest.mark.parametrize(("origin", "raw", "hints", "expected"), SPELLINGS,
                         ids=[f"{o}:{r or 'blank'}:{e}" for o, r, _, e in SPELLINGS])
def test_spelling_maps_to_canonical_id(origin: str, raw: str, hints: dict[str, object], expected: str) -> None:
    assert canonical_gpu(raw, **hints) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("gpu_id", canonical_gpu_ids())
def test_canonical_ids_map_to_themselves(gpu_id: str) -> None:
    assert canonical_gpu(gpu_id) == gpu_id


def test_every_design_id_is_reachable_from_some_source_spelling() -> None:
    reached = {expected for *_, expected in SPELLINGS}
    required = {"rtx-3090", "rtx-3090-ti", "rtx-4090", "rtx-5090", "rtx-a6000", "rtx-6000-ada", "l40s",
                "a100-pcie-40gb", "a100-sxm-40gb", "a100-pcie-80gb", "a100-sxm-80gb", "h100-pcie",
                "h100-sxm", "h100-nvl", "h200", "b200"}
    assert required <= reached


def test_instance_table_gives_counts_and_known_ids() -> None:
    assert instance_gpus("Standard_NC80adis_H100_v5") == ("h100-nvl", 2)
    assert instance_gpus("standard_nd96isr_h100_v5") == ("h100-sxm", 8)  # case-insensitive
    assert instance_gpus("g6e.24xlarge") == ("l40s", 4)
    assert instance_gpus("m7i.large") is None
    assert {gpu for gpu, _ in INSTANCE_TYPES.values()} <= set(canonical_gpu_ids())
