"""Eval sets by name: the built-ins (``vprism``, ``vprism-mini``) or a file path."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from vdbench.errors import InputError
from vdbench.evalsets.model import EvalPrompt, EvalSet
from vdbench.evalsets.topics import BUILTIN_TOPICS

BUILTIN_NAMES = ("vprism", "vprism-mini")


@cache
def _builtin_rows() -> tuple[dict, ...]:
    text = (resources.files("vdbench") / "data" / "evalsets" / "vprism.jsonl").read_text("utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def builtin_eval_set(name: str = "vprism") -> EvalSet:
    """The built-in V-PRISM-style set (11 × 50) or its mini subset (11 × 5)."""
    rows = _builtin_rows()
    if name == "vprism-mini":
        rows = tuple(r for r in rows if r.get("mini"))
    prompts = [EvalPrompt(r["prompt_id"], r["topic"], r["prompt"], r.get("framing")) for r in rows]
    return EvalSet(name=name, topics=dict(BUILTIN_TOPICS), prompts=prompts, source="builtin")


def list_eval_sets() -> list[str]:
    return list(BUILTIN_NAMES)


def get_eval_set(name_or_path: str) -> EvalSet:
    """A built-in set by name, or a user file by path."""
    if name_or_path in BUILTIN_NAMES:
        return builtin_eval_set(name_or_path)
    path = Path(name_or_path)
    if path.exists():
        from vdbench.evalsets.loaders import load_eval_file

        return load_eval_file(path)
    raise InputError(
        f"unknown eval set {name_or_path!r}",
        hint=f"use one of {', '.join(BUILTIN_NAMES)}, a name imported into the store, or a file path",
    )
