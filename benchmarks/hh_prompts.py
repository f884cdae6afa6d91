"""The real prompt pool of issue 15: distinct first user turns of HH-RLHF harmless-base test.

The HH-RLHF file stays outside the project (``../shared/data``); the project keeps only the
hand labels, as ``id`` (the first 12 hex digits of the sha1 of the stripped turn) and
``label``, in ``benchmarks/data/hh_value_labels.jsonl``. ``first_turns`` reads the texts back.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HH_FILE = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
LABELS_FILE = Path(__file__).resolve().parent / "data" / "hh_value_labels.jsonl"
LABELS = ("value", "help", "harmful")


def turn_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def first_turns(path: Path = HH_FILE) -> dict[str, str]:
    """Distinct first Human turns, id -> text, in file order."""
    out: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            chosen = json.loads(line)["chosen"]
            body = chosen.split("\n\nHuman:", 1)[-1]
            text = body.split("\n\nAssistant:", 1)[0].strip()
            if text:
                out.setdefault(turn_id(text), text)
    return out


def labels(path: Path = LABELS_FILE) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = row["label"]
    return out


def labelled_pool(path: Path = HH_FILE) -> list[tuple[str, str, str]]:
    """(id, text, label) for every hand-labelled turn, sorted by id."""
    texts = first_turns(path)
    return [(i, texts[i], lab) for i, lab in sorted(labels().items()) if i in texts]


def labels_with_split(path: Path = LABELS_FILE) -> dict[str, tuple[str, str]]:
    """id -> (label, split); split is ``train`` (training and dev) or ``eval`` (held out)."""
    out: dict[str, tuple[str, str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = (row["label"], row["split"])
    return out
