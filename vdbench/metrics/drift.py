"""Drift magnitude M and drift time η for the stance curves of one training stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from typing import Literal

import numpy as np
import pandas as pd

from vdbench.evalsets.topics import STANCES

Direction = Literal["rising", "falling", "flat"]


@dataclass(frozen=True)
class DriftTime:
    """When one stance curve first enters the confidence interval of its extreme value.

    eta: fraction of the stage's training (0..1) at that first checkpoint; direction:
    "rising" (extreme = peak), "falling" (extreme = trough) or "flat"; extreme_value and
    extreme_fraction: the extreme checkpoint's value and fraction; ci_lo, ci_hi: the
    interval used (the extreme's CI, widened to contain the extreme value if needed);
    first_step: step of the first checkpoint inside it (its index when no steps given).
    """

    eta: float
    direction: Direction
    extreme_value: float
    extreme_fraction: float
    ci_lo: float
    ci_hi: float
    first_step: int


STAGE_COLUMNS: tuple[str, ...] = (
    *("topic", "stance", "step_from", "step_to", "v_from", "v_to", "M"),
    *(f.name for f in fields(DriftTime)),
)


def _as_stance_dict(v: Mapping[str, float] | Sequence[float]) -> dict[str, float]:
    """Stance -> value from a mapping keyed by stance (or v_stance) or a STANCES-ordered sequence."""
    if isinstance(v, Mapping):
        return {s: float(v[s] if s in v else v[f"v_{s}"]) for s in STANCES}
    if len(v) != len(STANCES):
        raise ValueError(f"expected {len(STANCES)} values in STANCES order, got {len(v)}")
    return {s: float(x) for s, x in zip(STANCES, v, strict=True)}


def drift_magnitude(
    v_from: Mapping[str, float] | Sequence[float], v_to: Mapping[str, float] | Sequence[float]
) -> dict[str, float]:
    """Signed drift M_s(t, t') = v_t'(T)_s - v_t(T)_s for each stance s."""
    a, b = _as_stance_dict(v_from), _as_stance_dict(v_to)
    return {s: b[s] - a[s] for s in STANCES}


def _direction(values: np.ndarray) -> Direction:
    """Rising if the largest excursion from the first value is upward, falling if downward.

    A tie between a non-zero rise and fall goes to the sign of the net change
    (last - first); if that is zero too, "rising". No excursion at all is "flat".
    """
    v0 = values[0]
    up, down = values.max() - v0, v0 - values.min()
    if up == 0.0 and down == 0.0:
        return "flat"
    if up != down:
        return "rising" if up > down else "falling"
    return "falling" if values[-1] < v0 else "rising"


def drift_time(
    fractions: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    ci_lo: Sequence[float] | np.ndarray | pd.Series,
    ci_hi: Sequence[float] | np.ndarray | pd.Series,
    steps: Sequence[int] | np.ndarray | None = None,
) -> DriftTime:
    """Drift time η of one stance curve of one stage (checkpoints in any order).

    fractions: each checkpoint's fraction of the stage's training (η_ext/η_total);
    values: v_s per checkpoint; ci_lo/ci_hi: each checkpoint's confidence bounds (only
    the extreme's are used). η = fraction of the first checkpoint with
    ci_lo[ext] <= value <= ci_hi[ext]; the extreme is the first maximum (rising) or first
    minimum (falling). Flat curves and single checkpoints give η = 0.0, direction "flat".
    Raises ValueError for no checkpoints or arrays of unequal length.
    """
    f, v = np.asarray(fractions, dtype=float), np.asarray(values, dtype=float)
    lo, hi = np.asarray(ci_lo, dtype=float), np.asarray(ci_hi, dtype=float)
    st = np.arange(len(v)) if steps is None else np.asarray(steps)
    if not len(f) == len(v) == len(lo) == len(hi) == len(st):
        raise ValueError("fractions, values, ci_lo, ci_hi and steps must have equal length")
    if len(v) == 0:
        raise ValueError("drift time needs at least one checkpoint")
    order = np.lexsort((st, f))  # by fraction, then step
    f, v, lo, hi, st = f[order], v[order], lo[order], hi[order], st[order]

    direction = _direction(v)
    if direction == "flat":
        return DriftTime(
            0.0, "flat", float(v[0]), float(f[0]), float(lo[0]), float(hi[0]), int(st[0])
        )
    ext = int(np.argmax(v) if direction == "rising" else np.argmin(v))
    # The extreme always lies in its own interval (a NaN bound collapses onto the value).
    lo_e = float(np.fmin(lo[ext], v[ext]))
    hi_e = float(np.fmax(hi[ext], v[ext]))
    first = int(np.flatnonzero((v >= lo_e) & (v <= hi_e))[0])
    return DriftTime(
        float(f[first]), direction, float(v[ext]), float(f[ext]), lo_e, hi_e, int(st[first])
    )


def _fractions(curve: pd.DataFrame) -> np.ndarray:
    """The checkpoints' `fraction`, or (step - first) / (last - first) where it is absent."""
    steps = curve["step"].to_numpy(dtype=float)
    span = steps[-1] - steps[0]
    derived = (steps - steps[0]) / span if span > 0 else np.zeros_like(steps)
    if "fraction" not in curve.columns:
        return derived
    given = curve["fraction"].to_numpy(dtype=float)
    return np.where(np.isnan(given), derived, given)


def stage_drift(values_with_ci: pd.DataFrame) -> pd.DataFrame:
    """Per topic and stance for one stage: M (first -> last checkpoint), η, direction, dominant.

    Input: one row per (topic, step) of one stage with v_{stance}, {stance}_lo,
    {stance}_hi and optionally fraction (as from bootstrap_topic_values). Output columns:
    topic, stance, step_from, step_to, v_from, v_to, M, eta, direction, extreme_value,
    extreme_fraction, ci_lo, ci_hi, first_step, dominant. `dominant` is True for the one
    stance per topic with the largest |M| (ties: earlier in STANCES).
    """
    needed = ["topic", "step", *(c for s in STANCES for c in (f"v_{s}", f"{s}_lo", f"{s}_hi"))]
    missing = [c for c in needed if c not in values_with_ci.columns]
    if missing:
        raise ValueError(f"stage values lack column(s): {', '.join(missing)}")
    if values_with_ci.duplicated(["topic", "step"]).any():
        raise ValueError("more than one row per (topic, step): pass one stage of one run")
    rows = []
    for topic, curve in values_with_ci.sort_values(["topic", "step"]).groupby("topic", sort=True):
        fractions, steps = _fractions(curve), curve["step"].to_numpy()
        for s in STANCES:
            v = curve[f"v_{s}"].to_numpy(dtype=float)
            dt = drift_time(fractions, v, curve[f"{s}_lo"], curve[f"{s}_hi"], steps)
            ends = (topic, s, steps[0], steps[-1], v[0], v[-1], v[-1] - v[0])
            rows.append(dict(zip(STAGE_COLUMNS, (*ends, *astuple(dt)), strict=True)))
    out = pd.DataFrame(rows, columns=list(STAGE_COLUMNS))
    out["dominant"] = False
    if not out.empty:
        best = out["M"].abs().groupby(out["topic"], sort=False).idxmax()  # first max wins
        out.loc[best.to_numpy(), "dominant"] = True
    return out


def dominant_drift(stage: pd.DataFrame) -> pd.DataFrame:
    """One row per topic: the dominant stance's row of stage_drift's output."""
    return stage.loc[stage["dominant"]].reset_index(drop=True)
