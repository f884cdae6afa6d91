"""Probe judge throughput vs raw `SentenceTransformer.encode` of the same texts.

The probe embeds each distinct response and question once, then runs a small numpy MLP;
its overhead over the bare encoder must stay ≤ 25 % (ratio ≥ 0.8).
"""

from __future__ import annotations

import json
from importlib import resources

from benchmarks.harness import Benchmark, Result, median_time


def run(quick: bool) -> list[Result]:
    from vdbench.embedding import load_minilm
    from vdbench.judges.base import JudgeItem
    from vdbench.judges.registry import load_judge

    text = (resources.files("vdbench") / "data" / "stance" / "heldout.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    rows = rows[:150] if quick else rows
    items = [JudgeItem(r["topic"], r["proposition"], r["prompt"], r["response"]) for r in rows]
    judge = load_judge("probe")
    encoder = load_minilm()
    distinct = list(dict.fromkeys([r["response"] for r in rows] + [r["prompt"] for r in rows]))
    repeats = 3
    judge.score(items[:8])  # warm both paths once
    cand = median_time(lambda: judge.score(items), repeats)
    base = median_time(lambda: encoder.encode(distinct, batch_size=64, show_progress_bar=False,
                                              normalize_embeddings=True), repeats)
    result = Result("judge.probe_overhead", f"probe.score of {len(items)} items",
                    f"SentenceTransformer.encode of the same {len(distinct)} distinct texts",
                    cand, base, "overhead ≤ 25% (ratio ≥ 0.8)", None,
                    {"items_per_s": f"{len(items) / cand:.1f}",
                     "overhead": f"{100 * (cand / base - 1):+.1f}%"})
    result.passed = result.ratio >= 0.8
    return [result]


BENCHMARKS = [Benchmark("judge.probe_overhead", run)]
