"""Read eval-set files (JSONL, CSV, Parquet) with errors that name the file and line.

Columns: ``topic`` and ``prompt`` are required; ``proposition`` is required for a topic
not in the built-in set (and may override nothing: a built-in topic given a different
proposition is an error, so stance always means the same thing); ``prompt_id`` and
``framing`` are optional. Nothing is written until the whole file has validated.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vdbench.errors import InputError
from vdbench.evalsets.model import EvalPrompt, EvalSet
from vdbench.evalsets.topics import BUILTIN_TOPICS

FRAMINGS = {"for", "against", "open"}


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"line is not valid UTF-8 (byte {exc.start})", where=where,
                    hint="re-save the file as UTF-8",
                ) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", where=where) from None
            if not isinstance(obj, dict):
                raise InputError("each line must be a JSON object", where=where)
            yield where, obj


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = data[: exc.start].count(b"\n") + 1
        raise InputError("line is not valid UTF-8", where=f"{path}:{lineno}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        yield f"{path}:{reader.line_num}", dict(row)


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"cannot read Parquet: {exc}", where=str(path)) from None
    for index, row in enumerate(table.to_pylist(), start=1):
        yield f"{path}: row {index}", row


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, row) pairs from a JSONL, CSV or Parquet file, chosen by extension."""
    if not path.exists():
        raise InputError("file not found", where=str(path))
    if path.is_dir():
        raise InputError("is a directory, not an eval-set file", where=str(path),
                         hint="pass a .jsonl, .csv or .parquet file with 'topic' and 'prompt' columns")
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        return _jsonl_rows(path)
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix in {".parquet", ".pq"}:
        return _parquet_rows(path)
    raise InputError(
        f"unknown eval-set file type {suffix!r}", where=str(path),
        hint="use .jsonl, .csv or .parquet",
    )


def _text_field(row: dict[str, Any], key: str, where: str, required: bool) -> str | None:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"missing required column {key!r}", where=where,
                             hint="each row needs 'topic' and 'prompt'")
        return None
    if not isinstance(value, str):
        raise InputError(f"column {key!r} must be text, got {type(value).__name__}", where=where)
    return value.strip()


def load_eval_file(path: str | Path, name: str | None = None) -> EvalSet:
    """Load and validate a user eval-set file; raise InputError at the first bad row."""
    path = Path(path)
    topics: dict[str, str] = {}
    prompts: list[EvalPrompt] = []
    seen_ids: dict[str, str] = {}
    # A repeated prompt would count twice in its topic's mean stance, so v(T) would be skewed.
    seen_texts: dict[tuple[str, str], str] = {}
    per_topic: dict[str, int] = {}
    for where, row in read_rows(path):
        topic = _text_field(row, "topic", where, required=True)
        text = _text_field(row, "prompt", where, required=True)
        proposition = _text_field(row, "proposition", where, required=False)
        framing = _text_field(row, "framing", where, required=False)
        prompt_id = _text_field(row, "prompt_id", where, required=False)
        assert topic is not None and text is not None
        if framing is not None and framing not in FRAMINGS:
            raise InputError(f"framing must be one of {sorted(FRAMINGS)}, got {framing!r}", where=where)
        if proposition is None:
            proposition = topics.get(topic) or BUILTIN_TOPICS.get(topic)
            if proposition is None:
                raise InputError(
                    f"topic {topic!r} is not built in and has no proposition", where=where,
                    hint="add a 'proposition' column: the statement stance is measured toward",
                )
        if topic in BUILTIN_TOPICS and proposition != BUILTIN_TOPICS[topic]:
            raise InputError(
                f"topic {topic!r} is built in with proposition {BUILTIN_TOPICS[topic]!r}; "
                f"this row gives {proposition!r}", where=where,
                hint="rename the topic to measure stance toward a different proposition",
            )
        if topics.setdefault(topic, proposition) != proposition:
            raise InputError(f"topic {topic!r} has two different propositions", where=where)
        per_topic[topic] = per_topic.get(topic, 0) + 1
        if prompt_id is None:
            prompt_id = f"{topic}-{per_topic[topic]:03d}"
        if prompt_id in seen_ids:
            raise InputError(f"duplicate prompt_id {prompt_id!r} (first at {seen_ids[prompt_id]})",
                             where=where)
        seen_ids[prompt_id] = where
        text_key = (topic, " ".join(text.split()).casefold())
        if text_key in seen_texts:
            raise InputError(
                f"duplicate prompt in topic {topic!r} (same text as {seen_texts[text_key]}); "
                "nothing was imported", where=where,
                hint="delete one of the two rows: a repeated prompt counts twice in the topic's stance",
            )
        seen_texts[text_key] = where
        prompts.append(EvalPrompt(prompt_id=prompt_id, topic=topic, text=text, framing=framing))
    if not prompts:
        raise InputError("file holds no prompts", where=str(path),
                         hint="each row needs 'topic' and 'prompt'")
    return EvalSet(name=name or path.stem, topics=topics, prompts=prompts, source=str(path))
