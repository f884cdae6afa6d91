"""Agreement between a local judge and a reference: pure functions, no I/O.

Labels are stance names or indices into STANCES = (support, neutral, oppose); every
matrix and per-class vector uses that order. Probabilities are (n, 3) arrays in the same
order. See docs/calibration.md for the formulas and edge cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vdbench.evalsets.topics import STANCES

N_CLASSES = len(STANCES)
PROB_EPS = 1e-12  # probabilities are clipped to this before a log


def label_indices(labels: Sequence[str] | Sequence[int] | np.ndarray) -> np.ndarray:
    """Stance names or indices → int array of indices into STANCES.

    Raises ValueError on an unknown name or an index outside 0..2.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind in "iu":
        out = arr.astype(np.int64)
    else:
        lookup = {s: i for i, s in enumerate(STANCES)}
        try:
            out = np.array([lookup[str(x)] for x in arr.ravel()], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(
                f"unknown stance label {exc.args[0]!r}; expected one of {STANCES}"
            ) from None
    if out.size and (out.min() < 0 or out.max() >= N_CLASSES):
        raise ValueError(f"stance index out of range 0..{N_CLASSES - 1}")
    return out.ravel()


def as_probs(probs: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """An (n, 3) float array of probabilities; rows are renormalised to sum to 1."""
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != N_CLASSES:
        raise ValueError(f"probabilities must have shape (n, {N_CLASSES}), got {arr.shape}")
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("probabilities must be finite and non-negative")
    totals = arr.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise ValueError("a probability row sums to zero")
    return arr / totals


def _pair(reference: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    ref, pred = label_indices(reference), label_indices(predicted)
    if ref.shape != pred.shape:
        raise ValueError(f"{ref.size} reference labels but {pred.size} predictions")
    return ref, pred


def confusion_matrix(reference: Any, predicted: Any) -> np.ndarray:
    """3×3 counts: rows are the reference stance, columns the predicted one (STANCES order)."""
    ref, pred = _pair(reference, predicted)
    matrix = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(matrix, (ref, pred), 1)
    return matrix


def agreement(reference: Any, predicted: Any) -> float:
    """Share of items where the two labels are equal; NaN for no items."""
    ref, pred = _pair(reference, predicted)
    return float(np.mean(ref == pred)) if ref.size else float("nan")


def per_class_f1(reference: Any, predicted: Any) -> np.ndarray:
    """F1 per stance; NaN for a stance absent from both reference and predictions."""
    matrix = confusion_matrix(reference, predicted)
    tp = np.diag(matrix).astype(np.float64)
    ref_count = matrix.sum(axis=1)
    pred_count = matrix.sum(axis=0)
    denom = ref_count + pred_count
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / denom, np.nan)
    return f1


def macro_f1(reference: Any, predicted: Any) -> float:
    """Unweighted mean of per-stance F1 over the stances present in either labelling.

    A stance that neither side ever uses is left out (its F1 is undefined), so three-way
    agreement on two stances scores 1.0, not 0.67. NaN for no items.
    """
    f1 = per_class_f1(reference, predicted)
    present = ~np.isnan(f1)
    return float(f1[present].mean()) if present.any() else float("nan")


def cohens_kappa(reference: Any, predicted: Any) -> float:
    """Cohen's kappa: (p_o − p_e) / (1 − p_e), p_e from the two labellings' marginals.

    NaN when p_e = 1 (both sides always use one and the same stance) or for no items.
    """
    matrix = confusion_matrix(reference, predicted).astype(np.float64)
    n = matrix.sum()
    if n == 0:
        return float("nan")
    p_o = np.trace(matrix) / n
    p_e = float((matrix.sum(axis=1) / n) @ (matrix.sum(axis=0) / n))
    if np.isclose(p_e, 1.0):
        return float("nan")
    return float((p_o - p_e) / (1 - p_e))


def reliability_bins(probs: Any, reference: Any, n_bins: int = 10) -> list[dict[str, float | int]]:
    """Top-label reliability: per equal-width confidence bin, count, mean confidence, accuracy.

    Confidence is the largest probability of a row; a row is correct when its argmax equals
    the reference. Bin b covers (b/n_bins, (b+1)/n_bins]; confidence 0 falls in bin 0.
    Empty bins are reported with count 0 and NaN confidence/accuracy.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    p = as_probs(probs)
    ref = label_indices(reference)
    if ref.size != p.shape[0]:
        raise ValueError(f"{ref.size} reference labels but {p.shape[0]} probability rows")
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == ref).astype(np.float64)
    # ceil(c·n) − 1 puts c = k/n into bin k−1 (right-closed bins); the 1e-9 keeps 0.7·10 =
    # 7.000000000000001 in bin 6 where it belongs.
    bin_of = np.clip(np.ceil(confidence * n_bins - 1e-9).astype(np.int64) - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = bin_of == b
        count = int(mask.sum())
        bins.append(
            {
                "lo": b / n_bins,
                "hi": (b + 1) / n_bins,
                "count": count,
                "confidence": float(confidence[mask].mean()) if count else float("nan"),
                "accuracy": float(correct[mask].mean()) if count else float("nan"),
            }
        )
    return bins


def expected_calibration_error(probs: Any, reference: Any, n_bins: int = 10) -> float:
    """Top-label ECE: Σ_b |B_b|/n · |accuracy(B_b) − confidence(B_b)| over equal-width bins.

    In [0, 1]; 0 is perfectly calibrated. NaN for no items.
    """
    bins = reliability_bins(probs, reference, n_bins)
    n = sum(b["count"] for b in bins)
    if n == 0:
        return float("nan")
    return float(
        sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    )


def negative_log_likelihood(probs: Any, reference: Any) -> float:
    """Mean −log p(reference) in nats; probabilities are clipped at 1e-12 first."""
    p = as_probs(probs)
    ref = label_indices(reference)
    if ref.size != p.shape[0]:
        raise ValueError(f"{ref.size} reference labels but {p.shape[0]} probability rows")
    if ref.size == 0:
        return float("nan")
    return float(-np.mean(np.log(np.clip(p[np.arange(ref.size), ref], PROB_EPS, 1.0))))


def brier_score(probs: Any, reference: Any) -> float:
    """Mean over items of Σ_s (p_s − 1[s = reference])²; in [0, 2]."""
    p = as_probs(probs)
    ref = label_indices(reference)
    if ref.size == 0:
        return float("nan")
    onehot = np.eye(N_CLASSES)[ref]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def agreement_report(probs: Any, reference: Any, n_bins: int = 10) -> dict[str, Any]:
    """Every agreement and calibration measure of a judge's probabilities vs reference labels.

    Keys: n, agreement, macro_f1, per_class_f1 (by stance), cohens_kappa, confusion
    (rows reference, columns predicted, with `labels`), ece, nll, brier, reliability.
    Undefined values are None (JSON null), never NaN.
    """
    p = as_probs(probs)
    ref = label_indices(reference)
    pred = p.argmax(axis=1)
    f1 = per_class_f1(ref, pred)
    return _nan_to_none(
        {
            "n": int(ref.size),
            "agreement": agreement(ref, pred),
            "macro_f1": macro_f1(ref, pred),
            "per_class_f1": dict(zip(STANCES, f1.tolist(), strict=True)),
            "cohens_kappa": cohens_kappa(ref, pred),
            "confusion": {
                "labels": list(STANCES),
                "rows": "reference",
                "columns": "judge",
                "matrix": confusion_matrix(ref, pred).tolist(),
            },
            "ece": expected_calibration_error(p, ref, n_bins),
            "nll": negative_log_likelihood(p, ref),
            "brier": brier_score(p, ref),
            "reliability": reliability_bins(p, ref, n_bins),
        }
    )


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    return value
