"""Vast.ai marketplace offers (``POST /api/v0/bundles/``; a key is optional for search).

Vast lists machines, not GPU types: every offer is one host's bundle of ``num_gpus`` cards with
its own price, reliability and location, so each offer is kept as its own quote (a price index
downstream takes the median or cheapest reliable). ``dph_total`` is $/h for the whole bundle
including the default 5 GiB of storage; ``min_bid`` is the current floor for an interruptible
rental of the same bundle. Shape: price-apis.md §1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from providers import http
from providers._common import (
    UNKNOWN_REGION,
    check_observed_at,
    positive,
    positive_int,
    require,
    require_list,
    secret,
    source_settings,
    url,
)
from providers.base import PriceQuote, ProviderError
from providers.gpus import canonical_gpu

NAME = "vast"
SEARCH_PATH = "/api/v0/bundles/"
DEFAULT_LIMIT = 3000


def query(limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The search body: rentable, unrented offers of every GPU, verified or not (verification
    is kept per quote, so statistics can choose), both on-demand and bid prices."""
    return {
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "external": {"eq": False},
        "order": [["score", "desc"]],
        "type": "on-demand",
        "limit": limit,
        "allocated_storage": 5.0,
    }


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    """One search response (Vast does not paginate; ``options["limit"]`` caps it)."""
    source = source_settings(settings, NAME)
    key = secret(source.api_key)
    headers = http.auth_headers(session, source.base_url, {"Authorization": f"Bearer {key}"}) if key else {}
    body = query(int(source.options.get("limit", DEFAULT_LIMIT)))
    yield http.request_json(NAME, session, "POST", url(source.base_url, SEARCH_PATH), json=body, headers=headers)


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    """Quotes from one search response: an on-demand and, if bid on, a spot quote per offer."""
    check_observed_at(observed_at)
    if isinstance(payload, dict) and payload.get("success") is False:
        raise ProviderError(NAME, f"search failed: {payload.get('msg') or payload.get('error') or payload}")
    offers = require_list(payload, "offers", NAME, "the search response")
    quotes: list[PriceQuote] = []
    for offer in offers:
        offer_id = require(offer, "id", NAME, "an offer")
        context = f"offer {offer_id}"
        gpu_name = require(offer, "gpu_name", NAME, context)
        num_gpus = positive_int(require(offer, "num_gpus", NAME, context))
        dph_total = positive(require(offer, "dph_total", NAME, context))
        if offer.get("rentable") is False or offer.get("rented") is True or num_gpus is None:
            continue
        gpu_ram_mb = positive(offer.get("gpu_ram"))
        gpu = canonical_gpu(gpu_name, memory_gb=gpu_ram_mb / 1024 if gpu_ram_mb else None, source=NAME)
        verification = offer.get("verification")
        if verification is None and isinstance(offer.get("verified"), bool):
            verification = "verified" if offer["verified"] else "unverified"
        reliability = offer.get("reliability2", offer.get("reliability"))
        attributes = {
            "reliability": reliability,
            "verification": verification,
            "verified": verification == "verified",
            "geolocation": offer.get("geolocation"),
            "hosting_type": offer.get("hosting_type"),
            "machine_id": offer.get("machine_id"),
            "host_id": offer.get("host_id"),
            "gpu_ram_mb": gpu_ram_mb,
            "dph_base": offer.get("dph_base"),
        }
        common = {
            "source": NAME,
            "offer_key": str(offer_id),
            "gpu": gpu,
            "gpu_raw_name": str(gpu_name),
            "gpu_count": num_gpus,
            "region": offer.get("geolocation") or UNKNOWN_REGION,
            "observed_at": observed_at,
            "attributes": attributes,
        }
        if dph_total is not None:
            quotes.append(PriceQuote(**common, usd_per_gpu_hour=dph_total / num_gpus, pricing="on-demand",
                                     original_amount=dph_total))
        min_bid = positive(offer.get("min_bid"))
        if min_bid is not None:
            quotes.append(PriceQuote(**common, usd_per_gpu_hour=min_bid / num_gpus, pricing="spot",
                                     original_amount=min_bid))
    return quotes
