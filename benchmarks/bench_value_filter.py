"""The V-PRISM builder's value-question filter on real prompts: precision and recall.

The pool: the distinct first user turns of HH-RLHF harmless-base test (read from
``../shared/data``; the project keeps only hand labels, ``benchmarks/data/hh_value_labels.jsonl``,
three annotators, 240 turns labelled twice). Measured on the labels' ``eval`` split, which
no filter was fitted or tuned on: the ``anchors`` filter (before) and the ``local`` intent
classifier (after), each at its default threshold, with bootstrap 95 % CIs over prompts.
Target: precision ≥ 0.85 at recall ≥ 0.6 for the default filter.

    .venv/bin/python -m benchmarks.run prompts.value_filter
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import Benchmark, Result
from benchmarks.hh_prompts import HH_FILE, first_turns, labels_with_split


def _fmt(fig: dict) -> str:
    return f"{fig['value']:.3f} [{fig['ci'][0]:.3f}, {fig['ci'][1]:.3f}]"


def measure(quick: bool) -> list[Result]:
    if not HH_FILE.exists():  # a user's clone: the HH-RLHF split lives outside the project
        return [Result(name="prompts.value_filter", candidate=f"skipped: {HH_FILE} is absent",
                       baseline="", candidate_s=0.0, baseline_s=0.0, target="info", passed=None)]
    from vdbench.embedding import embed
    from vdbench.evalsets.value_filter import precision_recall, score_pool

    turns = first_turns()
    rows = [(i, turns[i], lab) for i, (lab, split) in sorted(labels_with_split().items())
            if split == "eval" and i in turns]
    if quick:
        rows = rows[:200]
    texts = [t for _, t, _ in rows]
    truth = np.array([lab == "value" for _, _, lab in rows])
    embeddings = embed(texts).astype(np.float64)
    results, seconds = {}, {}
    for name in ("anchors", "local"):
        t0 = time.perf_counter()
        scored = score_pool(name, texts, embeddings, None)
        seconds[name] = time.perf_counter() - t0
        results[name] = (scored.threshold,
                         precision_recall(scored.kept, truth, n_boot=200 if quick else 2000))
    local_threshold, local = results["local"]
    passed = (local["precision"]["value"] or 0) >= 0.85 and (local["recall"]["value"] or 0) >= 0.6
    out = []
    for name, (threshold, fig) in results.items():
        out.append(Result(
            name=f"prompts.value_filter.{name}",
            candidate=f"--filter {name} at threshold {threshold:g}: precision {_fmt(fig['precision'])}, "
                      f"recall {_fmt(fig['recall'])}",
            baseline="", candidate_s=seconds[name], baseline_s=0.0,
            target="precision ≥ 0.85 at recall ≥ 0.6" if name == "local" else "info (before)",
            passed=passed if name == "local" else None,
            notes={**fig["counts"], "split": "eval"}))
    return out


BENCHMARKS = [Benchmark("prompts.value_filter", measure)]
