"""Every price source by name, what it needs, and one way to run it (fetch -> parse -> bounds).

The refresh job and the CLI both go through ``collect`` so they agree on what a run means: all
pages are fetched and parsed before anything is returned (a failure on page 3 returns nothing,
never two pages' worth), duplicates are dropped, sanity bounds are applied, and the GPU names
that mapped to ``unknown`` are counted so an operator sees when a table needs a new entry.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import requests

from providers import bounds, http
from providers._common import secret, source_settings
from providers.base import PriceQuote, PurchaseQuote
from providers.gpus import UNKNOWN

Quote = PriceQuote | PurchaseQuote


@dataclass(frozen=True)
class Source:
    """One price source: its contract name, kind, key requirement and module."""

    name: str
    kind: Literal["rental", "purchase"]
    key: Literal["required", "optional", "none"]
    description: str

    @property
    def needs_key(self) -> bool:
        return self.key == "required"

    @property
    def module_name(self) -> str:
        return f"providers.{self.name}"

    def module(self) -> ModuleType:
        """The source module (``fetch``, ``parse``), imported on first use."""
        return importlib.import_module(self.module_name)

    def fetch(self, session: requests.Session, settings: Any) -> Iterator[Any]:
        """The module's ``fetch``: decoded payload pages (a file object for AWS)."""
        return self.module().fetch(session, settings)

    def parse(self, payload: Any, observed_at: datetime) -> list[Quote]:
        """The module's pure ``parse`` of one payload page."""
        return self.module().parse(payload, observed_at)

    def key_present(self, settings: Any = None) -> bool:
        config = source_settings(settings, self.name)
        if self.name == "ebay":  # OAuth needs both halves
            return bool(secret(config.api_key) and secret(config.api_secret))
        return bool(secret(config.api_key))

    def status(self, settings: Any = None) -> str:
        """``disabled``, ``needs key`` (would be skipped) or ``ready``."""
        config = source_settings(settings, self.name)
        if not config.enabled:
            return "disabled"
        if self.needs_key and not self.key_present(config):
            return "needs key"
        return "ready"


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source("vast", "rental", "optional", "Vast.ai marketplace offers: per-host on-demand and interruptible"),
        Source("runpod", "rental", "optional", "RunPod GPU types: secure, community and spot prices per GPU"),
        Source("lambda_cloud", "rental", "required", "Lambda Cloud instance types (on-demand)"),
        Source("azure", "rental", "none", "Azure Retail Prices: GPU VM sizes, on-demand, spot and reservations"),
        Source("aws", "rental", "none", "AWS Price List bulk file: EC2 GPU instances on-demand (streamed)"),
        Source("gcp", "rental", "required", "GCP Cloud Billing Catalog: GPU SKUs on-demand and spot"),
        Source("cloudrift", "rental", "none", "CloudRift instance types: RTX 4090/5090 and more"),
        Source("shadeform", "rental", "required", "Shadeform aggregator: many clouds' instance types"),
        Source("street_prices", "purchase", "none", "Curated CSV of new and used card prices (or your own)"),
        Source("ebay", "purchase", "required", "eBay Browse: median asking price of RTX 3090/4090/5090 listings"),
    )
}


def names() -> tuple[str, ...]:
    return tuple(SOURCES)


def get(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"Unknown price source {name!r}; known sources: {', '.join(SOURCES)}.") from None


def get_source(name: str) -> Source:
    """Alias of ``get`` (the refresh job's name for it)."""
    return get(name)


def enabled_sources(settings: Any = None) -> list[Source]:
    """Sources switched on in settings, in registry order (missing keys are the caller's skip)."""
    return [source for source in SOURCES.values() if source_settings(settings, source.name).enabled]


@dataclass
class SourceResult:
    """What one run of one source produced."""

    source: str
    observed_at: datetime
    quotes: list[Quote] = field(default_factory=list)
    pages: int = 0
    unknown_gpu_names: dict[str, int] = field(default_factory=dict)  # raw name -> quotes
    flagged: int = 0
    duplicates: int = 0
    raw_paths: list[Path] = field(default_factory=list)

    @property
    def usable(self) -> list[Quote]:
        """Quotes fit for statistics: a known GPU and inside the sanity bounds."""
        return [q for q in self.quotes if q.gpu != UNKNOWN and not q.flagged]


def _save_raw(payload: Any, directory: Path, source: str, observed_at: datetime, index: int) -> Path:
    """Archive one payload exactly as fetched (file-like payloads are copied and rewound)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{source}-{observed_at:%Y%m%dT%H%M%SZ}-{index:03d}"
    if hasattr(payload, "read"):
        path = directory / f"{stem}.json"
        start = payload.tell()
        with path.open("wb") as out:
            shutil.copyfileobj(payload, out, 1 << 20)
        payload.seek(start)
        return path
    if isinstance(payload, str):
        path = directory / f"{stem}.csv"
        path.write_text(payload, encoding="utf-8")
        return path
    text = json.dumps(payload, indent=1, sort_keys=True)
    path = directory / f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text, encoding="utf-8")
    return path


def _dedupe_key(quote: Quote) -> tuple[Any, ...]:
    if isinstance(quote, PriceQuote):
        return (quote.offer_key, quote.pricing)
    return (quote.source, quote.gpu, quote.condition, quote.basis, quote.observed_at)


def parse_pages(
    name: str,
    pages: Iterable[Any],
    observed_at: datetime,
    *,
    on_page: Callable[[int], None] | None = None,
) -> SourceResult:
    """Parse fetched (or archived) pages of one source: de-duplicate, apply sanity bounds and
    count unknown GPU names. Shared by ``collect``, the refresh job and ``reparse``."""
    module = get(name).module()
    result = SourceResult(source=name, observed_at=observed_at)
    parsed: list[Quote] = []
    for payload in pages:
        result.pages += 1
        parsed.extend(module.parse(payload, observed_at))
        if on_page is not None:
            on_page(len(parsed))
    seen: set[tuple[Any, ...]] = set()
    unique: list[Quote] = []
    for quote in parsed:
        key = _dedupe_key(quote)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        unique.append(quote)
    result.quotes = bounds.apply(unique)
    # Quotes ``apply`` dropped (a price no column can hold) count as flagged.
    result.flagged = sum(1 for q in result.quotes if q.flagged) + len(unique) - len(result.quotes)
    result.unknown_gpu_names = dict(Counter(q.gpu_raw_name or "(blank)" for q in result.quotes if q.gpu == UNKNOWN))
    return result


def collect(
    name: str,
    settings: Any = None,
    *,
    session: requests.Session | None = None,
    observed_at: datetime | None = None,
    raw_dir: Path | None = None,
) -> SourceResult:
    """Fetch every page of one source, parse it and apply sanity bounds.

    Raises ``MissingCredentials`` (skip the source) or ``ProviderError`` (the run failed); in
    either case nothing partial is returned. ``settings`` may be ``Settings`` or ``None``.
    """
    module = get(name).module()
    when = (observed_at or datetime.now(UTC)).replace(microsecond=0)
    own_session = session is None
    active = session or http.make_session()
    raw_paths: list[Path] = []

    def pages() -> Iterator[Any]:
        for index, payload in enumerate(module.fetch(active, settings), start=1):
            if raw_dir is not None:
                raw_paths.append(_save_raw(payload, raw_dir, name, when, index))
            yield payload

    try:
        result = parse_pages(name, pages(), when)
    finally:
        if own_session:
            active.close()
    result.raw_paths = raw_paths
    return result
