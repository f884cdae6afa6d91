"""Value-gap statistics of preference pairs: pure functions over judged probabilities.

Inputs are (n, 3) arrays of stance probabilities in STANCES order (support, neutral,
oppose), one row per pair, for the chosen and the rejected response.

- Stance margin of one response: p_support − p_oppose, in [−1, 1].
- Per-pair stance margin Δ = margin(chosen) − margin(rejected), in [−2, 2]. Δ > 0: the
  preferred answer leans more toward the proposition, so optimising toward chosen pushes
  the model toward "support".
- Flip: the argmax stance of chosen differs from rejected's (ties go to the first stance
  in STANCES order, as ``JudgeScore.label`` does).
- Jensen–Shannon divergence, base 2 (bits, in [0, 1]), between the *mean* stance
  distribution of the chosen responses and that of the rejected responses. It measures
  whether the two sides differ in aggregate; per-pair differences that cancel out
  (some pairs pushing toward support, others toward oppose) show in mean |Δ| and the flip
  rate but not in JS.
- Confidence intervals: percentile bootstrap over pairs (pairs resampled with
  replacement; every statistic recomputed on each replicate).
- Support gap: mean p_support of the chosen responses minus that of the rejected ones,
  in [−1, 1] (a point estimate; no interval of its own).
- Predicted drift direction: "toward support" if the CI of mean Δ lies above 0,
  "toward oppose" if below, otherwise "none"; "too few pairs" below ``min_pairs``
  (default 10), where a percentile bootstrap interval is too narrow to trust (one pair
  gives a zero-width interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARGIN_RANGE = (-2.0, 2.0)
DEFAULT_BINS = 20
MIN_PAIRS_FOR_DIRECTION = 10
TOO_FEW = "too few pairs"
_MAX_CELLS = 1 << 20  # bootstrap weights computed this many (replicate, pair) cells at a time


def _probs(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"expected (n, 3) stance probabilities, got shape {p.shape}")
    return p


def response_margin(p: np.ndarray) -> np.ndarray:
    """p_support − p_oppose per row; shape (n,)."""
    p = _probs(p)
    return p[:, 0] - p[:, 2]


def stance_margin(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Per-pair Δ = (p_support − p_oppose)(chosen) − (p_support − p_oppose)(rejected)."""
    return response_margin(chosen) - response_margin(rejected)


