"""The audit report of one dataset and judge, read from the store: gap statistics per
dataset (all judged pairs, on-topic pairs, off-topic pairs) and per topic, Δ histograms."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from vdbench.audit.judging import JUDGE_TOPIC_SQL
from vdbench.audit.stats import DEFAULT_BINS, gap_stats, margin_histogram, stance_margin
from vdbench.audit.topics import OFF_TOPIC
from vdbench.store import Store

_PROBS = ("p_support", "p_neutral", "p_oppose")


def judged_pairs(store: Store, dataset_id: str, judge_id: str) -> pd.DataFrame:
    """One row per pair with both sides judged against its current topic.

    Columns: pair_id, topic, judge_topic, flags, c_p_support.., r_p_support..
    """
    sql = f"""
        WITH p AS (SELECT *, {JUDGE_TOPIC_SQL} AS judge_topic FROM pref_pairs p
                   WHERE p.dataset_id = ?)
        SELECT p.pair_id, p.topic, p.judge_topic, p.flags,
               c.p_support AS c_p_support, c.p_neutral AS c_p_neutral, c.p_oppose AS c_p_oppose,
               r.p_support AS r_p_support, r.p_neutral AS r_p_neutral, r.p_oppose AS r_p_oppose
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


def gap_report(
    df: pd.DataFrame,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
) -> dict:
    """Statistics and histograms for the pairs in `df` (as :func:`judged_pairs` returns)."""
    chosen = df[[f"c_{c}" for c in _PROBS]].to_numpy(float)
    rejected = df[[f"r_{c}" for c in _PROBS]].to_numpy(float)
    margins = stance_margin(chosen, rejected) if len(df) else np.zeros(0)
    on_topic = (df["topic"].notna() & (df["topic"] != OFF_TOPIC)).to_numpy()

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

    everything = np.ones(len(df), bool)
    groups = {"all": everything, "on_topic": on_topic, "off_topic": ~on_topic}
    per_topic = {}
    for topic in sorted(df.loc[on_topic, "topic"].unique()):
        mask = (df["topic"] == topic).to_numpy()
        per_topic[topic] = stats(f"topic:{topic}", mask) | {"histogram": hist(mask)}
    edges = margin_histogram(np.zeros(0), bins)[1]
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
    }
