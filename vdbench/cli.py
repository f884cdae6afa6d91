"""The `vdbench` command line. Headless: never imports the TUI unless `vdbench tui` runs.

Each subcommand lives in ``vdbench/commands/<name>.py`` with ``register(subparsers)``;
heavy libraries (torch, transformers) are imported inside the command that needs them,
so ``--help`` and light commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from vdbench import __version__
from vdbench.errors import VdbenchError

COMMANDS = (
    "prompts",
    "sample",
    "train",
    "judge",
    "calibrate",
    "metrics",
    "capability",
    "audit",
    "ingest",
    "tui",
    "demo",
    "experiment",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vdbench",
        description="Trace how an LLM's values drift during post-training: sample answers to "
        "value-laden questions at each checkpoint, judge their stance, store, measure, inspect.",
        epilog="Every command accepts --json for machine-readable output. See `vdbench CMD --help`.",
    )
    parser.add_argument("--version", action="version", version=f"vdbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"vdbench.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except VdbenchError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; work committed so far is kept, re-run to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `vdbench ... | head` closes stdout early; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
