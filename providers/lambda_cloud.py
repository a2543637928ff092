"""Lambda Cloud instance types (``GET /api/v1/instance-types``; API key required).

Lambda prices whole instances in integer **cents** per hour (``price_cents_per_hour``), so the
per-GPU price is ``cents / 100 / specs.gpus``. ``data`` is an object keyed by instance name, not
a list. The GPU comes from ``gpu_description`` (``"H100 (80 GB SXM5)"``), not from parsing the
instance name; ``"RTX 6000 (24 GB)"`` is the Turing Quadro and stays ``unknown``. A sold-out type
(empty ``regions_with_capacity_available``) is still a published price and is kept, marked
unavailable. Lambda has no spot market. Shape: price-apis.md §3.
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
    source_settings,
    url,
)
from providers.base import PriceQuote, ProviderError
from providers.gpus import canonical_gpu

NAME = "lambda_cloud"
PATH = "/api/v1/instance-types"


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    source = source_settings(settings, NAME)
    key = require_key(NAME, source)
    headers = http.auth_headers(session, source.base_url, {"Authorization": f"Bearer {key}"})
    yield http.request_json(NAME, session, "GET", url(source.base_url, PATH), headers=headers)


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    check_observed_at(observed_at)
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
        raise ProviderError(NAME, f"API error {error.get('code', '')}: {error.get('message', '')}".strip())
    data = require(payload, "data", NAME, "the response")
    if not isinstance(data, dict):
        raise ProviderError(NAME, "'data' is not an object keyed by instance name (the API format may have changed)")
    quotes: list[PriceQuote] = []
    for name, entry in data.items():
        instance = require(entry, "instance_type", NAME, f"instance {name!r}")
        context = f"instance {name!r}"
        cents = positive(require(instance, "price_cents_per_hour", NAME, context))
        specs = require(instance, "specs", NAME, context)
        gpus = require(specs, "gpus", NAME, f"{context} specs")
        if not gpus or cents is None:  # CPU-only types and unpriced ones are not GPU quotes
            continue
        description = instance.get("gpu_description") or ""
        regions = [r.get("name") for r in entry.get("regions_with_capacity_available") or [] if isinstance(r, dict)]
        instance_usd = cents / 100
        quotes.append(PriceQuote(
            source=NAME, offer_key=str(instance.get("name") or name), gpu=canonical_gpu(description, source=NAME),
            gpu_raw_name=description, gpu_count=int(gpus), usd_per_gpu_hour=instance_usd / int(gpus),
            pricing="on-demand", region=GLOBAL_REGION, observed_at=observed_at, original_amount=instance_usd,
            attributes={"description": instance.get("description"), "regions_available": regions,
                        "available": bool(regions)},
        ))
    return quotes
