"""What the HTTP API and the page accept, checked once, with errors that name the field and its allowed values.

Each request shape is a pydantic model, so FastAPI documents it in ``/openapi.json`` (which the
schemathesis fuzzing reads) and the page validates the very same rules on its form. Names follow
the Python API (``rentbuy.plan``): ``model``, ``method``, ``seq_len``, ``micro_batch_size``,
``tokens_per_run``, ``runs_per_month``, ``busy_hours_per_day``, ``horizon_years``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config import catalog
from optimizer.memory import (
    ATTENTIONS,
    METHODS,
    OFFLOADS,
    OPTIMIZERS,
    PRECISIONS,
    QUANTIZATIONS,
    SHARDINGS,
    Architecture,
    FineTune,
)

# A model given as a size rather than a preset: "7B", "1.5b", "350M", "7e9".
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d{1,2})?)\s*([kmbt]?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
MIN_PARAMS, MAX_PARAMS = 1e8, 2e12
_SOURCE = r"^[A-Za-z0-9_.-]{1,64}$"


def presets() -> list[str]:
    return list(catalog.models())


def gpu_ids() -> list[str]:
    return list(catalog.gpus())


def model_allowed() -> str:
    return f"one of the presets {', '.join(presets())}, or a parameter count such as 3B, 350M or 7e9"


# --- the model: a preset id or a parameter count ------------------------------------------------------


def parse_model(text: str) -> str | float:
    """A preset id as given, or a parameter count as a float; ``ValueError`` naming the choices."""
    value = text.strip()
    if value in catalog.models():
        return value
    match = _SIZE.match(value)
    if match:
        count = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
        if not MIN_PARAMS <= count <= MAX_PARAMS:
            raise ValueError(f"model as a parameter count must be between 100M and 2T; got {text!r}.")
        return count
    raise ValueError(f"model must be {model_allowed()}; got {text!r}.")


SIZE_TOLERANCE = 0.03  # a sized model's shape may miss the asked count by this much


@cache
def architecture_for(params: float) -> Architecture:
    """A Llama-style architecture of about ``params`` parameters, shaped like the nearest preset.

    Depth grows with the cube root of size (as published families do); the width is then the
    multiple of the preset's attention-group width that lands closest to the count. Vocabulary,
    head size, grouped-query ratio and MLP ratio are the preset's. A sizing model, not a real network:
    its memory and speed are estimates for "a model of this size", which is what a planner asks.
    """
    template = min(catalog.models().values(), key=lambda p: abs(math.log(p.total_params / params)))
    ratio = template.num_heads // template.num_kv_heads
    ffn = template.intermediate_size / template.hidden_size
    depth = max(2, round(template.num_layers * (params / template.total_params) ** (1 / 3)))
    candidates: list[tuple[float, int, Architecture]] = []
    # Half to twice the family depth: widths step coarsely (a whole attention group at a time), so a
    # small model may need a deeper, narrower shape to land near its count.
    for layers in range(max(2, depth // 2), 2 * depth + 4):
        for groups in range(1, 512):
            heads = groups * ratio
            hidden = heads * template.head_dim
            arch = Architecture(
                hidden_size=hidden, num_layers=layers, num_heads=heads, num_kv_heads=groups,
                intermediate_size=max(64, round(hidden * ffn / 64) * 64), vocab_size=template.vocab_size,
                tied_embeddings=template.tied_embeddings, head_dim=template.head_dim, qkv_bias=template.qkv_bias,
                norms_per_layer=template.norms_per_layer, name=f"custom ({template.model} shape)")
            count = arch.parameter_count()
            candidates.append((abs(math.log(count / params)), abs(layers - depth), arch))
            if count > params:
                break
    # The family's depth wins among shapes within SIZE_TOLERANCE of the count; else the closest count.
    close = [c for c in candidates if c[0] <= math.log1p(SIZE_TOLERANCE)]
    if close:
        return min(close, key=lambda c: (c[1], c[0]))[2]
    return min(candidates, key=lambda c: c[0])[2]


def checked_model(text: str) -> str:
    """The model text stripped, once it parses as a preset or a size."""
    parse_model(text)
    return text.strip()


def model_for(text: str) -> str | Architecture:
    """What ``FineTune(model=...)`` takes for the ``model`` field."""
    parsed = parse_model(text)
    return parsed if isinstance(parsed, str) else architecture_for(parsed)


def describe_model(text: str) -> str | None:
    """A sentence about a sized model's assumed shape (None for a preset)."""
    parsed = parse_model(text)
    if isinstance(parsed, str):
        return None
    arch = architecture_for(parsed)
    shape = arch.name.removeprefix("custom (").removesuffix(" shape)")
    return (f"model {text.strip()} is a sizing model shaped like {shape}: {arch.num_layers} layers, "
            f"hidden size {arch.hidden_size}, {arch.num_heads} heads "
            f"({arch.num_kv_heads} key/value), MLP {arch.intermediate_size}, "
            f"{arch.parameter_count() / 1e9:.2f}B parameters")


