"""The hierarchical (two-level) bootstrap an experiment report uses: resample seeds, then
prompts within each drawn seed.

A grid point trained with S seeds has, per seed, one value per prompt (e.g. the prompt's
change in p(support) from the first to the last checkpoint, its contribution to M). Its
estimate is the mean over seeds of the mean over prompts. Both levels vary: a new seed
trains a different model, a new prompt set asks different questions, so a replicate

1. draws S seeds with replacement, and
2. for each drawn seed, draws its prompts with replacement (a seed drawn twice gets two
   independent prompt draws),

and averages. Several grid points trained from the same seeds on the same prompts are
resampled *together* (the same seeds and prompts for each), so a difference or slope
between them is paired and its interval is not inflated by variation they share.

Seeds are few (3 is typical), so the interval is Hesterberg's expanded percentile at the
seed level: replicates are rescaled by √(S/(S−1)) and read at the percentile a t interval
with S−1 degrees of freedom would give (bootstrap.rescale, bootstrap.expanded_confidence).
It is deliberately wide: with 2 seeds it is close to the replicates' range. With one seed
the seed level is trivial and the same correction is made at the prompt level, as
`vdbench metrics` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vdbench.metrics.bootstrap import expanded_confidence, percentile_interval, rescale


def _as_matrix(group: np.ndarray) -> np.ndarray:
    m = np.asarray(group, dtype=float)
    return m[:, None] if m.ndim == 1 else m


def point_estimate(groups: Sequence[np.ndarray]) -> np.ndarray:
    """Mean over seeds of the mean over prompts: shape (K,) for K jointly resampled points."""
    return np.mean([_as_matrix(g).mean(axis=0) for g in groups], axis=0)


def hierarchical_replicates(groups: Sequence[np.ndarray], n_boot: int,
                            rng: np.random.Generator) -> np.ndarray:
    """(n_boot, K) replicates of point_estimate.

    groups[i]: seed i's values, shape (P_i,) or (P_i, K) — rows are prompts, columns the K
    grid points resampled together (same prompts). Seeds may have different prompt counts.
    """
    mats = [_as_matrix(g) for g in groups]
    if not mats or any(len(m) == 0 for m in mats):
        raise ValueError("every seed needs at least one prompt")
    k = mats[0].shape[1]
    if any(m.shape[1] != k for m in mats):
        raise ValueError("every seed needs the same number of grid points")
    n_seeds = len(mats)
    draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    total = np.zeros((n_boot, k))
    for j in range(n_seeds):  # the j-th drawn seed of every replicate
        for i, m in enumerate(mats):
            rows = np.flatnonzero(draws[:, j] == i)
            if not len(rows):
                continue
            picks = rng.integers(0, len(m), size=(len(rows), len(m)))
            total[rows] += m[picks].mean(axis=1)
    return total / n_seeds


def hierarchical_interval(groups: Sequence[np.ndarray], replicates: np.ndarray,
                          confidence: float = 0.95) -> np.ndarray:
    """(2, K) bounds from replicates of point_estimate(groups): expanded percentile at the
    seed level (at the prompt level when there is one seed); see the module docstring."""
    point = point_estimate(groups)
    units = len(groups) if len(groups) > 1 else len(_as_matrix(groups[0]))
    return percentile_interval(rescale(replicates, point, units),
                               expanded_confidence(confidence, units))


def seed_replicates(values: Sequence[float], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot,) replicates of the mean of per-seed values (one level: for η, which is a
    property of a whole curve and has no per-prompt parts)."""
    v = np.asarray(values, dtype=float)
    return v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)


def seed_interval(values: Sequence[float], replicates: np.ndarray,
                  confidence: float = 0.95) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return np.array([np.nan, np.nan])
    return percentile_interval(rescale(replicates, np.asarray(v.mean()), len(v)),
                               expanded_confidence(confidence, len(v)))


def log_slope(xs: Sequence[float]) -> np.ndarray:
    """Weights w with slope = Σ w_k y_k: the least-squares slope of y on log10(x) (on x when
    any x ≤ 0), so a hyper-parameter's effect is one linear contrast of the points."""
    x = np.asarray(xs, dtype=float)
    x = np.log10(x) if np.all(x > 0) else x
    centred = x - x.mean()
    denom = float((centred ** 2).sum())
    if denom == 0:
        raise ValueError("a slope needs at least two distinct values")
    return centred / denom
