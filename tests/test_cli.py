"""The command line: help, version, info, and every error path's message and exit code."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rentbuy.cli import main

ROOT = Path(__file__).parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess, as a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RENTBUY_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "rentbuy", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=120)


def help_in_a_fresh_process(watched: tuple[str, ...]) -> tuple[list[str], str]:
    """``rentbuy --help`` in a new interpreter: which of ``watched`` got imported, and the help text."""
    probe = ("import sys, contextlib, io\n"
             "from rentbuy.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
             "    try: main(['--help'])\n"
             "    except SystemExit: pass\n"
             f"print(sorted(m for m in {watched!r} if m in sys.modules)); print(out.getvalue())")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    first, rest = result.stdout.split("\n", 1)
    return ast.literal_eval(first), rest


def test_help_lists_commands_without_importing_heavy_libraries() -> None:
    loaded, text = help_in_a_fresh_process(("pandas", "scipy", "matplotlib", "sqlalchemy"))
    assert loaded == []
    for command in ("report", "prices", "info", "db"):
        assert command in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("rentbuy 0.")


def test_info_masks_secrets(tmp_path: Path) -> None:
    env = {"RENTBUY_DATA_DIR": str(tmp_path), "RENTBUY_SMTP__PASSWORD": "hunter2-smtp",
           "RENTBUY_PROVIDERS__LAMBDA_CLOUD__API_KEY": "secret-lambda-key",
           "RENTBUY_WEB__TOKEN": "web-token-value"}
    for fmt in ("text", "json"):
        result = run_cli("info", "--format", fmt, env=env)
        assert result.returncode == 0, result.stderr
        for secret in env.values():
            if secret != str(tmp_path):
                assert secret not in result.stdout + result.stderr
        assert "**********" in result.stdout
    info = json.loads(result.stdout)
    assert info["database_url"] == f"sqlite:///{tmp_path / 'rentbuy.sqlite3'}"
    assert set(info["row_counts"]) >= {"price_observation", "purchase_observation", "refresh_run"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prices", "--gpu", "h100"], "Unknown GPU id 'h100'"),
        (["prices", "--since", "last tuesday"], "--since 'last tuesday' is neither a duration"),
        (["prices", "--since", "1000000000y"], "--since '1000000000y' reaches back before the year 1"),
        (["prices", "--since", "3000y"], "--since '3000y' reaches back before the year 1"),
        (["prices", "--limit", "-1"], "limit must be a whole number of rows, 0 or more"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(args: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["prices", "--colour", "red"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --colour" in capsys.readouterr().err


def test_unreachable_database_exits_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import get_settings

    monkeypatch.setenv("RENTBUY_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    get_settings.cache_clear()
    assert main(["prices"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rentbuy: Cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert "Traceback" not in err


def test_unwritable_data_directory_exits_1(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root writes anywhere, so make the "directory" a file: it cannot hold a database either.
        blocked = tmp_path / "not-a-directory"
        blocked.write_text("", encoding="utf-8")
        data_dir = blocked / "rentbuy"
    else:
        data_dir = tmp_path / "ro"
        data_dir.mkdir(mode=0o500)
    result = run_cli("prices", env={"RENTBUY_DATA_DIR": str(data_dir)})
    assert result.returncode == 1
    assert "data directory" in result.stderr and "writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "prices", "--gpu", "h100")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_postgres_behind_head_is_reported_not_altered(postgres_url: str, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import get_settings

    monkeypatch.setenv("RENTBUY_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    assert main(["prices"]) == 1
    assert "run `rentbuy db upgrade`" in capsys.readouterr().err
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "current"]) == 0
    from store.db import head_revision

    assert capsys.readouterr().out.strip().endswith(head_revision())
