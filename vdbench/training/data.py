"""Training data: read a file, validate every row against the stage's schema, normalise.

Schemas follow TRL's conversational records:
  SFT          ``messages``: [{"role": "user"|"system"|"assistant", "content": str}, ...]
               with at least one assistant turn.
  preference   ``prompt``, ``chosen``, ``rejected`` — strings or message lists (a string
               prompt becomes one user turn, a string answer one assistant turn, so
               training sees the same chat template the drift callback samples with).
               Without ``prompt``, chosen/rejected conversations sharing a prefix are
               split at it (TRL's implicit-prompt form). Optional grading fields for the
               PPO reward model: ``chosen_stance``/``rejected_stance`` (support, neutral,
               oppose) or ``score_chosen``/``score_rejected`` (numbers); ``topic``.

Files: JSONL (.jsonl/.json/.ndjson), CSV, Parquet, or a directory written by
``datasets.Dataset.save_to_disk``. Every row is validated before any model loads;
errors name the file and line (or row) and the fields that are wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdbench.errors import InputError

ROLES = {"system", "user", "assistant", "tool"}
STANCES = ("support", "neutral", "oppose")
PREFERENCE_FIELDS = ("prompt", "chosen", "rejected")
DATA_SUFFIXES = {".jsonl", ".json", ".ndjson", ".csv", ".parquet", ".pq"}


@dataclass(frozen=True)
class TrainingData:
    """Validated, normalised rows of one file. `kind` is "sft" or "preference"."""

    path: Path
    kind: str
    rows: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def prompts(self) -> list[list[dict[str, str]]]:
        """The conversation prefixes to generate from (preference prompts; SFT up to the
        last assistant turn)."""
        if self.kind == "preference":
            return [row["prompt"] for row in self.rows]
        out = []
        for row in self.rows:
            messages = row["messages"]
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            out.append(messages[:last])
        return out


def _dataset_dir_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    from datasets import load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except Exception as exc:  # datasets raises several types for a foreign directory
        raise InputError(f"cannot read as a saved `datasets` directory: {exc}", where=str(path),
                         hint="pass a JSONL or Parquet file, or a directory from Dataset.save_to_disk") from None
    if hasattr(dataset, "keys"):  # a DatasetDict: train split, else the only split
        splits = list(dataset.keys())
        dataset = dataset["train"] if "train" in splits else dataset[splits[0]]
    for index, row in enumerate(dataset, start=1):
        yield f"{path}: row {index}", dict(row)


def iter_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, row) for every row of a data file or saved dataset directory."""
    path = Path(path)
    if path.is_dir():
        return _dataset_dir_rows(path)
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise InputError(f"unknown training-data file type {path.suffix!r}", where=str(path),
                         hint="use .jsonl, .parquet, .csv or a saved `datasets` directory")
    from vdbench.evalsets.loaders import read_rows

    return read_rows(path)


def _parse_json_cell(value: Any) -> Any:
    # CSV cells and some Parquet exports carry message lists as JSON text.
    if isinstance(value, str) and value[:1] == "[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _check_messages(value: Any, field: str, where: str) -> list[dict[str, str]]:
    value = _parse_json_cell(value)
    if not isinstance(value, list) or not value:
        raise InputError(f"{field!r} must be a non-empty list of messages "
                         f"({{\"role\", \"content\"}}), got {type(value).__name__}", where=where)
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise InputError(f"{field}[{i}] must be an object with 'role' and 'content'", where=where)
        if message["role"] not in ROLES:
            raise InputError(f"{field}[{i}] has role {message['role']!r}; expected one of "
                             f"{', '.join(sorted(ROLES))}", where=where)
        if not isinstance(message["content"], str):
            raise InputError(f"{field}[{i}].content must be a string", where=where)
        out.append({"role": message["role"], "content": message["content"]})
    return out


def _missing(row: dict[str, Any], fields: tuple[str, ...], where: str, stage: str, hint: str) -> None:
    missing = [f for f in fields if row.get(f) is None]
    if missing:
        found = ", ".join(repr(k) for k in row) or "nothing"
        raise InputError(
            f"{stage} data needs field{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(f) for f in missing)} (this row has {found})",
            where=where, hint=hint,
        )


