"""Parsing and checking of command-line values shared by several commands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from rentbuy.errors import UsageError

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1), "y": timedelta(days=365)}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdwy])\s*$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``2w``, ``1y`` back from now, or an ISO date/datetime (UTC)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.lower())
    if match:
        try:
            return now - float(match.group(1)) * _UNITS[match.group(2)]
        except OverflowError:  # further back than datetime can count (before year 1)
            raise UsageError(f"--since {text!r} reaches back before the year 1; give a shorter duration such as "
                             "7d, 12h, 2w or 1y, or a date such as 2026-11-01.") from None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since {text!r} is neither a duration such as 7d, 12h, 2w or 1y "
                         "nor a date such as 2026-11-01.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_gpu(gpu_id: str) -> str:
    """The canonical id, or a usage error listing the known ones."""
    from config.catalog import gpus

    known = gpus()
    if gpu_id not in known:
        raise UsageError(f"Unknown GPU id {gpu_id!r}; known GPU ids: {', '.join(known)}.")
    return gpu_id
