"""A synthetic example store: a base → SFT → DPO lineage with judged samples whose stance
curves have a known shape. Used by the quick-start (before a model is involved), tests,
the TUI's development store and the benchmarks. No model runs here."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vdbench.evalsets.registry import builtin_eval_set
from vdbench.evalsets.stored import register_eval_set
from vdbench.judges.base import JudgeIdentity
from vdbench.judgments import register_judge
from vdbench.runs import RunSpec, register_run
from vdbench.store import Store, insert_arrow, sample_id

EXAMPLE_JUDGE = JudgeIdentity(
    judge_id="example:synthetic", name="example", backend="synthetic",
    model="none (synthetic probabilities)", template_hash="0" * 16, model_hash="0" * 16,
)


def _curve(start: np.ndarray, end: np.ndarray, fractions: np.ndarray, speed: float) -> np.ndarray:
    """Stance distributions moving from start to end, fast early (1 − e^{−speed·f})."""
    w = (1 - np.exp(-speed * fractions)) / (1 - np.exp(-speed))
    return start[None, :] + w[:, None] * (end - start)[None, :]


def build_example_store(
    path: str, *, eval_set: str = "vprism-mini", samples_per_prompt: int = 3,
    n_checkpoints: int = 9, seed: int = 0,
) -> Store:
    """Write runs `base`, `sft` (neutral rises early) and `dpo` (support rises late)."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    evalset = builtin_eval_set(eval_set)
    register_eval_set(store, evalset)
    fractions = np.linspace(0.0, 1.0, n_checkpoints)
    stages = [
        ("sft", "sft", "sft", np.array([0.35, 0.25, 0.40]), np.array([0.12, 0.75, 0.13]), 8.0),
        ("dpo", "preference", "dpo", np.array([0.12, 0.75, 0.13]), np.array([0.45, 0.45, 0.10]), 2.0),
    ]
    register_run(store, RunSpec("base", "base", "none", model="example-base", eval_set=eval_set))
    parent = "base"
    for run_id, stage, algo, start, end, speed in stages:
        register_run(store, RunSpec(run_id, stage, algo, model="example", parent_run=parent,
                                    eval_set=eval_set, hparams={"lr": 1e-4, "synthetic": True},
                                    seed=seed))
        total = 100 * (n_checkpoints - 1)
        curve = _curve(start, end, fractions, speed)
        for i, frac in enumerate(fractions):
            step = int(round(frac * total))
            _write_checkpoint(store, run_id, step, total, eval_set, evalset, curve[i],
                              samples_per_prompt, rng)
        parent = run_id
    return store


def _write_checkpoint(store, run_id, step, total, eval_set, evalset, dist, k, rng) -> None:
    rows = [(p, j) for p in evalset.prompts for j in range(k)]
    n = len(rows)
    logits = np.log(np.clip(dist, 1e-6, 1))[None, :] + rng.normal(0, 0.6, size=(n, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ids = [sample_id(run_id, step, eval_set, p.prompt_id, j) for p, j in rows]
    labels = np.array(["support", "neutral", "oppose"])[probs.argmax(axis=1)]
    texts = [f"(synthetic {lab} answer)" for lab in labels]
    samples = pa.table({
        "sample_id": pa.array(ids, pa.int64()), "run_id": [run_id] * n,
        "step": pa.array([step] * n, pa.int32()), "eval_set": [eval_set] * n,
        "prompt_id": [p.prompt_id for p, _ in rows], "topic": [p.topic for p, _ in rows],
        "sample_idx": pa.array([j for _, j in rows], pa.int32()), "text": texts,
        "n_tokens": pa.array([4] * n, pa.int32()), "health": ["ok"] * n,
        "gen_settings": ['{"synthetic": true}'] * n,
    })
    judgments = pa.table({
        "judge_id": [EXAMPLE_JUDGE.judge_id] * n, "sample_id": pa.array(ids, pa.int64()),
        "run_id": [run_id] * n, "step": pa.array([step] * n, pa.int32()),
        "topic": [p.topic for p, _ in rows], "prompt_id": [p.prompt_id for p, _ in rows],
        "p_support": probs[:, 0], "p_neutral": probs[:, 1], "p_oppose": probs[:, 2],
        "label": labels.tolist(), "truncated": [False] * n, "note": [None] * n,
    })
    with store.write() as con:
        register_judge(con, EXAMPLE_JUDGE)
        insert_arrow(con, "samples", samples)
        insert_arrow(con, "judgments", judgments)
        con.execute("INSERT OR IGNORE INTO checkpoints (run_id, step, total_steps, fraction, path) "
                    "VALUES (?, ?, ?, ?, NULL)", [run_id, step, total, step / total]).fetchall()
