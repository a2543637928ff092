"""Runtime settings, read from defaults < TOML file < ``.env`` < environment < explicit arguments.

Names are part of the operator contract (see DESIGN.md): ``RENTBUY_DATABASE_URL``,
``RENTBUY_PROVIDERS__<SOURCE>__ENABLED|BASE_URL|API_KEY``, ``RENTBUY_SMTP__*``, ``RENTBUY_DATA_DIR``,
``RENTBUY_WEB__TOKEN``. Secrets are ``SecretStr`` so they never print by accident.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "rentbuy"


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/rentbuy`` on Linux)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


class ProviderSettings(BaseModel):
    """One price source: whether it runs, where it lives and its credentials."""

    enabled: bool = True
    # Scheme and host (the module appends its paths); empty means the source's public default.
    base_url: str = ""
    api_key: SecretStr | None = None
    # A second credential for sources with a client id/secret pair (eBay OAuth).
    api_secret: SecretStr | None = None
    # Free-form knobs a source may read (AWS region, eBay marketplace, CSV path...).
    options: dict[str, Any] = Field(default_factory=dict)

    def key_present(self) -> bool:
        return self.api_key is not None and bool(self.api_key.get_secret_value())


# Public endpoints and default options per source. Kept out of the field defaults so that setting
# one nested value (say RENTBUY_PROVIDERS__VAST__API_KEY) does not wipe the others.
PROVIDER_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "vast": ("https://console.vast.ai", {}),
    "runpod": ("https://api.runpod.io", {}),
    "lambda_cloud": ("https://cloud.lambda.ai", {}),
    "azure": ("https://prices.azure.com", {}),
    "aws": ("https://pricing.us-east-1.amazonaws.com", {"region": "us-east-1"}),
    "gcp": ("https://cloudbilling.googleapis.com", {}),
    "cloudrift": ("https://api.cloudrift.ai", {}),
    "shadeform": ("https://api.shadeform.ai", {}),
    "street_prices": ("bundled", {}),
    "ebay": ("https://api.ebay.com", {"marketplace": "EBAY_US"}),
}


class ProvidersSettings(BaseModel):
    """Every source by its contract name (DESIGN.md, 'Providers contract')."""

    vast: ProviderSettings = Field(default_factory=ProviderSettings)
    runpod: ProviderSettings = Field(default_factory=ProviderSettings)
    lambda_cloud: ProviderSettings = Field(default_factory=ProviderSettings)
    azure: ProviderSettings = Field(default_factory=ProviderSettings)
    aws: ProviderSettings = Field(default_factory=ProviderSettings)
    gcp: ProviderSettings = Field(default_factory=ProviderSettings)
    cloudrift: ProviderSettings = Field(default_factory=ProviderSettings)
    shadeform: ProviderSettings = Field(default_factory=ProviderSettings)
    street_prices: ProviderSettings = Field(default_factory=ProviderSettings)
    ebay: ProviderSettings = Field(default_factory=ProviderSettings)

    @model_validator(mode="after")
    def _fill_defaults(self) -> ProvidersSettings:
        for name, (base_url, options) in PROVIDER_DEFAULTS.items():
            source: ProviderSettings = getattr(self, name)
            if not source.base_url:
                source.base_url = base_url
            source.base_url = source.base_url.rstrip("/")
            source.options = {**options, **source.options}
        return self

    def get(self, name: str) -> ProviderSettings:
        if name not in PROVIDER_DEFAULTS:
            raise ValueError(f"Unknown price source {name!r}; known sources: {', '.join(PROVIDER_DEFAULTS)}.")
        return getattr(self, name)


class SmtpSettings(BaseModel):
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "rentbuy@localhost"
    recipients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    security: Literal["none", "starttls", "ssl"] = "none"
    timeout_seconds: float = 30.0

    @field_validator("recipients", mode="before")
    @classmethod
    def _split_recipients(cls, value: Any) -> Any:
        """Accept a JSON list or a comma-separated string, as operators write both."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


class EconomicsSettings(BaseModel):
    """Defaults for the cost model; sources for each are in ``config/data/economics.toml``."""

    usd_per_kwh: float = Field(0.165, ge=0)
    pue: float = Field(1.0, ge=1.0)
    horizon_years: float = Field(3.0, gt=0)
    discount_rate: float = Field(0.0, ge=0)
    depreciation: Literal["straight-line", "declining-balance", "macrs-5", "fitted"] = "straight-line"
    resale_fraction: float = Field(0.4, ge=0, le=1)
    busy_hours_per_day: float = Field(6.0, ge=0, le=24)
    purchase_condition: Literal["new", "used"] = "new"
    rent_statistic: Literal["cheapest", "p25", "median"] = "median"
    maintenance_usd_per_year: float = Field(0.0, ge=0)
    system_usd: float = Field(0.0, ge=0)  # the rest of each owned machine (CPU, board, RAM, PSU, case)


class ScheduleSettings(BaseModel):
    refresh_minutes: int = Field(60, ge=1)
    weekly_report_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    weekly_report_time: str = "07:00"
    timezone: str = "UTC"
    retention_days: int = Field(30, ge=1)

    @field_validator("weekly_report_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        """A 24-hour HH:MM, checked here so a typo fails at start, not when the scheduler parses it."""
        hour, colon, minute = value.strip().partition(":")
        digits = f"{hour}{minute}"
        if (colon and digits.isascii() and digits.isdigit() and 1 <= len(hour) <= 2 and len(minute) == 2
                and int(hour) < 24 and int(minute) < 60):
            return f"{int(hour):02d}:{minute}"
        raise ValueError(f"RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME must be a 24-hour time HH:MM such as 07:00, "
                         f"not {value!r}.")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        """An IANA name the scheduler and the weekly week label can both use."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"RENTBUY_SCHEDULE__TIMEZONE must be an IANA time zone such as UTC or "
                             f"Europe/Berlin, not {value!r}.") from None
        return value


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    token: SecretStr | None = None


def _toml_path() -> Path | None:
    explicit = os.environ.get("RENTBUY_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("rentbuy.toml")
    return local if local.exists() else None


class Settings(BaseSettings):
    """All of rentbuy's settings. Build with ``Settings()``; ``get_settings()`` caches one."""

    model_config = SettingsConfigDict(
        env_prefix="RENTBUY_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    stale_after_days: float = Field(7.0, gt=0)
    economics: EconomicsSettings = Field(default_factory=EconomicsSettings)
    providers: ProvidersSettings = Field(default_factory=ProvidersSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        toml = _toml_path()
        if toml is not None:
            if not toml.is_file():
                raise ValueError(f"The settings file {toml} (from RENTBUY_CONFIG) does not exist.")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or a SQLite file in the data directory (the embedded default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'rentbuy.sqlite3'}"

    @property
    def toml_file(self) -> Path | None:
        return _toml_path()


class SettingsError(ValueError):
    """A setting that cannot be used, said in one line naming its environment variable."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        name = "RENTBUY_" + "__".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(message if name in message else f"{name}: {message} (got {error.get('input')!r})")
    return "Invalid setting: " + "; ".join(part.rstrip(".") for part in parts) + "."


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env.

    pydantic's report spans lines and links to its docs; the CLI prints one sentence instead.
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
