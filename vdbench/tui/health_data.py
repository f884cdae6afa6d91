"""Judge health as the TUI shows it: per checkpoint × topic (and pooled), from the store.

Headless (no Textual) and numpy/pandas only: the flags come from
:func:`vdbench.judge_health.health_flags`, the same rule `vdbench metrics` applies
(`run_metrics(...)["judge_health"]`), so both report the same shares (tested). The grouping is
vectorised (one pass over the run's judgments, not one per group) because it runs on every
reload of a run (:func:`vdbench.judge_health.health_frame`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from vdbench import queries
from vdbench.judge_health import (
    DEFAULT_MIN_CONFIDENCE,
    health_frame,
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


def load_judge_health(con: duckdb.DuckDBPyConnection, run_id: str, judge_id: str, *,
                      min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> JudgeHealth:
    """Judge health of a run as judged by judge_id, on an open connection."""
    return run_judge_health(queries.judgment_confidence(con, run_id, judge_id),
                            queries.judge_manifest(con, judge_id), min_confidence=min_confidence)


def short_label(row: Mapping[str, Any] | None) -> str:
    """health_label without the leading 'judge ': `ok 8%`, `weak 35%`, `GUESSING 71%`, `?`."""
    return health_label(row).removeprefix("judge ")


def flag_glyph(row: Mapping[str, Any] | None) -> str:
    """One character per health_label word: ✓ ok, ~ weak, ! GUESSING, ? unknown."""
    word = short_label(row).split(" ")[0]
    return {"ok": "✓", "weak": "~", "GUESSING": "!"}.get(word, "?")
