"""Judge health as the TUI shows it: per checkpoint × topic (and pooled), from the store.

Headless (no Textual) and numpy/pandas only: the flags come from
:func:`vdbench.judge_health.health_flags`, the same rule `vdbench metrics` applies
(`run_metrics(...)["judge_health"]`), so both report the same shares (tested). The grouping is
vectorised (one pass over the run's judgments, not one per group) because it runs on every
reload of a run; :func:`health_frame` equals :func:`vdbench.judge_health.frame_health` row
for row (tested).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vdbench.judge_health import (
    DEFAULT_MIN_CONFIDENCE,
    UNRELIABLE_SHARE,
    confidence,
    health_flags,
    health_label,
    ood_threshold_of,
)

ALL_TOPICS = "(all topics)"  # the pooled pseudo-topic, as in vdbench.tui.data and vdbench metrics
HEALTH_COLUMNS = ("step", "topic", "n", "mean_confidence", "low_confidence", "ood", "flagged",
                  "reliable")


@dataclass
class JudgeHealth:
    """One run's judge health: a row per (step, topic), ALL_TOPICS included.

    `frame` columns: HEALTH_COLUMNS; shares in [0, 1]; `ood` is None/NaN where the judge
    measured no OOD distance (then `flagged` counts low confidence only).
    """

    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    ood_threshold: float | None = None
    ood_measured: bool = False
    frame: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(HEALTH_COLUMNS)))

    def at(self, step: int) -> dict[str, dict[str, Any]]:
        """{topic: health row} at one checkpoint (empty when nothing is judged there)."""
        rows = self.frame[self.frame["step"] == step] if not self.frame.empty else self.frame
        return {str(r["topic"]): r for r in rows.to_dict("records")}

    def curve(self, topic: str) -> list[dict[str, Any]]:
        """The topic's health rows in step order (one per judged checkpoint)."""
        if self.frame.empty:
            return []
        rows = self.frame[self.frame["topic"] == topic].sort_values("step")
        return rows.to_dict("records")

    def worst(self, topic: str) -> dict[str, Any] | None:
        """The topic's checkpoint with the largest flagged share (None when nothing is judged)."""
        rows = self.curve(topic)
        return max(rows, key=lambda r: (r["flagged"], -r["step"])) if rows else None


def health_frame(frame: pd.DataFrame, by: list[str], *, min_confidence: float,
                 ood_threshold: float | None) -> pd.DataFrame:
    """`frame_health` as a DataFrame, in one vectorised pass (columns: by + health_row's keys).

    A group whose OOD distances are all missing gets ood = None and flags low confidence
    only, exactly as health_row does for it; no row for an empty frame.
    """
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


def run_judge_health(judgments: pd.DataFrame, manifest: Mapping[str, Any] | None, *,
                     min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> JudgeHealth:
    """Judge health of one run's judgments (queries.judgment_confidence) per step × topic,
    plus ALL_TOPICS per step (every judgment of the checkpoint pooled)."""
    threshold = ood_threshold_of(manifest)
    measured = bool(threshold is not None and not judgments.empty and judgments["ood"].notna().any())
    if judgments.empty:
        return JudgeHealth(min_confidence, threshold, measured)
    pooled = judgments.assign(topic=ALL_TOPICS)
    frame = pd.concat([health_frame(part, ["step", "topic"], min_confidence=min_confidence,
                                    ood_threshold=threshold) for part in (pooled, judgments)],
                      ignore_index=True)
    frame["step"] = frame["step"].astype(int)
    return JudgeHealth(min_confidence, threshold, measured, frame)


def run_judgments(con: duckdb.DuckDBPyConnection, run_id: str, judge_id: str) -> pd.DataFrame:
    """One row per judgment of the run: step, topic, prompt_id, p_*, ood (NaN if unmeasured)."""
    return con.execute(
        "SELECT step, topic, prompt_id, p_support, p_neutral, p_oppose, ood FROM judgments "
        "WHERE run_id = ? AND judge_id = ? ORDER BY step, topic, prompt_id, sample_id",
        [run_id, judge_id]).df()


def judge_manifest(con: duckdb.DuckDBPyConnection, judge_id: str) -> dict[str, Any]:
    """The manifest the judge was registered with ({} when none); its OOD threshold lives there."""
    row = con.execute("SELECT manifest FROM judges WHERE judge_id = ?", [judge_id]).fetchone()
    if not row or not row[0]:
        return {}
    value = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return dict(value) if isinstance(value, Mapping) else {}


def load_judge_health(con: duckdb.DuckDBPyConnection, run_id: str, judge_id: str, *,
                      min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> JudgeHealth:
    """Judge health of a run as judged by judge_id, on an open connection."""
    return run_judge_health(run_judgments(con, run_id, judge_id), judge_manifest(con, judge_id),
                            min_confidence=min_confidence)


def short_label(row: Mapping[str, Any] | None) -> str:
    """health_label without the leading 'judge ': `ok 8%`, `weak 35%`, `GUESSING 71%`, `?`."""
    return health_label(row).removeprefix("judge ")


def flag_glyph(row: Mapping[str, Any] | None) -> str:
    """One character per health_label word: ✓ ok, ~ weak, ! GUESSING, ? unknown."""
    word = short_label(row).split(" ")[0]
    return {"ok": "✓", "weak": "~", "GUESSING": "!"}.get(word, "?")
