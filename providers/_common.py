"""Small helpers the source modules share: settings lookup, keys, required fields, prices."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from config.settings import ProviderSettings, Settings
from providers.base import MissingCredentials, ProviderError

GLOBAL_REGION = "global"  # the source prices one list for all its locations
UNKNOWN_REGION = "unknown"  # the source has regions but did not say this offer's


def source_settings(settings: Any, name: str) -> ProviderSettings:
    """This source's ``ProviderSettings`` from whatever the caller holds.

    ``fetch(session, settings)`` accepts the whole ``Settings``, the ``providers`` block, this
    source's own ``ProviderSettings`` or ``None`` (defaults and environment).
    """
    if isinstance(settings, ProviderSettings):
        return settings
    if settings is None:
        settings = Settings()
    providers = getattr(settings, "providers", settings)
    return providers.get(name)


def secret(value: Any) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text.strip() or None


def require_key(name: str, settings: ProviderSettings, what: str = "API key") -> str:
    """The configured key, or ``MissingCredentials`` saying which variable to set."""
    key = secret(settings.api_key)
    if key is None:
        raise MissingCredentials(
            name, f"needs an {what}; set RENTBUY_PROVIDERS__{name.upper()}__API_KEY (source skipped)"
        )
    return key


def require(record: Mapping[str, Any], key: str, source: str, context: str) -> Any:
    """``record[key]``, or ``ProviderError``: a missing field means the format changed."""
    if not isinstance(record, Mapping):
        raise ProviderError(source, f"{context} is a {type(record).__name__}, not an object "
                                    "(the API format may have changed)")
    if key not in record:
        raise ProviderError(source, f"{context} has no {key!r} field (the API format may have changed)")
    return record[key]


def expect_list(value: Any, source: str, context: str) -> list[Any]:
    """``value`` if it is a JSON array; anything else means the format changed."""
    if not isinstance(value, list):
        raise ProviderError(source, f"{context} is a {type(value).__name__}, not a list "
                                    "(the API format may have changed)")
    return value


def require_list(record: Mapping[str, Any], key: str, source: str, context: str, name: str | None = None) -> list[Any]:
    """``record[key]`` as a list; ``name`` is how the error names the field (default ``'key'``)."""
    return expect_list(require(record, key, source, context), source, name or repr(key))


def positive(value: Any) -> float | None:
    """A price as a positive finite float, or ``None`` for null, zero, negative or non-numeric."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def positive_int(value: Any) -> int | None:
    number = positive(value)
    return int(number) if number is not None and number == int(number) else None


def check_observed_at(observed_at: datetime) -> datetime:
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware (UTC).")
    return observed_at


def url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")
