"""Builds AWS Price List bulk offer files in the real shape, for the AWS tests and fixture.

The shape follows price-apis.md §5a: ``products`` keyed by SKU with string ``attributes``, then
``terms`` -> ``OnDemand``/``Reserved`` -> SKU -> ``SKU.TERMCODE`` -> ``priceDimensions`` whose
``pricePerUnit.USD`` is a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

ON_DEMAND_TERM = "JRTCKXETXF"
HOURLY_RATE = "6YS6EN2CT7"
RESERVED_TERM = "4NA7Y494T4"
LOCATIONS = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)"}


def product(sku: str, instance_type: str, *, gpus: str = "8", region: str = "us-east-1", os: str = "Linux",
            tenancy: str = "Shared", software: str = "NA", capacity: str = "Used",
            family: str = "Compute Instance") -> dict[str, Any]:
    return {
        "sku": sku,
        "productFamily": family,
        "attributes": {
            "servicecode": "AmazonEC2", "location": LOCATIONS[region], "locationType": "AWS Region",
            "instanceType": instance_type, "currentGeneration": "Yes", "instanceFamily": "Accelerated Computing",
            "vcpu": "192", "physicalProcessor": "AMD EPYC 7R13 Processor", "clockSpeed": "3.6 GHz",
            "memory": "2048 GiB", "storage": "8 x 3840 NVMe SSD", "networkPerformance": "3200 Gigabit",
            "processorArchitecture": "64-bit", "tenancy": tenancy, "operatingSystem": os,
            "licenseModel": "No License required", "usagetype": f"BoxUsage:{instance_type}",
            "operation": "RunInstances", "availabilityzone": "NA", "capacitystatus": capacity,
            "classicnetworkingsupport": "false", "dedicatedEbsThroughput": "80000 Mbps", "ecu": "NA",
            "enhancedNetworkingSupported": "Yes", "gpu": gpus, "gpuMemory": "640 GB", "intelAvxAvailable": "No",
            "intelAvx2Available": "No", "intelTurboAvailable": "No", "marketoption": "OnDemand",
            "normalizationSizeFactor": "NA", "preInstalledSw": software, "regionCode": region,
            "servicename": "Amazon Elastic Compute Cloud", "vpcnetworkingsupport": "true",
        },
    }


def on_demand(sku: str, usd: str, description: str = "On Demand Linux per Hour") -> dict[str, Any]:
    code = f"{sku}.{ON_DEMAND_TERM}"
    return {code: {
        "offerTermCode": ON_DEMAND_TERM, "sku": sku, "effectiveDate": "2026-05-01T00:00:00Z",
        "priceDimensions": {f"{code}.{HOURLY_RATE}": {
            "rateCode": f"{code}.{HOURLY_RATE}", "description": description, "beginRange": "0",
            "endRange": "Inf", "unit": "Hrs", "pricePerUnit": {"USD": usd}, "appliesTo": []}},
        "termAttributes": {}}}


def reserved(sku: str, upfront: str, hourly: str) -> dict[str, Any]:
    code = f"{sku}.{RESERVED_TERM}"
    return {code: {
        "offerTermCode": RESERVED_TERM, "sku": sku, "effectiveDate": "2026-05-01T00:00:00Z",
        "priceDimensions": {
            f"{code}.2TG2D8R56U": {"rateCode": f"{code}.2TG2D8R56U", "description": "Upfront Fee",
                                   "unit": "Quantity", "pricePerUnit": {"USD": upfront}, "appliesTo": []},
            f"{code}.6YS6EN2CT7": {"rateCode": f"{code}.6YS6EN2CT7", "description": "Linux/UNIX (Amazon VPC)",
                                   "beginRange": "0", "endRange": "Inf", "unit": "Hrs",
                                   "pricePerUnit": {"USD": hourly}, "appliesTo": []}},
        "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                           "PurchaseOption": "Partial Upfront"}}}


def header() -> dict[str, str]:
    return {"formatVersion": "v1.0", "disclaimer": "This pricing list is for informational purposes only.",
            "offerCode": "AmazonEC2", "version": "20260530001234", "publicationDate": "2026-05-30T00:12:34Z"}


def write_offer_file(handle: IO[str], products: Iterator[tuple[str, dict[str, Any], str | None]],
                     reserved_terms: dict[str, dict[str, Any]] | None = None) -> None:
    """Stream an offer file: ``products`` yields (sku, product, on-demand USD or None)."""
    head = json.dumps(header())[:-1]
    handle.write(head + ', "products": {')
    prices: list[tuple[str, str]] = []
    for index, (sku, item, usd) in enumerate(products):
        handle.write(("," if index else "") + f"\n  {json.dumps(sku)}: {json.dumps(item)}")
        if usd is not None:
            prices.append((sku, usd))
    handle.write('\n}, "terms": {"OnDemand": {')
    for index, (sku, usd) in enumerate(prices):
        handle.write(("," if index else "") + f"\n  {json.dumps(sku)}: {json.dumps(on_demand(sku, usd))}")
    handle.write('\n}, "Reserved": ' + json.dumps(reserved_terms or {}) + "}}\n")
