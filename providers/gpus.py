"""GPU-name canonicalisation: every source's spelling of a card becomes one canonical id.

Why token rules and not substring tests: prices differ by 20-40 % between an H100 SXM, PCIe and
NVL, and ``"RTX 3090" in "RTX 3090 Ti"`` is true. So a name is split into tokens, exactly one
model token must be present (``3090``, ``a100``, ``h100`` ...), tokens that make it a different
part (``ti``, ``laptop``, ``pro``, ``nvl`` on an H200, a ``d`` China variant) are checked, and
anything ambiguous (an A100 without its memory size, an H100 without its form factor) maps to
``unknown`` rather than to the nearest guess. Memory, when the source states it, must agree
with the catalog (a 48 GB "RTX 4090" is a modded card, not a 4090).

Instance-type names (Azure ``armSkuName``, AWS ``instanceType``) carry no GPU name at all, so
they resolve through the static table ``INSTANCE_TYPES`` (model and count), sourced in
``research/price-apis.md`` §4 and §5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from config.catalog import UNKNOWN_GPU, gpus

UNKNOWN = UNKNOWN_GPU

# VM sizes and instance types -> (canonical GPU, GPUs per instance). Cloud price lists name the
# VM, not the card; these are the sizes whose GPU is documented by the vendor (Microsoft size
# pages, AWS instance-type pages) as collected in price-apis.md. ND48s_H100_v5 (4) is inferred.
INSTANCE_TYPES: dict[str, tuple[str, int]] = {
    # Azure armSkuName
    "Standard_ND96isr_H100_v5": ("h100-sxm", 8),
    "Standard_ND96is_H100_v5": ("h100-sxm", 8),
    "Standard_ND48s_H100_v5": ("h100-sxm", 4),
    "Standard_NC40ads_H100_v5": ("h100-nvl", 1),
    "Standard_NC80adis_H100_v5": ("h100-nvl", 2),
    "Standard_NCC40ads_H100_v5": ("h100-nvl", 1),
    "Standard_ND96asr_v4": ("a100-sxm-40gb", 8),
    "Standard_ND96amsr_A100_v4": ("a100-sxm-80gb", 8),
    "Standard_NC24ads_A100_v4": ("a100-pcie-80gb", 1),
    "Standard_NC48ads_A100_v4": ("a100-pcie-80gb", 2),
    "Standard_NC96ads_A100_v4": ("a100-pcie-80gb", 4),
    "Standard_ND96isr_H200_v5": ("h200", 8),
    # AWS instanceType
    "p5.48xlarge": ("h100-sxm", 8),
    "p5.4xlarge": ("h100-sxm", 1),
    "p5e.48xlarge": ("h200", 8),
    "p5en.48xlarge": ("h200", 8),
    "p4d.24xlarge": ("a100-sxm-40gb", 8),
    "p4de.24xlarge": ("a100-sxm-80gb", 8),
    "p6-b200.48xlarge": ("b200", 8),
    "g6e.xlarge": ("l40s", 1),
    "g6e.2xlarge": ("l40s", 1),
    "g6e.4xlarge": ("l40s", 1),
    "g6e.8xlarge": ("l40s", 1),
    "g6e.16xlarge": ("l40s", 1),
    "g6e.12xlarge": ("l40s", 4),
    "g6e.24xlarge": ("l40s", 4),
    "g6e.48xlarge": ("l40s", 8),
}
_INSTANCE_TYPES_LOWER = {name.lower(): value for name, value in INSTANCE_TYPES.items()}

_MODEL_TOKENS = frozenset({"3090", "4090", "5090", "a6000", "6000", "l40s", "a100", "h100", "h200", "b200"})
# Tokens that make the card a different part than the bare model token. A rule below may consume
# one (``ti`` for the 3090 Ti, ``nvl`` for the H100 NVL, ``ada`` for the RTX 6000 Ada).
_OTHER_PART = frozenset({
    "ti", "super", "s", "d", "laptop", "mobile", "max", "q", "pro", "nvl", "ada", "mig", "vgpu",
    "dual", "workstation", "system", "blackwell",
})
_FORM_FACTORS = {"sxm": "sxm", "sxm2": "sxm", "sxm4": "sxm", "sxm5": "sxm", "sxm6": "sxm", "pcie": "pcie"}
# Sources whose price lists name GPUs in a house style that drops facts the token rules need.
# GCP's A2/A3 machine types carry SXM parts only, and it calls the 40 GB A100 just "Tesla A100".
_SOURCE_DEFAULTS: dict[str, dict[str, object]] = {
    "gcp": {"form_factor": "sxm", "a100_memory_gb": 40.0},
}
_MEMORY_RE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:gb|gib|g)\b")
_MEMORY_TOLERANCE = 0.15


def instance_gpus(instance_type: str) -> tuple[str, int] | None:
    """(canonical GPU, count) for a cloud VM size or instance type in the static table."""
    return _INSTANCE_TYPES_LOWER.get(instance_type.strip().lower())


def tokens(raw_name: str) -> tuple[list[str], list[float]]:
    """Lower-case tokens of a GPU name and the memory sizes (GB) it states."""
    text = raw_name.lower()
    text = re.sub(r"[_\-/(),:;+|·*\[\]]", " ", text)
    text = re.sub(r"\brtx\s*a(\d{4})\b", r"rtx a\1", text)
    text = re.sub(r"\brtx(\d{4})", r"rtx \1", text)
    text = re.sub(r"\b(\d{4})(ti|ada|super|d|s)\b", r"\1 \2", text)
    memory = [float(m) for m in _MEMORY_RE.findall(text)]
    text = _MEMORY_RE.sub(" ", text)
    return text.split(), memory


def _bucket_a100(memory_gb: float) -> int | None:
    if 35 <= memory_gb <= 50:
        return 40
    if 70 <= memory_gb <= 90:
        return 80
    return None


def _memory_agrees(gpu_id: str, memory: Iterable[float]) -> bool:
    spec = gpus().get(gpu_id)
    if spec is None:
        return False
    return all(abs(value - spec.vram_gb) <= _MEMORY_TOLERANCE * spec.vram_gb for value in memory)


def canonical_gpu(
    raw_name: str | None,
    *,
    memory_gb: float | None = None,
    form_factor: str | None = None,
    source: str | None = None,
) -> str:
    """The canonical id for ``raw_name`` or ``"unknown"``; never a near miss.

    ``memory_gb`` is the per-GPU memory the source states beside the name (Vast ``gpu_ram``,
    CloudRift ``vram``) and splits A100 40/80 GB; ``form_factor`` is ``sxm``/``pcie``/``nvl``
    from a separate field (Shadeform ``interconnect``); ``source`` applies that source's naming
    house style (see ``_SOURCE_DEFAULTS``).
    """
    if not raw_name or not raw_name.strip():
        return UNKNOWN
    instance = instance_gpus(raw_name)
    if instance is not None:
        return instance[0]
    words, stated_memory = tokens(raw_name)
    models = {word for word in words if word in _MODEL_TOKENS}
    if len(models) != 1:
        return UNKNOWN
    model = models.pop()
    other = {word for word in words if word in _OTHER_PART}
    factors = {_FORM_FACTORS[word] for word in words if word in _FORM_FACTORS}
    defaults = _SOURCE_DEFAULTS.get(source or "", {})
    if model == "a100" and not stated_memory:  # "A100-SXM-40", "a100-pcie-80gb" split as "80 gb"
        stated_memory = [float(word) for word in words if word in ("40", "80")]
    memory = stated_memory or ([memory_gb] if memory_gb else [])
    hint = (form_factor or "").strip().lower()
    hint = _FORM_FACTORS.get(hint, hint)
    if model == "h100" and "hbm3" in words and not factors and "nvl" not in other:
        factors = {"sxm"}  # nvidia-smi's "NVIDIA H100 80GB HBM3": the PCIe card has HBM2e
    result = _resolve(model, other, factors, memory, hint, defaults)
    if result == UNKNOWN or result not in gpus():
        return UNKNOWN
    if model != "a100" and not _memory_agrees(result, memory):
        return UNKNOWN
    return result


def _resolve(
    model: str,
    other: set[str],
    factors: set[str],
    memory: list[float],
    hint: str,
    defaults: dict[str, object],
) -> str:
    if model in ("3090", "4090", "5090"):
        if model == "3090" and other == {"ti"}:
            return "rtx-3090-ti"
        return UNKNOWN if other or factors else f"rtx-{model}"
    if model == "a6000":
        # Some marketplaces write the Ada card "A6000 Ada"; the Ampere A6000 is never called Ada.
        if other == {"ada"}:
            return "rtx-6000-ada"
        return UNKNOWN if other else "rtx-a6000"
    if model == "6000":
        # "RTX 6000" alone is the 2018 Turing Quadro; "RTX PRO 6000" is Blackwell.
        return "rtx-6000-ada" if other == {"ada"} else UNKNOWN
    if model == "h100" and other == {"nvl"}:
        return "h100-nvl" if factors <= {"pcie"} else UNKNOWN  # the NVL is a PCIe card
    if other:
        return UNKNOWN
    if model in ("l40s", "h200", "b200"):
        return model if factors <= {"sxm"} or (model == "l40s" and factors <= {"pcie"}) else UNKNOWN
    if model == "a100":
        factor = _single(factors) or hint or str(defaults.get("form_factor", ""))
        if not memory and "a100_memory_gb" in defaults:
            memory = [float(defaults["a100_memory_gb"])]  # type: ignore[arg-type]
        sizes = {_bucket_a100(value) for value in memory}
        if factor not in ("sxm", "pcie") or len(sizes) != 1 or None in sizes:
            return UNKNOWN
        return f"a100-{factor}-{sizes.pop()}gb"
    if model == "h100":
        if not factors and any(90 <= value <= 100 for value in memory):
            return "h100-nvl"
        if not factors and hint:
            factors = {hint}
        if not factors and "form_factor" in defaults:
            factors = {str(defaults["form_factor"])}
        return _h100(factors)
    return UNKNOWN


def _h100(factors: set[str]) -> str:
    factor = _single(factors)
    return {"sxm": "h100-sxm", "pcie": "h100-pcie", "nvl": "h100-nvl"}.get(factor or "", UNKNOWN)


def _single(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None
