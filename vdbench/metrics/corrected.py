"""Stance values corrected for the judge's misclassification ("adjusted count"), with a
bootstrap that resamples the labelled items (C recomputed) as well as the prompts.

The judge's soft confusion matrix C[i, j] is the mean probability the judge gives stance j
over labelled items whose true (reference) label is i. If the judge's output depends on
the answer only through its true stance, the observed value is v = Cᵀ π, where π is the
true stance share (mean over prompts of the share of each prompt's answers that truly
take each stance). We solve for π and project it onto the probability simplex. Intervals:
labelled items resampled within each true class and prompts resampled with their samples,
both rescaled, then expanded percentile bounds (benchmarks/bench_interval_coverage.py
measures their coverage).

No I/O here; the store side is vdbench.metrics.report. See docs/metrics.md.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vdbench.errors import InputError
from vdbench.evalsets.topics import STANCES

# The bootstrap itself (designs, rescaling, expanded bounds) is bootstrap.py's, shared with
# the plain intervals; DESIGNS and expanded_confidence are re-exported for this module's callers.
from vdbench.metrics.bootstrap import DESIGNS as DESIGNS
from vdbench.metrics.bootstrap import (
    bootstrap_bounds,
    check_design,
    group_rng,
    paired_replicates,
    resampled_units,
    rescale,
    value_replicates,
)
from vdbench.metrics.bootstrap import expanded_confidence as expanded_confidence
from vdbench.metrics.values import GROUP_KEYS, PROB_COLUMNS, judged_samples, topic_values

# Above this condition number of C the inverse is replaced by a truncated least-squares
# solution (singular values below σ_max / MAX_CONDITION are dropped): an unidentifiable
# direction then gets the minimum-norm answer instead of an arbitrarily large one.
MAX_CONDITION = 1e6
DEFAULT_MIN_LABELS_PER_CLASS = 5
HUMAN = "human"


@dataclass(frozen=True)
class Confusion:
    """A soft confusion matrix estimated from labelled items.

    matrix: (3, 3), rows = true label, columns = judge stance, STANCES order; a row whose
    true class has no labelled item is NaN. counts: (3,) labelled items per true class.
    """

    matrix: np.ndarray
    counts: np.ndarray

    @property
    def classes(self) -> np.ndarray:
        """Indices of the true classes with at least one labelled item."""
        return np.flatnonzero(self.counts > 0)

    @property
    def present(self) -> np.ndarray:
        """The (K, 3) rows of the present classes, the matrix the correction inverts."""
        return self.matrix[self.classes]

    @property
    def condition(self) -> float:
        """2-norm condition number of the present rows (σ_max / σ_min; inf when singular)."""
        sv = np.linalg.svd(self.present, compute_uv=False)
        return float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")

    @property
    def solver(self) -> str:
        """'inverse' for a square, well-conditioned C; else 'least squares'."""
        square = len(self.classes) == len(STANCES)
        return "inverse" if square and self.condition <= MAX_CONDITION else "least squares"


# ------------------------------------------------------------------ pure maths


def label_codes(labels: Sequence[str] | np.ndarray) -> np.ndarray:
    """Stance names → codes 0..2 in STANCES order; ValueError for anything else."""
    index = {s: i for i, s in enumerate(STANCES)}
    try:
        return np.array([index[str(lab)] for lab in labels], dtype=np.intp)
    except KeyError as exc:
        raise ValueError(f"label must be one of {', '.join(STANCES)}, got {exc.args[0]!r}") from None


def soft_confusion(judge_probs: np.ndarray, true_codes: np.ndarray) -> Confusion:
    """C[i, j] = mean of the judge's p(stance j) over the items whose true label is i.

    judge_probs: (n, 3) judge probabilities of the labelled items; true_codes: (n,) codes
    0..2 of their reference labels. Rows of classes without items are NaN.
    """
    probs = np.asarray(judge_probs, dtype=float)
    codes = np.asarray(true_codes, dtype=np.intp)
    k = len(STANCES)
    counts = np.bincount(codes, minlength=k)
    sums = np.zeros((k, k))
    np.add.at(sums, codes, probs)
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = sums / counts[:, None]
    return Confusion(matrix, counts)


def check_label_counts(counts: np.ndarray, min_per_class: int, what: str = "the judge") -> None:
    """Refuse (InputError) unless ≥ 2 true classes are present, each with ≥ min_per_class items.

    A class with no labelled item is not present; its true share is taken to be 0.
    """
    have = ", ".join(f"{s} {int(n)}" for s, n in zip(STANCES, counts, strict=True))
    hint = ("label more samples in the TUI (vdbench tui --db DB, labelling mode: s/n/o) or "
            "raise `vdbench calibrate --n`; --min-labels-per-class sets the minimum")
    present = [s for s, n in zip(STANCES, counts, strict=True) if n > 0]
    if len(present) < 2:
        raise InputError(
            f"too few labelled items to correct {what}: the labels cover "
            f"{len(present)} true stance(s) (have {have}); need at least {min_per_class} "
            "labels for each of at least two true stances", hint=hint)
    short = [s for s, n in zip(STANCES, counts, strict=True) if 0 < n < min_per_class]
    if short:
        raise InputError(
            f"too few labelled items to correct {what}: need at least {min_per_class} per "
            f"true stance present, have {have} (short: {', '.join(short)})", hint=hint)


def project_to_simplex(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of x onto the probability simplex {p ≥ 0, Σp = 1}.

    argmin_p ‖p − x‖₂ (Duchi et al. 2008, sort-based, exact): p = max(x − τ, 0) with the τ
    that makes p sum to 1. A row already on the simplex is returned unchanged.
    """
    x = np.asarray(x, dtype=float)
    k = x.shape[-1]
    u = -np.sort(-x, axis=-1)  # descending
    css = np.cumsum(u, axis=-1) - 1.0
    idx = np.arange(1, k + 1)
    rho = np.sum(u - css / idx > 0, axis=-1, keepdims=True)  # ≥ 1 always
    tau = np.take_along_axis(css, rho - 1, axis=-1) / rho
    return np.maximum(x - tau, 0.0)