# --- shared field types -------------------------------------------------------------------------------

Method = Literal[METHODS]  # type: ignore[valid-type]
ModelText = Annotated[str, Field(min_length=1, max_length=64, description=(
    "Model preset id (see `rentbuy info`), or a parameter count such as `3B`, `350M` or `7e9`"),
    examples=["llama-3.1-8b", "3B"])]
SeqLen = Annotated[int, Field(ge=16, le=131072, description="tokens per sequence")]
MicroBatch = Annotated[int, Field(ge=1, le=1024, description="micro-batch size per GPU")]
Tokens = Annotated[float, Field(ge=1e3, le=1e13, allow_inf_nan=False, description="tokens one run trains on")]
Runs = Annotated[float, Field(ge=0.01, le=10000, allow_inf_nan=False, description="runs a month")]
BusyHours = Annotated[float | None, Field(ge=0, le=24, allow_inf_nan=False, description=(
    "what-if utilization of the owned card, busy hours a day (0-24); default: what the workload implies"))]
Horizon = Annotated[float | None, Field(ge=0.1, le=100, allow_inf_nan=False, description=(
    "years compared (default: setting economics.horizon_years)"))]
Kwh = Annotated[float | None, Field(ge=0, le=10, allow_inf_nan=False, description=(
    "electricity price, USD per kWh (default: setting economics.usd_per_kwh)"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobFields(_Strict):
    """One job class as the page and ``GET /api/plan`` describe it."""

    model: ModelText = "llama-3.1-8b"
    method: Method = "qlora"
    seq_len: SeqLen = 2048
    micro_batch_size: MicroBatch = 1
    gradient_checkpointing: bool = Field(True, description="recompute activations in backward")
    tokens_per_run: Tokens = 60e6
    runs_per_month: Runs = 8.0

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        return checked_model(value)

    def job(self) -> FineTune:
        return FineTune(model=model_for(self.model), method=self.method, seq_len=self.seq_len,
                        micro_batch_size=self.micro_batch_size, gradient_checkpointing=self.gradient_checkpointing)


class PlanQuery(JobFields):
    """``GET /api/plan`` and the report page: one job class plus the what-if inputs."""

    busy_hours_per_day: BusyHours = None
    horizon_years: Horizon = None
    usd_per_kwh: Kwh = None


class JobClassBody(JobFields):
    name: str = Field("", max_length=120, description="label of this class in the answer")


class WorkloadBody(_Strict):
    """``POST /api/plan``: several job classes sharing the same hardware."""

    name: str = Field("", max_length=120, description="label of the workload")
    classes: list[JobClassBody] = Field(min_length=1, max_length=10)
    busy_hours_per_day: BusyHours = None
    horizon_years: Horizon = None
    usd_per_kwh: Kwh = None


class MemoryQuery(_Strict):
    """``GET /api/memory``: the estimator's job fields (see ``rentbuy memory --help``)."""

    model: ModelText = "llama-3.1-8b"
    method: Method = "lora"
    precision: Literal[PRECISIONS] = "bf16-mixed"  # type: ignore[valid-type]
    quantization: Literal[QUANTIZATIONS] | None = None  # type: ignore[valid-type]
    optimizer: Literal[OPTIMIZERS] = "adamw"  # type: ignore[valid-type]
    seq_len: SeqLen = 2048
    micro_batch_size: MicroBatch = 1
    gradient_checkpointing: bool = False
    attention: Literal[ATTENTIONS] = "sdpa"  # type: ignore[valid-type]
    lora_rank: int | None = Field(None, ge=1, le=4096)
    num_gpus: int = Field(1, ge=1, le=64)
    sharding: Literal[SHARDINGS] = "none"  # type: ignore[valid-type]
    offload: Literal[OFFLOADS] | None = None  # type: ignore[valid-type]
    gpu: str | None = Field(None, max_length=64, description="only this GPU id instead of the whole catalog")

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        return checked_model(value)

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, value: str | None) -> str | None:
        return None if value is None else check_gpu_field("gpu", value)

    def job(self) -> FineTune:
        return FineTune(model=model_for(self.model), method=self.method, precision=self.precision,
                        quantization=self.quantization, optimizer=self.optimizer,
                        micro_batch_size=self.micro_batch_size, seq_len=self.seq_len,
                        gradient_checkpointing=self.gradient_checkpointing, attention=self.attention,
                        lora_rank=self.lora_rank, num_gpus=self.num_gpus,
                        sharding=self.sharding, offload=self.offload)


class PricesQuery(_Strict):
    """``GET /api/prices``."""

    gpu: str | None = Field(None, max_length=64, description="canonical GPU id, e.g. h100-sxm")
    since: str | None = Field(None, max_length=40, description="a duration back from now (7d, 12h, 2w, 1y) or an "
                              "ISO date such as 2026-11-01")
    source: str | None = Field(None, pattern=_SOURCE, description="price source, e.g. vast or bundled-snapshot")
    pricing: Literal["on-demand", "spot", "community", "reserved-1y", "reserved-3y"] | None = None
    limit: int = Field(500, ge=1, le=5000, description="most observations returned, newest first")

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, value: str | None) -> str | None:
        return None if value is None else check_gpu_field("gpu", value)

    @field_validator("since")
    @classmethod
    def _since(cls, value: str | None) -> str | None:
        if value is not None:
            since_datetime(value)
        return value


class BreakevenQuery(_Strict):
    """``GET /api/breakeven``: one owned option against one rented option (``rentbuy breakeven``)."""

    own: str = Field("rtx-4090", max_length=40, description="card(s) to buy: GPU id or COUNTxGPU, e.g. 2xrtx-4090")
    rent: str = Field("h100-sxm", max_length=40, description="GPUs to rent for the same work, e.g. 4xh100-sxm")
    busy_hours_per_day: BusyHours = Field(None, description="busy hours a day of the owned machine (0-24; default: "
                                          "setting economics.busy_hours_per_day)")
    horizon_years: Horizon = None
    price: float | None = Field(None, ge=0.001, le=1000, allow_inf_nan=False, description=(
        "rental USD per GPU-hour (default: the same stored price rentbuy.plan uses)"))
    purchase_usd: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False, description=(
        "price per card (default: the same stored street price rentbuy.plan uses)"))
    speed: float | None = Field(None, ge=0.01, le=1000, allow_inf_nan=False, description=(
        "owned busy hours one rented hour replaces (default: from the throughput model)"))
    model: str | None = Field(None, max_length=64, description="model preset (default llama-3.1-8b): checks that "
                              "the job fits and derives speed")
    method: Method = "qlora"
    seq_len: SeqLen = 2048
    micro_batch_size: MicroBatch = 1
    gradient_checkpointing: bool = False
    usd_per_kwh: Kwh = None
    resale: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, description="value left at end of life, 0-1")
    depreciation: Literal["straight-line", "declining-balance", "macrs-5", "fitted"] | None = None
    spot: bool = Field(False, description="spot/interruptible capacity")
    price_change: float | None = Field(None, ge=-0.9, le=1, allow_inf_nan=False, description=(
        "yearly change of the rental price, e.g. -0.2"))
    system_usd: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False, description=(
        "the rest of the machine, USD (default: the system_usd setting, 0)"))

    @field_validator("own", "rent")
    @classmethod
    def _option(cls, value: str, info: Any) -> str:
        from rentbuy.commands.breakeven import parse_count_gpu

        count, _gpu = parse_count_gpu(value, info.field_name)
        if count > 64:
            raise ValueError(f"{info.field_name} allows at most 64 GPUs; got {value!r}.")
        return value

    @field_validator("model")
    @classmethod
    def _preset(cls, value: str | None) -> str | None:
        if value is not None and value not in catalog.models():
            raise ValueError(f"model must be one of the presets {', '.join(presets())}; got {value!r}.")
        return value


