"""Capability as the TUI shows it: each task's headline score per checkpoint, from the store.

Headless (no Textual) and light: reads the `capability` table through
vdbench.capability.records (no lm-eval, no torch) and picks each task's headline metric
the way `vdbench metrics` does (vdbench.metrics.capability.headline_metric).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from vdbench.capability.records import capability_frame
from vdbench.metrics.capability import headline_metric


@dataclass(frozen=True)
class CapabilityPoint:
    """One task's headline metric at one checkpoint."""

    task: str
    metric: str
    step: int
    value: float
    stderr: float | None

    def dropped_from(self, first: CapabilityPoint) -> bool:
        """Lower than `first` by more than 1.96 combined standard errors (a real fall,
        not noise); False when either has no stderr."""
        if self.stderr is None or first.stderr is None or self.step == first.step:
            return False
        return first.value - self.value > 1.96 * math.hypot(self.stderr, first.stderr)


@dataclass
class CapabilitySeries:
    """A run's capability: headline rows (task, metric, step, value, stderr), step order."""

    points: list[CapabilityPoint] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.points)

    @property
    def tasks(self) -> list[str]:
        return sorted({p.task for p in self.points})

    def at(self, step: int) -> list[CapabilityPoint]:
        """Each task's point at `step` (empty where nothing was scored there)."""
        return [p for p in self.points if p.step == step]

    def first(self, task: str) -> CapabilityPoint | None:
        return next((p for p in self.points if p.task == task), None)

    def last(self, task: str) -> CapabilityPoint | None:
        return next((p for p in reversed(self.points) if p.task == task), None)


def capability_series(frame: pd.DataFrame) -> CapabilitySeries:
    """Headline points from capability_frame rows (filter 'none' preferred per task)."""
    if frame.empty:
        return CapabilitySeries()
    points = []
    for task, rows in frame.groupby("task", sort=True):
        metric = headline_metric(list(rows["metric"]))
        mine = rows[rows["metric"] == metric]
        filt = "none" if "none" in set(mine["filter"]) else sorted(mine["filter"])[0]
        for r in mine[mine["filter"] == filt].itertuples(index=False):
            stderr = None if r.stderr is None or pd.isna(r.stderr) else float(r.stderr)
            points.append(CapabilityPoint(str(task), str(metric), int(r.step), float(r.value), stderr))
    points.sort(key=lambda p: (p.step, p.task))
    return CapabilitySeries(points)


def load_capability(con: duckdb.DuckDBPyConnection, run_id: str) -> CapabilitySeries:
    """A run's capability series on an open connection (empty when none was measured)."""
    return capability_series(capability_frame(con, run_id))


def short_task(task: str) -> str:
    """`vdbench_micro` → `micro`; other names as they are."""
    return task.removeprefix("vdbench_")