def stance_flips(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Boolean per pair: argmax stance differs (first stance wins ties)."""
    return _probs(chosen).argmax(axis=1) != _probs(rejected).argmax(axis=1)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray | float:
    """Jensen–Shannon divergence in bits between distributions on the last axis.

    Inputs are renormalised; 0·log 0 = 0. Returns a float for 1-D inputs, else an array.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(a / b), 0.0)
        return terms.sum(axis=-1)

    out = np.clip((kl(p, m) + kl(q, m)) / 2, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def margin_histogram(
    margins: np.ndarray, bins: int = DEFAULT_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of Δ over [−2, 2] in `bins` equal bins; the last bin includes 2."""
    return np.histogram(np.asarray(margins, dtype=float), bins=bins, range=MARGIN_RANGE)


@dataclass(frozen=True)
class GapStats:
    """Point estimates and bootstrap intervals of one group of pairs."""

    n_pairs: int
    mean_margin: float
    mean_abs_margin: float
    flip_rate: float
    js_divergence: float
    chosen_mean: tuple[float, float, float]
    rejected_mean: tuple[float, float, float]
    ci: dict[str, tuple[float, float]]
    direction: str

    @property
    def support_gap(self) -> float:
        """Mean p_support of chosen minus that of rejected, in [−1, 1]."""
        return self.chosen_mean[0] - self.rejected_mean[0]

    def as_dict(self) -> dict:
        from vdbench.evalsets.topics import STANCES

        return {
            "n_pairs": self.n_pairs,
            "mean_margin": self.mean_margin,
            "mean_abs_margin": self.mean_abs_margin,
            "flip_rate": self.flip_rate,
            "js_divergence": self.js_divergence,
            "ci": {k: list(v) for k, v in self.ci.items()},
            "chosen_mean": dict(zip(STANCES, self.chosen_mean, strict=True)),
            "rejected_mean": dict(zip(STANCES, self.rejected_mean, strict=True)),
            "support_gap": self.support_gap,
            "direction": self.direction,
        }


STAT_NAMES = ("mean_margin", "mean_abs_margin", "flip_rate", "js_divergence")


def _weighted_stats(
    weights: np.ndarray,
    margins: np.ndarray,
    flips: np.ndarray,
    chosen: np.ndarray,
    rejected: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every statistic for each row of `weights` (rows sum to 1): a replicate per row."""
    pc, pr = weights @ chosen, weights @ rejected
    return {
        "mean_margin": weights @ margins,
        "mean_abs_margin": weights @ np.abs(margins),
        "flip_rate": weights @ flips.astype(float),
        "js_divergence": np.atleast_1d(js_divergence(pc, pr)),
    }


def bootstrap_replicates(
    chosen: np.ndarray,
    rejected: np.ndarray,
    n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> dict[str, np.ndarray]:
    """`n_boot` pair-bootstrap replicates of each statistic in STAT_NAMES."""
    chosen, rejected = _probs(chosen), _probs(rejected)
    n = len(chosen)
    if n == 0 or n_boot < 1:
        raise ValueError("bootstrap needs at least one pair and one replicate")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    margins, flips = stance_margin(chosen, rejected), stance_flips(chosen, rejected)
    chunk = max(1, _MAX_CELLS // n)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = rng.integers(0, n, size=(b, n))
        flat = (np.arange(b)[:, None] * n + draws).ravel()
        weights = np.bincount(flat, minlength=b * n).reshape(b, n) / n
        parts.append(_weighted_stats(weights, margins, flips, chosen, rejected))
    return {k: np.concatenate([p[k] for p in parts]) for k in STAT_NAMES}


def drift_direction(ci_low: float, ci_high: float) -> str:
    """Sign of mean Δ when its interval excludes 0, else "none"."""
    if ci_low > 0:
        return "toward support"
    if ci_high < 0:
        return "toward oppose"
    return "none"


def gap_stats(
    chosen: np.ndarray,
    rejected: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
    min_pairs: int = MIN_PAIRS_FOR_DIRECTION,
) -> GapStats | None:
    """All statistics of one group of pairs with percentile bootstrap CIs; None if empty."""
    chosen, rejected = _probs(chosen), _probs(rejected)
    if len(chosen) != len(rejected):
        raise ValueError(f"{len(chosen)} chosen rows but {len(rejected)} rejected rows")
    n = len(chosen)
    if n == 0:
        return None
    point = _weighted_stats(
        np.full((1, n), 1.0 / n),
        stance_margin(chosen, rejected),
        stance_flips(chosen, rejected),
        chosen,
        rejected,
    )
    reps = bootstrap_replicates(chosen, rejected, n_boot, seed)
    alpha = (1 - confidence) / 2
    ci = {
        k: (float(np.quantile(reps[k], alpha)), float(np.quantile(reps[k], 1 - alpha)))
        for k in STAT_NAMES
    }
    return GapStats(
        n_pairs=n,
        mean_margin=float(point["mean_margin"][0]),
        mean_abs_margin=float(point["mean_abs_margin"][0]),
        flip_rate=float(point["flip_rate"][0]),
        js_divergence=float(point["js_divergence"][0]),
        chosen_mean=tuple(float(x) for x in chosen.mean(axis=0)),  # type: ignore[arg-type]
        rejected_mean=tuple(float(x) for x in rejected.mean(axis=0)),  # type: ignore[arg-type]
        ci=ci,
        direction=drift_direction(*ci["mean_margin"]) if n >= min_pairs else TOO_FEW,
    )
