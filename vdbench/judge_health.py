"""Judge health: how far a stance figure can be trusted, from the judge's side.

Output health says whether the model's answers are text at all; judge health says whether
the judge can read them. A judgment is *flagged* when either

* its confidence (top probability; calibrated where a calibration is applied) is below
  ``min_confidence`` (default 0.6) — the judge itself is unsure; or
* its out-of-domain distance is above the judge's ``ood_threshold`` (set on held-out
  in-domain data when the judge was trained) — the input is unlike anything the judge
  was trained and validated on, where a confident answer means little.

Raw confidence alone does not expose a guessing judge (an encoder can be confidently wrong
on text unlike its training data), which is why the OOD share is reported beside it.
Judges that measure no OOD distance (hf, gguf, openai) report ``ood = None``.
``vdbench judge eval`` measures whether flagged judgments are in fact less accurate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_MIN_CONFIDENCE = 0.6
OOD_K = 10  # nearest training items the OOD distance averages over
# A stance figure whose share of flagged judgments exceeds this is shown as unreliable.
UNRELIABLE_SHARE = 0.5


def confidence(probs: np.ndarray) -> np.ndarray:
    """Top probability per row of an (n, 3) probability matrix."""
    return np.asarray(probs, dtype=float).max(axis=1)


def health_flags(probs: np.ndarray, ood: np.ndarray | None, *, min_confidence: float,
                 ood_threshold: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(low-confidence mask, out-of-domain mask or None when OOD is not measured)."""
    low = confidence(probs) < min_confidence
    if ood is None or ood_threshold is None:
        return low, None
    ood = np.asarray(ood, dtype=float)
    if np.all(np.isnan(ood)):
        return low, None
    return low, np.nan_to_num(ood, nan=-np.inf) > ood_threshold


def flagged(low: np.ndarray, far: np.ndarray | None) -> np.ndarray:
    """Either flag set."""
    return low if far is None else (low | far)


def health_row(probs: np.ndarray, ood: np.ndarray | None, *, min_confidence: float,
               ood_threshold: float | None) -> dict[str, Any]:
    """Summary of one group of judgments: n, mean confidence, shares low / OOD / flagged."""
    probs = np.asarray(probs, dtype=float).reshape(-1, 3)
    low, far = health_flags(probs, ood, min_confidence=min_confidence, ood_threshold=ood_threshold)
    n = len(probs)
    if n == 0:
        return {"n": 0, "mean_confidence": None, "low_confidence": None, "ood": None,
                "flagged": None, "reliable": None}
    share = float(flagged(low, far).mean())
    return {"n": n, "mean_confidence": float(confidence(probs).mean()),
            "low_confidence": float(low.mean()),
            "ood": None if far is None else float(far.mean()),
            "flagged": share, "reliable": share <= UNRELIABLE_SHARE}


def health_frame(frame: pd.DataFrame, by: list[str], *, min_confidence: float,
                 ood_threshold: float | None) -> pd.DataFrame:
    """`frame_health` as a DataFrame, in one vectorised pass (columns: by + health_row's keys).

    A group whose OOD distances are all missing gets ood = None and flags low confidence
    only, exactly as health_row does for it; no row for an empty frame.
    """
    import pandas as pd

    cols = [*by, "n", "mean_confidence", "low_confidence", "ood", "flagged", "reliable"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    probs = frame[["p_support", "p_neutral", "p_oppose"]].to_numpy(dtype=float)
    ood = frame["ood"].to_numpy(dtype=float) if "ood" in frame else None
    low, far = health_flags(probs, ood, min_confidence=min_confidence, ood_threshold=ood_threshold)
    # Per group, a missing distance never flags (health_flags maps NaN to −inf); a group with
    # no distance at all reports ood = None, like health_row.
    far_any = np.zeros(len(frame), bool) if far is None else far
    measured = np.zeros(len(frame), bool) if far is None else ~np.isnan(ood)  # type: ignore[arg-type]
    work = frame[by].copy()
    work["conf"] = confidence(probs)
    work["low"] = low.astype(float)
    work["far"] = far_any.astype(float)
    work["flag"] = (low | far_any).astype(float)
    work["measured"] = measured
    g = work.groupby(by, sort=True)
    out = pd.DataFrame({
        "n": g.size(), "mean_confidence": g["conf"].mean(), "low_confidence": g["low"].mean(),
        "ood": g["far"].mean(), "flagged": g["flag"].mean(), "any_measured": g["measured"].any(),
    }).reset_index()
    out["ood"] = out["ood"].astype(object).where(out["any_measured"], None)
    out["reliable"] = out["flagged"] <= UNRELIABLE_SHARE
    out["n"] = out["n"].astype(int)
    return out[cols]


def frame_health(frame: pd.DataFrame, by: list[str], *, min_confidence: float,
                 ood_threshold: float | None) -> list[dict[str, Any]]:
    """health_row per group of a judgments frame (columns p_support, p_neutral, p_oppose, ood)."""
    out = health_frame(frame, by, min_confidence=min_confidence, ood_threshold=ood_threshold)
    rows = []
    for rec in out.to_dict("records"):
        row = {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
        row["ood"] = None if row["ood"] is None else float(row["ood"])
        row["reliable"] = bool(row["reliable"])
        rows.append(row)
    return rows


def ood_threshold_of(manifest: Mapping[str, Any] | None) -> float | None:
    """The judge's OOD threshold from its manifest (None when it has none)."""
    if not manifest:
        return None
    value = manifest.get("ood_threshold")
    return None if value is None else float(value)


def health_label(row: Mapping[str, Any] | None) -> str:
    """A short, colour-free reading of a health row: 'judge ok 8%' or 'judge GUESSING 71%'."""
    if not row or not row.get("n"):
        return "judge ?"
    share = row["flagged"]
    word = "ok" if share <= 0.2 else ("weak" if share <= UNRELIABLE_SHARE else "GUESSING")
    return f"judge {word} {share:.0%}"


def ood_distance(pooled: np.ndarray, reference: np.ndarray, k: int = OOD_K) -> np.ndarray:
    """1 − mean cosine to the k nearest reference rows (rows are unit vectors); shape (n,)."""
    if len(pooled) == 0:
        return np.zeros(0)
    sims = pooled @ reference.T
    k = min(k, reference.shape[0])
    top = np.partition(sims, -k, axis=1)[:, -k:]
    return 1.0 - top.mean(axis=1).astype(np.float64)
