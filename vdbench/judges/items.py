"""The `judge score` file contract (DESIGN §5): read and validate input lines, write output."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vdbench.errors import InputError
from vdbench.evalsets.topics import BUILTIN_TOPICS
from vdbench.judges.base import JudgeItem, JudgeScore


def read_score_input(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[JudgeItem]]:
    """Every line validated before anything is scored; errors name file:line."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", where=str(path))
    if path.is_dir():
        raise InputError("is a directory, not a JSONL file of responses", where=str(path),
                         hint='pass a file with one {"topic", "prompt", "response"} object a line')
    rows: list[dict[str, Any]] = []
    items: list[JudgeItem] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"line is not valid UTF-8 (byte {exc.start})", where=where) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg}", where=where) from None
            if not isinstance(row, dict):
                raise InputError("each line must be a JSON object", where=where)
            for key in ("topic", "prompt", "response"):
                if key not in row:
                    raise InputError(f"missing field {key!r}", where=where,
                                     hint='lines look like {"topic", "prompt", "response"}')
                if not isinstance(row[key], str):
                    raise InputError(f"field {key!r} must be a string", where=where)
            proposition = row.get("proposition") or BUILTIN_TOPICS.get(row["topic"])
            if not proposition:
                raise InputError(f"topic {row['topic']!r} is not built in and the line has no "
                                 "'proposition'", where=where,
                                 hint="add the statement stance should be measured toward")
            rows.append(row)
            items.append(JudgeItem(row["topic"], proposition, row["prompt"], row["response"]))
    if not rows:
        raise InputError("input holds no lines to judge", where=str(path))
    return rows, items


def write_score_output(path: str | os.PathLike[str], rows: Sequence[dict[str, Any]],
                       scores: Sequence[JudgeScore], judge_id: str) -> None:
    """Write all lines to a temporary file, then rename: never a half-written output."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row, score in zip(rows, scores, strict=True):
                out = {**row, **score.as_dict(), "judge": judge_id}
                for optional in ("note", "ood"):
                    if out.get(optional) is None:
                        out.pop(optional)
                fh.write(json.dumps(out, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
