"""Settings precedence (environment over TOML over defaults) and secret handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import Settings


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rentbuy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_embedded_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'data' / 'rentbuy.sqlite3'}"
    assert settings.economics.usd_per_kwh == pytest.approx(0.165)
    assert settings.providers.azure.base_url == "https://prices.azure.com"
    assert settings.providers.aws.options["region"] == "us-east-1"


def test_env_overrides_toml_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path, """
database_url = "sqlite:///from-toml.sqlite3"
[economics]
usd_per_kwh = 0.30
horizon_years = 4
[providers.azure]
base_url = "http://127.0.0.1:9999"
""")
    monkeypatch.setenv("RENTBUY_CONFIG", str(path))
    from_toml = Settings()
    assert from_toml.database_url == "sqlite:///from-toml.sqlite3"
    assert from_toml.economics.usd_per_kwh == pytest.approx(0.30)
    assert from_toml.providers.azure.base_url == "http://127.0.0.1:9999"

    monkeypatch.setenv("RENTBUY_ECONOMICS__USD_PER_KWH", "0.12")
    monkeypatch.setenv("RENTBUY_DATABASE_URL", "postgresql+psycopg://u@h/db")
    both = Settings()
    assert both.economics.usd_per_kwh == pytest.approx(0.12)  # env wins
    assert both.economics.horizon_years == pytest.approx(4)  # TOML still fills the rest
    assert both.effective_database_url == "postgresql+psycopg://u@h/db"


def test_nested_env_value_keeps_the_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_PROVIDERS__VAST__API_KEY", "vast-secret")
    monkeypatch.setenv("RENTBUY_PROVIDERS__AZURE__BASE_URL", "http://127.0.0.1:8080/")
    settings = Settings()
    assert settings.providers.vast.base_url == "https://console.vast.ai"
    assert settings.providers.vast.key_present()
    assert settings.providers.azure.base_url == "http://127.0.0.1:8080"
    assert "vast-secret" not in repr(settings)


@pytest.mark.parametrize("raw", ['["a@example.org", "b@example.org"]', "a@example.org, b@example.org"])
def test_recipients_accept_json_or_commas(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_SMTP__RECIPIENTS", raw)
    assert Settings().smtp.recipients == ["a@example.org", "b@example.org"]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("RENTBUY_SMTP__HOST=mail.example.org\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Settings().smtp.host == "mail.example.org"


def test_missing_settings_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ValueError, match="does not exist"):
        Settings()


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_SMTP__SECURITY", "tls-please")
    with pytest.raises(ValidationError, match="security"):
        Settings()


def test_example_file_parses_and_names_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[1] / "config" / "rentbuy.example.toml"
    monkeypatch.setenv("RENTBUY_CONFIG", str(example))
    settings = Settings()
    text = example.read_text(encoding="utf-8")
    for section, model in [("economics", settings.economics), ("smtp", settings.smtp),
                           ("schedule", settings.schedule), ("web", settings.web)]:
        for key in type(model).model_fields:
            assert f"{key} =" in text or f"# {key} =" in text, f"[{section}] {key} is not documented"
    for source in type(settings.providers).model_fields:
        assert f"[providers.{source}]" in text


@pytest.mark.parametrize("raw", ["7am", "25:00", "07:60", "7", "07:5", "", "seven:00"])
def test_a_bad_weekly_report_time_is_one_sentence_naming_the_setting(raw: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME", raw)
    with pytest.raises(ValidationError, match=r"RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME must be a 24-hour time HH:MM "
                                              r"such as 07:00, not '.*'\."):
        Settings()


def test_a_weekly_report_time_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME", "7:05")
    assert Settings().schedule.weekly_report_time == "07:05"
    monkeypatch.setenv("RENTBUY_SCHEDULE__WEEKLY_REPORT_TIME", "23:59")
    assert Settings().schedule.weekly_report_time == "23:59"


@pytest.mark.parametrize("raw", ["Mars/Olympus", "utc", "", "../etc/passwd"])
def test_an_unknown_timezone_is_one_sentence_naming_the_setting(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTBUY_SCHEDULE__TIMEZONE", raw)
    with pytest.raises(ValidationError, match=r"RENTBUY_SCHEDULE__TIMEZONE must be an IANA time zone such as UTC "
                                              r"or Europe/Berlin, not '.*'\."):
        Settings()
    monkeypatch.setenv("RENTBUY_SCHEDULE__TIMEZONE", "Pacific/Auckland")
    assert Settings().schedule.timezone == "Pacific/Auckland"


def test_the_cli_reports_a_bad_setting_in_one_line_naming_its_variable(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from config.settings import get_settings
    from rentbuy.cli import main

    monkeypatch.setenv("RENTBUY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RENTBUY_SCHEDULE__RETENTION_DAYS", "0")
    get_settings.cache_clear()
    try:
        assert main(["info"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pydantic.dev" not in err
    assert "RENTBUY_SCHEDULE__RETENTION_DAYS: Input should be greater than or equal to 1 (got '0')." in err
