"""The audit report of one dataset and judge, read from the store: gap statistics per
dataset (all judged pairs, on-topic pairs, off-topic pairs) and per topic, Δ histograms,
the judge's health on the audited responses (vdbench.judge_health), and the same gap
statistics again on the confidently judged pairs only (both sides unflagged)."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from vdbench.audit.judging import JUDGE_TOPIC_SQL
from vdbench.audit.stats import DEFAULT_BINS, gap_stats, margin_histogram, stance_margin
from vdbench.audit.topics import OFF_TOPIC
from vdbench.errors import InputError
from vdbench.judge_health import (
    DEFAULT_MIN_CONFIDENCE,
    flagged,
    health_flags,
    health_label,
    health_row,
    ood_threshold_of,
)
from vdbench.store import Store

_PROBS = ("p_support", "p_neutral", "p_oppose")
HEALTH_RULE = (
    "a judgment is flagged when its confidence (top probability) is below min_confidence or "
    "its OOD distance is above the judge's ood_threshold; a pair is confidently judged when "
    "neither side is flagged"
)


def check_min_confidence(value: float) -> float:
    """`value` if it is a probability in [0, 1], else InputError naming the option."""
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise InputError(
            f"--min-confidence must be between 0 and 1, got {value}",
            hint="a judgment whose top stance probability is below it is flagged "
            f"(default {DEFAULT_MIN_CONFIDENCE}; below 1/3 nothing is flagged)",
        )
    return value


def judge_ood_threshold(store: Store, judge_id: str) -> float | None:
    """The OOD threshold of the judge's stored manifest (None: it measures no OOD distance)."""
    from vdbench import queries

    if not store.path.exists():
        return None
    with store.read() as con:
        return ood_threshold_of(queries.judge_manifest(con, judge_id))


def judged_pairs(store: Store, dataset_id: str, judge_id: str) -> pd.DataFrame:
    """One row per pair with both sides judged against its current topic.

    Columns: pair_id, topic, judge_topic, flags, c_p_support.., c_ood, r_p_support.., r_ood
    (ood NaN where the judge measures none).
    """
    sql = f"""
        WITH p AS (SELECT *, {JUDGE_TOPIC_SQL} AS judge_topic FROM pref_pairs p
                   WHERE p.dataset_id = ?)
        SELECT p.pair_id, p.topic, p.judge_topic, p.flags,
               c.p_support AS c_p_support, c.p_neutral AS c_p_neutral, c.p_oppose AS c_p_oppose,
               c.ood AS c_ood,
               r.p_support AS r_p_support, r.p_neutral AS r_p_neutral, r.p_oppose AS r_p_oppose,
               r.ood AS r_ood
        FROM p
        JOIN pair_judgments c ON c.judge_id = ? AND c.dataset_id = p.dataset_id
             AND c.pair_id = p.pair_id AND c.side = 'chosen' AND c.topic = p.judge_topic
        JOIN pair_judgments r ON r.judge_id = ? AND r.dataset_id = p.dataset_id
             AND r.pair_id = p.pair_id AND r.side = 'rejected' AND r.topic = p.judge_topic
        ORDER BY p.pair_id
    """
    with store.read() as con:
        return con.execute(sql, [dataset_id, judge_id, judge_id]).df()


def _group_seed(seed: int, name: str) -> np.random.Generator:
    # Keyed on the group's name: one group's interval does not depend on which others exist.
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _side(df: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray | None]:
    probs = df[[f"{side}_{c}" for c in _PROBS]].to_numpy(float)
    column = f"{side}_ood"
    return probs, (df[column].to_numpy(float) if column in df else None)


def confidently_judged(
    df: pd.DataFrame, *, min_confidence: float, ood_threshold: float | None
) -> np.ndarray:
    """Boolean per pair of `df`: neither the chosen nor the rejected judgment is flagged."""
    ok = np.ones(len(df), bool)
    for side in ("c", "r"):
        probs, ood = _side(df, side)
        low, far = health_flags(
            probs, ood, min_confidence=min_confidence, ood_threshold=ood_threshold
        )
        ok &= ~flagged(low, far)
    return ok


