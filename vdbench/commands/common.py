"""Options and output helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def consent_to_send(judge: Any, n_texts: int, yes: bool) -> None:
    """Texts for a remote (openai-backend) judge need consent first; local judges need none."""
    if judge.identity.backend == "openai" and n_texts:
        confirm_send(yes, n_texts, getattr(judge, "host", "the endpoint"))


@contextmanager
def no_store_left_on_refusal(path: str | os.PathLike[str]) -> Iterator[None]:
    """A store this command creates is removed again when the command is refused
    (a VdbenchError: bad input, caught before or inside one transaction, so the new file
    holds an empty schema only). An existing store is never touched."""
    from pathlib import Path

    from vdbench.errors import VdbenchError

    db = Path(path)
    created = not db.exists()
    try:
        yield
    except VdbenchError:
        if created:
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise


def check_output_file(path: str, option: str) -> None:
    """Refuse an output path whose directory is missing or that is itself a directory.

    Checked before any work is done, so a typo costs nothing and nothing is written.
    """
    from pathlib import Path

    from vdbench.errors import InputError

    target = Path(path)
    if target.is_dir():
        raise InputError(f"{option} is a directory, not a file", where=str(target),
                         hint=f"give a file path, e.g. {target / 'out.jsonl'}")
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"directory of {option} does not exist", where=str(parent),
                         hint=f"create it first (mkdir -p {parent}) or choose another {option}")


def check_store_path(path: str, option: str = "--db") -> None:
    """Refuse a store path that can never be a store: a directory, a file in a missing
    directory, or a file that is not DuckDB. A missing file in an existing directory passes
    (commands that write create it; the TUI waits for it)."""
    from pathlib import Path

    from vdbench.errors import InputError

    target = Path(path)
    if target.is_dir():
        raise InputError(f"{option} is a directory, not a DuckDB store file", where=str(target),
                         hint=f"give the store file, e.g. {target / 'vdbench.duckdb'}")
    if not target.parent.is_dir():
        raise InputError(f"directory of {option} does not exist", where=str(target.parent),
                         hint=f"check the path, or create the directory (mkdir -p {target.parent})")
    if target.is_file() and target.stat().st_size > 0:
        with target.open("rb") as fh:
            header = fh.read(12)
        if header[8:12] != b"DUCK":  # DuckDB's magic bytes sit after an 8-byte checksum
            raise InputError(f"{option} is not a DuckDB store file", where=str(target),
                             hint="point --db at a store written by vdbench")
