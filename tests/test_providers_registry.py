"""The source registry, one full ``collect`` run and the sanity bounds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from providers_helpers import OBSERVED, fixture_json, provider_settings, quick_session, strict_responses

from config.settings import Settings
from providers import bounds, registry
from providers.base import MissingCredentials, PriceQuote, ProviderError, PurchaseQuote


def test_registry_names_kinds_and_keys_follow_the_design() -> None:
    assert registry.names() == ("vast", "runpod", "lambda_cloud", "azure", "aws", "gcp", "cloudrift", "shadeform",
                                "street_prices", "ebay")
    keys = {name: source.key for name, source in registry.SOURCES.items()}
    assert keys == {"vast": "optional", "runpod": "optional", "lambda_cloud": "required", "azure": "none",
                    "aws": "none", "gcp": "required", "cloudrift": "none", "shadeform": "required",
                    "street_prices": "none", "ebay": "required"}
    assert {n for n, s in registry.SOURCES.items() if s.kind == "purchase"} == {"street_prices", "ebay"}
    for source in registry.SOURCES.values():
        module = source.module()
        assert source.name == module.NAME and callable(module.fetch) and callable(module.parse)
    with pytest.raises(ValueError, match=r"Unknown price source 'nope'; known sources: vast"):
        registry.get("nope")
    assert registry.get_source("aws") is registry.SOURCES["aws"]


def test_status_and_enabled_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_PROVIDERS__AZURE__ENABLED", "false")
    monkeypatch.setenv("RENTBUY_PROVIDERS__GCP__API_KEY", "k")
    monkeypatch.delenv("RENTBUY_PROVIDERS__SHADEFORM__API_KEY", raising=False)
    settings = Settings()
    assert registry.get("azure").status(settings) == "disabled"
    assert registry.get("gcp").status(settings) == "ready"
    assert registry.get("shadeform").status(settings) == "needs key"
    assert registry.get("vast").status(settings) == "ready"  # key optional
    assert "azure" not in [s.name for s in registry.enabled_sources(settings)]
    assert not registry.get("ebay").key_present(provider_settings("https://api.ebay.com", key="id-only"))
    assert issubclass(MissingCredentials, ProviderError)


def test_collect_dedupes_flags_and_counts_unknown_names() -> None:
    payload = fixture_json("vast", "bundles.json")
    broken = dict(payload["offers"][1], id=99000001, dph_total=4000.0, min_bid=None)  # $500/GPU-h H100
    payload["offers"] += [payload["offers"][0], broken]  # a repeated offer and an absurd price
    with strict_responses() as mock:
        mock.post("https://console.vast.ai/api/v0/bundles/", json=payload)
        session, _ = quick_session()
        result = registry.collect("vast", provider_settings("https://console.vast.ai"), session=session,
                                  observed_at=OBSERVED)
    assert result.pages == 1 and result.duplicates == 2  # on-demand and spot of the repeated offer
    assert len(result.quotes) == 18 and result.flagged == 1
    flagged = [q for q in result.quotes if q.flagged]
    assert [(q.offer_key, q.gpu, q.usd_per_gpu_hour) for q in flagged] == [("99000001", "h100-sxm", 500.0)]
    assert result.unknown_gpu_names == {"Q RTX 8000": 2, "RTX 4070S Ti": 1, "RTX 4090": 1}
    assert all(q.gpu != "unknown" and not q.flagged for q in result.usable)
    assert len(result.usable) == 18 - 1 - 4


def test_collect_returns_nothing_when_a_source_fails() -> None:
    with strict_responses() as mock:
        drifted = fixture_json("vast", "bundles_missing_dph_total.json")
        mock.post("https://console.vast.ai/api/v0/bundles/", json=drifted)
        session, _ = quick_session()
        with pytest.raises(ProviderError, match="has no 'dph_total' field"):
            registry.collect("vast", provider_settings("https://console.vast.ai"), session=session)


def _quote(gpu: str, usd: float) -> PriceQuote:
    return PriceQuote(source="t", offer_key="k", gpu=gpu, gpu_raw_name=gpu, gpu_count=1, usd_per_gpu_hour=usd,
                      pricing="on-demand", region="global", observed_at=OBSERVED)


@pytest.mark.parametrize(("gpu", "usd", "flagged"), [
    ("h100-sxm", 0.01, True),  # a placeholder or a parse error
    ("h100-sxm", 500.0, True),  # a whole 8-GPU instance price not divided
    ("h100-sxm", 2.49, False),
    ("h100-sxm", 12.29, False),  # Azure on-demand list price
    ("h100-nvl", 6.98, False),
    ("rtx-4090", 0.2, False),  # a community spot bid
    ("rtx-4090", 34.0, True),  # cents read as dollars
    ("rtx-a6000", 0.47, False),
    ("b200", 14.0, False),
    ("unknown", 0.001, True),
    ("unknown", 3.5, False),
])
def test_rental_sanity_bounds(gpu: str, usd: float, flagged: bool) -> None:
    assert bounds.flag(_quote(gpu, usd)) is flagged


def test_apply_marks_copies_and_keeps_everything() -> None:
    quotes = [_quote("h100-sxm", 2.5), _quote("h100-sxm", 500.0)]
    marked = bounds.apply(quotes)
    assert [q.flagged for q in marked] == [False, True] and marked[0] is quotes[0]
    assert replace(marked[1], flagged=False) == quotes[1]


def test_purchase_sanity_bounds() -> None:
    def card(gpu: str, usd: float) -> PurchaseQuote:
        return PurchaseQuote(source="t", gpu=gpu, condition="used", usd=usd, observed_at=OBSERVED)

    assert bounds.flag(card("rtx-4090", 45.0))  # a box
    assert not bounds.flag(card("rtx-4090", 1849.0))
    assert not bounds.flag(card("h100-sxm", 31250.0))
    assert bounds.flag(card("rtx-3090", 25000.0))


def test_rental_bounds_cover_every_catalog_class() -> None:
    from config.catalog import gpus

    for spec in gpus().values():
        low, high = bounds.rental_bounds(spec.gpu)
        assert (low, high) == bounds.RENTAL_BOUNDS[spec.gpu_class]


def test_responses_mock_is_strict_about_unregistered_requests() -> None:
    """The helper every provider test uses: an unregistered request fails the test."""
    with pytest.raises(AssertionError, match="unexpected HTTP requests"), strict_responses():
        session, _ = quick_session(max_attempts=1)
        with pytest.raises(ProviderError):
            registry.collect("cloudrift", provider_settings("https://api.cloudrift.ai"), session=session)


@pytest.mark.parametrize(("usd", "kept"), [
    (500.0, True),  # absurd but storable: kept and flagged
    (99_999_999.999999, True),  # the widest Numeric(14, 6) value
    (99_999_999.9999996, False),  # rounds to 1e8 in the column
    (2.5e8, False),
    (float("inf"), False),
])
def test_apply_drops_prices_the_column_cannot_hold(usd: float, kept: bool) -> None:
    marked = bounds.apply([_quote("h100-sxm", 2.5), _quote("h100-sxm", usd)])
    assert len(marked) == (2 if kept else 1)
    assert bounds.storable(_quote("h100-sxm", usd)) is kept
    assert not bounds.storable(replace(_quote("h100-sxm", 2.5), original_amount=1e10))
    assert not bounds.storable(PurchaseQuote(source="t", gpu="rtx-4090", condition="new", usd=1e10,
                                             observed_at=OBSERVED))


def test_a_dropped_price_counts_as_flagged() -> None:
    payload = fixture_json("vast", "bundles.json")
    absurd = dict(payload["offers"][1], id=99000002, dph_total=8 * 2.5e8, min_bid=None)  # 2.5e8 $/GPU-h
    payload["offers"].append(absurd)
    with strict_responses() as mock:
        mock.post("https://console.vast.ai/api/v0/bundles/", json=payload)
        session, _ = quick_session()
        result = registry.collect("vast", provider_settings("https://console.vast.ai"), session=session,
                                  observed_at=OBSERVED)
    assert "99000002" not in {q.offer_key for q in result.quotes}
    assert result.flagged == 1 and not any(q.flagged for q in result.quotes)
