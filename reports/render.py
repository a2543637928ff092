"""Plain-text tables and JSON for CLI output, without pandas so small commands stay quick."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value in (float("inf"), float("-inf")):
            return "never" if value > 0 else "-inf"
        # Decide on the value as 4 significant digits would show it: 9,999.7 is "10,000", not "1e+04".
        return f"{value:,.4g}" if abs(float(f"{value:.4g}")) < 1e4 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def text_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A fixed-width table; numbers right-aligned, everything else left-aligned."""
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())
    cells = [[format_cell(row.get(col)) for col in cols] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(cols)]
    numeric = [all(isinstance(row.get(col), int | float | Decimal) or row.get(col) is None for row in rows)
               for col in cols]

    def line(values: Iterable[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(cols), line("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def markdown_text(value: str) -> str:
    """Text as Markdown shows it literally: a workload's title may hold ``<script>`` or ``*``, and
    Markdown passes raw HTML through to whatever renders it."""
    out = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "\\`*_[]#|":
        out = out.replace(char, "\\" + char)
    return out


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured Markdown table with the same cell formatting as ``text_table``."""
    if not rows:
        return "_(none)_"
    cols = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(markdown_text(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(markdown_text(format_cell(row.get(c))) for c in cols) + " |")
    return "\n".join(lines)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(payload: Any) -> str:
    """JSON with dates as ISO strings; infinities become null (JSON has no infinity)."""
    return json.dumps(_finite(payload), default=_json_default, indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    return _json_default(value) if isinstance(value, datetime | date | Decimal) else value


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _plain(row.get(c)) for c in cols})
    return buffer.getvalue()


def render_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None, fmt: str,
                empty: str = "(no rows)") -> str:
    """Rows as ``json``, ``csv`` or a text ``table``: the output formats every listing command offers."""
    if fmt == "json":
        return to_json(list(rows)) + "\n"
    if fmt == "csv":
        return to_csv(rows, columns)
    return (text_table(rows, columns) if rows else empty) + "\n"