def unmix(observed: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Raw solution π of Cᵀ π = v over the present classes (before projection).

    observed: (..., 3) values v; present: (..., K, 3) rows of C for the K present classes
    (broadcast against observed). Square and well-conditioned: the inverse; otherwise the
    least-squares solution with singular values below σ_max / MAX_CONDITION dropped
    (minimum norm). Returns (..., K).
    """
    ct_pinv = np.linalg.pinv(np.swapaxes(present, -1, -2), rcond=1.0 / MAX_CONDITION)  # (..., K, 3)
    return np.einsum("...kj,...j->...k", ct_pinv, observed)


def corrected_shares(
    observed: np.ndarray, present: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """True stance shares from observed values: (π (..., 3), projected (...,) bool).

    π over the present classes is unmix() projected onto their simplex; absent classes get
    0. `projected` says the raw solution left the simplex (by more than 1e-9).
    """
    raw = unmix(observed, present)
    shares = project_to_simplex(raw)
    moved = np.abs(shares - raw).max(axis=-1) > 1e-9
    out = np.zeros((*shares.shape[:-1], len(STANCES)))
    out[..., classes] = shares
    return out, moved


def confusion_replicates(
    judge_probs: np.ndarray, true_codes: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap replicates of C's present rows, (n_boot, K, 3), resampling within each class.

    Each replicate redraws, for every present true class i, its n_i labelled items with
    replacement, recomputes row i and rescales it about the estimate by √(n_i/(n_i − 1))
    (see rescale). Stratifying by true class keeps every row defined (no replicate loses a
    class); a row is a mean over its own class's items only, so this is its sampling noise.
    """
    probs = np.asarray(judge_probs, dtype=float)
    codes = np.asarray(true_codes, dtype=np.intp)
    rows = []
    for i in np.unique(codes):
        members = probs[codes == i]
        n = len(members)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # (B, n_i) draw counts
        rows.append(rescale(weights @ members / n, members.mean(axis=0), n))
    return np.stack(rows, axis=1)


# ------------------------------------------------------------------ value replicates

def paired_endpoint_replicates(
    df: pd.DataFrame, step_from: int, step_to: int, n_boot: int, seed: int = 0,
    design: str = "prompts",
) -> tuple[np.ndarray, np.ndarray]:
    """Paired replicates of (v_from, v_to) for one topic: two (n_boot, 3) arrays.

    bootstrap.paired_replicates' two ends (one resample of the prompts judged at both
    steps, shared by both; their difference is bootstrap.paired_drift_replicates, same
    seed and design). The correction is not linear after the projection, so it needs both
    ends, not their difference. Raises ValueError as paired_replicates does.
    """
    reps = paired_replicates(df, step_from, step_to, n_boot, seed, design)
    return reps.v_from, reps.v_to


# ------------------------------------------------------------------ frames


@dataclass(frozen=True)
class CorrectedValues:
    """corrected_topic_values' result: the values frame and what the correction used."""

    values: pd.DataFrame
    confusion: Confusion
    confusion_reps: np.ndarray
    design: str


def labelled_confusion(
    labelled: pd.DataFrame, min_labels_per_class: int = DEFAULT_MIN_LABELS_PER_CLASS,
    what: str = "the judge",
) -> tuple[Confusion, np.ndarray, np.ndarray]:
    """Confusion of labelled items (columns label, p_*), after the label-count check.

    Returns (confusion, judge probs (n, 3), true codes (n,)). Raises InputError when there
    are too few labels (check_label_counts), ValueError for an unknown label.
    """
    probs = labelled[list(PROB_COLUMNS)].to_numpy(dtype=float)
    codes = label_codes(labelled["label"].to_numpy())
    confusion = soft_confusion(probs, codes)
    check_label_counts(confusion.counts, min_labels_per_class, what)
    return confusion, probs, codes


def confusion_rng(seed: int) -> np.random.Generator:
    """The Generator for the labelled-item resample, shared by every group of one report."""
    return np.random.default_rng([seed, zlib.crc32(b"confusion")])


def corrected_topic_values(
    df: pd.DataFrame, labelled: pd.DataFrame, *, n_boot: int = 1000, confidence: float = 0.95,
    seed: int = 0, min_labels_per_class: int = DEFAULT_MIN_LABELS_PER_CLASS,
    what: str = "the judge", design: str = "prompts",
) -> CorrectedValues:
    """Misclassification-corrected v per (topic, step) with percentile bootstrap bounds.

    df: judged samples (topic, step, prompt_id, sample_idx, p_*, optional fraction), as for
    bootstrap_topic_values. labelled: the labelled items (label, p_* of the judge), pooled
    over topics; `what` names the judge in the too-few-labels error. Output columns:
    topic, step, [fraction], v_{s} (corrected), {s}_lo, {s}_hi, obs_{s} (the judge's plain
    v), projected, n_prompts, n_samples.

    Replicate b of a group combines that group's prompt replicate (value_replicates with
    `design`, seeded per (seed, topic, step) like bootstrap_topic_values) with ONE
    labelled-item replicate C_b shared by all groups: the judge is the same everywhere,
    so its error is common to every value. Bounds: bootstrap.bootstrap_bounds, as for
    the plain values (the 'prompts' design: Hesterberg's expanded percentile interval with
    the group's prompt count; 'two-stage': plain percentiles).
    Deterministic for a seed and independent of row order.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    check_design(design)
    confusion, lab_probs, lab_codes = labelled_confusion(labelled, min_labels_per_class, what)
    c_reps = confusion_replicates(lab_probs, lab_codes, n_boot, confusion_rng(seed))
    samples = judged_samples(df)
    out = topic_values(samples)
    probs = samples[list(PROB_COLUMNS)].to_numpy(dtype=float)
    prompt_ids = samples["prompt_id"].to_numpy()
    groups = samples.groupby(list(GROUP_KEYS), sort=True).indices
    observed = out[[f"v_{s}" for s in STANCES]].to_numpy(dtype=float)
    point, projected = corrected_shares(observed, confusion.present, confusion.classes)
    bounds = np.empty((len(out), 2, len(STANCES)))
    for row, (topic, step) in enumerate(zip(out["topic"], out["step"], strict=True)):
        rows = groups[(topic, step)]
        codes, _ = pd.factorize(prompt_ids[rows], sort=True)
        v_reps = value_replicates(probs[rows], codes, n_boot, group_rng(seed, topic, step), design)
        reps, _ = corrected_shares(v_reps, c_reps, confusion.classes)
        bounds[row] = bootstrap_bounds(reps, confidence, resampled_units(codes), design)
    for j, s in enumerate(STANCES):
        out[f"obs_{s}"] = observed[:, j]
        out[f"v_{s}"] = point[:, j]
        out[f"{s}_lo"] = bounds[:, 0, j]
        out[f"{s}_hi"] = bounds[:, 1, j]
    out["projected"] = projected
    return CorrectedValues(out, confusion, c_reps, design)


def corrected_drift(
    df: pd.DataFrame, corrected: CorrectedValues, step_from: int, step_to: int, *,
    confidence: float = 0.95, seed: int = 0,
) -> dict[str, dict[str, float | list[float] | None]]:
    """Corrected M_s = π_to − π_from of one topic, with its paired interval, per stance.

    `corrected` is corrected_topic_values' result for the same samples (its point values
    and C replicates are reused: replicate b uses the same C_b at both ends, since the
    judge's error is common to them). Returns {stance: {"M": float, "M_ci": [lo, hi] or
    None}}; M_ci is None when no prompt is judged at both steps. M is the difference of
    the two corrected values (all prompts of each step, like the plain M). Bounds as in
    corrected_topic_values, with paired_replicates' units (the shared prompts).
    """
    values = corrected.values
    topics = judged_samples(df)["topic"].unique()
    if len(topics) != 1:
        raise ValueError(f"expected judged samples of one topic, got {len(topics)}")
    by = values.set_index(["topic", "step"])
    ends = [by.loc[(topics[0], s)] for s in (step_from, step_to)]
    m = {s: float(ends[1][f"v_{s}"] - ends[0][f"v_{s}"]) for s in STANCES}
    n_boot, confusion = len(corrected.confusion_reps), corrected.confusion
    try:
        reps = paired_replicates(df, step_from, step_to, n_boot, seed, corrected.design)
    except ValueError:  # no prompt judged at both steps
        return {s: {"M": m[s], "M_ci": None} for s in STANCES}
    pi_from, _ = corrected_shares(reps.v_from, corrected.confusion_reps, confusion.classes)
    pi_to, _ = corrected_shares(reps.v_to, corrected.confusion_reps, confusion.classes)
    lo, hi = bootstrap_bounds(pi_to - pi_from, confidence, reps.n_units, corrected.design)
    return {s: {"M": m[s], "M_ci": [float(lo[j]), float(hi[j])]} for j, s in enumerate(STANCES)}


# ------------------------------------------------------------------ choosing the labels


def majority_labels(rows: pd.DataFrame) -> pd.DataFrame:
    """One label per sample_id: the most frequent over sources, ties to the newest label.

    rows: sample_id, source, label, created_at (plus any per-sample columns, e.g. the
    judge's p_*, kept from the first row). Adds n_annotators.
    """
    stats = (rows.groupby(["sample_id", "label"], sort=True)
             .agg(votes=("source", "size"), latest=("created_at", "max")).reset_index())
    stats = stats.sort_values(["sample_id", "votes", "latest"], ascending=[True, False, False])
    best = stats.drop_duplicates("sample_id")[["sample_id", "label"]]
    n = rows.groupby("sample_id")["source"].nunique().rename("n_annotators").reset_index()
    per_sample = rows.drop(columns=["source", "label", "created_at"]).drop_duplicates("sample_id")
    return best.merge(n, on="sample_id").merge(per_sample, on="sample_id")


def select_reference(
    rows: pd.DataFrame, reference: str | None, judge_id: str
) -> tuple[pd.DataFrame, str, list[str]]:
    """Pick the labelled items to correct with: (items, reference name, sources used).

    rows: every usable reference label on a sample the judge judged (sample_id, source,
    label, created_at, p_* of the judge). reference: 'human' (every 'human:*' source, one
    majority label per sample), an exact source (e.g. 'openai:gpt-4o@host' or
    'human:alice'), or None: human labels if any, else the source with the newest label.
    Raises InputError when there are no labels, or none from the requested reference.
    """
    if rows.empty:
        raise InputError(
            f"no reference labels on samples judged by {judge_id!r}, so its "
            "misclassification rates are unknown",
            hint="label samples in the TUI (vdbench tui --db DB, labelling mode: s/n/o) or run "
                 f"vdbench calibrate --db DB --run RUN --judge {judge_id}")
    is_human = rows["source"].str.startswith("human:")
    if reference is None:
        reference = HUMAN if is_human.any() else str(
            rows.groupby("source")["created_at"].max().sort_values(kind="stable").index[-1])
    chosen = rows[is_human] if reference == HUMAN else rows[rows["source"] == reference]
    if chosen.empty:
        counts = rows.groupby("source").size()
        have = ", ".join(f"{s} ({n})" for s, n in counts.items())
        raise InputError(f"no labels from reference {reference!r} on samples judged by {judge_id!r}",
                         hint=f"sources with labels: {have}; 'human' pools every human:* source")
    sources = sorted(chosen["source"].unique().tolist())
    items = majority_labels(chosen) if reference == HUMAN else chosen.drop(columns=["created_at"])
    return items.sort_values("sample_id").reset_index(drop=True), reference, sources
