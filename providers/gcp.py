"""GCP Compute Engine GPU prices from the Cloud Billing Catalog (API key required).

GCP prices GPUs separately from the VM, **per GPU-hour**, so a GPU SKU is already a per-GPU
quote (``units + nanos / 1e9`` of its first priced tier). ``usageType`` ``OnDemand`` is on-demand,
``Preemptible`` is spot ("Spot Preemptible ..." descriptions); commitments (``Commit1Yr``...) and
sole-tenancy/reserved/DWS variants are skipped. The description names the GPU
(``Nvidia H100 80GB GPU running in Americas``); ``source="gcp"`` tells the canonicaliser that
GCP's A100/H100 are SXM parts and that its plain "Tesla A100" is the 40 GB one. Pages follow
``nextPageToken`` until it is empty. The key travels in the ``X-Goog-Api-Key`` header (Google's
header form of ``?key=``) so it never appears in a URL. Shape: price-apis.md §6.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests

from providers import http
from providers._common import check_observed_at, expect_list, require, require_key, source_settings, url
from providers.base import PriceQuote, ProviderError
from providers.gpus import canonical_gpu

NAME = "gcp"
COMPUTE_SERVICE = "6F81-5844-456A"
PATH = f"/v1/services/{COMPUTE_SERVICE}/skus"
MAX_PAGES = 200
PRICING = {"OnDemand": "on-demand", "Preemptible": "spot"}
SKIP_WORDS = ("sole tenancy", "reserved", "premium", "custom", "suspended", "dws", "calendar mode", "commitment")
_DESCRIPTION = re.compile(r"^(?:spot preemptible\s+)?(?P<gpu>.+?)(?:\s+running in\s+(?P<where>.+))?$", re.I)


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    source = source_settings(settings, NAME)
    key = require_key(NAME, source)
    headers = http.auth_headers(session, source.base_url, {"X-Goog-Api-Key": key})
    params: dict[str, Any] = {"pageSize": int(source.options.get("page_size", 5000)), "currencyCode": "USD"}
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = http.request_json(NAME, session, "GET", url(source.base_url, PATH), params=params, headers=headers)
        yield page
        token = page.get("nextPageToken") if isinstance(page, dict) else None
        if not token:
            return
        if token in seen:
            raise ProviderError(NAME, "pagination loops: nextPageToken repeats")
        seen.add(token)
        params = {**params, "pageToken": token}
    raise ProviderError(NAME, f"more than {MAX_PAGES} pages; stopped")


def _money(unit_price: dict[str, Any]) -> float:
    return int(unit_price.get("units") or 0) + int(unit_price.get("nanos") or 0) / 1e9


def _first_priced_tier(sku_id: str, pricing_info: Any) -> tuple[float | None, str | None, list[float]]:
    """(price, currency, all tier prices) of the first tier with a non-zero price."""
    if not isinstance(pricing_info, list) or not pricing_info:
        return None, None, []
    expression = require(pricing_info[0], "pricingExpression", NAME, f"sku {sku_id} pricingInfo")
    if expression.get("usageUnit") != "h":
        return None, None, []  # not an hourly price
    tiers = require(expression, "tieredRates", NAME, f"sku {sku_id} pricingExpression")
    ordered = sorted(tiers, key=lambda tier: float(tier.get("startUsageAmount") or 0))
    prices = [_money(require(tier, "unitPrice", NAME, f"sku {sku_id} tier")) for tier in ordered]
    for tier, price in zip(ordered, prices, strict=True):
        if price > 0:
            return price, tier["unitPrice"].get("currencyCode", "USD"), prices
    return None, None, prices


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    """Per-GPU quotes from one page of Compute Engine SKUs (non-GPU SKUs are ignored)."""
    check_observed_at(observed_at)
    if not isinstance(payload, dict):
        raise ProviderError(NAME, "the page is not a JSON object (the API format may have changed)")
    # Google omits empty repeated fields, so no 'skus' is an empty page
    skus = expect_list(payload.get("skus", []), NAME, "'skus'")
    quotes: list[PriceQuote] = []
    for sku in skus:
        sku_id = require(sku, "skuId", NAME, "a sku")
        context = f"sku {sku_id}"
        description = str(require(sku, "description", NAME, context))
        category = require(sku, "category", NAME, context)
        if require(category, "resourceGroup", NAME, f"{context} category") != "GPU":
            continue
        pricing = PRICING.get(require(category, "usageType", NAME, f"{context} category"))
        if pricing is None or any(word in description.lower() for word in SKIP_WORDS):
            continue
        price, currency, tiers = _first_priced_tier(sku_id, require(sku, "pricingInfo", NAME, context))
        if price is None or currency != "USD":
            continue
        match = _DESCRIPTION.match(description.strip())
        gpu_phrase = match.group("gpu") if match else description
        regions = sku.get("serviceRegions") or []
        region = regions[0] if len(regions) == 1 else (match.group("where") if match and match.group("where")
                                                        else ",".join(regions) or "global")
        quotes.append(PriceQuote(
            source=NAME, offer_key=str(sku_id), gpu=canonical_gpu(gpu_phrase, source=NAME),
            gpu_raw_name=gpu_phrase, gpu_count=1, usd_per_gpu_hour=price, pricing=pricing,
            region=str(region), observed_at=observed_at, original_amount=price,
            attributes={"description": description, "service_regions": regions, "tier_prices": tiers},
        ))
    return quotes
