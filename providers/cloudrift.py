"""CloudRift instance types (``POST /api/v1/instance-types/list``; no key): consumer GPUs.

CloudRift rents RTX 4090/5090 machines, the rented counterpart of the cards rentbuy weighs
buying. Each type has ``brand_short`` (the GPU) and ``variants``; a variant's ``cost_per_hour``
is integer **cents** for the whole instance, so per GPU it is ``cents / 100 / gpu_count``.
``vram`` is bytes per GPU. An empty ``nodes_per_dc`` means no capacity right now; the price is
still published, so the quote is kept and marked unavailable. No spot market. The ``data``
envelope follows gpuhunt's client (price-apis.md §7).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from providers import http
from providers._common import GLOBAL_REGION, check_observed_at, positive, require, require_list, source_settings, url
from providers.base import PriceQuote
from providers.gpus import canonical_gpu

NAME = "cloudrift"
PATH = "/api/v1/instance-types/list"
API_VERSION = "2025-03-21"
REQUEST = {"version": API_VERSION, "data": {"selector": {"ByServiceAndLocation": {"services": ["vm"]}}}}


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    source = source_settings(settings, NAME)
    yield http.request_json(NAME, session, "POST", url(source.base_url, PATH), json=REQUEST)


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    check_observed_at(observed_at)
    data = require(payload, "data", NAME, "the response")
    instance_types = require_list(data, "instance_types", NAME, "'data'")
    quotes: list[PriceQuote] = []
    for instance_type in instance_types:
        brand = str(require(instance_type, "brand_short", NAME, "an instance type"))
        for variant in require(instance_type, "variants", NAME, f"instance type {brand!r}") or []:
            name = require(variant, "name", NAME, f"a {brand!r} variant")
            context = f"variant {name!r}"
            cents = positive(require(variant, "cost_per_hour", NAME, context))
            gpu_count = require(variant, "gpu_count", NAME, context)
            if not gpu_count or cents is None:
                continue
            vram = positive(variant.get("vram"))
            nodes = variant.get("nodes_per_dc") or {}
            instance_usd = cents / 100
            quotes.append(PriceQuote(
                source=NAME, offer_key=str(name),
                gpu=canonical_gpu(brand, memory_gb=vram / 2**30 if vram else None, source=NAME),
                gpu_raw_name=brand, gpu_count=int(gpu_count), usd_per_gpu_hour=instance_usd / int(gpu_count),
                pricing="on-demand", region=GLOBAL_REGION, observed_at=observed_at, original_amount=instance_usd,
                attributes={"datacenters": dict(nodes), "available": bool(nodes),
                            "cpu_count": variant.get("cpu_count")},
            ))
    return quotes
