"""Two-stage percentile bootstrap (prompts, then samples within each prompt) for v_t(T),
and its paired form for the drift M = v_to(T) - v_from(T) between two checkpoints."""

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
    n_prompts = len(counts)
    chunk = max(1, _MAX_CELLS // (n_prompts * int(counts.max())))
    out = []
    for b in range(0, n_boot, chunk):
        picked = rng.integers(0, n_prompts, size=(min(chunk, n_boot - b), n_prompts))  # stage 1
        out.append(_replicates(probs, counts, picked, rng))
    return np.concatenate(out)


def _replicates(
    probs: np.ndarray, counts: np.ndarray, picked: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Stage 2 for rows already grouped by prompt (counts[k] rows each), given stage 1.

    picked: (n_boot, P) prompt codes drawn in stage 1; returns (n_boot, k) replicates.
    """
    n_rows, n_max = len(probs), int(counts.max())
    n_boot, n_prompts = picked.shape
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
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


def _pair_rng(seed: int, topic: object, step_from: object, step_to: object) -> np.random.Generator:
    """A Generator for one (topic, step_from, step_to) pair, like _group_rng for one group."""
    key = zlib.crc32(f"{topic}\x00{step_from}\x00{step_to}".encode())
    return np.random.default_rng([seed, key])


def _grouped_by_prompt(part: pd.DataFrame, shared: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """One step's rows of the shared prompts, grouped by prompt: (probs, counts per prompt)."""
    part = part[part["prompt_id"].isin(shared)]
    codes = shared.get_indexer(part["prompt_id"])
    order = np.argsort(codes, kind="stable")
    probs = part[list(PROB_COLUMNS)].to_numpy(dtype=float)[order]
    return probs, np.bincount(codes, minlength=len(shared))


def paired_drift_replicates(
    df: pd.DataFrame, step_from: int, step_to: int, n_boot: int = 1000,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Paired bootstrap replicates of M = v_to - v_from for one topic; shape (n_boot, 3).

    `df` holds judged samples (topic, step, prompt_id, sample_idx, p_*) of one topic; rows
    at other steps are ignored. The same prompts are asked at both checkpoints, so each
    replicate draws ONE resample of prompts with replacement, shared by both steps, then
    resamples each drawn prompt's samples independently at each step (as many as it has
    there), and takes the difference of the two means of prompt means. Prompts judged at
    only one of the two steps are dropped, so with such prompts the replicates centre on
    the shared prompts' M, which can differ from the M of all prompts. step_from ==
    step_to gives all zeros (M is identically 0). Columns in STANCES order. An int seed
    uses a Generator derived from (seed, topic, step_from, step_to): deterministic, and
    independent of row order and of other topics or steps in `df`.
    Raises ValueError for n_boot < 1, several topics, a step without judged samples, or
    no prompt judged at both steps.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    samples = judged_samples(df)
    samples = samples[samples["step"].isin([step_from, step_to])]
    topics = samples["topic"].unique()
    if len(topics) > 1:
        raise ValueError(f"expected judged samples of one topic, got {len(topics)}")
    at = {s: samples[samples["step"] == s] for s in (step_from, step_to)}
    for s, part in at.items():
        if part.empty:
            raise ValueError(f"no judged samples at step {s}")
    if step_from == step_to:
        return np.zeros((n_boot, len(STANCES)))
    shared = pd.Index(
        np.intersect1d(at[step_from]["prompt_id"].unique(), at[step_to]["prompt_id"].unique())
    )
    if shared.empty:
        raise ValueError(f"no prompt judged at both steps {step_from} and {step_to}")
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        rng = _pair_rng(seed, topics[0], step_from, step_to)
    (probs_a, counts_a), (probs_b, counts_b) = (_grouped_by_prompt(at[s], shared)
                                                for s in (step_from, step_to))
    n_prompts = len(shared)
    chunk = max(1, _MAX_CELLS // (n_prompts * int(max(counts_a.max(), counts_b.max()))))
    out = []
    for b in range(0, n_boot, chunk):
        picked = rng.integers(0, n_prompts, size=(min(chunk, n_boot - b), n_prompts))  # shared
        v_from = _replicates(probs_a, counts_a, picked, rng)
        out.append(_replicates(probs_b, counts_b, picked, rng) - v_from)
    return np.concatenate(out)


def bootstrap_drift_interval(
    df: pd.DataFrame, step_from: int, step_to: int, n_boot: int = 1000,
    confidence: float = 0.95, seed: int | np.random.Generator = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile interval of M_s = v_to(T)_s - v_from(T)_s per stance: {stance: (lo, hi)}.

    Paired two-stage bootstrap over the prompts judged at both steps (see
    paired_drift_replicates; prompts judged at only one step are dropped).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    reps = paired_drift_replicates(df, step_from, step_to, n_boot=n_boot, seed=seed)
    lo, hi = percentile_interval(reps, confidence)
    return {s: (float(lo[j]), float(hi[j])) for j, s in enumerate(STANCES)}
