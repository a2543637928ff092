"""Workloads from TOML: the standard ones shipped in ``config/data/workloads.toml`` or a user's file.

Each ``[name]`` table has a ``title``, a ``source`` (why these volumes) and one or more
``[[name.classes]]``, each a ``FineTune`` (any of its fields) plus ``tokens_per_run`` and
``runs_per_month``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from config.catalog import data_path
from optimizer.memory import FineTune
from rentbuy.planning import JobClass, Workload

_JOB_FIELDS = {f.name for f in fields(FineTune)}


@dataclass(frozen=True)
class NamedWorkload:
    key: str
    title: str
    source: str
    workload: Workload


def _volume(entry: dict[str, Any], key: str, example: str, where: str) -> float:
    """A class's ``tokens_per_run`` or ``runs_per_month``: a TOML number, never a string or a boolean."""
    if key not in entry:
        raise ValueError(f"{where} lacks {key}.")
    value = entry.pop(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key} must be a number such as {example}; got {value!r}.")
    return float(value)


def _job_class(entry: dict[str, Any], where: str) -> JobClass:
    entry = dict(entry)
    tokens = _volume(entry, "tokens_per_run", "6e7", where)
    runs = _volume(entry, "runs_per_month", "8", where)
    name = str(entry.pop("name", ""))
    unknown = set(entry) - _JOB_FIELDS
    if unknown:
        raise ValueError(f"{where} has unknown fields {', '.join(sorted(unknown))}; "
                         f"allowed: tokens_per_run, runs_per_month, name and the FineTune fields.")
    if isinstance(entry.get("lora_targets"), list):
        entry["lora_targets"] = tuple(entry["lora_targets"])
    try:
        return JobClass(FineTune(**entry), tokens, runs, name)
    except (TypeError, ValueError) as exc:  # the field's own sentence, said of this file and class
        raise ValueError(f"{where}: {str(exc).rstrip('.')}.") from None


def parse_workloads(text: str, origin: str = "workload file") -> list[NamedWorkload]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{origin} is not valid TOML: {exc}.") from None
    out = []
    for key, table in document.items():
        if not isinstance(table, dict) or not table.get("classes"):
            raise ValueError(f"{origin}: [{key}] needs at least one [[{key}.classes]] entry.")
        if not isinstance(table["classes"], list) or not all(isinstance(c, dict) for c in table["classes"]):
            raise ValueError(f"{origin}: [{key}] classes must be [[{key}.classes]] tables with tokens_per_run, "
                             f"runs_per_month and the FineTune fields; got {table['classes']!r}.")
        classes = tuple(_job_class(c, f"{origin}: [{key}] class {i + 1}") for i, c in enumerate(table["classes"]))
        title = str(table.get("title", key))
        out.append(NamedWorkload(key, title, str(table.get("source", origin)), Workload(classes, title)))
    if not out:
        raise ValueError(f"{origin} defines no workload.")
    return out


def standard_workloads() -> list[NamedWorkload]:
    return parse_workloads(data_path("workloads.toml").read_text(encoding="utf-8"), "config/data/workloads.toml")


def load_workloads(path: Path) -> list[NamedWorkload]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"Cannot read the workload file {path}: {exc.strerror}.") from None
    return parse_workloads(text, str(path))
