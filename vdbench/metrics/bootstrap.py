"""Percentile bootstrap intervals for v_t(T), and their paired form for the drift
M = v_to(T) - v_from(T) between two checkpoints.

Design 'prompts' (the default, what `vdbench metrics` reports): prompts are resampled
with replacement, each drawn prompt keeping its own samples (a prompt mean already
carries their noise), the replicates are moved away from the estimate by √(m/(m − 1))
for m resampled units (rescale), and the bounds are Hesterberg's expanded percentile
interval (expanded_confidence). Design 'two-stage' (prompts, then samples within each
drawn prompt) counts the within-prompt noise twice; it is kept for comparison.
vdbench.metrics.corrected builds on the public functions here. See docs/metrics.md.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, stdtrit

from vdbench.evalsets.topics import STANCES
from vdbench.metrics.values import GROUP_KEYS, PROB_COLUMNS, judged_samples, topic_values

DESIGNS = ("prompts", "two-stage")


def check_design(design: str) -> None:
    """Refuse (ValueError) a design other than those in DESIGNS."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    """A Generator from an int seed, or the Generator itself."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def group_rng(seed: int, topic: object, step: object) -> np.random.Generator:
    """A Generator for one (topic, step) group: same seed and group, same stream.

    Keyed on the group's identity, so adding or removing other groups does not change
    this group's interval.
    """
    key = zlib.crc32(f"{topic}\x00{step}".encode())
    return np.random.default_rng([seed, key])


def pair_rng(seed: int, topic: object, step_from: object, step_to: object) -> np.random.Generator:
    """A Generator for one (topic, step_from, step_to) pair, like group_rng for one group."""
    key = zlib.crc32(f"{topic}\x00{step_from}\x00{step_to}".encode())
    return np.random.default_rng([seed, key])


# ------------------------------------------------------------------ pure maths


def rescale(reps: np.ndarray, point: np.ndarray, n_units: int) -> np.ndarray:
    """Replicates moved away from `point` by √(m / (m − 1)), m = n_units resampled units.

    Resampling m units with replacement gives a mean whose variance is (m − 1)/m of the
    unbiased one; this rescaling (Rao & Wu 1988) removes that bias, which matters for few
    prompts or few labels per class (m = 5: variance 20 % too small). m = 1: unchanged.
    """
    factor = np.sqrt(n_units / (n_units - 1)) if n_units > 1 else 1.0
    return point + factor * (reps - point)


def expanded_confidence(confidence: float, n_units: int) -> float:
    """The percentile level that gives a t-based interval's width for n_units units.

    Hesterberg's "expanded percentile" interval (Hesterberg 2015, The American
    Statistician 69:4): take the quantiles at α'/2 = Φ(−t_{n−1, (1+c)/2}) instead of
    (1 − c)/2, since the spread of n resampled units is itself estimated (P = 30 prompts:
    0.95 → 0.959). Together with rescale this is his expanded interval. n_units < 2:
    unchanged. Capped just below 1 (then the interval is the replicates' min and max).
    """
    if n_units < 2:
        return confidence
    t = stdtrit(n_units - 1, (1.0 + confidence) / 2.0)
    return float(min(1.0 - 2.0 * ndtr(-t), 1.0 - 1e-12))


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """Percentile interval of bootstrap replicates: (2, k) array of lower and upper bounds."""
    _check_confidence(confidence)
    alpha = 1.0 - confidence
    return np.quantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)


def bootstrap_bounds(
    replicates: np.ndarray, confidence: float, n_units: int, design: str = "prompts"
) -> np.ndarray:
    """The reported (2, k) bounds of replicates drawn from n_units resampled units.

    design 'prompts': the expanded percentile interval (percentile_interval at
    expanded_confidence(confidence, n_units)); 'two-stage': plain percentiles.
    """
    check_design(design)
    _check_confidence(confidence)
    level = confidence if design == "two-stage" else expanded_confidence(confidence, n_units)
    return percentile_interval(replicates, level)


