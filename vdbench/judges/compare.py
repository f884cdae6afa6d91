"""Two judges on one run: do they agree on labels, and on the drift? (`vdbench judge compare`)

Agreement and Cohen's κ are computed over the samples both judges judged, with a
percentile bootstrap over samples. Drift M per topic comes from each judge's own metrics
(vdbench.metrics.report.run_metrics, paired CI), for the stance the first judge sees move
most, so a drift one judge reports and the other does not is visible side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vdbench import queries
from vdbench.calibration.metrics import agreement, cohens_kappa, label_indices
from vdbench.errors import InputError
from vdbench.store import Store


def drift_verdict(ci_a: list[float] | None, ci_b: list[float] | None) -> str:
    """How two judges' M intervals relate, in words that follow the intervals."""
    if not ci_a or not ci_b:
        return "no interval"
    if ci_a[0] > ci_b[1] or ci_b[0] > ci_a[1]:
        return "judges disagree (CIs disjoint)"
    sign = [1 if lo > 0 else -1 if hi < 0 else 0 for lo, hi in (ci_a, ci_b)]
    if sign[0] == sign[1] != 0:
        return "both see this drift"
    if sign[0] == sign[1] == 0:
        return "neither sees a drift"
    return "only one sees a drift (not separable)"


def _boot_ci(stat, a: np.ndarray, b: np.ndarray, n_boot: int, confidence: float,
             seed: int) -> list[float] | None:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(a), len(a))
        values.append(stat(a[idx], b[idx]))
    reps = np.array(values, dtype=float)
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        return None
    alpha = (1 - confidence) / 2
    return [float(x) for x in np.quantile(reps, [alpha, 1 - alpha])]


def compare_judges(store: Store, run_id: str, judge_a: str, judge_b: str, *, n_boot: int = 1000,
                   confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """κ, agreement (overall and per topic) and per-topic M under each judge."""
    from vdbench.metrics.report import run_metrics

    with store.read() as con:
        queries.require_run(con, run_id)
        ids = [queries.resolve_judge(con, run_id, j) for j in (judge_a, judge_b)]
        if ids[0] == ids[1]:
            raise InputError(f"{judge_a!r} and {judge_b!r} are the same judge ({ids[0]})")
        shared = con.execute(
            """
            SELECT a.sample_id, a.topic, a.label AS label_a, b.label AS label_b
            FROM judgments a JOIN judgments b USING (sample_id)
            WHERE a.judge_id = ? AND b.judge_id = ? AND a.run_id = ?
            ORDER BY a.sample_id
            """, [ids[0], ids[1], run_id]).df()
    if shared.empty:
        raise InputError(f"no sample of run {run_id!r} was judged by both {ids[0]} and {ids[1]}",
                         hint=f"judge the run with each: vdbench judge run --db DB --run {run_id} --judge NAME")
    la, lb = label_indices(shared["label_a"].tolist()), label_indices(shared["label_b"].tolist())
    metrics = [run_metrics(store, run_id, judge=j, n_boot=n_boot, confidence=confidence, seed=seed)
               for j in ids]
    drift_b = {row["topic"]: row for row in metrics[1]["drift"]}
    per_topic_agree = {t: float(np.mean(g["label_a"] == g["label_b"]))
                       for t, g in shared.groupby("topic")}
    topics = []
    for row in metrics[0]["drift"]:
        stance = row["dominant"]
        a = row["stances"][stance]
        b = drift_b.get(row["topic"], {}).get("stances", {}).get(stance)
        topics.append({
            "topic": row["topic"], "stance": stance,
            "agreement": per_topic_agree.get(row["topic"], float(np.mean(la == lb))),
            "M_a": {"value": a["M"], "ci": a["M_ci"]},
            "M_b": {"value": b["M"], "ci": b["M_ci"]} if b else {"value": float("nan"), "ci": None},
            "verdict": drift_verdict(a["M_ci"], b["M_ci"] if b else None),
        })
    health = {}
    for judge_id, m in zip(ids, metrics, strict=True):
        pooled = [r for r in m["judge_health"]["by_checkpoint"] if r["topic"] == "(all topics)"]
        health[judge_id] = pooled[-1] if pooled else None
    return {
        "run": run_id, "judges": ids, "n_shared": int(len(shared)),
        "judge_health": health,
        "kappa": {"value": cohens_kappa(la, lb),
                  "ci": _boot_ci(cohens_kappa, la, lb, n_boot, confidence, seed)},
        "agreement": {"value": agreement(la, lb),
                      "ci": _boot_ci(agreement, la, lb, n_boot, confidence, seed + 1)},
        "topics": topics,
        "bootstrap": {"n_boot": n_boot, "confidence": confidence, "seed": seed},
    }
