"""Each source's pure ``parse`` on recorded payloads in the real shape: the exact quotes.

Rows are (offer_key, gpu, gpu_count, usd_per_gpu_hour, pricing, region). The fixtures carry the
awkward records on purpose: multi-GPU instances, spot rows, zero and null prices, unknown names,
name traps (RTX 3090 Ti, RTX 6000 Turing, A6000-vs-A100), Windows and Low Priority rows, term
reservations, a second page and schema drift.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from providers_helpers import OBSERVED, fixture_json, fixture_text, provider_settings

from providers import azure, cloudrift, ebay, gcp, lambda_cloud, runpod, shadeform, street_prices, vast
from providers.base import PriceQuote, ProviderError


def rows(quotes: list[PriceQuote]) -> list[tuple[Any, ...]]:
    return [(q.offer_key, q.gpu, q.gpu_count, round(q.usd_per_gpu_hour, 6), q.pricing, q.region) for q in quotes]


def test_vast_offers() -> None:
    quotes = vast.parse(fixture_json("vast", "bundles.json"), OBSERVED)
    assert rows(quotes) == [
        ("21874411", "rtx-4090", 1, 0.4027, "on-demand", "Sweden, SE"),
        ("21874411", "rtx-4090", 1, 0.2133, "spot", "Sweden, SE"),
        ("21874502", "h100-sxm", 8, 2.22655, "on-demand", "Oregon, US"),  # dph_total 17.8124 / 8
        ("21874502", "h100-sxm", 8, 1.5, "spot", "Oregon, US"),  # min_bid 12.0 / 8
        ("21874533", "a100-sxm-40gb", 2, 0.8, "on-demand", "Quebec, CA"),  # gpu_ram 40960 MB; no bid
        ("21874534", "a100-sxm-80gb", 4, 1.1, "on-demand", "Quebec, CA"),
        ("21874534", "a100-sxm-80gb", 4, 0.8, "spot", "Quebec, CA"),
        ("21874600", "rtx-3090-ti", 1, 0.19, "on-demand", "Poland, PL"),  # not an rtx-3090
        ("21874600", "rtx-3090-ti", 1, 0.12, "spot", "Poland, PL"),
        ("21874611", "rtx-3090", 2, 0.175, "on-demand", "unknown"),  # geolocation null
        ("21874611", "rtx-3090", 2, 0.08, "spot", "unknown"),
        # 21874655 not rentable; 21874700 zero prices; 21874701 null prices: no quotes
        ("21874720", "unknown", 1, 0.296, "on-demand", "Ohio, US"),  # Q RTX 8000
        ("21874720", "unknown", 1, 0.18, "spot", "Ohio, US"),
        ("21874733", "h100-nvl", 2, 2.2, "on-demand", "Finland, FI"),
        ("21874733", "h100-nvl", 2, 1.2, "spot", "Finland, FI"),
        ("21874790", "unknown", 1, 0.15, "on-demand", "Vietnam, VN"),  # RTX 4070S Ti
        ("21874799", "unknown", 1, 0.593, "on-demand", "China, CN"),  # 48 GB "RTX 4090"
    ]
    first = quotes[0]
    assert first.gpu_raw_name == "RTX 4090" and first.original_amount == pytest.approx(0.4027)
    assert first.attributes["reliability"] == 0.995 and first.attributes["verified"] is True
    assert first.attributes["geolocation"] == "Sweden, SE"
    unverified = next(q for q in quotes if q.offer_key == "21874611")
    assert unverified.attributes["verification"] == "unverified" and unverified.attributes["verified"] is False


def test_vast_schema_drift_names_the_field() -> None:
    with pytest.raises(ProviderError, match=r"vast: offer 21874411 has no 'dph_total' field"):
        vast.parse(fixture_json("vast", "bundles_missing_dph_total.json"), OBSERVED)


def test_runpod_gpu_types() -> None:
    quotes = runpod.parse(fixture_json("runpod", "gpu_types.json"), OBSERVED)
    assert rows(quotes) == [
        ("NVIDIA H100 80GB HBM3/secure", "h100-sxm", 1, 2.69, "on-demand", "global"),
        ("NVIDIA H100 80GB HBM3/secure", "h100-sxm", 1, 1.75, "spot", "global"),
        ("NVIDIA H100 PCIe/secure", "h100-pcie", 1, 2.39, "on-demand", "global"),
        ("NVIDIA H100 PCIe/secure", "h100-pcie", 1, 1.25, "spot", "global"),
        ("NVIDIA H100 PCIe/community", "h100-pcie", 1, 1.99, "community", "global"),
        ("NVIDIA H100 PCIe/community", "h100-pcie", 1, 1.19, "spot", "global"),
        ("NVIDIA H100 NVL/secure", "h100-nvl", 1, 2.59, "on-demand", "global"),  # community 0: not offered
        ("NVIDIA A100 80GB PCIe/secure", "a100-pcie-80gb", 1, 1.64, "on-demand", "global"),
        ("NVIDIA A100 80GB PCIe/secure", "a100-pcie-80gb", 1, 0.82, "spot", "global"),
        ("NVIDIA A100 80GB PCIe/community", "a100-pcie-80gb", 1, 1.19, "community", "global"),
        ("NVIDIA A100 80GB PCIe/community", "a100-pcie-80gb", 1, 0.6, "spot", "global"),
        ("NVIDIA A100-SXM4-80GB/secure", "a100-sxm-80gb", 1, 1.74, "on-demand", "global"),
        ("NVIDIA A100-SXM4-80GB/secure", "a100-sxm-80gb", 1, 0.92, "spot", "global"),
        ("NVIDIA A100-SXM4-80GB/community", "a100-sxm-80gb", 1, 1.39, "community", "global"),
        ("NVIDIA A100-SXM4-80GB/community", "a100-sxm-80gb", 1, 0.79, "spot", "global"),
        ("NVIDIA GeForce RTX 4090/secure", "rtx-4090", 1, 0.69, "on-demand", "global"),
        ("NVIDIA GeForce RTX 4090/secure", "rtx-4090", 1, 0.31, "spot", "global"),
        ("NVIDIA GeForce RTX 4090/community", "rtx-4090", 1, 0.34, "community", "global"),
        ("NVIDIA GeForce RTX 4090/community", "rtx-4090", 1, 0.2, "spot", "global"),
        ("NVIDIA GeForce RTX 3090/secure", "rtx-3090", 1, 0.43, "on-demand", "global"),
        ("NVIDIA GeForce RTX 3090/secure", "rtx-3090", 1, 0.21, "spot", "global"),
        ("NVIDIA GeForce RTX 3090/community", "rtx-3090", 1, 0.22, "community", "global"),
        ("NVIDIA GeForce RTX 3090/community", "rtx-3090", 1, 0.11, "spot", "global"),
        ("NVIDIA GeForce RTX 3090 Ti/community", "rtx-3090-ti", 1, 0.27, "community", "global"),
        ("NVIDIA GeForce RTX 5090/secure", "rtx-5090", 1, 0.94, "on-demand", "global"),
        ("NVIDIA GeForce RTX 5090/community", "rtx-5090", 1, 0.69, "community", "global"),
        ("NVIDIA GeForce RTX 5090/community", "rtx-5090", 1, 0.45, "spot", "global"),
        ("NVIDIA H200/secure", "h200", 1, 3.59, "on-demand", "global"),
        ("AMD Instinct MI300X OAM/secure", "unknown", 1, 2.49, "on-demand", "global"),
        # NVIDIA L40S: every price null, no quote
    ]


def test_runpod_graphql_error_envelope_is_an_error_not_data() -> None:
    with pytest.raises(ProviderError, match=r'runpod: GraphQL error: Cannot query field "securePrice"'):
        runpod.parse(fixture_json("runpod", "graphql_error.json"), OBSERVED)


def test_runpod_schema_drift() -> None:
    with pytest.raises(ProviderError, match=r"runpod: gpuType 'NVIDIA GeForce RTX 4090' has no 'communitySpotPrice'"):
        runpod.parse(fixture_json("runpod", "gpu_types_missing_field.json"), OBSERVED)


def test_lambda_instance_types_divide_cents_by_gpu_count() -> None:
    quotes = lambda_cloud.parse(fixture_json("lambda_cloud", "instance_types.json"), OBSERVED)
    assert rows(quotes) == [
        ("gpu_8x_h100_sxm5", "h100-sxm", 8, 2.99, "on-demand", "global"),  # 2392 cents / 100 / 8
        ("gpu_1x_h100_pcie", "h100-pcie", 1, 2.49, "on-demand", "global"),
        ("gpu_8x_a100_80gb_sxm4", "a100-sxm-80gb", 8, 1.79, "on-demand", "global"),
        ("gpu_1x_a100_sxm4", "a100-sxm-40gb", 1, 1.29, "on-demand", "global"),
        ("gpu_1x_a100", "a100-pcie-40gb", 1, 1.29, "on-demand", "global"),
        ("gpu_1x_gh200", "unknown", 1, 1.49, "on-demand", "global"),
        ("gpu_8x_b200_sxm6", "b200", 8, 4.99, "on-demand", "global"),
        ("gpu_1x_rtx6000", "unknown", 1, 0.5, "on-demand", "global"),  # Turing, not rtx-6000-ada
        ("gpu_1x_a6000", "rtx-a6000", 1, 0.8, "on-demand", "global"),
        ("gpu_1x_a10", "unknown", 1, 0.75, "on-demand", "global"),
        # cpu_4x_general: no GPU, price 0
    ]
    assert quotes[0].original_amount == pytest.approx(23.92)
    sold_out = quotes[1]
    assert sold_out.attributes["available"] is False and sold_out.attributes["regions_available"] == []


def test_lambda_error_envelope() -> None:
    with pytest.raises(ProviderError, match=r"lambda_cloud: API error global/invalid-api-key: API key was invalid"):
        lambda_cloud.parse(fixture_json("lambda_cloud", "error_unauthorized.json"), OBSERVED)


def test_azure_first_page_spot_windows_low_priority_and_reservations() -> None:
    quotes = azure.parse(fixture_json("azure", "page1.json"), OBSERVED)
    assert rows(quotes) == [
        ("eastus/Standard_ND96isr_H100_v5", "h100-sxm", 8, 12.29, "on-demand", "eastus"),  # 98.32 / 8
        ("eastus/Standard_ND96isr_H100_v5", "h100-sxm", 8, 4.916, "spot", "eastus"),
        # Windows row skipped; reservations: whole-term price / (8760 h × years) / 8 GPUs
        ("eastus/Standard_ND96isr_H100_v5", "h100-sxm", 8, round(516924 / 8760 / 8, 6), "reserved-1y", "eastus"),
        ("eastus/Standard_ND96isr_H100_v5", "h100-sxm", 8, round(1071072 / 26280 / 8, 6), "reserved-3y", "eastus"),
        ("eastus/Standard_NC40ads_H100_v5", "h100-nvl", 1, 6.98, "on-demand", "eastus"),
        # NC80adis Low Priority skipped (never mixed into spot)
        ("eastus/Standard_NC80adis_H100_v5", "h100-nvl", 2, 6.98, "on-demand", "eastus"),
    ]
    reserved = quotes[2]
    assert reserved.original_amount == 516924.0 and reserved.attributes["reservation_term"] == "1 Year"


def test_azure_second_page() -> None:
    quotes = azure.parse(fixture_json("azure", "page2.json"), OBSERVED)
    assert rows(quotes) == [
        ("westus3/Standard_ND96asr_v4", "a100-sxm-40gb", 8, 3.399625, "on-demand", "westus3"),
        ("westus3/Standard_ND96amsr_A100_v4", "a100-sxm-80gb", 8, 1.6384, "spot", "westus3"),
        ("swedencentral/Standard_NC24ads_A100_v4", "a100-pcie-80gb", 1, 3.673, "on-demand", "swedencentral"),
        # non-primary meter duplicate, $0 NC48ads, DevTestConsumption and a monthly unit: skipped
        ("swedencentral/Standard_ND96isr_H200_v5", "h200", 8, 13.78, "on-demand", "swedencentral"),
        ("swedencentral/Standard_NC40ads_H100_v6", "unknown", 1, 7.35, "on-demand", "swedencentral"),
    ]
    assert quotes[-1].attributes["gpu_count_known"] is False


def test_azure_schema_drift() -> None:
    with pytest.raises(ProviderError, match=r"azure: item 1a6b4f8e-0001.* has no 'retailPrice' field"):
        azure.parse(fixture_json("azure", "page_missing_field.json"), OBSERVED)


def test_gcp_first_page() -> None:
    quotes = gcp.parse(fixture_json("gcp", "skus_page1.json"), OBSERVED)
    assert rows(quotes) == [
        ("E3D7-9C3A-11B2", "h100-sxm", 1, 11.06125, "on-demand", "Americas"),  # units "11" + nanos 61250000
        ("F1A2-0B4C-77D1", "h100-sxm", 1, 2.253, "spot", "Americas"),  # "Spot Preemptible", Preemptible
        ("C9D0-1E2F-3A4B", "h100-sxm", 1, 11.8, "on-demand", "Americas"),  # A3 Mega
        # Commit1Yr and the CPU SKU skipped
        ("2C3D-4E5F-6071", "a100-sxm-40gb", 1, 2.933908, "on-demand", "Americas"),  # plain "Tesla A100"
    ]


def test_gcp_second_page() -> None:
    quotes = gcp.parse(fixture_json("gcp", "skus_page2.json"), OBSERVED)
    assert rows(quotes) == [
        ("3D4E-5F60-7182", "a100-sxm-80gb", 1, 5.06, "on-demand", "europe-west3"),  # regional SKU
        ("4E5F-6071-8293", "h200", 1, 3.72, "spot", "Americas"),
        ("5F60-7182-93A4", "b200", 1, 14.0, "on-demand", "Americas"),
        ("6071-8293-A4B5", "unknown", 1, 0.5606, "on-demand", "Americas"),  # L4
        ("7182-93A4-B5C6", "unknown", 1, 0.35, "on-demand", "Americas"),  # T4: first non-zero tier
        # sole tenancy and a $0 SKU skipped
    ]


def test_gcp_missing_price_structure_is_drift() -> None:
    page = fixture_json("gcp", "skus_page1.json")
    del page["skus"][0]["pricingInfo"][0]["pricingExpression"]["tieredRates"]
    with pytest.raises(ProviderError, match=r"gcp: sku E3D7-9C3A-11B2 pricingExpression has no 'tieredRates'"):
        gcp.parse(page, OBSERVED)


def test_cloudrift_instance_types() -> None:
    quotes = cloudrift.parse(fixture_json("cloudrift", "instance_types.json"), OBSERVED)
    assert rows(quotes) == [
        ("rtx49-7c-kn.1", "rtx-4090", 1, 0.39, "on-demand", "global"),
        ("rtx49-7c-kn.4", "rtx-4090", 4, 0.39, "on-demand", "global"),  # 156 cents / 4
        ("rtx49-7c-kn.8", "rtx-4090", 8, 0.39, "on-demand", "global"),
        ("rtx59-16c-nr.1", "rtx-5090", 1, 0.65, "on-demand", "global"),
        # rtx59-16c-nr.2 costs 0: skipped
        ("rtxpro6000-32c.1", "unknown", 1, 1.29, "on-demand", "global"),  # RTX PRO 6000 (Blackwell)
        # cpu-only: no GPU
    ]
    assert quotes[2].attributes["available"] is False  # empty nodes_per_dc: no capacity now


def test_shadeform_instance_types() -> None:
    quotes = shadeform.parse(fixture_json("shadeform", "instance_types.json"), OBSERVED)
    assert rows(quotes) == [
        ("hyperstack/n3-H100x1", "h100-pcie", 1, 1.9, "on-demand", "global"),
        ("lambdalabs/gpu_8x_h100_sxm5", "h100-sxm", 8, 2.99, "on-demand", "global"),
        ("massedcompute/A100-80GB-SXM4x4", "a100-sxm-80gb", 4, 1.4, "on-demand", "global"),
        ("datacrunch/1A6000.10V", "unknown", 1, 0.49, "on-demand", "global"),  # says A6000 and A100
        ("tensordock/a6000-pcie-48gb", "rtx-a6000", 1, 0.47, "on-demand", "global"),
        # paperspace hourly_price 0: skipped
        ("vultr/vcg-l40s-16c", "l40s", 1, 1.67, "on-demand", "global"),
        ("crusoe/mi300x-192gb", "unknown", 8, 3.5, "on-demand", "global"),
    ]
    assert quotes[1].attributes["regions_available"] == ["us-east-3"]


def test_street_prices_csv() -> None:
    quotes = street_prices.parse(fixture_text("street_prices", "prices.csv"), OBSERVED)
    got = [(q.gpu, q.condition, round(q.usd, 2), q.currency, q.original_amount, q.basis,
            q.observed_at.isoformat()) for q in quotes]
    assert got == [
        ("rtx-4090", "new", 1599.0, "USD", 1599.0, "msrp", "2022-10-12T00:00:00+00:00"),
        ("rtx-4090", "used", 1790.25, "EUR", 1650.0, "asking", "2026-05-01T00:00:00+00:00"),  # 1650 € × 1.085
        ("rtx-3090-ti", "used", 780.0, "USD", 780.0, "sold", "2026-05-16T10:00:00+00:00"),
        # rtx-3090 without any price: skipped
        ("rtx-5090", "used", 2350.0, "USD", 2350.0, "retail", "2026-04-02T00:00:00+00:00"),  # refurbished
        ("unknown", "new", 5000.0, "USD", 5000.0, "retail", "2026-05-01T00:00:00+00:00"),  # a whole system
        ("rtx-3090", "new", 1499.0, "USD", 1499.0, "msrp", "2020-09-24T00:00:00+00:00"),
        # GBP without a rate and an unknown basis: skipped
    ]
    assert quotes[4].gpu_raw_name == "Dual RTX 4090 workstation (complete system)"
    assert quotes[1].source == "Kleinanzeigen median (hand-collected)"


def test_street_prices_missing_columns() -> None:
    with pytest.raises(ProviderError, match=r"street_prices: the CSV lacks column\(s\) condition, observed_at"):
        street_prices.parse("gpu,usd\nrtx-4090,1599\n", OBSERVED)


def test_bundled_street_price_file_parses() -> None:
    text = next(street_prices.fetch(requests.Session(), provider_settings("bundled")))
    quotes = street_prices.parse(text, OBSERVED)
    assert quotes and all(q.usd > 0 and q.condition in ("new", "used") for q in quotes)


def _ebay_payload(*pages: str) -> dict[str, Any]:
    return {"gpu": "rtx-4090", "condition": "used", "marketplace": "EBAY_US",
            "pages": [fixture_json("ebay", page) for page in pages]}


def test_ebay_median_of_clean_listings_across_pages() -> None:
    quotes = ebay.parse(_ebay_payload("search_rtx4090_used_p1.json", "search_rtx4090_used_p2.json"), OBSERVED)
    assert len(quotes) == 1
    quote = quotes[0]
    # kept: 1849, 1925.50, 1799.99, 1760, 1815, 1870, 1899 (box-only, for-parts, 3090 Ti, 48 GB mod,
    # gaming PC and the $5,200 outlier excluded; the repeated item counted once)
    assert (quote.gpu, quote.condition, quote.usd, quote.basis) == ("rtx-4090", "used", 1849.0, "asking")
    assert "7 of 13" in quote.note and "not a sold price" in quote.note


def test_ebay_too_few_listings_gives_no_quote() -> None:
    assert ebay.parse(_ebay_payload("search_empty.json"), OBSERVED) == []


def test_ebay_robust_median_drops_outliers() -> None:
    median, kept = ebay.robust_median([700, 720, 710, 690, 705, 40, 2500])
    assert median == 705 and 40 not in kept and 2500 not in kept


@pytest.mark.parametrize(
    ("parse", "payload", "field"),
    [
        (vast.parse, {"offers": {"id": 1}}, "'offers'"),
        (runpod.parse, {"data": {"gpuTypes": {"id": "NVIDIA H100"}}}, "'data.gpuTypes'"),
        (azure.parse, {"Items": "none"}, "'Items'"),
        (gcp.parse, {"skus": {"name": "x"}}, "'skus'"),
        (cloudrift.parse, {"data": {"instance_types": None}}, "'instance_types'"),
        (shadeform.parse, {"instance_types": {"cloud": "aws"}}, "'instance_types'"),
    ],
)
def test_a_list_field_that_is_not_a_list_is_drift_naming_the_field(parse: Any, payload: Any, field: str) -> None:
    with pytest.raises(ProviderError, match=f"{field} is a .*, not a list"):
        parse(payload, OBSERVED)