def responses_health(
    df: pd.DataFrame,
    mask: np.ndarray,
    confident: np.ndarray,
    *,
    min_confidence: float,
    ood_threshold: float | None,
) -> dict:
    """judge_health.health_row of the group's responses (both sides), plus pair counts.

    `n` counts responses (two per pair); `confident_pairs` is the share of the group's pairs
    with neither side flagged (None for an empty group); `label` is health_label's reading.
    """
    (cp, co), (rp, ro) = _side(df[mask], "c"), _side(df[mask], "r")
    ood = None if co is None or ro is None else np.concatenate([co, ro])
    row = health_row(
        np.vstack([cp, rp]), ood, min_confidence=min_confidence, ood_threshold=ood_threshold
    )
    n_pairs = int(mask.sum())
    row["n_pairs"] = n_pairs
    row["n_confident_pairs"] = int(confident[mask].sum())
    row["confident_pairs"] = float(confident[mask].mean()) if n_pairs else None
    row["label"] = health_label(row)
    return row


def gap_report(
    df: pd.DataFrame,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    ood_threshold: float | None = None,
) -> dict:
    """Statistics and histograms for the pairs in `df` (as :func:`judged_pairs` returns).

    `judge_health` reads the judge's health on the responses of each group and topic;
    `confident` repeats the gap statistics on the confidently judged pairs only. A group
    keeps its bootstrap seed there, so with no flagged pair both blocks are identical.
    `ood_threshold` None: only confidence flags a judgment.
    """
    check_min_confidence(min_confidence)
    chosen = df[[f"c_{c}" for c in _PROBS]].to_numpy(float)
    rejected = df[[f"r_{c}" for c in _PROBS]].to_numpy(float)
    margins = stance_margin(chosen, rejected) if len(df) else np.zeros(0)
    on_topic = (df["topic"].notna() & (df["topic"] != OFF_TOPIC)).to_numpy()
    confident = confidently_judged(df, min_confidence=min_confidence, ood_threshold=ood_threshold)

    def stats(name: str, mask: np.ndarray) -> dict | None:
        result = gap_stats(
            chosen[mask],
            rejected[mask],
            n_boot=n_boot,
            confidence=confidence,
            seed=_group_seed(seed, name),
        )
        return result.as_dict() if result else None

    def hist(mask: np.ndarray) -> list[int]:
        return [int(c) for c in margin_histogram(margins[mask], bins)[0]]

    def health(mask: np.ndarray) -> dict:
        return responses_health(
            df, mask, confident, min_confidence=min_confidence, ood_threshold=ood_threshold
        )

    everything = np.ones(len(df), bool)
    groups = {"all": everything, "on_topic": on_topic, "off_topic": ~on_topic}
    topics = {
        str(topic): (df["topic"] == topic).to_numpy()
        for topic in sorted(df.loc[on_topic, "topic"].unique())
    }
    per_topic = {
        # an on-topic topic has pairs, so its stats are never None
        t: (stats(f"topic:{t}", mask) or {}) | {"histogram": hist(mask)}
        for t, mask in topics.items()
    }
    edges = margin_histogram(np.zeros(0), bins)[1]
    ood_seen = any(c in df and bool(df[c].notna().any()) for c in ("c_ood", "r_ood"))
    return {
        "groups": {name: stats(name, mask) for name, mask in groups.items()},
        "per_topic": per_topic,
        "histogram": {"edges": [float(e) for e in edges]}
        | {name: hist(m) for name, m in groups.items()},
        "bootstrap": {
            "method": "percentile bootstrap over pairs",
            "n_boot": n_boot,
            "confidence": confidence,
            "seed": seed,
        },
        "judge_health": {
            "min_confidence": min_confidence,
            "ood_threshold": ood_threshold,
            "ood_measured": ood_threshold is not None and ood_seen,
            "rule": HEALTH_RULE,
            "groups": {name: health(mask) for name, mask in groups.items()},
            "per_topic": {t: health(mask) for t, mask in topics.items()},
        },
        "confident": {
            "n_pairs": int(confident.sum()),
            "share": float(confident.mean()) if len(df) else None,
            "groups": {name: stats(name, mask & confident) for name, mask in groups.items()},
            "per_topic": {t: stats(f"topic:{t}", mask & confident) for t, mask in topics.items()},
        },
    }