# --- helpers ------------------------------------------------------------------------------------------


def check_gpu_field(field: str, value: str) -> str:
    if value not in catalog.gpus():
        raise ValueError(f"{field} must be a known GPU id ({', '.join(gpu_ids())}); got {value!r}.")
    return value


def since_datetime(text: str) -> Any:
    from rentbuy.options import parse_since

    try:
        return parse_since(text)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, OverflowError) or "neither a duration" not in str(exc):
            raise ValueError(f"since {text!r} is out of range; use a duration such as 7d or a date such as "
                             "2026-11-01.") from None
        raise ValueError(f"since {text!r} is neither a duration such as 7d, 12h, 2w or 1y nor a date such "
                         "as 2026-11-01.") from None


# Allowed values by field name, for error bodies (the sentence also says it).
def allowed_values(field: str) -> Any:
    static: dict[str, Any] = {
        "method": list(METHODS), "precision": list(PRECISIONS), "quantization": list(QUANTIZATIONS),
        "optimizer": list(OPTIMIZERS), "attention": list(ATTENTIONS), "sharding": list(SHARDINGS),
        "offload": list(OFFLOADS), "busy_hours_per_day": "0 to 24 hours a day", "seq_len": "16 to 131072",
        "micro_batch_size": "1 to 1024", "tokens_per_run": "1e3 to 1e13 tokens", "runs_per_month": "0.01 to 10000",
        "horizon_years": "0.1 to 100 years", "usd_per_kwh": "0 to 10 USD/kWh", "limit": "1 to 5000",
        "pricing": ["on-demand", "spot", "community", "reserved-1y", "reserved-3y"],
        "since": "a duration such as 7d, 12h, 2w, 1y or an ISO date such as 2026-11-01",
        "depreciation": ["straight-line", "declining-balance", "macrs-5", "fitted"],
        "resale": "0 to 1", "price": "0.001 to 1000 USD/GPU-hour", "speed": "0.01 to 1000", "lora_rank": "1 to 4096",
        "num_gpus": "1 to 64", "source": "letters, digits, '_', '.', '-' (1-64 characters)",
        "classes": "1 to 10 job classes",
    }
    if field in ("model",):
        return [*presets(), "a parameter count such as 3B, 350M or 7e9"]
    if field in ("gpu",):
        return gpu_ids()
    if field in ("own", "rent"):
        return [*gpu_ids(), "COUNTxGPU such as 2xrtx-4090"]
    return static.get(field)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str
    allowed: Any

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "allowed": self.allowed}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("query", "body", "path", "header", "cookie")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "request"


