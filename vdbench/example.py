"""A synthetic example store: a base → SFT → DPO lineage with judged samples whose stance
curves have a known shape. Used by the quick-start (before a model is involved), tests,
the TUI's development store and the benchmarks. No model runs here."""

from __future__ import annotations

import numpy as np

from vdbench.evalsets.registry import builtin_eval_set
from vdbench.evalsets.stored import register_eval_set
from vdbench.judges.base import JudgeIdentity, JudgeScore
from vdbench.judgments import judgments_table, register_judge
from vdbench.runs import RunSpec, SampleRecord, register_run, samples_table
from vdbench.store import Store, insert_arrow

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
    logits = np.log(np.clip(dist, 1e-6, 1))[None, :] + rng.normal(0, 0.6, size=(len(rows), 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array(["support", "neutral", "oppose"])[probs.argmax(axis=1)]
    records = [SampleRecord(p.prompt_id, p.topic, j, f"(synthetic {lab} answer)", 4, "ok")
               for (p, j), lab in zip(rows, labels, strict=True)]
    samples = samples_table(run_id, step, eval_set, records, {"synthetic": True})
    scores = [JudgeScore(float(a), float(b), float(c)) for a, b, c in probs]
    judgments = judgments_table(EXAMPLE_JUDGE.judge_id, samples.to_pandas(), scores)
    with store.write() as con:
        register_judge(con, EXAMPLE_JUDGE)
        insert_arrow(con, "samples", samples)
        insert_arrow(con, "judgments", judgments)
        con.execute("INSERT OR IGNORE INTO checkpoints (run_id, step, total_steps, fraction, path) "
                    "VALUES (?, ?, ?, ?, NULL)", [run_id, step, total, step / total]).fetchall()
