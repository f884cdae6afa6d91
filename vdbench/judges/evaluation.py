"""How good is a judge on labelled data: `vdbench judge eval`'s maths, no I/O.

Every figure carries a percentile bootstrap CI over items (resampled with replacement,
``n_boot`` times, seeded). On a binary set (support vs oppose, e.g. IBM Claim Stance) the
judge's neutral mass is dropped and the two remaining probabilities renormalised, so the
judge is scored on the question the set asks. Judge-health flags (vdbench.judge_health)
are checked against correctness: a useful flag marks items that are wrong more often.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vdbench.calibration.metrics import (
    confusion_matrix,
    expected_calibration_error,
    label_indices,
    macro_f1,
    per_class_f1,
    reliability_bins,
)
from vdbench.evalsets.topics import STANCES
from vdbench.judge_health import flagged, health_flags


def restrict_to_classes(probs: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Zero the stances outside `classes` and renormalise (rows with no mass left: uniform)."""
    keep = np.array([s in classes for s in STANCES], dtype=float)
    out = np.asarray(probs, dtype=float) * keep
    totals = out.sum(axis=1, keepdims=True)
    uniform = np.broadcast_to(keep / keep.sum(), out.shape)
    return np.where(totals > 0, out / np.where(totals > 0, totals, 1), uniform)


def _ci(values: np.ndarray, confidence: float) -> list[float] | None:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def _point_and_ci(stat, truth: np.ndarray, probs: np.ndarray, boot: np.ndarray,
                  confidence: float) -> dict[str, Any]:
    point = stat(truth, probs)
    reps = np.array([stat(truth[b], probs[b]) for b in boot], dtype=float)
    return {"value": None if np.isnan(point) else float(point), "ci": _ci(reps, confidence)}


def _accuracy(truth: np.ndarray, probs: np.ndarray) -> float:
    return float(np.mean(probs.argmax(1) == truth)) if truth.size else float("nan")


def _macro(truth: np.ndarray, probs: np.ndarray) -> float:
    return macro_f1(truth, probs.argmax(1))


def _ece(truth: np.ndarray, probs: np.ndarray) -> float:
    return expected_calibration_error(probs, truth)


def evaluate_judge(
    probs: np.ndarray, labels: Sequence[str], classes: Sequence[str], *,
    topics: Sequence[str] | None = None, ood: np.ndarray | None = None,
    min_confidence: float = 0.6, ood_threshold: float | None = None,
    n_boot: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1, confusion, ECE, reliability, per topic, health check.

    `probs` is (n, 3) in STANCES order; `labels` the true stances; `classes` the stances the
    set contains (two for a binary set). Each figure is ``{"value", "ci"}``.
    """
    probs = restrict_to_classes(probs, classes)
    truth = label_indices(list(labels))
    n = len(truth)
    rng = np.random.default_rng(seed)
    boot = rng.integers(0, n, size=(n_boot, n))
    pred = probs.argmax(1)
    f1_point = per_class_f1(truth, pred)
    f1_reps = np.array([per_class_f1(truth[b], pred[b]) for b in boot])
    report: dict[str, Any] = {
        "n": n, "classes": list(classes),
        "binary": len(classes) == 2,
        "accuracy": _point_and_ci(_accuracy, truth, probs, boot, confidence),
        "macro_f1": _point_and_ci(_macro, truth, probs, boot, confidence),
        "per_class_f1": {s: {"value": None if np.isnan(f1_point[i]) else float(f1_point[i]),
                             "ci": _ci(f1_reps[:, i], confidence)}
                         for i, s in enumerate(STANCES) if s in classes},
        "confusion": {"order": list(STANCES), "rows": "true", "columns": "predicted",
                      "counts": confusion_matrix(truth, pred).tolist()},
        "ece": _point_and_ci(_ece, truth, probs, boot, confidence),
        "reliability": [{k: (None if isinstance(v, float) and np.isnan(v) else v)
                         for k, v in row.items()} for row in reliability_bins(probs, truth)],
        "bootstrap": {"n_boot": n_boot, "confidence": confidence, "seed": seed,
                      "method": "percentile bootstrap over items"},
    }
    if topics is not None:
        report["per_topic"] = _per_topic(np.asarray(topics), truth, probs, n_boot, confidence, seed)
    report["health"] = health_check(probs, truth, ood, min_confidence=min_confidence,
                                    ood_threshold=ood_threshold, n_boot=n_boot,
                                    confidence=confidence, seed=seed)
    return report


def _per_topic(topics: np.ndarray, truth: np.ndarray, probs: np.ndarray, n_boot: int,
               confidence: float, seed: int) -> list[dict[str, Any]]:
    out = []
    for k, topic in enumerate(sorted(set(topics.tolist()))):
        mask = topics == topic
        t, p = truth[mask], probs[mask]
        boot = np.random.default_rng(seed + 1 + k).integers(0, len(t), size=(n_boot, len(t)))
        out.append({"topic": topic, "n": int(mask.sum()),
                    "accuracy": _point_and_ci(_accuracy, t, p, boot, confidence),
                    "macro_f1": _point_and_ci(_macro, t, p, boot, confidence)})
    return out


def _share_ci(correct: np.ndarray, n_boot: int, confidence: float,
              rng: np.random.Generator) -> dict[str, Any]:
    if correct.size == 0:
        return {"n": 0, "accuracy": None, "ci": None}
    boot = rng.integers(0, correct.size, size=(n_boot, correct.size))
    return {"n": int(correct.size), "accuracy": float(correct.mean()),
            "ci": _ci(correct[boot].mean(axis=1), confidence)}


def health_check(probs: np.ndarray, truth: np.ndarray, ood: np.ndarray | None, *,
                 min_confidence: float, ood_threshold: float | None, n_boot: int,
                 confidence: float, seed: int) -> dict[str, Any]:
    """Accuracy of flagged vs unflagged items per flag, with CIs; `separates` when the
    unflagged items' CI lies above the flagged items' (the flag finds wrong judgments)."""
    correct = (probs.argmax(1) == truth).astype(float)
    low, far = health_flags(probs, ood, min_confidence=min_confidence, ood_threshold=ood_threshold)
    rng = np.random.default_rng(seed + 10_000)
    out: dict[str, Any] = {"min_confidence": min_confidence, "ood_threshold": ood_threshold}
    for name, mask in (("low_confidence", low), ("ood", far), ("either", flagged(low, far))):
        if mask is None:
            out[name] = None
            continue
        hit, miss = _share_ci(correct[mask], n_boot, confidence, rng), _share_ci(
            correct[~mask], n_boot, confidence, rng)
        separates = bool(hit["ci"] and miss["ci"] and miss["ci"][0] > hit["ci"][1])
        out[name] = {"share_flagged": float(mask.mean()) if mask.size else None,
                     "flagged": hit, "unflagged": miss, "separates": separates}
    return out
