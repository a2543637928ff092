"""RunPod GPU types and prices (GraphQL ``gpuTypes``; a key is optional, sent if configured).

RunPod prices a GPU type, not a machine: ``securePrice`` (its own data centres),
``communityPrice`` (community hosts) and the two spot prices are already **per GPU**, so the
quote's count is 1. Secure and community are different products with different reliability,
hence pricing kinds ``on-demand`` and ``community`` and offer keys ``<id>/secure`` and
``<id>/community``. A GraphQL ``errors`` envelope is a failure even with HTTP 200. Key on ``id``
(``"NVIDIA H100 80GB HBM3"``): RunPod has renamed ``displayName`` before. Shape: price-apis.md §2.
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
    require_list,
    secret,
    source_settings,
    url,
)
from providers.base import PriceQuote, ProviderError
from providers.gpus import canonical_gpu

NAME = "runpod"
GRAPHQL_PATH = "/graphql"

QUERY = """
query GpuTypes {
  gpuTypes {
    id displayName manufacturer memoryInGb maxGpuCount
    secureCloud communityCloud
    securePrice communityPrice secureSpotPrice communitySpotPrice
    lowestPrice(input: {gpuCount: 1}) {
      minimumBidPrice uninterruptablePrice stockStatus
    }
  }
}
""".strip()

# (price field, offer-key suffix, pricing kind, availability flag)
PRICE_FIELDS = (
    ("securePrice", "secure", "on-demand", "secureCloud"),
    ("secureSpotPrice", "secure", "spot", "secureCloud"),
    ("communityPrice", "community", "community", "communityCloud"),
    ("communitySpotPrice", "community", "spot", "communityCloud"),
)


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    source = source_settings(settings, NAME)
    key = secret(source.api_key)
    headers = http.auth_headers(session, source.base_url, {"Authorization": f"Bearer {key}"}) if key else {}
    payload = http.request_json(NAME, session, "POST", url(source.base_url, GRAPHQL_PATH),
                                json={"query": QUERY, "variables": {}}, headers=headers)
    _raise_graphql_errors(payload)
    yield payload


def _raise_graphql_errors(payload: Any) -> None:
    if isinstance(payload, dict) and payload.get("errors"):
        errors = payload["errors"]
        messages = [e.get("message", str(e)) if isinstance(e, dict) else str(e) for e in errors]
        raise ProviderError(NAME, f"GraphQL error: {'; '.join(messages)[:300]}")


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    """Up to four quotes per GPU type: secure, secure spot, community, community spot."""
    check_observed_at(observed_at)
    _raise_graphql_errors(payload)
    data = require(payload, "data", NAME, "the GraphQL response")
    gpu_types = require_list(data, "gpuTypes", NAME, "'data'", name="'data.gpuTypes'")
    quotes: list[PriceQuote] = []
    for gpu_type in gpu_types:
        type_id = require(gpu_type, "id", NAME, "a gpuType")
        context = f"gpuType {type_id!r}"
        prices = {name: require(gpu_type, name, NAME, context) for name, *_ in PRICE_FIELDS}
        gpu = canonical_gpu(type_id, memory_gb=positive(gpu_type.get("memoryInGb")), source=NAME)
        lowest = gpu_type.get("lowestPrice") or {}
        attributes = {
            "display_name": gpu_type.get("displayName"),
            "max_gpu_count": gpu_type.get("maxGpuCount"),
            "stock_status": lowest.get("stockStatus"),
            "minimum_bid_price": lowest.get("minimumBidPrice"),
        }
        for field, suffix, pricing, offered_flag in PRICE_FIELDS:
            price = positive(prices[field])
            if price is None or gpu_type.get(offered_flag) is False:
                continue
            quotes.append(PriceQuote(
                source=NAME, offer_key=f"{type_id}/{suffix}", gpu=gpu, gpu_raw_name=str(type_id), gpu_count=1,
                usd_per_gpu_hour=price, pricing=pricing, region=GLOBAL_REGION, observed_at=observed_at,
                original_amount=price, attributes={**attributes, "cloud": suffix},
            ))
    return quotes
