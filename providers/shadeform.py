"""Shadeform instance types (``GET /v1/instances/types``; ``X-API-KEY`` required): an aggregator.

Shadeform lists other clouds' instances with one shape. ``hourly_price`` is integer **cents** for
the whole instance; per GPU it is ``cents / 100 / configuration.num_gpus``. The GPU is
``configuration.gpu_type`` (``"H100"``, ``"A100_80G"``) with the form factor from ``interconnect``
and memory from ``vram_per_gpu_in_gb``. Shadeform's own docs show a ``shade_instance_type`` of
``A6000`` on an ``A100`` row, so when the two names resolve to different known GPUs the quote is
``unknown`` rather than trusting either. Shape: price-apis.md §7.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from providers import http
from providers._common import (
    GLOBAL_REGION,
    check_observed_at,
    positive,
    require,
    require_key,
    require_list,
    source_settings,
    url,
)
from providers.base import PriceQuote
from providers.gpus import UNKNOWN, canonical_gpu

NAME = "shadeform"
PATH = "/v1/instances/types"


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    source = source_settings(settings, NAME)
    key = require_key(NAME, source)
    headers = http.auth_headers(session, source.base_url, {"X-API-KEY": key})
    yield http.request_json(NAME, session, "GET", url(source.base_url, PATH), headers=headers)


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    check_observed_at(observed_at)
    instance_types = require_list(payload, "instance_types", NAME, "the response")
    quotes: list[PriceQuote] = []
    for row in instance_types:
        cloud = require(row, "cloud", NAME, "an instance type")
        instance = row.get("cloud_instance_type") or require(row, "shade_instance_type", NAME, "an instance type")
        context = f"{cloud} {instance}"
        config = require(row, "configuration", NAME, context)
        gpu_type = str(require(config, "gpu_type", NAME, f"{context} configuration"))
        num_gpus = require(config, "num_gpus", NAME, f"{context} configuration")
        cents = positive(require(row, "hourly_price", NAME, context))
        if not num_gpus or cents is None:
            continue
        memory = positive(config.get("vram_per_gpu_in_gb"))
        gpu = canonical_gpu(gpu_type, memory_gb=memory, form_factor=config.get("interconnect"), source=NAME)
        shade_type = str(row.get("shade_instance_type") or "")
        shade_gpu = canonical_gpu(shade_type, memory_gb=memory, form_factor=config.get("interconnect"),
                                  source=NAME)
        if UNKNOWN not in (gpu, shade_gpu) and gpu != shade_gpu:
            gpu = UNKNOWN  # the row contradicts itself
        regions = [a.get("region") for a in row.get("availability") or [] if isinstance(a, dict) and a.get("available")]
        instance_usd = cents / 100
        quotes.append(PriceQuote(
            source=NAME, offer_key=f"{cloud}/{instance}", gpu=gpu, gpu_raw_name=gpu_type, gpu_count=int(num_gpus),
            usd_per_gpu_hour=instance_usd / int(num_gpus), pricing="on-demand", region=GLOBAL_REGION,
            observed_at=observed_at, original_amount=instance_usd,
            attributes={"cloud": cloud, "shade_instance_type": shade_type,
                        "interconnect": config.get("interconnect"), "regions_available": regions,
                        "available": bool(regions)},
        ))
    return quotes
