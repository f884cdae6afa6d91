"""Judges and judgments in the store: register a judge identity, write scores in bulk,
find what is still unjudged (so `judge run` resumes after a kill without duplicates)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from vdbench.judges.base import JudgeIdentity, JudgeScore
from vdbench.store import Store, insert_arrow


def register_judge(con: duckdb.DuckDBPyConnection, identity: JudgeIdentity) -> None:
    con.execute(
        "INSERT OR IGNORE INTO judges (judge_id, name, backend, model, template_hash, model_hash, "
        "manifest) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [identity.judge_id, identity.name, identity.backend, identity.model,
         identity.template_hash, identity.model_hash, json.dumps(identity.manifest, default=str)],
    ).fetchall()


def unjudged_samples(store: Store, run_id: str, judge_id: str, limit: int | None = None) -> pd.DataFrame:
    """Samples of the run with no judgment by this judge, with their topic's proposition."""
    sql = """
        SELECT s.sample_id, s.run_id, s.step, s.topic, s.prompt_id, s.sample_idx,
               p.text AS prompt, t.proposition, s.text AS response
        FROM samples s
        JOIN prompts p ON p.eval_set = s.eval_set AND p.prompt_id = s.prompt_id
        JOIN topics t ON t.eval_set = s.eval_set AND t.topic = s.topic
        WHERE s.run_id = ?
          AND NOT EXISTS (SELECT 1 FROM judgments j WHERE j.judge_id = ? AND j.sample_id = s.sample_id)
        ORDER BY s.step, s.sample_id
    """
    params: list = [run_id, judge_id]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    with store.read() as con:
        return con.execute(sql, params).df()


def judgments_table(judge_id: str, samples: pd.DataFrame, scores: Sequence[JudgeScore]) -> pa.Table:
    """Arrow rows for `judgments`; `samples` carries sample_id, run_id, step, topic, prompt_id."""
    return pa.table({
        "judge_id": [judge_id] * len(scores),
        "sample_id": pa.array(samples["sample_id"].to_numpy(), pa.int64()),
        "run_id": samples["run_id"].tolist(),
        "step": pa.array(samples["step"].to_numpy(), pa.int32()),
        "topic": samples["topic"].tolist(),
        "prompt_id": samples["prompt_id"].tolist(),
        "p_support": [s.p_support for s in scores],
        "p_neutral": [s.p_neutral for s in scores],
        "p_oppose": [s.p_oppose for s in scores],
        "label": [s.label for s in scores],
        "truncated": [s.truncated for s in scores],
        "note": [s.note for s in scores],
        "ood": pa.array([s.ood for s in scores], pa.float64()),
    })


def write_judgments(store: Store, identity: JudgeIdentity, samples: pd.DataFrame,
                    scores: Sequence[JudgeScore]) -> int:
    """Store one batch of judgments in one transaction; returns rows newly added."""
    if len(samples) != len(scores):
        raise ValueError(f"{len(samples)} samples but {len(scores)} scores")
    with store.write() as con:
        register_judge(con, identity)
        return insert_arrow(con, "judgments", judgments_table(identity.judge_id, samples, scores))
