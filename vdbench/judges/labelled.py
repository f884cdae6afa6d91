"""Labelled stance sets for `vdbench judge eval`: the built-in ones and the user's files.

A labelled file is `judge score` input plus a ``label`` on every line (support, neutral,
oppose; a few common synonyms are accepted and named in errors). Built-in sets:

* ``heldout`` — the probe's held-out set: the 11 built-in topics, arguments and answer
  styles that no judge trains on (written by ``scripts/write_stance_sets.py``);
* ``unseen`` — topics no judge trained on, in held-out and chat-model answer styles;
* ``ibm-test`` — IBM Debater® Claim Stance, its 30 test topics: real claims from
  Wikipedia, binary (support vs oppose; CC BY-SA 3.0, see data/stance/ibm/README.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vdbench.errors import InputError
from vdbench.evalsets.topics import STANCES
from vdbench.judges.base import JudgeItem
from vdbench.judges.items import read_score_input

LABEL_WORDS: dict[str, str] = {
    "support": "support", "supports": "support", "pro": "support", "favor": "support",
    "favour": "support", "neutral": "neutral", "none": "neutral", "oppose": "oppose",
    "opposes": "oppose", "against": "oppose", "con": "oppose",
}

BUILTIN_SETS: dict[str, tuple[str, str]] = {
    "heldout": ("heldout.jsonl", "built-in topics, held-out arguments and styles (3 classes)"),
    "unseen": ("unseen.jsonl", "topics no judge trained on (3 classes)"),
    "ibm-test": ("ibm/test.jsonl", "IBM Claim Stance test topics, real claims (support/oppose)"),
}


@dataclass(frozen=True)
class LabelledSet:
    """Items with their true stance; `classes` are the stances the set contains."""

    name: str
    items: list[JudgeItem]
    labels: list[str]
    classes: tuple[str, ...]


def stance_data_dir() -> Path:
    return Path(str(resources.files("vdbench") / "data" / "stance"))


def builtin_path(name: str) -> Path:
    return stance_data_dir() / BUILTIN_SETS[name][0]


def normalise_label(value: object, where: str) -> str:
    """A label word → one of STANCES; anything else is an error naming the line."""
    if not isinstance(value, str) or value.strip().lower() not in LABEL_WORDS:
        raise InputError(f"unknown label {value!r}", where=where,
                         hint=f"labels are {', '.join(STANCES)}")
    return LABEL_WORDS[value.strip().lower()]


def read_labelled(name_or_path: str | os.PathLike[str],
                  classes: tuple[str, ...] | None = None) -> LabelledSet:
    """A built-in set by name, or a labelled JSONL file validated line by line.

    `classes` (default: the stances present) must all occur; a set with fewer than two
    classes cannot measure a judge and is refused.
    """
    name = str(name_or_path)
    path = builtin_path(name) if name in BUILTIN_SETS else Path(name_or_path)
    if path.is_dir():
        raise InputError("is a directory, not a labelled JSONL file", where=str(path))
    rows, items = read_score_input(path)
    labels = []
    lineno = 0
    with path.open("rb") as fh:
        line_numbers = [i for i, raw in enumerate(fh, start=1) if raw.strip()]
    for lineno, row in zip(line_numbers, rows, strict=True):
        where = f"{path}:{lineno}"
        if "label" not in row:
            raise InputError("missing field 'label'", where=where,
                             hint='labelled lines are `judge score` input plus "label": '
                                  '"support" | "neutral" | "oppose"')
        labels.append(normalise_label(row["label"], where))
    present = tuple(s for s in STANCES if s in set(labels))
    wanted = classes or present
    missing = [s for s in wanted if s not in present]
    if missing:
        raise InputError(f"the labelled set has no {', '.join(missing)} items", where=str(path),
                         hint="per-class F1 and the confusion matrix need every class; "
                              "pass --classes to evaluate on the classes it has")
    if len(present) < 2:
        raise InputError(f"the labelled set holds only {present[0] if present else 'no'} labels",
                         where=str(path), hint="a judge is measured on at least two classes")
    return LabelledSet(name, items, labels, tuple(wanted))
