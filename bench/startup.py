"""Start-up and report: wall time of the CLI, next to the interpreter's own start-up.

    python -m bench.startup [--repeats 5]

Each command runs as a fresh process (what a user waits for), output discarded, after one
untimed warm-up run so the page cache holds the files:

* ``rentbuy --help`` against ``python -c pass`` (an interpreter doing nothing): what our own
  imports add. Target: under 0.3 s.
* ``rentbuy report`` on the bundled data, in a data directory that already holds the embedded
  SQLite database (the everyday case), and in an empty one (the first run: migrations and the
  bundled snapshot are loaded first), against ``python -c "import pandas, scipy"`` (the libraries
  the report needs). Target: the full report under 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import Report, Timing, machine_line, scratch_dir, time_command, time_runs


def _rentbuy() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m rentbuy``."""
    script = Path(sys.executable).with_name("rentbuy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rentbuy"]


def _environment(data_dir: Path) -> dict[str, str]:
    """The caller's environment without RENTBUY_* settings, pointed at ``data_dir``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RENTBUY_")}
    env["RENTBUY_DATA_DIR"] = str(data_dir)
    return env


@dataclass(frozen=True)
class StartupResult:
    python_pass: Timing
    python_imports: Timing
    help: Timing
    report_warm: Timing
    report_first_run: Timing


def run(repeats: int = 5, warmup: int = 1) -> StartupResult:
    """Time each command ``repeats`` times after ``warmup`` untimed runs."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1.")
    import subprocess

    rentbuy = _rentbuy()
    with scratch_dir() as scratch:
        env = _environment(scratch / "data")
        python_pass = time_command([sys.executable, "-c", "pass"], repeats, env, warmup)
        python_imports = time_command([sys.executable, "-c", "import pandas, scipy"], repeats, env, warmup)
        help_ = time_command([*rentbuy, "--help"], repeats, env, warmup)
        # At least one untimed run: the everyday report finds its database already there.
        report_warm = time_command([*rentbuy, "report"], repeats, env, max(warmup, 1))
        fresh = scratch / "fresh"

        def empty() -> None:
            shutil.rmtree(fresh, ignore_errors=True)

        def first_run() -> None:
            subprocess.run([*rentbuy, "report"], env=_environment(fresh), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True, timeout=300)

        report_first = time_runs(first_run, repeats, setup=empty)
    return StartupResult(python_pass, python_imports, help_, report_warm, report_first)


def report(r: StartupResult) -> Report:
    out = Report(f"Start-up and report (median of {len(r.help.seconds)} runs, fresh processes)")
    out.add("rentbuy --help", r.help.median, "s", "python -c pass", r.python_pass.median,
            target="< 0.3 s", met=r.help.median < 0.3,
            note=f"our imports add {r.help.median - r.python_pass.median:.3f} s")
    out.add("rentbuy report (database exists)", r.report_warm.median, "s", "python -c 'import pandas, scipy'",
            r.python_imports.median, target="< 3 s", met=r.report_warm.median < 3.0)
    out.add("rentbuy report (first run: migrate + seed)", r.report_first_run.median, "s",
            "python -c 'import pandas, scipy'", r.python_imports.median, target="< 3 s",
            met=r.report_first_run.median < 3.0)
    out.notes.append(machine_line())
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median reported)")
    args = parser.parse_args(argv)
    print(report(run(args.repeats)).render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
