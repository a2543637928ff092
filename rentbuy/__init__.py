"""rentbuy: should you buy GPUs or rent them for LLM fine-tuning?

The high-level Python API (``rentbuy.plan``, ``rentbuy.prices``) is imported lazily so that the
CLI's ``--help`` does not pay for pandas and scipy.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "plan", "prices"]


def __getattr__(name: str) -> Any:
    if name in ("plan", "prices"):
        from rentbuy import api

        return getattr(api, name)
    raise AttributeError(f"module 'rentbuy' has no attribute {name!r}")
