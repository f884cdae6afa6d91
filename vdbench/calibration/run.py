"""Calibration against the store: draw a stratified sample of a run's judged samples,
collect reference labels (from an endpoint, in resumable batches, or from human labels
already stored), fit a scaling of the local judge, store it, and apply the latest fit.

The maths lives in :mod:`vdbench.calibration.metrics` and :mod:`.scaling`; this module
only reads and writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from vdbench.calibration.metrics import agreement_report
from vdbench.calibration.scaling import (
    PROB_COLUMNS,
    apply_calibration,
    calibrate_frame,
    cross_validated_probs,
    fit_calibration,
)
from vdbench.errors import InputError
from vdbench.evalsets.topics import STANCES
from vdbench.judges.base import JudgeItem, JudgeScore
from vdbench.judges.openai_judge import NO_LETTER_NOTE
from vdbench.store import Store, insert_arrow, stable_id

NO_LABEL = "none"  # reference_labels.label when the reference gave no usable answer
MIN_FIT_LABELS = 10
STRATA = ("topic", "step")


class LabellingJudge(Protocol):
    source: str

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]: ...


# ------------------------------------------------------------------ sampling (pure)


def stratified_sample(
    frame: pd.DataFrame, n: int, seed: int = 0, by: Sequence[str] = STRATA
) -> pd.DataFrame:
    """At most `n` rows spread as evenly as possible over the strata (default topic × step).

    Rows are taken round robin over the strata, each stratum's rows in a seeded random
    order, so every stratum gives ⌊n/S⌋ or ⌈n/S⌉ rows, or all it has if fewer. The strata
    are visited in a Latin-square order (topics in a random order, each topic's steps a
    rotation of one random order), so with fewer rows than strata the topics and the steps
    are each still covered as evenly as possible. Nested: the sample for n is contained in
    the sample for any larger n with the same seed, so raising --n reuses reference labels
    already paid for. Deterministic for a given frame, n and seed; sorted by stratum, then
    sample_id.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if n >= len(frame):
        return frame.sort_values([*by, "sample_id"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    ordered = frame.sort_values("sample_id", kind="stable").reset_index(drop=True)
    groups = ordered.groupby(list(by), sort=True).indices
    keys = sorted(groups)
    majors = sorted({k[0] for k in keys})
    minors = sorted({k[1:] for k in keys})
    major_pos = dict(zip(majors, rng.permutation(len(majors)).tolist(), strict=True))
    minor_pos = dict(zip(minors, rng.permutation(len(minors)).tolist(), strict=True))
    positions, rounds, ranks = [], [], []
    for key in keys:
        i = major_pos[key[0]]
        # The minor key's turn within its major: a rotation of one shared random order.
        turn = (minor_pos[key[1:]] - i) % len(minors)
        members = rng.permutation(groups[key])
        positions.append(members)
        rounds.append(np.arange(members.size))
        ranks.append(np.full(members.size, turn * len(majors) + i))
    order = np.lexsort((np.concatenate(ranks), np.concatenate(rounds)))
    picked = np.concatenate(positions)[order[:n]]
    return ordered.iloc[picked].sort_values([*by, "sample_id"]).reset_index(drop=True)


# ------------------------------------------------------------------ reading


def judged_candidates(store: Store, run_id: str, judge_id: str) -> pd.DataFrame:
    """The run's samples judged by `judge_id`, with prompt, proposition, response and p_*."""
    with store.read() as con:
        return con.execute(
            """
            SELECT s.sample_id, s.run_id, s.step, s.topic, s.prompt_id, s.sample_idx,
                   p.text AS prompt, t.proposition, s.text AS response,
                   j.p_support, j.p_neutral, j.p_oppose
            FROM judgments j
            JOIN samples s USING (sample_id)
            JOIN prompts p ON p.eval_set = s.eval_set AND p.prompt_id = s.prompt_id
            JOIN topics t ON t.eval_set = s.eval_set AND t.topic = s.topic
            WHERE j.run_id = ? AND j.judge_id = ?
            ORDER BY s.sample_id
            """,
            [run_id, judge_id],
        ).df()


def stored_reference(
    store: Store, source: str, sample_ids: Sequence[int] | None = None
) -> pd.DataFrame:
    """Reference labels of one source (sample_id, label, p_*); optionally only these ids."""
    with store.read() as con:
        frame = con.execute(
            "SELECT sample_id, label, p_support, p_neutral, p_oppose FROM reference_labels "
            "WHERE source = ? ORDER BY sample_id",
            [source],
        ).df()
    if sample_ids is not None:
        frame = frame[frame["sample_id"].isin(list(sample_ids))]
    return frame.reset_index(drop=True)


def human_reference(store: Store, run_id: str) -> pd.DataFrame:
    """One label per human-labelled sample of the run: the annotators' majority.

    Ties go to the most recent of the tied labels. Columns: sample_id, label, n_annotators.
    """
    with store.read() as con:
        rows = con.execute(
            """
            SELECT r.sample_id, r.label, r.source, r.created_at
            FROM reference_labels r JOIN samples s USING (sample_id)
            WHERE r.source LIKE 'human:%' AND s.run_id = ? AND r.label IN ('support', 'neutral', 'oppose')
            """,
            [run_id],
        ).df()
    if rows.empty:
        return pd.DataFrame(
            {
                "sample_id": pd.Series(dtype="int64"),
                "label": pd.Series(dtype=object),
                "n_annotators": pd.Series(dtype="int64"),
            }
        )
    stats = (
        rows.groupby(["sample_id", "label"])
        .agg(votes=("source", "size"), latest=("created_at", "max"))
        .reset_index()
    )
    stats = stats.sort_values(["sample_id", "votes", "latest"], ascending=[True, False, False])
    best = stats.drop_duplicates("sample_id")[["sample_id", "label"]]
    counts = rows.groupby("sample_id")["source"].nunique().rename("n_annotators").reset_index()
    return best.merge(counts, on="sample_id").reset_index(drop=True)


# ------------------------------------------------------------------ labelling (writes)


def reference_rows(
    source: str, sample_ids: Sequence[int], scores: Sequence[JudgeScore]
) -> pa.Table:
    """Arrow rows for `reference_labels`; a reply without a label letter is stored as 'none'."""
    unusable = [s.note is not None and NO_LETTER_NOTE in s.note for s in scores]
    return pa.table(
        {
            "source": [source] * len(scores),
            "sample_id": pa.array(list(sample_ids), pa.int64()),
            "label": [
                NO_LABEL if bad else s.label for s, bad in zip(scores, unusable, strict=True)
            ],
            "p_support": pa.array(
                [None if bad else s.p_support for s, bad in zip(scores, unusable, strict=True)],
                pa.float64(),
            ),
            "p_neutral": pa.array(
                [None if bad else s.p_neutral for s, bad in zip(scores, unusable, strict=True)],
                pa.float64(),
            ),
            "p_oppose": pa.array(
                [None if bad else s.p_oppose for s, bad in zip(scores, unusable, strict=True)],
                pa.float64(),
            ),
        }
    )


def label_with_judge(
    store: Store,
    judge: LabellingJudge,
    samples: pd.DataFrame,
    batch_size: int = 32,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Reference-label `samples` with `judge`, one committed transaction per batch.

    Samples already labelled by ``judge.source`` are skipped, so a killed or failed run
    resumes where it stopped; a failing batch writes nothing. Returns rows written.
    `on_batch(done, total)` is called after each stored batch.
    """
    done_ids = set(stored_reference(store, judge.source)["sample_id"].tolist())
    todo = samples[~samples["sample_id"].isin(done_ids)]
    written = 0
    total = len(todo)
    for start in range(0, total, batch_size):
        batch = todo.iloc[start : start + batch_size]
        items = [
            JudgeItem(
                topic=r.topic, proposition=r.proposition, prompt=r.prompt, response=r.response
            )
            for r in batch.itertuples()
        ]
        scores = judge.score(items)
        with store.write() as con:
            written += insert_arrow(
                con,
                "reference_labels",
                reference_rows(judge.source, batch["sample_id"].tolist(), scores),
            )
        if on_batch:
            on_batch(min(start + batch_size, total), total)
    return written


# ------------------------------------------------------------------ fitting


@dataclass(frozen=True)
class CalibrationResult:
    calibration_id: str
    judge_id: str
    reference: str
    method: str
    params: dict[str, Any]
    report: dict[str, Any]


def fit_from_labels(
    candidates: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    judge_id: str,
    reference_source: str,
    method: str,
    n_bins: int = 10,
    seed: int = 0,
    run_id: str | None = None,
) -> CalibrationResult:
    """Fit `method` on the local judge's p_* (in `candidates`) vs `reference` labels (pure).

    Reference rows labelled 'none' are counted as unusable and left out. The report holds
    the measures before, after (in-sample) and after with 5-fold cross-validation.
    """
    merged = candidates.merge(reference[["sample_id", "label"]], on="sample_id", how="inner")
    usable = merged[merged["label"].isin(STANCES)]
    if len(usable) < MIN_FIT_LABELS:
        raise InputError(
            f"only {len(usable)} usable reference labels (of {len(merged)}); need at least "
            f"{MIN_FIT_LABELS} to fit a calibration",
            hint="raise --n, or check the reference's replies (label 'none' = no letter given)",
        )
    probs = usable[list(PROB_COLUMNS)].to_numpy(dtype=np.float64)
    labels = usable["label"].tolist()
    params = fit_calibration(probs, labels, method)
    after = apply_calibration(probs, params)
    cv = cross_validated_probs(probs, labels, method, seed=seed)
    report = {
        "run": run_id,
        "judge_id": judge_id,
        "reference": reference_source,
        "method": method,
        "n_labelled": int(len(merged)),
        "n_used": int(len(usable)),
        "n_unusable": int(len(merged) - len(usable)),
        "reference_label_counts": {s: int((usable["label"] == s).sum()) for s in STANCES},
        "seed": seed,
        "bins": n_bins,
        "params": params,
        "before": agreement_report(probs, labels, n_bins),
        "after": agreement_report(after, labels, n_bins),
        "after_cross_validated": None if cv is None else agreement_report(cv, labels, n_bins),
    }
    ids = ",".join(map(str, sorted(usable["sample_id"].tolist())))
    key = stable_id("calibration", judge_id, reference_source, method, n_bins, seed, ids)
    return CalibrationResult(
        f"cal-{key & 0xFFFFFFFFFFFFFFFF:016x}", judge_id, reference_source, method, params, report
    )


def store_calibration(store: Store, result: CalibrationResult) -> None:
    """Write (or refresh: same judge, reference, method and labels) one calibration row."""
    with store.write() as con:
        con.execute(
            "INSERT OR REPLACE INTO calibrations (calibration_id, judge_id, reference, method, "
            "params, report, created_at) VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
            [
                result.calibration_id,
                result.judge_id,
                result.reference,
                result.method,
                json.dumps(result.params),
                json.dumps(result.report),
            ],
        ).fetchall()


# ------------------------------------------------------------------ applying


def latest_calibration(store: Store, judge_id: str) -> dict[str, Any] | None:
    """The newest stored calibration of a judge as a dict (params and report parsed), or None."""
    with store.read() as con:
        row = con.execute(
            "SELECT calibration_id, judge_id, reference, method, params, report, created_at "
            "FROM calibrations WHERE judge_id = ? ORDER BY created_at DESC, calibration_id "
            "LIMIT 1",
            [judge_id],
        ).fetchone()
    if row is None:
        return None
    keys = ("calibration_id", "judge_id", "reference", "method", "params", "report", "created_at")
    record = dict(zip(keys, row, strict=True))
    record["params"] = json.loads(record["params"])
    record["report"] = json.loads(record["report"])
    return record


def load_calibration(store: Store, judge_id: str) -> dict[str, Any] | None:
    """The params of the newest calibration of `judge_id` (for apply_calibration), or None."""
    record = latest_calibration(store, judge_id)
    return None if record is None else record["params"]


def apply_latest_calibration(store: Store, judge_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its p_support/p_neutral/p_oppose (and label) replaced by calibrated values.

    Uses the newest calibration of `judge_id`; raises InputError when it has none. This is
    what `--calibrated` options call.
    """
    params = load_calibration(store, judge_id)
    if params is None:
        raise InputError(
            f"judge {judge_id!r} has no calibration in {store.path}",
            hint="fit one first: vdbench calibrate --db DB --run RUN "
            f"--judge {judge_id} --reference openai|human",
        )
    return calibrate_frame(frame, params)


def human_labelled_items(store: Store, run_id: str) -> pd.DataFrame:
    """The run's human-labelled samples with their texts: sample_id, topic, proposition,
    prompt, response, label (the annotators' majority), n_annotators."""
    labels = human_reference(store, run_id)
    with store.read() as con:
        texts = con.execute(
            """
            SELECT s.sample_id, s.topic, t.proposition, p.text AS prompt, s.text AS response
            FROM samples s
            JOIN prompts p ON p.eval_set = s.eval_set AND p.prompt_id = s.prompt_id
            JOIN topics t ON t.eval_set = s.eval_set AND t.topic = s.topic
            WHERE s.run_id = ?
            """,
            [run_id],
        ).df()
    return texts.merge(labels, on="sample_id").sort_values("sample_id").reset_index(drop=True)
