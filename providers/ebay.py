"""eBay Browse item search: asking prices of new and used RTX 3090/4090/5090 (client id + secret).

What this measures: the **median asking price** of active fixed-price listings, not what cards
sell for (sold prices need eBay's restricted Marketplace Insights API), so quotes carry
``basis="asking"``. Listings are noisy, so before the median a listing is dropped when it is for
parts or not working (``conditionId`` 7000 or the title says so), a box/accessory only (box,
water block, backplate...), a whole PC, a lot, a different card (the title must canonicalise to
the searched GPU token-exactly, so a 3090 Ti never counts as a 3090) or an outlier (more than 3
scaled MADs from the median). Fewer than ``MIN_LISTINGS`` left means no quote. Shipping is not
included.

Auth: OAuth client-credentials (``api_key`` = client id, ``api_secret`` = client secret); the
application token is cached per client until shortly before ``expires_in``. One payload per card
and condition: ``{"gpu", "condition", "marketplace", "pages": [search response, ...]}`` so the
median spans every page fetched. Shapes: price-apis.md §8.
"""

from __future__ import annotations

import base64
import re
import statistics
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from providers import http
from providers._common import check_observed_at, positive, require, secret, source_settings, url
from providers.base import MissingCredentials, ProviderError, PurchaseQuote
from providers.gpus import canonical_gpu

NAME = "ebay"
TOKEN_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
SCOPE = "https://api.ebay.com/oauth/api_scope"
CATEGORY_GRAPHICS_CARDS = "27386"  # "Graphics/Video Cards" (inferred, widely used)
CONDITION_IDS = {"new": ("1000",), "used": ("3000",)}
FOR_PARTS_CONDITION_ID = "7000"
DEFAULT_GPUS = ("rtx-3090", "rtx-4090", "rtx-5090")
SEARCH_TERMS = {"rtx-3090": "RTX 3090", "rtx-4090": "RTX 4090", "rtx-5090": "RTX 5090"}
PAGE_LIMIT = 200
DEFAULT_MAX_PAGES = 3
MIN_LISTINGS = 5
MAD_CUTOFF = 3.0
TOKEN_MARGIN_SECONDS = 120

_EXCLUDE_TITLE = re.compile(
    r"\b(for parts|parts only|not working|broken|faulty|defective|as[- ]is|"
    r"box only|empty box|no (?:gpu|card|graphics card)|"
    r"(?:water ?block|backplate|fan|shroud|heatsink|bracket)s? only|"
    r"gaming pc|prebuilt|computer|lot of|\d+ ?x)\b",
    re.IGNORECASE,
)

# (base_url, client id) -> (token, monotonic expiry)
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}


def _credentials(settings: Any) -> tuple[str, str]:
    source = source_settings(settings, NAME)
    client_id, client_secret = secret(source.api_key), secret(source.api_secret)
    if not client_id or not client_secret:
        raise MissingCredentials(
            NAME, "needs an eBay application client id and secret; set RENTBUY_PROVIDERS__EBAY__API_KEY "
                  "(client id) and RENTBUY_PROVIDERS__EBAY__API_SECRET (client secret) (source skipped)")
    return client_id, client_secret


def application_token(session: requests.Session, base_url: str, client_id: str, client_secret: str,
                      *, clock: Any = time.monotonic) -> str:
    """An application access token, from the cache while it has more than two minutes left."""
    cached = _TOKENS.get((base_url, client_id))
    if cached and cached[1] - TOKEN_MARGIN_SECONDS > clock():
        return cached[0]
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    if isinstance(session, http.RentbuySession):
        session.add_secret(client_secret)
        session.add_secret(basic)
    body = http.request_json(
        NAME, session, "POST", url(base_url, TOKEN_PATH),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        data={"grant_type": "client_credentials", "scope": SCOPE},
    )
    token = require(body, "access_token", NAME, "the token response")
    expires_in = float(body.get("expires_in") or 7200)
    if isinstance(session, http.RentbuySession):
        session.add_secret(token)
    _TOKENS[(base_url, client_id)] = (token, clock() + expires_in)
    return token


