"""Post-hoc calibration of a judge's stance probabilities: temperature and vector scaling.

Pure functions over (n, 3) probability arrays in STANCES order; no I/O. A fit is a
plain JSON-able dict (``params``) that :func:`apply_calibration` turns back into a map:

- ``{"method": "temperature", "T": float}`` — q = softmax(log p / T). T > 1 softens an
  over-confident judge, T < 1 sharpens an under-confident one; the argmax never changes.
- ``{"method": "vector", "scale": [w_s, w_n, w_o], "bias": [b_s, b_n, b_o]}`` —
  q = softmax(w ⊙ log p + b); may change the argmax (it can fix a biased judge).
- ``{"method": "identity"}`` — q = p.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar

from vdbench.calibration.metrics import N_CLASSES, PROB_EPS, as_probs, label_indices
from vdbench.evalsets.topics import STANCES

METHODS = ("temperature", "vector")
PROB_COLUMNS = tuple(f"p_{s}" for s in STANCES)
# log T is searched in [−LOG_T_BOUND, LOG_T_BOUND], i.e. T in [0.01, 100].
LOG_T_BOUND = float(np.log(100.0))
# Vector scaling: L2 pull of scale toward 1 and bias toward 0. It removes the softmax's
# shift freedom in the biases and keeps a fit on few labels from running away.
VECTOR_L2 = 1e-3


def _log_probs(probs: Any) -> np.ndarray:
    return np.log(np.clip(as_probs(probs), PROB_EPS, 1.0))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll_of_logits(z: np.ndarray, ref: np.ndarray) -> float:
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(ref.size), ref]))


def _check(probs: Any, reference: Any) -> tuple[np.ndarray, np.ndarray]:
    logp = _log_probs(probs)
    ref = label_indices(reference)
    if ref.size != logp.shape[0]:
        raise ValueError(f"{ref.size} reference labels but {logp.shape[0]} probability rows")
    if ref.size == 0:
        raise ValueError("cannot fit a calibration on zero labelled items")
    return logp, ref


def fit_temperature(probs: Any, reference: Any) -> dict[str, Any]:
    """The T minimising mean NLL of softmax(log p / T) against the reference labels.

    Searched over T in [0.01, 100] (bounded Brent on log T; the NLL is convex in 1/T).
    Returns ``{"method": "temperature", "T": T}``.
    """
    logp, ref = _check(probs, reference)
    result = minimize_scalar(
        lambda log_t: _nll_of_logits(logp / np.exp(log_t), ref),
        bounds=(-LOG_T_BOUND, LOG_T_BOUND),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return {"method": "temperature", "T": float(np.exp(result.x))}


def fit_vector(probs: Any, reference: Any, l2: float = VECTOR_L2) -> dict[str, Any]:
    """Per-stance scale w and bias b minimising mean NLL of softmax(w ⊙ log p + b) + L2.

    The penalty is l2 · (‖w − 1‖² + ‖b‖²). Fitted by L-BFGS with the analytic gradient,
    starting from the identity (w = 1, b = 0). Returns ``{"method": "vector", "scale",
    "bias"}``.
    """
    logp, ref = _check(probs, reference)
    onehot = np.eye(N_CLASSES)[ref]
    n = ref.size

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:N_CLASSES], theta[N_CLASSES:]
        z = logp * w + b
        q = _softmax(z)
        loss = _nll_of_logits(z, ref) + l2 * (np.sum((w - 1) ** 2) + np.sum(b**2))
        dz = (q - onehot) / n
        grad_w = (dz * logp).sum(axis=0) + 2 * l2 * (w - 1)
        grad_b = dz.sum(axis=0) + 2 * l2 * b
        return loss, np.concatenate([grad_w, grad_b])

    theta0 = np.concatenate([np.ones(N_CLASSES), np.zeros(N_CLASSES)])
    result = minimize(objective, theta0, jac=True, method="L-BFGS-B")
    return {
        "method": "vector",
        "scale": result.x[:N_CLASSES].tolist(),
        "bias": result.x[N_CLASSES:].tolist(),
    }


def fit_calibration(probs: Any, reference: Any, method: str = "temperature") -> dict[str, Any]:
    """Fit `method` ("temperature" or "vector"); see :func:`fit_temperature`, :func:`fit_vector`."""
    if method == "temperature":
        return fit_temperature(probs, reference)
    if method == "vector":
        return fit_vector(probs, reference)
    raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")


def apply_calibration(probs: Any, params: dict[str, Any]) -> np.ndarray:
    """Calibrated (n, 3) probabilities from raw (n, 3) probabilities and a fit's params.

    Rows are renormalised first; zeros are clipped to 1e-12 before the log. Raises
    ValueError for params that are not a known method's.
    """
    method = params.get("method")
    if method == "identity":
        return as_probs(probs)
    logp = _log_probs(probs)
    if method == "temperature":
        t = float(params["T"])
        if not np.isfinite(t) or t <= 0:
            raise ValueError(f"temperature must be positive, got {t}")
        return _softmax(logp / t)
    if method == "vector":
        w = np.asarray(params["scale"], dtype=np.float64)
        b = np.asarray(params["bias"], dtype=np.float64)
        if w.shape != (N_CLASSES,) or b.shape != (N_CLASSES,):
            raise ValueError("vector scaling needs 3 scales and 3 biases")
        return _softmax(logp * w + b)
    raise ValueError(f"unknown calibration method {method!r}")


def calibrate_frame(frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """A copy of `frame` with p_support/p_neutral/p_oppose replaced by calibrated values.

    A `label` column, if present, is recomputed as the calibrated argmax. Rows with a
    missing probability stay missing. Other columns are untouched.
    """
    missing = [c for c in PROB_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    out = frame.copy()
    raw = out[list(PROB_COLUMNS)].to_numpy(dtype=np.float64)
    ok = np.isfinite(raw).all(axis=1)
    if ok.any():
        calibrated = raw.copy()
        calibrated[ok] = apply_calibration(raw[ok], params)
        out[list(PROB_COLUMNS)] = calibrated
        if "label" in out.columns:
            labels = out["label"].to_numpy(dtype=object)
            labels[ok] = np.asarray(STANCES, dtype=object)[calibrated[ok].argmax(axis=1)]
            out["label"] = labels
    return out


def cross_validated_probs(
    probs: Any, reference: Any, method: str, k: int = 5, seed: int = 0
) -> np.ndarray | None:
    """Out-of-fold calibrated probabilities: each fold calibrated by a fit on the others.

    Gives an honest "after" estimate (an in-sample fit flatters itself, vector scaling
    most). None when there are fewer than 2·k items.
    """
    p = as_probs(probs)
    ref = label_indices(reference)
    if ref.size < 2 * k:
        return None
    order = np.random.default_rng(seed).permutation(ref.size)
    out = np.empty_like(p)
    for fold in np.array_split(order, k):
        train = np.setdiff1d(order, fold, assume_unique=True)
        params = fit_calibration(p[train], ref[train], method)
        out[fold] = apply_calibration(p[fold], params)
    return out
