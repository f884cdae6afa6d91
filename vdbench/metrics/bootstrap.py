"""Two-stage percentile bootstrap (prompts, then samples within each prompt) for v_t(T)."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from vdbench.evalsets.topics import STANCES
from vdbench.metrics.values import GROUP_KEYS, PROB_COLUMNS, judged_samples, topic_values


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A Generator from an int seed, or the Generator itself."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _group_rng(seed: int, topic: object, step: object) -> np.random.Generator:
    """A Generator for one (topic, step) group: same seed and group, same stream.

    Keyed on the group's identity, so adding or removing other groups does not change
    this group's interval.
    """
    key = zlib.crc32(f"{topic}\x00{step}".encode())
    return np.random.default_rng([seed, key])


# Replicates are drawn in chunks of about this many (replicate, sample) cells: small
# arrays stay in cache and skip the page faults of fresh large allocations (~4x faster).
_MAX_CELLS = 1 << 16


def replicate_matrix(
    probs: np.ndarray, prompt_codes: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Two-stage bootstrap replicates of the mean-of-prompt-means; shape (n_boot, k).

    probs: (n_samples, k) probabilities; prompt_codes: (n_samples,) ints 0..P-1 naming
    each row's prompt, every code present. Each replicate draws P prompts with
    replacement, then for each drawn prompt as many samples as it has, with replacement
    from its own samples, and averages the prompt means.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    order = np.argsort(prompt_codes, kind="stable")
    probs = np.asarray(probs, dtype=float)[order]
    counts = np.bincount(np.asarray(prompt_codes)[order])
    chunk = max(1, _MAX_CELLS // (len(counts) * int(counts.max())))
    return np.concatenate(
        [_replicates(probs, counts, min(chunk, n_boot - b), rng) for b in range(0, n_boot, chunk)]
    )


def _replicates(
    probs: np.ndarray, counts: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """replicate_matrix's core for rows already grouped by prompt (counts[k] rows each)."""
    n_rows, n_prompts, n_max = len(probs), len(counts), int(counts.max())
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    picked = rng.integers(0, n_prompts, size=(n_boot, n_prompts))  # stage 1: prompts
    # Stage 2: slot j of drawn prompt k takes row starts[k] + within, within < counts[k].
    # A replicate is a weighted sum of rows, (B, N) weights @ (N, k) probs, where each of
    # a drawn prompt's n draws weighs 1 / (P n) and unused slots weigh 0.
    if counts.min() == n_max:  # every prompt has n_max samples: uniform weights
        within = rng.integers(0, n_max, size=(n_boot, n_prompts, n_max))
        weight, scale = None, 1.0 / (n_prompts * n_max)
    else:
        n = counts[picked][..., None]  # (B, P, 1)
        within = (rng.random((n_boot, n_prompts, n_max)) * n).astype(np.intp)  # floor
        weight, scale = ((np.arange(n_max) < n) / (n_prompts * n)).ravel(), 1.0
    rows = starts[picked][..., None] + within  # (B, P, n_max)
    flat = (np.arange(n_boot)[:, None, None] * n_rows + rows).ravel()
    w = np.bincount(flat, weights=weight, minlength=n_boot * n_rows)
    return (w.reshape(n_boot, n_rows) @ probs) * scale


def bootstrap_replicates(
    group: pd.DataFrame, n_boot: int = 1000, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Bootstrap replicates of (v_support, v_neutral, v_oppose) for one (topic, step) group.

    `group` holds that group's judged samples (prompt_id, sample_idx, p_*); returns an
    (n_boot, 3) array, columns in STANCES order. Deterministic for an int seed and the
    same rows in any order.
    """
    samples = judged_samples(group)
    if samples.empty:
        raise ValueError("no judged samples to bootstrap")
    codes, _ = pd.factorize(samples["prompt_id"], sort=True)
    return replicate_matrix(samples[list(PROB_COLUMNS)].to_numpy(), codes, n_boot, _rng(seed))


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """Percentile interval of bootstrap replicates: (2, k) array of lower and upper bounds."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    return np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)


def bootstrap_topic_values(
    df: pd.DataFrame, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """topic_values(df) plus `{stance}_lo`, `{stance}_hi` percentile bounds per (topic, step).

    Each group uses its own Generator derived from (seed, topic, step). A group with one
    prompt resamples only its samples; one prompt with one sample gives lo = hi = v.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    samples = judged_samples(df)
    out = topic_values(samples)
    bounds = np.empty((len(out), 2, len(STANCES)))
    probs = samples[list(PROB_COLUMNS)].to_numpy(dtype=float)
    prompt_ids = samples["prompt_id"].to_numpy()
    groups = samples.groupby(list(GROUP_KEYS), sort=True).indices
    for row, (topic, step) in enumerate(zip(out["topic"], out["step"], strict=True)):
        rows = groups[(topic, step)]
        codes, _ = pd.factorize(prompt_ids[rows], sort=True)
        reps = replicate_matrix(probs[rows], codes, n_boot, _group_rng(seed, topic, step))
        bounds[row] = percentile_interval(reps, confidence)
    for j, stance in enumerate(STANCES):
        out[f"{stance}_lo"] = bounds[:, 0, j]
        out[f"{stance}_hi"] = bounds[:, 1, j]
    return out
