"""The store's `capability` table: write a checkpoint's scores, read a run's series.

Light on purpose (duckdb, pyarrow, pandas): the TUI and `vdbench metrics` read through
here without importing lm-eval or torch. A checkpoint's scores land in one transaction;
the natural key (run, step, task, metric, filter) makes a re-run add only what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from vdbench.store import Store, insert_arrow

CAPABILITY_COLUMNS = ("step", "task", "metric", "filter", "value", "stderr", "n", "item_scores",
                      "parent_task")


@dataclass(frozen=True)
class CapabilityScore:
    """One metric of one task at one checkpoint, as lm-eval reported it.

    value/stderr in the metric's units (accuracy: a share in [0, 1]); stderr None when
    lm-eval gives none; item_scores: per-item scores in document order (None for groups
    and corpus-level metrics); parent_task: the group a subtask was run under.
    """

    task: str
    metric: str
    filter: str
    value: float
    stderr: float | None
    n: int
    item_scores: tuple[float, ...] | None = None
    parent_task: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def capability_table(run_id: str, step: int, scores: Sequence[CapabilityScore]) -> pa.Table:
    return pa.table({
        "run_id": [run_id] * len(scores),
        "step": pa.array([step] * len(scores), pa.int32()),
        "task": [s.task for s in scores],
        "metric": [s.metric for s in scores],
        "filter": [s.filter for s in scores],
        "value": pa.array([s.value for s in scores], pa.float64()),
        "stderr": pa.array([s.stderr for s in scores], pa.float64()),
        "n": pa.array([s.n for s in scores], pa.int32()),
        "item_scores": pa.array([list(s.item_scores) if s.item_scores is not None else None
                                 for s in scores], pa.list_(pa.float64())),
        "parent_task": pa.array([s.parent_task for s in scores], pa.string()),
        "settings": [json.dumps(s.settings, sort_keys=True, default=str) for s in scores],
    })


def write_capability(store: Store, run_id: str, step: int, scores: Sequence[CapabilityScore]) -> int:
    """Store one checkpoint's scores in one transaction; returns the rows newly added."""
    if not scores:
        return 0
    with store.write() as con:
        return insert_arrow(con, "capability", capability_table(run_id, step, scores))


def stored_tasks(store: Store, run_id: str, step: int) -> set[str]:
    """Top-level tasks with a score stored at this checkpoint."""
    if not store.path.exists():
        return set()
    with store.read() as con:
        return {r[0] for r in con.execute(
            "SELECT DISTINCT task FROM capability WHERE run_id = ? AND step = ? "
            "AND parent_task IS NULL", [run_id, step]).fetchall()}


def capability_frame(con: duckdb.DuckDBPyConnection, run_id: str, *,
                     top_level: bool = True) -> pd.DataFrame:
    """A run's capability rows (CAPABILITY_COLUMNS + fraction), by task, metric and step.

    top_level: only the tasks that were asked for (a group, not its subtasks).
    """
    where = "AND k.parent_task IS NULL" if top_level else ""
    return con.execute(
        f"""
        SELECT k.step, c.fraction, k.task, k.metric, k.filter, k.value, k.stderr, k.n,
               k.item_scores, k.parent_task
        FROM capability k LEFT JOIN checkpoints c ON c.run_id = k.run_id AND c.step = k.step
        WHERE k.run_id = ? {where}
        ORDER BY k.task, k.metric, k.filter, k.step
        """,
        [run_id],
    ).df()
