"""``fetch`` for every source: the requests it sends (auth, body, pagination) and how it fails.

The fault matrix runs each source through ``registry.collect`` (fetch, then parse) against
``responses``: a 500 or a 429 followed by success yields exactly the quotes of the good payload;
a timeout, a connection reset, truncated JSON, an HTML page with 200 or a missing required field
ends in one ``ProviderError`` naming the source and the cause, after bounded retries, and
nothing is returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from providers_helpers import (
    OBSERVED,
    fixture_json,
    fixture_path,
    provider_settings,
    quick_session,
    strict_responses,
)

from config.settings import ProviderSettings
from providers import ebay, lambda_cloud, registry, runpod, shadeform, street_prices, vast
from providers.base import MissingCredentials, ProviderError


@pytest.fixture(autouse=True)
def _fresh_ebay_tokens() -> Iterator[None]:
    ebay._TOKENS.clear()
    yield
    ebay._TOKENS.clear()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with strict_responses() as mock:
        yield mock


def rows(quotes: list[Any]) -> list[tuple[Any, ...]]:
    return [(q.offer_key, q.gpu, q.gpu_count, round(q.usd_per_gpu_hour, 6), q.pricing) for q in quotes]


# -- request shapes -------------------------------------------------------------------------------


def test_vast_posts_the_search_query_without_a_key(rsps: responses.RequestsMock) -> None:
    rsps.post("https://console.vast.ai/api/v0/bundles/", json=fixture_json("vast", "bundles.json"))
    session, _ = quick_session()
    pages = list(vast.fetch(session, provider_settings("https://console.vast.ai", limit=500)))
    sent = rsps.calls[0].request
    body = json.loads(sent.body)
    assert body["rentable"] == {"eq": True} and body["rented"] == {"eq": False} and body["limit"] == 500
    assert "verified" not in body  # verification is kept per quote, not filtered away
    assert "Authorization" not in sent.headers
    assert len(vast.parse(pages[0], OBSERVED)) == 17


def test_vast_sends_bearer_key_when_configured(rsps: responses.RequestsMock) -> None:
    rsps.post("https://console.vast.ai/api/v0/bundles/", json={"offers": []})
    session, _ = quick_session()
    list(vast.fetch(session, provider_settings("https://console.vast.ai", key="vk-123456")))
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer vk-123456"


def test_runpod_graphql_errors_fail_the_fetch(rsps: responses.RequestsMock) -> None:
    rsps.post("https://api.runpod.io/graphql", json=fixture_json("runpod", "graphql_error.json"))
    session, _ = quick_session()
    with pytest.raises(ProviderError, match=r"runpod: GraphQL error"):
        list(runpod.fetch(session, provider_settings("https://api.runpod.io")))
    assert "gpuTypes" in json.loads(rsps.calls[0].request.body)["query"]


def test_lambda_without_key_is_skipped_before_any_request() -> None:
    session, _ = quick_session()
    needs = r"lambda_cloud: needs an API key; set RENTBUY_PROVIDERS__LAMBDA_CLOUD__API_KEY"
    with pytest.raises(MissingCredentials, match=needs):
        list(lambda_cloud.fetch(session, provider_settings("https://cloud.lambda.ai")))


def test_lambda_rejected_key_is_a_clear_error(rsps: responses.RequestsMock) -> None:
    rsps.get("https://cloud.lambda.ai/api/v1/instance-types", status=401,
             json=fixture_json("lambda_cloud", "error_unauthorized.json"))
    session, sleeps = quick_session()
    rejected = r"lambda_cloud: the credentials were rejected \(HTTP 401.*API key was invalid"
    with pytest.raises(ProviderError, match=rejected):
        list(lambda_cloud.fetch(session, provider_settings("https://cloud.lambda.ai", key="secret_abc_123")))
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer secret_abc_123"
    assert sleeps == []


def test_azure_follows_next_page_link_on_the_configured_host(rsps: responses.RequestsMock) -> None:
    base = "http://127.0.0.1:8099"
    rsps.get(f"{base}/api/retail/prices", json=fixture_json("azure", "page1.json"))
    rsps.get(f"{base}/api/retail/prices", json=fixture_json("azure", "page2.json"))
    session, _ = quick_session()
    result = registry.collect("azure", provider_settings(base), session=session, observed_at=OBSERVED)
    first, second = (urlsplit(call.request.url) for call in rsps.calls)
    assert "contains(armSkuName, 'H100')" in parse_qs(first.query)["$filter"][0]
    assert second.netloc == "127.0.0.1:8099" and parse_qs(second.query)["$skip"] == ["1000"]
    assert result.pages == 2 and len(result.quotes) == 11
    assert result.unknown_gpu_names == {"Standard_NC40ads_H100_v6": 1}


def test_azure_failure_on_the_second_page_returns_nothing(rsps: responses.RequestsMock) -> None:
    base = "https://prices.azure.com"
    rsps.get(f"{base}/api/retail/prices", json=fixture_json("azure", "page1.json"))
    rsps.get(f"{base}/api/retail/prices", body='{"BillingCurrency": "USD", "Items": [{"currencyCode": "US',
             content_type="application/json")
    session, _ = quick_session()
    with pytest.raises(ProviderError, match=r"azure: returned invalid JSON \(truncated\)"):
        registry.collect("azure", provider_settings(base), session=session, observed_at=OBSERVED)


def test_gcp_pages_with_page_token_and_key_in_a_header(rsps: responses.RequestsMock) -> None:
    base = "https://cloudbilling.googleapis.com"
    path = f"{base}/v1/services/6F81-5844-456A/skus"
    rsps.get(path, json=fixture_json("gcp", "skus_page1.json"))
    rsps.get(path, json=fixture_json("gcp", "skus_page2.json"))
    session, _ = quick_session()
    result = registry.collect("gcp", provider_settings(base, key="AIzaSyFAKE-KEY-1234"), session=session,
                              observed_at=OBSERVED)
    first, second = (call.request for call in rsps.calls)
    assert first.headers["X-Goog-Api-Key"] == "AIzaSyFAKE-KEY-1234" and "AIza" not in first.url
    assert "pageToken" not in parse_qs(urlsplit(first.url).query)
    assert parse_qs(urlsplit(second.url).query)["pageToken"] == ["CgwIpZ3BsgYQ-NKs5AESFQoTNjA3MS04MjkzLUE0QjU"]
    assert result.pages == 2 and len(result.quotes) == 9


def test_shadeform_sends_its_api_key_header(rsps: responses.RequestsMock) -> None:
    rsps.get("https://api.shadeform.ai/v1/instances/types", json=fixture_json("shadeform", "instance_types.json"))
    session, _ = quick_session()
    pages = list(shadeform.fetch(session, provider_settings("https://api.shadeform.ai", key="sf-key-42")))
    assert rsps.calls[0].request.headers["X-API-KEY"] == "sf-key-42"
    assert len(shadeform.parse(pages[0], OBSERVED)) == 7


def _ebay_token(mock: responses.RequestsMock, base: str = "https://api.ebay.com") -> None:
    mock.post(f"{base}/identity/v1/oauth2/token", json=fixture_json("ebay", "token.json"))


def test_ebay_oauth_token_is_cached_and_search_pages_follow_next(rsps: responses.RequestsMock) -> None:
    base = "https://api.ebay.com"
    _ebay_token(rsps)
    search = f"{base}/buy/browse/v1/item_summary/search"
    rsps.get(search, json=fixture_json("ebay", "search_empty.json"))  # new
    rsps.get(search, json=fixture_json("ebay", "search_rtx4090_used_p1.json"))  # used, page 1
    rsps.get(search, json=fixture_json("ebay", "search_rtx4090_used_p2.json"))  # used, page 2
    settings = provider_settings(base, key="client-id-1", secret="client-secret-2", gpus=["rtx-4090"])
    session, _ = quick_session()
    result = registry.collect("ebay", settings, session=session, observed_at=OBSERVED)
    token_request = rsps.calls[0].request
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert "grant_type=client_credentials" in token_request.body
    searches = [call.request for call in rsps.calls[1:]]
    assert all(r.headers["Authorization"].startswith("Bearer v^1.1") for r in searches)
    assert all(r.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_US" for r in searches)
    assert "conditionIds:{1000}" in parse_qs(urlsplit(searches[0].url).query)["filter"][0]
    assert parse_qs(urlsplit(searches[2].url).query)["offset"] == ["200"]  # followed `next`
    assert [(q.gpu, q.condition, q.usd) for q in result.quotes] == [("rtx-4090", "used", 1849.0)]
    # a second run within the token's lifetime asks for no new token
    rsps.get(search, json=fixture_json("ebay", "search_empty.json"))
    rsps.get(search, json=fixture_json("ebay", "search_empty.json"))
    registry.collect("ebay", settings, session=session, observed_at=OBSERVED)
    assert sum(1 for call in rsps.calls if call.request.url.endswith("/oauth2/token")) == 1


def test_ebay_needs_both_client_id_and_secret() -> None:
    session, _ = quick_session()
    with pytest.raises(MissingCredentials, match=r"ebay: needs an eBay application client id and secret"):
        list(ebay.fetch(session, provider_settings("https://api.ebay.com", key="only-the-id")))


def test_ebay_rejected_client_is_a_clear_error_without_the_secret(rsps: responses.RequestsMock) -> None:
    rsps.post("https://api.ebay.com/identity/v1/oauth2/token", status=401,
              json=fixture_json("ebay", "error_invalid_client.json"))
    session, _ = quick_session()
    rejected = r"ebay: the credentials were rejected.*client authentication failed"
    with pytest.raises(ProviderError, match=rejected) as err:
        list(ebay.fetch(session, provider_settings("https://api.ebay.com", key="cid", secret="s3cr3t-value")))
    assert "s3cr3t-value" not in str(err.value)


def test_street_prices_from_a_url_and_from_a_path(rsps: responses.RequestsMock, tmp_path: Any) -> None:
    text = fixture_path("street_prices", "prices.csv").read_text()
    rsps.get("https://example.org/prices.csv", body=text, content_type="text/csv")
    session, _ = quick_session()
    from_url = next(street_prices.fetch(session, provider_settings("https://example.org/prices.csv")))
    local = tmp_path / "mine.csv"
    local.write_text(text)
    from_path = next(street_prices.fetch(session, provider_settings("bundled", path=str(local))))
    assert from_url == from_path == text
    with pytest.raises(ProviderError, match=r"street_prices: the price file .*nope.csv does not exist"):
        next(street_prices.fetch(session, provider_settings(str(tmp_path / "nope.csv"))))


# -- the fault matrix ---------------------------------------------------------------------------


@dataclass
class Case:
    source: str
    settings: ProviderSettings
    method: str
    url: str
    good: Any  # JSON-able payload (or bytes for AWS)
    drift: Any
    drift_message: str
    before: Callable[[responses.RequestsMock], None] | None = None  # e.g. an OAuth token
    after: Callable[[responses.RequestsMock], None] | None = None  # the rest of a successful run

    def body(self, payload: Any) -> dict[str, Any]:
        if isinstance(payload, bytes):
            return {"body": payload, "content_type": "application/json"}
        return {"json": payload}

    def text(self, payload: Any) -> str:
        return payload.decode() if isinstance(payload, bytes) else json.dumps(payload)


def _drop(payload: Any, path: tuple[Any, ...]) -> Any:
    copy = json.loads(json.dumps(payload))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


def _aws_drift() -> bytes:
    offer = json.loads(fixture_path("aws", "offer_excerpt.json").read_text())
    del offer["products"]["5H8T3RJ2Q6W7XJ8B"]["attributes"]
    return json.dumps(offer).encode()


def _ebay_listings() -> dict[str, Any]:
    """Both recorded pages' listings as one last page (no ``next``)."""
    first, second = (fixture_json("ebay", f"search_rtx4090_used_p{n}.json") for n in (1, 2))
    return {**second, "itemSummaries": first["itemSummaries"] + second["itemSummaries"]}