def _last_name(loc: tuple[Any, ...]) -> str:
    names = [p for p in loc if isinstance(p, str) and p not in ("query", "body")]
    return names[-1] if names else ""


def problems(errors: list[dict[str, Any]]) -> list[FieldProblem]:
    """pydantic/FastAPI errors as sentences naming the field and what it allows."""
    out = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        field = _field_name(loc)
        leaf = _last_name(loc)
        allowed = allowed_values(leaf)
        kind = error.get("type", "")
        given = error.get("input")
        if kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error.get("msg", "")))
            if leaf and not re.search(rf"\b{re.escape(leaf)}\b", message):
                message = f"{field}: {message}"
        elif kind == "extra_forbidden":
            message = f"{field} is not a parameter of this request."
        elif kind == "missing":
            message = f"{field} is required."
        else:
            detail = str(error.get("msg", "is invalid"))
            detail = detail[0].lower() + detail[1:] if detail else detail
            shown = f"; allowed: {_allowed_text(allowed)}" if allowed else ""
            message = f"{field}: {detail}{shown}; got {_shown(given)}."
        out.append(FieldProblem(field, message, allowed))
    return out


def _allowed_text(allowed: Any) -> str:
    return ", ".join(map(str, allowed)) if isinstance(allowed, list) else str(allowed)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_of_message(message: str, names: list[str]) -> str:
    """The request field a domain error sentence is about.

    A field the sentence tells the caller to pass ("...; pass purchase_usd.") wins: it is the one to
    fix, while the first name mentioned may be a word of the prose ("purchase price").
    """
    for match in re.finditer(r"\bpass (\w+)", message):
        if match.group(1) in names:
            return match.group(1)
    found = [(message.find(name), name) for name in names if re.search(rf"\b{re.escape(name)}\b", message)]
    return min(found)[1] if found else "request"


def validate(model: type[BaseModel], data: dict[str, Any]) -> tuple[BaseModel | None, list[FieldProblem]]:
    """Validate ``data`` as ``model``: the instance, or the problems (the page's path)."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems(exc.errors(include_url=False))
