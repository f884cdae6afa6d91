"""Capability over a stage: each checkpoint's score with an interval, and Δ first → last.

Pure: takes the rows of the store's `capability` table (vdbench.capability.records) as a
DataFrame and returns plain dicts. Intervals:
- a checkpoint's score: value ± z·stderr, lm-eval's standard error (normal approximation);
- Δ = last − first: a paired bootstrap over items when both checkpoints scored the same
  items (per-item scores stored, same count): items are resampled with replacement, each
  keeping its two scores, rescaled and read with the expanded percentile interval, as the
  stance drift is (vdbench.metrics.bootstrap); otherwise Δ ± z·√(se_first² + se_last²),
  which treats the two scores as independent (wider than the paired interval whenever a
  model's item scores correlate across checkpoints). `ci_method` says which was used.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from vdbench.metrics.bootstrap import bootstrap_bounds, rescale

# The metric a task is summarised by where one number is shown (text output, TUI).
HEADLINE_ORDER = ("acc", "acc_norm", "exact_match", "f1", "mcc")
PAIRED = "paired bootstrap over items"
NORMAL = "normal approximation from lm-eval's stderr (first and last independent)"


def headline_metric(metrics: Sequence[str]) -> str | None:
    """The metric to show for a task: the first of HEADLINE_ORDER it has, else the first
    in alphabetical order; None for no metrics."""
    have = sorted(set(metrics))
    return next((m for m in HEADLINE_ORDER if m in have), have[0] if have else None)


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return float(ndtri(0.5 + confidence / 2.0))


def _items(value: Any) -> np.ndarray | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    array = np.asarray(value, dtype=float)
    return array if array.size else None


def _stderr(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def score_interval(value: float, stderr: float | None, confidence: float = 0.95) -> list[float] | None:
    """value ± z·stderr; None without a stderr."""
    if stderr is None:
        return None
    half = _z(confidence) * stderr
    return [value - half, value + half]


def capability_delta(
    first: float, last: float, *, first_items: Any = None, last_items: Any = None,
    first_stderr: float | None = None, last_stderr: float | None = None,
    confidence: float = 0.95, n_boot: int = 1000, rng: np.random.Generator | int = 0,
) -> dict[str, Any]:
    """Δ = last − first with its interval (see the module docstring for the two methods).

    Returns {"delta", "delta_ci" ([lo, hi] or None), "ci_method" (or None)}.
    """
    delta = float(last - first)
    a, b = _items(first_items), _items(last_items)
    if a is not None and b is not None and a.size == b.size and a.size > 1:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        diff = b - a
        picks = gen.integers(0, diff.size, size=(n_boot, diff.size))
        reps = rescale(diff[picks].mean(axis=1), np.asarray(diff.mean()), diff.size)
        lo, hi = bootstrap_bounds(reps[:, None], confidence, diff.size)
        return {"delta": delta, "delta_ci": [float(lo[0]), float(hi[0])], "ci_method": PAIRED}
    if first_stderr is not None and last_stderr is not None:
        half = _z(confidence) * math.hypot(first_stderr, last_stderr)
        return {"delta": delta, "delta_ci": [delta - half, delta + half], "ci_method": NORMAL}
    return {"delta": delta, "delta_ci": None, "ci_method": None}


def capability_block(frame: pd.DataFrame, *, confidence: float = 0.95, n_boot: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """`vdbench metrics`' capability block from a run's top-level capability rows.

    by_checkpoint: every (step, task, metric, filter) with its score interval; stage: per
    (task, metric, filter) the first and last checkpoint scored and Δ with its interval
    (None with one checkpoint); headline: task → the metric shown for it. {} for no rows.
    """
    if frame.empty:
        return {}
    by_checkpoint = []
    for r in frame.sort_values(["step", "task", "metric", "filter"]).itertuples(index=False):
        se = _stderr(r.stderr)
        by_checkpoint.append({
            "step": int(r.step), "fraction": None if pd.isna(r.fraction) else float(r.fraction),
            "task": r.task, "metric": r.metric, "filter": r.filter, "value": float(r.value),
            "stderr": se, "ci": score_interval(float(r.value), se, confidence), "n": int(r.n),
        })
    stage = []
    for (task, metric, filt), rows in frame.groupby(["task", "metric", "filter"], sort=True):
        rows = rows.sort_values("step")
        first, last = rows.iloc[0], rows.iloc[-1]
        entry: dict[str, Any] = {
            "task": task, "metric": metric, "filter": filt,
            "step_from": int(first["step"]), "step_to": int(last["step"]),
            "from": float(first["value"]), "to": float(last["value"]),
            "n_checkpoints": len(rows),
        }
        if len(rows) < 2:
            entry |= {"delta": None, "delta_ci": None, "ci_method": None}
        else:
            key = zlib.crc32(f"{task}\x00{metric}\x00{filt}".encode())
            entry |= capability_delta(
                float(first["value"]), float(last["value"]),
                first_items=first["item_scores"], last_items=last["item_scores"],
                first_stderr=_stderr(first["stderr"]), last_stderr=_stderr(last["stderr"]),
                confidence=confidence, n_boot=n_boot, rng=np.random.default_rng([seed, key]))
        stage.append(entry)
    headline = {str(task): headline_metric(list(rows["metric"]))
                for task, rows in frame.groupby("task", sort=True)}
    return {
        "tasks": sorted(headline),
        "headline": headline,
        "confidence": confidence,
        "method": {"checkpoint": "value ± z·stderr (lm-eval's standard error)",
                   "delta": f"{PAIRED} (rescaled, expanded percentile) where both checkpoints "
                            f"scored the same items, else {NORMAL}"},
        "by_checkpoint": by_checkpoint,
        "stage": stage,
    }


def headline_rows(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The block's stage rows for each task's headline metric (filter 'none' first)."""
    rows = [r for r in block.get("stage", []) if block["headline"].get(r["task"]) == r["metric"]]
    rows.sort(key=lambda r: (r["task"], r["filter"] != "none", r["filter"]))
    seen: set[str] = set()
    out = []
    for r in rows:
        if r["task"] not in seen:
            seen.add(r["task"])
            out.append(r)
    return out