def fetch(session: requests.Session, settings: Any) -> Iterator[dict[str, Any]]:
    source = source_settings(settings, NAME)
    client_id, client_secret = _credentials(source)
    token = application_token(session, source.base_url, client_id, client_secret)
    marketplace = str(source.options.get("marketplace", "EBAY_US"))
    max_pages = int(source.options.get("max_pages", DEFAULT_MAX_PAGES))
    headers = {"Authorization": f"Bearer {token}", "X-EBAY-C-MARKETPLACE-ID": marketplace}
    for gpu in source.options.get("gpus", DEFAULT_GPUS):
        for condition, condition_ids in CONDITION_IDS.items():
            params: dict[str, Any] | None = {
                "q": SEARCH_TERMS.get(gpu, gpu),
                "category_ids": CATEGORY_GRAPHICS_CARDS,
                "filter": f"conditionIds:{{{'|'.join(condition_ids)}}},buyingOptions:{{FIXED_PRICE}},"
                          "priceCurrency:USD",
                "limit": PAGE_LIMIT,
                "offset": 0,
            }
            next_url = url(source.base_url, SEARCH_PATH)
            pages = []
            for _ in range(max_pages):
                page = http.request_json(NAME, session, "GET", next_url, params=params, headers=headers)
                pages.append(page)
                link = page.get("next") if isinstance(page, dict) else None
                if not link:
                    break
                parts = urlsplit(link)  # keep path and query, stay on the configured host
                next_url, params = url(source.base_url, parts.path) + (f"?{parts.query}" if parts.query else ""), None
            yield {"gpu": gpu, "condition": condition, "marketplace": marketplace, "pages": pages}


def _excluded(item: dict[str, Any], gpu: str, condition: str) -> bool:
    title = str(item.get("title") or "")
    condition_id = str(item.get("conditionId") or "")
    if condition_id == FOR_PARTS_CONDITION_ID or (condition_id and condition_id not in CONDITION_IDS[condition]):
        return True
    if _EXCLUDE_TITLE.search(title):
        return True
    return canonical_gpu(title) != gpu


def robust_median(prices: list[float]) -> tuple[float | None, list[float]]:
    """Median after dropping points more than ``MAD_CUTOFF`` scaled MADs from the median."""
    if not prices:
        return None, []
    centre = statistics.median(prices)
    mad = statistics.median(abs(p - centre) for p in prices) * 1.4826
    kept = prices if mad == 0 else [p for p in prices if abs(p - centre) <= MAD_CUTOFF * mad]
    return (statistics.median(kept) if kept else None), kept


def parse(payload: Any, observed_at: datetime) -> list[PurchaseQuote]:
    """At most one asking-price quote for the payload's card and condition."""
    check_observed_at(observed_at)
    gpu = require(payload, "gpu", NAME, "the payload")
    condition = require(payload, "condition", NAME, "the payload")
    if condition not in CONDITION_IDS:
        raise ProviderError(NAME, f"unknown condition {condition!r} in the payload")
    pages = require(payload, "pages", NAME, "the payload")
    prices: list[float] = []
    seen: set[str] = set()
    total = 0
    for page in pages:
        if isinstance(page, dict) and page.get("errors"):
            first = page["errors"][0] if isinstance(page["errors"], list) and page["errors"] else {}
            message = first.get("message", first) if isinstance(first, dict) else first
            raise ProviderError(NAME, f"search error: {message}")
        require(page, "total", NAME, "a search page")
        for item in page.get("itemSummaries") or []:  # eBay omits the list when nothing matched
            item_id = str(require(item, "itemId", NAME, "an item summary"))
            price = require(item, "price", NAME, f"item {item_id}")
            if item_id in seen:
                continue
            seen.add(item_id)
            total += 1
            value = positive(require(price, "value", NAME, f"item {item_id} price"))
            if value is None or price.get("currency") != "USD" or _excluded(item, gpu, condition):
                continue
            prices.append(value)
    median, kept = robust_median(prices)
    if median is None or len(kept) < MIN_LISTINGS:
        return []
    href = pages[0].get("href", "") if pages and isinstance(pages[0], dict) else ""
    return [PurchaseQuote(
        source=NAME, gpu=gpu, condition=condition, usd=round(median, 2), observed_at=observed_at,
        basis="asking", currency="USD", original_amount=round(median, 2), source_url=href,
        note=(f"median asking price of {len(kept)} of {total} active fixed-price listings on "
              f"{payload.get('marketplace', 'EBAY_US')} after excluding parts, boxes, other models and "
              "outliers; shipping excluded; not a sold price"),
        gpu_raw_name=SEARCH_TERMS.get(gpu, gpu),
    )]
