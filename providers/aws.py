"""AWS EC2 on-demand GPU prices from the Price List bulk offer file (no key).

The regional offer file (``/offers/v1.0/aws/AmazonEC2/current/<region>/index.json``) is ~450 MB
and takes ~2.5 GB of RAM with ``json.load``. So ``fetch`` streams it to a temporary file (a
broken transfer restarts under the retry policy) and yields that **open binary file**, and
``parse`` walks it with ``providers._jsonstream`` member by member, decoding one product or one
term at a time: memory stays at a read chunk plus the few GPU rows kept.

The file has no GPU model attribute; model and count come from the static instance-type map in
``providers.gpus.INSTANCE_TYPES`` (p5, p5e/p5en, p4d, p4de, p6-b200, g6e). Kept rows are Linux,
shared tenancy, no pre-installed software, ``capacitystatus`` Used and OnDemand hourly terms in
USD (price-apis.md §5a). Spot is not in the Price List (it needs EC2 credentials) and reserved
terms are skipped. Payload type: a binary file-like object, ``bytes``/``str`` of JSON, a path, or
an already-decoded ``dict``; consume each yielded file before advancing ``fetch``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import requests

from providers import http
from providers._common import check_observed_at, positive, source_settings, url
from providers._jsonstream import JsonStream, JsonStreamError
from providers.base import PriceQuote, ProviderError
from providers.gpus import INSTANCE_TYPES, instance_gpus

NAME = "aws"
OFFER_PATH = "/offers/v1.0/aws/AmazonEC2/current/{region}/index.json"
AWS_INSTANCE_TYPES = frozenset(name for name in INSTANCE_TYPES if not name.startswith("Standard_"))


def offer_url(base_url: str, region: str) -> str:
    return url(base_url, OFFER_PATH.format(region=region))


def fetch(session: requests.Session, settings: Any) -> Iterator[IO[bytes]]:
    """One open temporary file per configured region (``options["region"]`` or ``["regions"]``)."""
    source = source_settings(settings, NAME)
    regions = source.options.get("regions") or [source.options.get("region", "us-east-1")]
    for region in regions:
        with tempfile.TemporaryFile(prefix="rentbuy-aws-", dir=source.options.get("download_dir")) as handle:
            where = offer_url(source.base_url, str(region))
            http.download(NAME, session, where, handle)
            start = handle.read(512).lstrip()[:1]
            handle.seek(0)
            if start == b"<":
                raise ProviderError(NAME, f"{http.without_query(where)} returned an HTML page, not the offer file")
            yield handle


def _open(payload: Any) -> tuple[IO[Any], bool]:
    if isinstance(payload, dict):
        return io.StringIO(json.dumps(payload)), True
    if isinstance(payload, bytes):
        return io.BytesIO(payload), True
    if isinstance(payload, str):
        return io.StringIO(payload), True
    if isinstance(payload, os.PathLike):
        return Path(payload).open("rb"), True
    if hasattr(payload, "read"):
        return payload, False
    raise ProviderError(NAME, f"cannot parse a payload of type {type(payload).__name__}")


def _wanted_product(sku: str, product: Any) -> dict[str, Any] | None:
    if not isinstance(product, dict) or not isinstance(product.get("attributes"), dict):
        raise ProviderError(NAME, f"product {sku} has no 'attributes' object (the file format may have changed)")
    attributes = product["attributes"]
    instance_type = attributes.get("instanceType")
    if instance_type not in AWS_INSTANCE_TYPES:
        return None
    if (
        attributes.get("operatingSystem") != "Linux"
        or attributes.get("tenancy") != "Shared"
        or attributes.get("preInstalledSw") != "NA"
        or attributes.get("capacitystatus") != "Used"
        or attributes.get("marketoption", "OnDemand") != "OnDemand"
    ):
        return None
    return {
        "instance_type": instance_type,
        "region": attributes.get("regionCode") or attributes.get("location") or "unknown",
        "location": attributes.get("location"),
        "gpu_attribute": attributes.get("gpu"),
    }


def _hourly_usd(sku: str, offers: Any) -> float | None:
    """The USD hourly rate of a SKU's OnDemand terms (``pricePerUnit.USD`` is a string)."""
    if not isinstance(offers, dict):
        raise ProviderError(NAME, f"OnDemand terms of {sku} are not an object (the file format may have changed)")
    for term in offers.values():
        dimensions = term.get("priceDimensions") if isinstance(term, dict) else None
        if not isinstance(dimensions, dict):
            raise ProviderError(NAME, f"a term of {sku} has no 'priceDimensions' (the file format may have changed)")
        for dimension in dimensions.values():
            if dimension.get("unit") != "Hrs":
                continue
            price = positive((dimension.get("pricePerUnit") or {}).get("USD"))
            if price is not None:
                return price
    return None


def parse(payload: Any, observed_at: datetime) -> list[PriceQuote]:
    """On-demand quotes for the mapped GPU instance types in one offer file, streamed."""
    check_observed_at(observed_at)
    handle, close = _open(payload)
    try:
        products, prices = _scan(JsonStream(handle))
    except JsonStreamError as exc:
        raise ProviderError(NAME, f"the offer file is not valid JSON: {exc}") from None
    finally:
        if close:
            handle.close()
    quotes: list[PriceQuote] = []
    seen: set[str] = set()
    for sku, product in products.items():
        price = prices.get(sku)
        if price is None:
            continue
        gpu, count = instance_gpus(product["instance_type"]) or ("unknown", 1)
        offer_key = f"{product['region']}/{product['instance_type']}"
        if offer_key in seen:
            continue
        seen.add(offer_key)
        quotes.append(PriceQuote(
            source=NAME, offer_key=offer_key, gpu=gpu, gpu_raw_name=product["instance_type"], gpu_count=count,
            usd_per_gpu_hour=price / count, pricing="on-demand", region=product["region"],
            observed_at=observed_at, original_amount=price,
            attributes={"sku": sku, "location": product["location"], "gpu_attribute": product["gpu_attribute"]},
        ))
    return quotes


def _scan(stream: JsonStream) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Wanted products and their OnDemand hourly price, decoding one record at a time."""
    products: dict[str, dict[str, Any]] = {}
    prices: dict[str, float] = {}
    seen_products = seen_terms = False
    for key in stream.members():
        if key == "products":
            seen_products = True
            for sku in stream.members():
                product = _wanted_product(sku, stream.value())
                if product is not None:
                    products[sku] = product
        elif key == "terms":
            seen_terms = True
            for term_type in stream.members():
                if term_type != "OnDemand":
                    stream.skip()
                    continue
                for sku in stream.members():
                    # Products come first in AWS files; if not, keep every price (small floats).
                    if seen_products and sku not in products:
                        stream.skip()
                        continue
                    price = _hourly_usd(sku, stream.value())
                    if price is not None:
                        prices[sku] = price
        else:
            stream.skip()
    stream.end()
    if not seen_products or not seen_terms:
        missing = " and ".join(name for name, seen in (("'products'", seen_products), ("'terms'", seen_terms))
                               if not seen)
        raise ProviderError(NAME, f"the offer file has no {missing} (the file format may have changed)")
    return products, prices
