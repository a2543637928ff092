"""The ``rentbuy`` command line. ``--help`` is the documentation; errors are one sentence."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rentbuy import __version__
from rentbuy.errors import RentbuyError

# Subcommand modules under rentbuy.commands, in the order --help lists them.
COMMANDS: tuple[str, ...] = ("report", "prices", "refresh", "serve", "web", "email-weekly", "info", "db",
                             "breakeven", "fleet", "sensitivity", "memory", "providers", "fetch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rentbuy",
        description="Buy or rent GPUs for LLM fine-tuning: live prices, a VRAM/throughput model "
        "and the break-even point between owning and renting.",
    )
    parser.add_argument("--version", action="version", version=f"rentbuy {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"rentbuy.commands.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RentbuyError as exc:
        if args.debug:
            raise
        print(f"rentbuy: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # the optimizer's way of saying "this input is impossible"
        if args.debug:
            raise
        print(f"rentbuy: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rentbuy report | head`: the reader has gone, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("rentbuy: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: still one sentence, details on --debug
        if args.debug:
            raise
        print(f"rentbuy: unexpected error ({type(exc).__name__}: {exc}); rerun with --debug for details",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