def validate_sft_row(row: dict[str, Any], where: str) -> dict[str, Any]:
    """A TRL conversational SFT row with at least one assistant turn."""
    hint = ("SFT rows are {\"messages\": [{\"role\": \"user\", ...}, {\"role\": \"assistant\", ...}]}"
            + ("; this looks like preference data: use `vdbench train dpo|simpo|ppo`"
               if all(f in row for f in ("chosen", "rejected")) else ""))
    _missing(row, ("messages",), where, "SFT", hint)
    messages = _check_messages(row["messages"], "messages", where)
    if not any(m["role"] == "assistant" for m in messages):
        raise InputError("'messages' has no assistant turn: nothing to train on", where=where)
    return {"messages": messages}


def _split_implicit_prompt(chosen: list, rejected: list, where: str) -> tuple[list, list, list]:
    shared = 0
    while (shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]):
        shared += 1
    if shared == 0:
        raise InputError("no 'prompt' field, and 'chosen' and 'rejected' share no opening turns",
                         where=where, hint="add a 'prompt' field (TRL's explicit-prompt form)")
    return chosen[:shared], chosen[shared:], rejected[shared:]


def validate_preference_row(row: dict[str, Any], where: str) -> dict[str, Any]:
    """A conversational prompt/chosen/rejected row plus optional grading fields."""
    hint = ("preference rows are {\"prompt\", \"chosen\", \"rejected\"} (strings or message lists)"
            + ("; this looks like SFT data: use `vdbench train sft`" if "messages" in row else ""))
    if row.get("prompt") is None and row.get("chosen") is not None and row.get("rejected") is not None:
        chosen = _check_messages(row["chosen"], "chosen", where)
        rejected = _check_messages(row["rejected"], "rejected", where)
        prompt, chosen, rejected = _split_implicit_prompt(chosen, rejected, where)
    else:
        _missing(row, PREFERENCE_FIELDS, where, "preference", hint)
        prompt = _parse_json_cell(row["prompt"])
        prompt = ([{"role": "user", "content": prompt}] if isinstance(prompt, str)
                  else _check_messages(prompt, "prompt", where))
        chosen, rejected = (
            [{"role": "assistant", "content": value}] if isinstance(value, str)
            else _check_messages(value, name, where)
            for name, value in (("chosen", _parse_json_cell(row["chosen"])),
                                ("rejected", _parse_json_cell(row["rejected"])))
        )
    if prompt[-1]["role"] == "assistant":
        raise InputError("'prompt' ends with an assistant turn; the answer belongs in chosen/rejected",
                         where=where)
    for name, answer in (("chosen", chosen), ("rejected", rejected)):
        if answer[0]["role"] != "assistant":
            raise InputError(f"{name!r} must start with an assistant turn", where=where)
    out: dict[str, Any] = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    for side in ("chosen", "rejected"):
        stance = row.get(f"{side}_stance")
        if stance is not None:
            if stance not in STANCES:
                raise InputError(f"'{side}_stance' is {stance!r}; expected one of {', '.join(STANCES)}",
                                 where=where)
            out[f"{side}_stance"] = stance
        score = row.get(f"score_{side}")
        if score is not None:
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise InputError(f"'score_{side}' must be a number, got {score!r}", where=where)
            out[f"score_{side}"] = float(score)
    if isinstance(row.get("topic"), str):
        out["topic"] = row["topic"]
    return out


def load_training_data(path: str | Path, kind: str) -> TrainingData:
    """Read and validate every row; `kind` is "sft" or "preference"."""
    path = Path(path)
    if not path.exists():
        raise InputError("training data not found", where=str(path))
    validate = {"sft": validate_sft_row, "preference": validate_preference_row}[kind]
    rows = [validate(row, where) for where, row in iter_rows(path)]
    if not rows:
        raise InputError("the training data has no rows", where=str(path))
    if kind == "preference":
        graded = {("chosen_stance" in r) for r in rows}
        if len(graded) > 1:
            raise InputError("some rows carry chosen_stance/rejected_stance and some do not",
                             where=str(path), hint="label every row or none")
    return TrainingData(path=path, kind=kind, rows=rows)


def to_dataset(data: TrainingData):
    """A `datasets.Dataset` with only the columns TRL reads (extra fields dropped)."""
    from datasets import Dataset

    columns = ("messages",) if data.kind == "sft" else PREFERENCE_FIELDS
    return Dataset.from_list([{c: row[c] for c in columns} for row in data.rows])