def _ebay_after(mock: responses.RequestsMock) -> None:
    mock.get("https://api.ebay.com/buy/browse/v1/item_summary/search", json=_ebay_listings())


CASES = [
    Case("vast", provider_settings("https://console.vast.ai"), "POST", "https://console.vast.ai/api/v0/bundles/",
         fixture_json("vast", "bundles.json"), fixture_json("vast", "bundles_missing_dph_total.json"),
         "offer 21874411 has no 'dph_total' field"),
    Case("runpod", provider_settings("https://api.runpod.io"), "POST", "https://api.runpod.io/graphql",
         fixture_json("runpod", "gpu_types.json"), fixture_json("runpod", "gpu_types_missing_field.json"),
         "has no 'communitySpotPrice' field"),
    Case("lambda_cloud", provider_settings("https://cloud.lambda.ai", key="secret_k"), "GET",
         "https://cloud.lambda.ai/api/v1/instance-types", fixture_json("lambda_cloud", "instance_types.json"),
         _drop(fixture_json("lambda_cloud", "instance_types.json"), ("data", "gpu_1x_a100", "instance_type", "specs")),
         "instance 'gpu_1x_a100' has no 'specs' field"),
    Case("azure", provider_settings("https://prices.azure.com"), "GET", "https://prices.azure.com/api/retail/prices",
         fixture_json("azure", "page2.json"), fixture_json("azure", "page_missing_field.json"),
         "has no 'retailPrice' field"),
    Case("gcp", provider_settings("https://cloudbilling.googleapis.com", key="AIza-k"), "GET",
         "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus", fixture_json("gcp", "skus_page2.json"),
         _drop(fixture_json("gcp", "skus_page2.json"), ("skus", 0, "category")),
         "sku 3D4E-5F60-7182 has no 'category'"),
    Case("cloudrift", provider_settings("https://api.cloudrift.ai"), "POST",
         "https://api.cloudrift.ai/api/v1/instance-types/list", fixture_json("cloudrift", "instance_types.json"),
         _drop(fixture_json("cloudrift", "instance_types.json"),
               ("data", "instance_types", 0, "variants", 1, "cost_per_hour")),
         "variant 'rtx49-7c-kn.4' has no 'cost_per_hour' field"),
    Case("shadeform", provider_settings("https://api.shadeform.ai", key="sf"), "GET",
         "https://api.shadeform.ai/v1/instances/types", fixture_json("shadeform", "instance_types.json"),
         _drop(fixture_json("shadeform", "instance_types.json"), ("instance_types", 2, "hourly_price")),
         "massedcompute A100-80GB-SXM4x4 has no 'hourly_price' field"),
    Case("ebay", provider_settings("https://api.ebay.com", key="cid", secret="csecret", gpus=["rtx-4090"]), "GET",
         "https://api.ebay.com/buy/browse/v1/item_summary/search", _ebay_listings(),
         _drop(fixture_json("ebay", "search_rtx4090_used_p2.json"), ("itemSummaries", 0, "price")),
         "item v1|146000000008|0 has no 'price' field", before=_ebay_token, after=_ebay_after),
    Case("aws", provider_settings("https://pricing.us-east-1.amazonaws.com", region="us-east-1"), "GET",
         "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/us-east-1/index.json",
         fixture_path("aws", "offer_excerpt.json").read_bytes(), _aws_drift(),
         "product 5H8T3RJ2Q6W7XJ8B has no 'attributes' object"),
]
FAULTS = ["500-then-ok", "429-retry-after", "timeout", "connection-reset", "truncated-json", "html-200",
          "schema-drift"]


