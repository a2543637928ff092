"""Azure Retail Prices for GPU VM sizes (``GET /api/retail/prices``; no key).

The Retail API has no GPU field: GPU model and count come from the static ``armSkuName`` table in
``providers.gpus.INSTANCE_TYPES``. The filter asks for every VM size whose name mentions an
H100/H200/A100 (plus ``ND96asr_v4``, the A100 40 GB size without "A100" in its name), so a new
size Microsoft adds shows up as ``unknown`` instead of being silently missed.

Row rules (price-apis.md §4, as SkyPilot and gpuhunt apply them):
- Windows (and Cloud Services) rows are excluded: the licence is in the price.
- ``skuName`` ending " Spot" is spot; " Low Priority" is the retiring Batch tier and is skipped,
  so it never mixes into spot statistics; ``DevTestConsumption`` is skipped.
- ``Reservation`` rows carry the **whole term** in ``retailPrice`` although ``unitOfMeasure``
  says "1 Hour"; they become ``reserved-1y``/``reserved-3y`` at ``retailPrice / (8760 h × years)``.
- Only primary meter regions, hourly units, USD and positive prices.
Pagination follows ``NextPageLink`` to the end, re-based onto the configured base URL so a local
stand-in serves every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from providers import http
from providers._common import check_observed_at, positive, require, require_list, source_settings, url
from providers.base import PriceQuote, ProviderError
from providers.gpus import UNKNOWN, instance_gpus

NAME = "azure"
PATH = "/api/retail/prices"
HOURS_PER_YEAR = 8760
MAX_PAGES = 500
RESERVATION_YEARS = {"1 Year": 1, "3 Years": 3}

GPU_FILTER = (
    "serviceName eq 'Virtual Machines' and ("
    "contains(armSkuName, 'H100') or contains(armSkuName, 'H200') or contains(armSkuName, 'A100') "
    "or armSkuName eq 'Standard_ND96asr_v4')"
)


def _rebase(link: str, base_url: str) -> str:
    """``NextPageLink`` with its path and query kept and its scheme/host taken from settings."""
    parts = urlsplit(link)
    return url(base_url, parts.path) + (f"?{parts.query}" if parts.query else "")


def fetch(session: requests.Session, settings: Any) -> Iterator[Any]:
    """Every page of the GPU VM filter, in order, until ``NextPageLink`` is null."""
    source = source_settings(settings, NAME)
    params: dict[str, str] | None = {"$filter": str(source.options.get("filter", GPU_FILTER))}
    if source.options.get("currency"):
        params["currencyCode"] = f"'{source.options['currency']}'"  # type: ignore[index]
    next_url = url(source.base_url, PATH)
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = http.request_json(NAME, session, "GET", next_url, params=params)
        yield page
        link = page.get("NextPageLink") if isinstance(page, dict) else None
        items = page.get("Items") if isinstance(page, dict) else None
        if not link or not items:
            return
        next_url, params = _rebase(link, source.base_url), None
        if next_url in seen:
            raise ProviderError(NAME, f"pagination loops: NextPageLink repeats ({http.without_query(next_url)})")
        seen.add(next_url)
    raise ProviderError(NAME, f"more than {MAX_PAGES} pages; stopped (narrow the filter)")


def _pricing(item: dict[str, Any]) -> str | None:
    sku_name = str(item.get("skuName") or "")
    meter_name = str(item.get("meterName") or "")
    if sku_name.endswith(" Low Priority") or meter_name.endswith(" Low Priority"):
        return None
    spot = sku_name.endswith(" Spot") or meter_name.endswith(" Spot")
    kind = item.get("type")
    if kind == "Consumption":
        return "spot" if spot else "on-demand"
    if kind == "Reservation" and not spot:
        years = RESERVATION_YEARS.get(str(item.get("reservationTerm")))
        return f"reserved-{years}y" if years else None
    return None  # DevTestConsumption and anything new


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    """Quotes from one Retail Prices page."""
    check_observed_at(observed_at)
    items = require_list(payload, "Items", NAME, "the page")
    quotes: list[PriceQuote] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        context = f"item {item.get('meterId', '?') if isinstance(item, dict) else '?'}"
        arm_sku = require(item, "armSkuName", NAME, context)
        retail = positive(require(item, "retailPrice", NAME, context))
        region = require(item, "armRegionName", NAME, context)
        require(item, "type", NAME, context)
        product = str(require(item, "productName", NAME, context))
        if (
            item.get("serviceName", "Virtual Machines") != "Virtual Machines"
            or not arm_sku
            or "Windows" in product or " Cloud Services" in product
            or item.get("unitOfMeasure") != "1 Hour"
            or item.get("currencyCode", "USD") != "USD"
            or item.get("isPrimaryMeterRegion") is False
            or retail is None
        ):
            continue
        pricing = _pricing(item)
        if pricing is None:
            continue
        hourly = retail / (HOURS_PER_YEAR * int(pricing[-2])) if pricing.startswith("reserved") else retail
        known = instance_gpus(arm_sku)
        gpu, count = known if known else (UNKNOWN, 1)
        offer_key = f"{region}/{arm_sku}"
        if (offer_key, pricing) in seen:
            continue
        seen.add((offer_key, pricing))
        quotes.append(PriceQuote(
            source=NAME, offer_key=offer_key, gpu=gpu, gpu_raw_name=arm_sku, gpu_count=count,
            usd_per_gpu_hour=hourly / count, pricing=pricing, region=region, observed_at=observed_at,
            original_amount=retail,
            attributes={
                "sku_name": item.get("skuName"), "meter_name": item.get("meterName"), "product_name": product,
                "location": item.get("location"), "reservation_term": item.get("reservationTerm"),
                "instance_usd_per_hour": hourly, "gpu_count_known": known is not None,
            },
        ))
    return quotes
