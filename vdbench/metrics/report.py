"""Assemble a run's metrics from the store: values with CIs, stage drift, output health.

This is the one place that joins the store (queries) with the pure maths, so the CLI,
the TUI and the demo all report the same numbers.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from vdbench import queries
from vdbench.evalsets.topics import STANCES
from vdbench.judge_health import DEFAULT_MIN_CONFIDENCE, frame_health, ood_threshold_of
from vdbench.metrics.bootstrap import bootstrap_drift_interval, bootstrap_topic_values
from vdbench.metrics.drift import drift_magnitude, stage_drift
from vdbench.store import Store

ALL_TOPICS = "(all topics)"


def _with_all_topics(samples: pd.DataFrame) -> pd.DataFrame:
    """Append a pseudo-topic pooling every prompt, so each stage also gets one headline row."""
    pooled = samples.copy()
    pooled["prompt_id"] = pooled["topic"] + "/" + pooled["prompt_id"]
    pooled["topic"] = ALL_TOPICS
    return pd.concat([samples, pooled], ignore_index=True)


def run_metrics(
    store: Store, run_id: str, *, judge: str | None = None, confidence: float = 0.95,
    n_boot: int = 1000, seed: int = 0, from_step: int | None = None, to_step: int | None = None,
    calibrated: bool = False, corrected: bool = False, reference: str | None = None,
    min_labels_per_class: int = 5, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
) -> dict[str, Any]:
    """Everything `vdbench metrics --json` prints for one run (a run is one stage).

    corrected: add a `corrected` block (misclassification-corrected values and M, see
    corrected_block); reference and min_labels_per_class choose and check its labels.
    """
    with store.read() as con:
        run = queries.require_run(con, run_id)
        judge_id = queries.resolve_judge(con, run_id, judge)
        samples = queries.judged_samples(con, run_id, judge_id)
        ckpts = queries.checkpoints(con, run_id)
        health = queries.output_health(con, run_id)
        events = queries.run_events(con, run_id)
    if calibrated:
        from vdbench.calibration import apply_latest_calibration

        samples = apply_latest_calibration(store, judge_id, samples)
    pooled = _with_all_topics(samples)
    values = bootstrap_topic_values(pooled, n_boot=n_boot, confidence=confidence, seed=seed)
    stage = stage_drift(values)
    by_topic = {str(t): g for t, g in pooled.groupby("topic", sort=True)}
    boot: dict[str, Any] = {"n_boot": n_boot, "confidence": confidence, "seed": seed}
    ends = stage.groupby("topic", sort=True)[["step_from", "step_to"]].first()
    m_ci = {str(t): _m_interval(by_topic[str(t)], int(a), int(b), **boot)
            for t, a, b in ends.itertuples(name=None)}
    report: dict[str, Any] = {
        "run": run_id,
        "stage": run["stage"],
        "algorithm": run["algorithm"],
        "parent": {"run": run["parent_run"], "step": run["parent_step"]},
        "eval_set": run["eval_set"],
        "hparams": json.loads(run["hparams"]) if run["hparams"] else {},
        "seed": run["seed"],
        "judge": judge_id,
        "calibrated": calibrated,
        "bootstrap": {"n_boot": n_boot, "confidence": confidence, "seed": seed,
                      "method": "expanded percentile (Hesterberg 2015); prompts resampled "
                                "with their samples, rescaled by sqrt(P/(P-1))"},
        "checkpoints": ckpts[["step", "total_steps", "fraction"]].to_dict("records"),
        "values": [_value_row(r) for r in values.itertuples(index=False)],
        "health": health.to_dict("records"),
        "drift": _drift_block(stage, m_ci),
        "events": [{k: e[k] for k in ("step", "kind", "payload", "created_at")} for e in events],
        "stopped": _stopped(events),
    }
    report["judge_health"] = judge_health_block(store, run_id, judge_id, calibrated=calibrated,
                                                min_confidence=min_confidence)
    if from_step is not None or to_step is not None:
        report["between"] = _between(values, by_topic, from_step, to_step, boot)
    if corrected:
        report["corrected"] = corrected_block(
            store, judge_id, pooled, calibrated=calibrated, reference=reference,
            min_labels_per_class=min_labels_per_class, between=report.get("between"), **boot)
    capability = capability_report(store, run_id, **boot)
    if capability:  # absent when no capability was measured
        report["capability"] = capability
    return report


def capability_report(store: Store, run_id: str, *, confidence: float = 0.95, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, Any]:
    """The run's capability per checkpoint and over the stage (Δ first → last with its CI;
    vdbench.metrics.capability); {} when none was measured."""
    from vdbench.capability.records import capability_frame
    from vdbench.metrics.capability import capability_block

    with store.read() as con:
        frame = capability_frame(con, run_id)
    return capability_block(frame, confidence=confidence, n_boot=n_boot, seed=seed)


def _stopped(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """{"step", "reason", "planned_steps", "breaches", …} when training stopped on its drift
    budget and was not trained on since; None otherwise."""
    event = queries.stopped_at(events)
    return None if event is None else {"step": int(event["step"]), **event["payload"]}


def _value_row(row: Any) -> dict[str, Any]:
    r = row._asdict()
    return {
        "topic": r["topic"], "step": int(r["step"]), "fraction": float(r["fraction"]),
        "v": {s: float(r[f"v_{s}"]) for s in STANCES},
        "ci": {s: [float(r[f"{s}_lo"]), float(r[f"{s}_hi"])] for s in STANCES},
        "n_prompts": int(r["n_prompts"]), "n_samples": int(r["n_samples"]),
    }


def _m_interval(
    samples: pd.DataFrame, step_from: int, step_to: int, *, n_boot: int, confidence: float,
    seed: int,
) -> dict[str, list[float] | None]:
    """Paired bootstrap interval of M per stance; None when no prompt is judged at both steps."""
    try:
        ci = bootstrap_drift_interval(samples, step_from, step_to, n_boot=n_boot,
                                      confidence=confidence, seed=seed)
    except ValueError:  # no shared prompt (bad arguments are caught before this)
        return dict.fromkeys(STANCES)
    return {s: list(ci[s]) for s in STANCES}


def _drift_block(
    stage: pd.DataFrame, m_ci: dict[str, dict[str, list[float] | None]]
) -> list[dict[str, Any]]:
    out = []
    for topic, rows in stage.groupby("topic", sort=True):
        stances = {}
        for r in rows.itertuples(index=False):
            stances[r.stance] = {
                "M": float(r.M), "M_ci": m_ci[str(topic)][r.stance],
                "v_from": float(r.v_from), "v_to": float(r.v_to),
                "eta": float(r.eta), "direction": r.direction,
                "extreme_value": float(r.extreme_value), "extreme_fraction": float(r.extreme_fraction),
                "extreme_ci": [float(r.ci_lo), float(r.ci_hi)], "first_step": int(r.first_step),
            }
        dominant = rows.loc[rows["dominant"], "stance"].iloc[0]
        out.append({"topic": topic, "step_from": int(rows["step_from"].iloc[0]),
                    "step_to": int(rows["step_to"].iloc[0]), "dominant": dominant,
                    "stances": stances})
    return out


def _between(
    values: pd.DataFrame, by_topic: dict[str, pd.DataFrame], from_step: int | None,
    to_step: int | None, boot: dict[str, Any],
) -> dict[str, Any]:
    from vdbench.errors import InputError

    steps = sorted(values["step"].unique())
    a = steps[0] if from_step is None else from_step
    b = steps[-1] if to_step is None else to_step
    for s in (a, b):
        if s not in steps:
            raise InputError(f"no checkpoint at step {s}", hint=f"checkpoints: {list(map(int, steps))}")
    by = values.set_index(["topic", "step"])
    topics, intervals = {}, {}
    for topic in sorted(values["topic"].unique()):
        va, vb = by.loc[(topic, a)], by.loc[(topic, b)]
        topics[topic] = drift_magnitude({s: va[f"v_{s}"] for s in STANCES},
                                        {s: vb[f"v_{s}"] for s in STANCES})
        intervals[topic] = _m_interval(by_topic[topic], int(a), int(b), **boot)
    return {"from_step": int(a), "to_step": int(b), "M": topics, "M_ci": intervals}


def corrected_block(
    store: Store, judge_id: str, pooled: pd.DataFrame, *, calibrated: bool,
    reference: str | None, min_labels_per_class: int, between: dict[str, Any] | None,
    n_boot: int, confidence: float, seed: int,
) -> dict[str, Any]:
    """The `corrected` block: values and M with the judge's misclassification removed.

    Labels: reference_labels on samples this judge judged, any run, pooled over topics
    (select_reference picks the source). With `calibrated`, the labelled items' judge
    probabilities are calibrated like the samples'. InputError when there are no labels
    or too few (vdbench.metrics.corrected.check_label_counts).
    """
    from vdbench.metrics.corrected import (
        corrected_drift,
        corrected_topic_values,
        select_reference,
    )

    with store.read() as con:
        rows = queries.labelled_judgments(con, judge_id)
    items, ref_name, sources = select_reference(rows, reference, judge_id)
    if calibrated:
        from vdbench.calibration import apply_latest_calibration

        # calibrate_frame recomputes a `label` column: keep the reference label out of it.
        truth = items.pop("label")
        items = apply_latest_calibration(store, judge_id, items).assign(label=truth)
    result = corrected_topic_values(pooled, items, n_boot=n_boot, confidence=confidence,
                                    seed=seed, min_labels_per_class=min_labels_per_class,
                                    what=f"judge {judge_id!r} with {ref_name!r} labels")
    values, confusion = result.values, result.confusion
    by_topic = {str(t): g for t, g in pooled.groupby("topic", sort=True)}
    ends = values.groupby("topic", sort=True)["step"].agg(["min", "max"])
    drift = []
    for topic, a, b in ends.itertuples(name=None):
        m = corrected_drift(by_topic[str(topic)], result, int(a), int(b),
                            confidence=confidence, seed=seed)
        drift.append({"topic": topic, "step_from": int(a), "step_to": int(b), "stances": m})
    block: dict[str, Any] = {
        "reference": ref_name,
        "sources": sources,
        "method": "adjusted count: v = C^T pi solved for pi (inverse, or least squares when C "
                  "is ill-conditioned or not square), then Euclidean projection onto the simplex",
        "pooled_over": "topics and runs (every labelled sample this judge judged)",
        "n_labels": int(confusion.counts.sum()),
        "n_labels_per_class": {s: int(n) for s, n in zip(STANCES, confusion.counts, strict=True)},
        "min_labels_per_class": min_labels_per_class,
        "confusion": {
            "labels": list(STANCES), "rows": "reference label", "columns": "judge p(stance)",
            "matrix": [[None if pd.isna(x) else float(x) for x in row] for row in confusion.matrix],
        },
        "condition_number": confusion.condition if np.isfinite(confusion.condition) else None,
        "solver": confusion.solver,
        "bootstrap": {"n_boot": n_boot, "confidence": confidence, "seed": seed,
                      "method": "expanded percentile (Hesterberg 2015); labelled items "
                                "resampled within each true class (C recomputed, one C per "
                                "replicate shared by all values) and prompts resampled with "
                                "their samples, both rescaled by sqrt(m/(m-1))"},
        "values": [_corrected_row(r) for r in values.itertuples(index=False)],
        "drift": drift,
    }
    if between is not None:
        a, b = between["from_step"], between["to_step"]
        block["between"] = {"from_step": a, "to_step": b, "M": {
            t: corrected_drift(g, result, a, b, confidence=confidence, seed=seed)
            for t, g in by_topic.items()}}
    return block


def _corrected_row(row: Any) -> dict[str, Any]:
    out = _value_row(row)
    r = row._asdict()
    out["observed"] = {s: float(r[f"obs_{s}"]) for s in STANCES}
    out["projected"] = bool(r["projected"])
    return out


def judge_health_block(store: Store, run_id: str, judge_id: str, *, calibrated: bool,
                       min_confidence: float) -> dict[str, Any]:
    """Judge health per checkpoint and topic, and pooled per checkpoint (vdbench.judge_health).

    Confidence is read from calibrated probabilities when `calibrated` (the same ones the
    values use); the OOD threshold is the one the judge was registered with.
    """
    with store.read() as con:
        frame = queries.judgment_confidence(con, run_id, judge_id)
        threshold = ood_threshold_of(queries.judge_manifest(con, judge_id))
    if calibrated and not frame.empty:
        from vdbench.calibration import apply_latest_calibration

        frame = apply_latest_calibration(store, judge_id, frame)
    pooled = frame.assign(topic=ALL_TOPICS)
    return {
        "min_confidence": min_confidence, "ood_threshold": threshold,
        "ood_measured": bool(threshold is not None and frame["ood"].notna().any()),
        "rule": "flagged = confidence below min_confidence, or OOD distance above the judge's "
                "threshold (set on held-out in-domain data)",
        "by_checkpoint": [row for part in (pooled, frame) for row in frame_health(
            part, ["step", "topic"], min_confidence=min_confidence, ood_threshold=threshold)],
    }
