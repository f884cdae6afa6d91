"""What `--capability TASKS` asks for: task references and the sample limit. Pure, light.

A TASKS list is comma-separated; each entry is one of
- `micro`: the built-in micro-world task (vdbench.capability.micro);
- a path to a local lm-eval task YAML file, or to a directory of them (lm-eval's
  `include_path`); a directory stands for the groups it declares, else all its tasks;
- any other word: an lm-evaluation-harness task, group or tag name (`hellaswag`, `piqa`,
  `mmlu`), whose dataset must already be in the Hugging Face cache when offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vdbench.errors import InputError

MICRO = "micro"
# lm-eval's full sets run to thousands of items; a checkpoint's capability is a trend
# line, so by default each task (each subtask of a group such as mmlu) scores its first
# DEFAULT_LIMIT documents.
DEFAULT_LIMIT = 200
DEFAULT_BATCH_SIZE = 32
INSTALL_HINT = "pip install 'vdbench[capability]'"


@dataclass(frozen=True)
class TaskRef:
    """One entry of a TASKS list. kind: 'micro', 'local' (a YAML file or directory) or
    'lm-eval' (a registered task/group/tag name)."""

    kind: str
    spec: str

    @property
    def path(self) -> Path:
        return Path(self.spec)


def _looks_like_path(entry: str) -> bool:
    return ("/" in entry or entry.endswith((".yaml", ".yml")) or entry.startswith(".")
            or Path(entry).exists())


def parse_tasks(tasks: str | Sequence[str]) -> tuple[TaskRef, ...]:
    """Task references from `micro,piqa,./tasks/my_task.yaml` (or a list of entries).

    InputError for an empty list, a duplicate entry, or a path that does not exist (a
    word that is no lm-eval task is only found out when lm-eval's index is read).
    """
    entries = tasks.split(",") if isinstance(tasks, str) else [e for t in tasks for e in t.split(",")]
    entries = [e.strip() for e in entries if e.strip()]
    if not entries:
        raise InputError("--capability names no task",
                         hint="e.g. --capability micro, --capability hellaswag,piqa, or a task YAML path")
    refs: list[TaskRef] = []
    for entry in entries:
        if entry == MICRO:
            ref = TaskRef(MICRO, MICRO)
        elif _looks_like_path(entry):
            path = Path(entry).expanduser()
            if not path.exists():
                raise InputError("capability task file or directory not found", where=entry,
                                 hint="give a local lm-eval task YAML (or a directory of them), "
                                 "an lm-eval task name, or micro")
            if path.is_file() and path.suffix not in (".yaml", ".yml"):
                raise InputError("a capability task file must be an lm-eval task YAML (.yaml)",
                                 where=entry)
            ref = TaskRef("local", str(path.resolve()))
        else:
            ref = TaskRef("lm-eval", entry)
        if ref in refs:
            raise InputError(f"--capability lists {entry!r} twice")
        refs.append(ref)
    return tuple(refs)


def check_limit(limit: int | None, option: str = "--capability-limit") -> int | None:
    """The per-task document limit: a positive integer, or None for every document."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"{option} must be a positive number of documents per task, got {limit}",
                         hint=f"e.g. {option} {DEFAULT_LIMIT}")
    return limit


def check_batch_size(batch_size: int, option: str = "--capability-batch-size") -> int:
    if batch_size < 1:
        raise InputError(f"{option} must be positive, got {batch_size}")
    return batch_size
