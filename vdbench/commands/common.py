"""Options and output helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_db(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--db", required=required, metavar="DB",
                        help="the DuckDB store file (created if missing by commands that write)")


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(highlight=False, stderr=stderr)


def confirm_send(yes: bool, n_send: int, host: str) -> None:
    """Before texts leave the machine: say how many go where, and require consent.

    `--yes` consents; on a terminal the user is asked; otherwise nothing is sent.
    """
    from vdbench.errors import InputError

    sys.stderr.write(f"{n_send} texts will be sent to {host}\n")
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(
            f"refusing to send {n_send} texts to {host} without confirmation "
            "(stdin is not a terminal); nothing was sent",
            hint="re-run with --yes to confirm",
        )
    sys.stderr.write(f"send {n_send} texts to {host}? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise InputError("not confirmed; nothing was sent")
