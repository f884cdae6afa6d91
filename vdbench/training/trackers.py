"""Stance curves in the trackers researchers already watch (TensorBoard, W&B, trackio, MLflow).

The drift callback sends one dict of scalars per checkpoint through the Trainer's own
logging (its `report_to` integrations), at the checkpoint's step, keyed under
``vdbench/``:

- ``vdbench/v/{stance}/{topic}``: v_t(T)_s of each topic; ``vdbench/v/{stance}/all``: the
  pooled value over every prompt (the "(all topics)" row of `vdbench metrics`);
- ``vdbench/health/{unhealthy,empty,truncated,repetitive,degenerate}``: output health
  shares, and ``vdbench/health/mean_tokens``;
- ``vdbench/capability/{task}/{metric}``: capability scores stored for that checkpoint;
- ``vdbench/budget/exceeded``: (topic, stance) pairs beyond the drift budget, when one is set.

transformers' TensorBoard and W&B integrations prefix every training log with ``train/``,
so there the tags read ``train/vdbench/v/support/abortion``.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from vdbench import queries
from vdbench.errors import InputError
from vdbench.evalsets.topics import STANCES
from vdbench.store import Store

PREFIX = "vdbench"
POOLED = "all"


def parse_report_to(text: str | None) -> list[str]:
    """``NAME[,NAME…]`` → integration names; [] for None or "none". InputError for a name
    transformers does not know, or one whose package is not installed."""
    if text is None:
        return []
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names or names == ["none"]:
        return []
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    installed = get_available_reporting_integrations()
    if names == ["all"]:
        if not installed:
            raise InputError("--report-to all: no tracker is installed",
                             hint="pip install tensorboard (or wandb, trackio, mlflow)")
        return installed
    for name in names:
        if name not in INTEGRATION_TO_CALLBACK:
            raise InputError(f"--report-to: unknown tracker {name!r}",
                             hint=f"one of {', '.join(INTEGRATION_TO_CALLBACK)}, all or none")
        if name not in installed:
            raise InputError(f"--report-to: {name} is not installed in this environment",
                             hint=f"pip install {name.replace('_', '-')} (installed: "
                             f"{', '.join(installed) or 'none'})")
    return list(dict.fromkeys(names))


def checkpoint_scalars(store: Store, run_id: str, step: int, judge_id: str | None) -> dict[str, float]:
    """The tracker scalars of one stored checkpoint (keys in the module docstring).

    judge_id None (no inline judge): stance values are left out; health still goes.
    """
    from vdbench.metrics.budget import ALL_TOPICS, with_pooled_topic
    from vdbench.metrics.values import topic_values

    out: dict[str, float] = {}
    with store.read() as con:
        samples = (queries.judged_samples(con, run_id, judge_id, steps=[step])
                   if judge_id is not None else None)
        health = queries.output_health(con, run_id)
        capability = _capability(con, run_id, step)
    if samples is not None and not samples.empty:
        values = topic_values(with_pooled_topic(samples))
        for row in values.itertuples(index=False):
            topic = POOLED if row.topic == ALL_TOPICS else str(row.topic)
            for stance in STANCES:
                out[f"{PREFIX}/v/{stance}/{topic}"] = float(getattr(row, f"v_{stance}"))
    at = health[health["step"] == step]
    if not at.empty:
        row = at.iloc[0]
        for key in ("unhealthy", "empty", "truncated", "repetitive", "degenerate", "mean_tokens"):
            out[f"{PREFIX}/health/{key}"] = float(row[key])
    for task, metric, value in capability:
        out[f"{PREFIX}/capability/{task}/{metric}"] = float(value)
    return out


def _capability(con: duckdb.DuckDBPyConnection, run_id: str, step: int) -> Sequence[tuple]:
    """(task, metric, value) stored for the checkpoint; none when the store has no
    capability table (an older schema) or nothing was measured."""
    has = con.execute("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_name = 'capability'").fetchone()
    if not has or not has[0]:
        return []
    return con.execute(
        "SELECT task, CASE WHEN filter = 'none' THEN metric ELSE metric || ',' || filter END, "
        "value FROM capability WHERE run_id = ? AND step = ? ORDER BY task, metric, filter",
        [run_id, step]).fetchall()