def _expected(case: Case) -> list[tuple[Any, ...]]:
    module = registry.get(case.source).module()
    payload: Any = case.good
    if case.source == "ebay":
        payload = {"gpu": "rtx-4090", "condition": "new", "marketplace": "EBAY_US", "pages": [case.good]}
        return [(q.gpu, q.condition, q.usd) for q in module.parse(payload, OBSERVED)] + [
            (q.gpu, q.condition, q.usd) for q in module.parse({**payload, "condition": "used"}, OBSERVED)]
    return rows(module.parse(payload, OBSERVED))


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("case", CASES, ids=[c.source for c in CASES])
def test_fault(case: Case, fault: str, rsps: responses.RequestsMock) -> None:
    session, sleeps = quick_session(max_attempts=3)
    if case.before:
        case.before(rsps)

    def add(**kwargs: Any) -> None:
        rsps.add(case.method, case.url, **kwargs)

    expect_error: str | None = None
    if fault == "500-then-ok":
        add(status=500, json={"message": "internal error"})
        add(**case.body(case.good))
    elif fault == "429-retry-after":
        add(status=429, headers={"Retry-After": "1"}, json={"message": "too many requests"})
        add(**case.body(case.good))
    elif fault == "timeout":
        for _ in range(3):
            add(body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"))
        expect_error = r"timed out waiting for the response \(gave up after 3 attempts"
    elif fault == "connection-reset":
        for _ in range(3):
            add(body=requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")))
        expect_error = r"connection reset by peer \(gave up after 3 attempts"
    elif fault == "truncated-json":
        text = case.text(case.good)
        add(body=text[: len(text) // 2], content_type="application/json")
        expect_error = r"truncated"
    elif fault == "html-200":
        add(body="<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            content_type="text/html")
        expect_error = r"HTML page"
    elif fault == "schema-drift":
        add(**case.body(case.drift))
        expect_error = r"\(the (API|file) format may have changed\)"
        assert case.drift_message
    if expect_error is None:
        if case.after:
            case.after(rsps)
        result = registry.collect(case.source, case.settings, session=session, observed_at=OBSERVED)
        got = ([(q.gpu, q.condition, q.usd) for q in result.quotes] if case.source == "ebay" else rows(result.quotes))
        assert got == _expected(case) and got
        assert len(sleeps) == 1
        if fault == "429-retry-after":
            assert sleeps == [1.0]
        return
    with pytest.raises(ProviderError) as raised:
        registry.collect(case.source, case.settings, session=session, observed_at=OBSERVED)
    message = str(raised.value)
    assert message.startswith(f"{case.source}: ")
    assert raised.value.source == case.source
    assert re.search(expect_error, message), message
    if fault == "schema-drift":
        assert case.drift_message in message
    assert len(sleeps) <= 2  # bounded: at most max_attempts - 1 waits