def resampled_units(prompt_codes: np.ndarray) -> int:
    """How many units a group's bootstrap resamples: its prompts, or one prompt's samples."""
    codes = np.asarray(prompt_codes)
    n_prompts = int(codes.max()) + 1
    return n_prompts if n_prompts > 1 else len(codes)


# ------------------------------------------------------------------ replicates

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
    from its own samples, and averages the prompt means. Not rescaled. The 'two-stage'
    design, and (one prompt) the 'prompts' design's resample of that prompt's samples.
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


def _prompt_means(probs: np.ndarray, prompt_codes: np.ndarray) -> np.ndarray:
    """(P, k) mean of each prompt's rows; codes 0..P-1, every code present."""
    codes = np.asarray(prompt_codes, dtype=np.intp)
    sums = np.zeros((int(codes.max()) + 1, probs.shape[1]))
    np.add.at(sums, codes, probs)
    return sums / np.bincount(codes)[:, None]


def _prompt_weights(n_prompts: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, P) how often each prompt is drawn in each replicate, divided by P."""
    chunk = max(1, _MAX_CELLS // n_prompts)
    out = []
    for b in range(0, n_boot, chunk):
        rows = min(chunk, n_boot - b)
        picked = rng.integers(0, n_prompts, size=(rows, n_prompts))
        flat = (np.arange(rows)[:, None] * n_prompts + picked).ravel()
        out.append(np.bincount(flat, minlength=rows * n_prompts).reshape(rows, n_prompts))
    return np.concatenate(out) / n_prompts


def value_replicates(
    probs: np.ndarray, prompt_codes: np.ndarray, n_boot: int, rng: np.random.Generator,
    design: str = "prompts",
) -> np.ndarray:
    """Bootstrap replicates of the mean of prompt means, (n_boot, k).

    probs: (n_samples, k); prompt_codes: (n_samples,) ints 0..P-1, every code present.
    design 'prompts': draw P prompts with replacement, keep each drawn prompt's samples
    as they are (a cluster bootstrap), and rescale about the estimate by √(P/(P − 1)). A
    single prompt has nothing to draw: its n samples are resampled instead (rescaled by
    √(n/(n − 1)); one sample: every replicate is the estimate). 'two-stage':
    replicate_matrix (prompts, then samples within each prompt), not rescaled. Bounds:
    bootstrap_bounds with resampled_units(prompt_codes).
    """
    check_design(design)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    probs = np.asarray(probs, dtype=float)
    if design == "two-stage":
        return replicate_matrix(probs, prompt_codes, n_boot, rng)
    means = _prompt_means(probs, prompt_codes)
    n_prompts = len(means)
    if n_prompts == 1:
        return rescale(replicate_matrix(probs, prompt_codes, n_boot, rng), means[0], len(probs))
    reps = _prompt_weights(n_prompts, n_boot, rng) @ means
    return rescale(reps, means.mean(axis=0), n_prompts)


@dataclass(frozen=True)
class PairedReplicates:
    """Paired replicates of one topic's v at two steps, over the prompts judged at both.

    v_from, v_to: (n_boot, 3), STANCES order; n_units: the resampled units, for
    bootstrap_bounds (shared prompts; one shared prompt: its samples at both steps,
    n_from + n_to − 1, the pooled two-sample t's degrees of freedom plus one).
    """

    v_from: np.ndarray
    v_to: np.ndarray
    n_units: int


def _grouped_by_prompt(part: pd.DataFrame, shared: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """One step's rows of the shared prompts, grouped by prompt: (probs, counts per prompt)."""
    part = part[part["prompt_id"].isin(shared)]
    codes = shared.get_indexer(part["prompt_id"])
    order = np.argsort(codes, kind="stable")
    probs = part[list(PROB_COLUMNS)].to_numpy(dtype=float)[order]
    return probs, np.bincount(codes, minlength=len(shared))


def paired_replicates(
    df: pd.DataFrame, step_from: int, step_to: int, n_boot: int = 1000,
    seed: int | np.random.Generator = 0, design: str = "prompts",
) -> PairedReplicates:
    """Paired bootstrap replicates of (v_from, v_to) for one topic, over the shared prompts.

    `df` holds judged samples (topic, step, prompt_id, sample_idx, p_*) of one topic; rows
    at other steps are ignored, and so are prompts judged at only one of the two steps.
    The same prompts are asked at both checkpoints, so each replicate draws ONE resample
    of prompts, shared by both steps. design 'prompts': each drawn prompt keeps its
    samples, and each end is rescaled about its estimate by √(P/(P − 1)); one shared
    prompt: its samples are resampled independently at each step, each end rescaled by
    √(n/(n − 1)) for its own sample count n. 'two-stage': each drawn prompt's samples are
    resampled independently at each step, not rescaled. step_from == step_to: both ends
    are the same replicates. An int seed uses pair_rng(seed, topic, step_from, step_to):
    deterministic, and independent of row order and of other topics or steps in `df`.
    Raises ValueError for n_boot < 1, several topics, a step without judged samples, or
    no prompt judged at both steps.
    """
    check_design(design)
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
    shared = pd.Index(
        np.intersect1d(at[step_from]["prompt_id"].unique(), at[step_to]["prompt_id"].unique())
    )
    if shared.empty:
        raise ValueError(f"no prompt judged at both steps {step_from} and {step_to}")
    rng = seed if isinstance(seed, np.random.Generator) else pair_rng(
        seed, topics[0], step_from, step_to)
    (probs_a, counts_a), (probs_b, counts_b) = (_grouped_by_prompt(at[s], shared)
                                                for s in (step_from, step_to))
    n_prompts = len(shared)
    if step_from == step_to:
        codes = np.repeat(np.arange(n_prompts), counts_a)
        same = value_replicates(probs_a, codes, n_boot, rng, design)
        return PairedReplicates(same, same, resampled_units(codes))
    if design == "prompts" and n_prompts > 1:
        weights = _prompt_weights(n_prompts, n_boot, rng)
        ends = []
        for probs, counts in ((probs_a, counts_a), (probs_b, counts_b)):
            means = _prompt_means(probs, np.repeat(np.arange(n_prompts), counts))
            ends.append(rescale(weights @ means, means.mean(axis=0), n_prompts))
        return PairedReplicates(ends[0], ends[1], n_prompts)
    chunk = max(1, _MAX_CELLS // (n_prompts * int(max(counts_a.max(), counts_b.max()))))
    v_from, v_to = [], []
    for b in range(0, n_boot, chunk):
        picked = rng.integers(0, n_prompts, size=(min(chunk, n_boot - b), n_prompts))  # shared
        v_from.append(_replicates(probs_a, counts_a, picked, rng))
        v_to.append(_replicates(probs_b, counts_b, picked, rng))
    reps = [np.concatenate(v_from), np.concatenate(v_to)]
    if design == "two-stage":
        return PairedReplicates(reps[0], reps[1], n_prompts)
    # one shared prompt: each end rescaled by its own sample count
    n_a, n_b = int(counts_a[0]), int(counts_b[0])
    return PairedReplicates(rescale(reps[0], probs_a.mean(axis=0), n_a),
                            rescale(reps[1], probs_b.mean(axis=0), n_b), n_a + n_b - 1)


# ------------------------------------------------------------------ frames


def bootstrap_replicates(
    group: pd.DataFrame, n_boot: int = 1000, seed: int | np.random.Generator = 0,
    design: str = "prompts",
) -> np.ndarray:
    """Bootstrap replicates of (v_support, v_neutral, v_oppose) for one (topic, step) group.

    `group` holds that group's judged samples (prompt_id, sample_idx, p_*); returns an
    (n_boot, 3) array, columns in STANCES order (value_replicates with `design`; bounds:
    bootstrap_bounds with the group's resampled units). Deterministic for an int seed and
    the same rows in any order.
    """
    samples = judged_samples(group)
    if samples.empty:
        raise ValueError("no judged samples to bootstrap")
    codes, _ = pd.factorize(samples["prompt_id"], sort=True)
    return value_replicates(samples[list(PROB_COLUMNS)].to_numpy(), codes, n_boot, _rng(seed),
                            design)


def bootstrap_topic_values(
    df: pd.DataFrame, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0,
    design: str = "prompts",
) -> pd.DataFrame:
    """topic_values(df) plus `{stance}_lo`, `{stance}_hi` bootstrap bounds per (topic, step).

    Replicates: value_replicates with `design`; bounds: bootstrap_bounds (default: the
    expanded percentile interval of the rescaled prompt resample), clipped to [0, 1]. Each
    group uses its own Generator, group_rng(seed, topic, step). A group with one prompt
    resamples only its samples; one prompt with one sample gives lo = hi = v.
    """
    _check_confidence(confidence)
    check_design(design)
    samples = judged_samples(df)
    out = topic_values(samples)
    bounds = np.empty((len(out), 2, len(STANCES)))
    probs = samples[list(PROB_COLUMNS)].to_numpy(dtype=float)
    prompt_ids = samples["prompt_id"].to_numpy()
    groups = samples.groupby(list(GROUP_KEYS), sort=True).indices
    for row, (topic, step) in enumerate(zip(out["topic"], out["step"], strict=True)):
        rows = groups[(topic, step)]
        codes, _ = pd.factorize(prompt_ids[rows], sort=True)
        reps = value_replicates(probs[rows], codes, n_boot, group_rng(seed, topic, step), design)
        bounds[row] = bootstrap_bounds(reps, confidence, resampled_units(codes), design)
    bounds = np.clip(bounds, 0.0, 1.0)  # a stance share lies in [0, 1]
    for j, stance in enumerate(STANCES):
        out[f"{stance}_lo"] = bounds[:, 0, j]
        out[f"{stance}_hi"] = bounds[:, 1, j]
    return out


def paired_drift_replicates(
    df: pd.DataFrame, step_from: int, step_to: int, n_boot: int = 1000,
    seed: int | np.random.Generator = 0, design: str = "prompts",
) -> np.ndarray:
    """Paired bootstrap replicates of M = v_to - v_from for one topic; shape (n_boot, 3).

    v_to − v_from of paired_replicates (one resample of the prompts judged at both steps,
    shared by both; see there for the design, the seed and the errors). Prompts judged at
    only one of the two steps are dropped, so with such prompts the replicates centre on
    the shared prompts' M, which can differ from the M of all prompts. step_from ==
    step_to gives all zeros (M is identically 0). Columns in STANCES order.
    """
    reps = paired_replicates(df, step_from, step_to, n_boot, seed, design)
    return reps.v_to - reps.v_from  # step_from == step_to: the same array twice, so 0


def bootstrap_drift_interval(
    df: pd.DataFrame, step_from: int, step_to: int, n_boot: int = 1000,
    confidence: float = 0.95, seed: int | np.random.Generator = 0, design: str = "prompts",
) -> dict[str, tuple[float, float]]:
    """Interval of M_s = v_to(T)_s - v_from(T)_s per stance: {stance: (lo, hi)}.

    Paired bootstrap over the prompts judged at both steps (paired_replicates; prompts
    judged at only one step are dropped), bounds by bootstrap_bounds with its n_units,
    clipped to [-1, 1].
    """
    _check_confidence(confidence)
    reps = paired_replicates(df, step_from, step_to, n_boot, seed, design)
    lo, hi = np.clip(bootstrap_bounds(reps.v_to - reps.v_from, confidence, reps.n_units,
                                      design), -1.0, 1.0)
    return {s: (float(lo[j]), float(hi[j])) for j, s in enumerate(STANCES)}
