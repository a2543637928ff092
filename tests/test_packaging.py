"""The wheel a non-editable install gets holds every package and every bundled data file."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
LAYERS = ("config", "optimizer", "providers", "store", "jobs", "reports", "rentbuy")


def test_wheel_ships_all_packages_and_data(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("rentbuy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for layer in LAYERS:
        for init in (ROOT / layer).rglob("__init__.py"):
            assert init.relative_to(ROOT).as_posix() in names, f"{init.relative_to(ROOT)} is not in the wheel"
    for data in (ROOT / "config" / "data").iterdir():
        assert f"config/data/{data.name}" in names
    assert "store/migrations/script.py.mako" in names
    web = ROOT / "rentbuy" / "web"
    for asset in (*(web / "templates").iterdir(), *(web / "static").iterdir()):
        assert asset.relative_to(ROOT).as_posix() in names, f"{asset.name} is not in the wheel"
    assert any(n.startswith("store/migrations/versions/0001") for n in names)
