"""Experiment options ↔ `vdbench train` command lines.

An option `kl_coef = 0.05` in a [[stage]] is the flag `--kl-coef 0.05`; which options exist
for which algorithm is read from `vdbench train ALGO`'s own parser, so the two never drift.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from functools import cache
from typing import Any

from vdbench.errors import InputError

# Options whose value is itself a list (not a grid axis).
LIST_VALUED = ("eval_steps",)


@cache
def train_actions(algorithm: str) -> dict[str, argparse.Action]:
    """dest -> argparse action of `vdbench train ALGORITHM`."""
    from vdbench.commands import train

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    train.register(sub)
    train_parser = sub.choices["train"]
    algos = next(a for a in train_parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in algos.choices[algorithm]._actions if a.option_strings}


def is_grid(key: str, value: Any) -> bool:
    """A list is a grid axis, except for list-valued options given as one list of scalars."""
    if not isinstance(value, list):
        return False
    if key in LIST_VALUED:
        return bool(value) and isinstance(value[0], list)
    return True


def check_option(algorithm: str, key: str, value: Any, where: str) -> None:
    """Refuse an option `vdbench train ALGORITHM` lacks, one the experiment sets itself, an
    empty grid, or a value of the wrong type (each with its file:line)."""
    from vdbench.experiments.spec import RESERVED

    if key in RESERVED:
        raise InputError(f"option {key!r} is set by the experiment itself", where=where)
    actions = train_actions(algorithm)
    if key not in actions:
        near = [k for k in actions if k not in RESERVED and (key in k or k in key)]
        raise InputError(f"unknown option {key!r} for {algorithm}", where=where,
                         hint=f"did you mean {', '.join(near)}?" if near else
                         f"see `vdbench train {algorithm} --help` (options use _ for -)")
    values = value if is_grid(key, value) else [value]
    if not values:
        raise InputError(f"empty grid for {key!r}", where=where)
    for v in values:
        with _parse_errors(where):
            train_argv_parse(algorithm, flag_args(key, v))


def flag_args(key: str, value: Any) -> list[str]:
    """`--key value` for one option (booleans become a flag, lists a comma list)."""
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        if value:
            return [flag]
        return [f"--no-{key.replace('_', '-')}"] if key in ("sync_generate", "bf16") else []
    if isinstance(value, list):
        return [flag, ",".join(str(v) for v in value)]
    return [flag, str(value)]


def options_argv(options: dict[str, Any]) -> list[str]:
    return [arg for key, value in options.items() for arg in flag_args(key, value)]


class _ParseError(Exception):
    pass


@contextlib.contextmanager
def _parse_errors(where: str) -> Iterator[None]:
    """argparse exits on a bad value; turn that into an InputError with the file:line."""
    original = argparse.ArgumentParser.error

    def error(self: argparse.ArgumentParser, message: str) -> Any:
        raise _ParseError(message)

    argparse.ArgumentParser.error = error  # type: ignore[method-assign]
    try:
        yield
    except _ParseError as exc:
        raise InputError(str(exc).replace("argument ", "option "), where=where) from None
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]


@cache
def _parser() -> argparse.ArgumentParser:
    from vdbench.cli import build_parser

    return build_parser()


def train_argv_parse(algorithm: str, extra: list[str]) -> argparse.Namespace:
    return _parser().parse_args(["train", algorithm, "--data", "-", "--db", "-", "--run", "x", *extra])


def check_argv(argv: list[str], where: str) -> argparse.Namespace:
    """Parse a full `vdbench train` command line and build its request, so every bad
    value is refused before any job starts."""
    from vdbench.commands.train import build_request

    with _parse_errors(where):
        args = _parser().parse_args(argv)
    try:
        build_request(args)
    except InputError as exc:
        raise InputError(exc.message, where=where, hint=exc.hint) from None
    return args
