"""xstance (cross-encoder) judge throughput vs the probe vs raw `SentenceTransformer.encode`.

Same answers for all three: the built-in held-out and unseen-topic sets (answers of at
most 256 tokens). One thread. xstance runs one BERT pass over (proposition, question +
answer) per item; the probe encodes each distinct answer and question once; the raw
encoder baseline encodes the distinct answers only. Times are median process CPU seconds
(steady when other jobs share the cores). Target: xstance ≥ 30 answers/s on one thread.
"""

from __future__ import annotations

from benchmarks.harness import Benchmark, Result
from benchmarks.harness import median_cpu_time as cpu_time


def run(quick: bool) -> list[Result]:
    from vdbench.embedding import load_minilm
    from vdbench.judges.crossenc import pair_text
    from vdbench.judges.labelled import read_labelled
    from vdbench.judges.registry import load_judge

    items = read_labelled("heldout").items + read_labelled("unseen").items
    xstance, probe, encoder = load_judge("xstance"), load_judge("probe"), load_minilm()
    xstance.score(items[:4])  # load weights, warm both paths
    probe.score(items[:4])
    tok = xstance._tokenizer
    items = [i for i in items if len(tok(*pair_text(i))["input_ids"]) <= 256]
    items = items[:120] if quick else items
    answers = list(dict.fromkeys(i.response for i in items))
    repeats = 1 if quick else 3
    t_x = cpu_time(lambda: xstance.score(items), repeats)
    t_p = cpu_time(lambda: probe.score(items), repeats)
    t_e = cpu_time(lambda: encoder.encode(answers, batch_size=64, show_progress_bar=False,
                                          normalize_embeddings=True), repeats)
    rate = len(items) / t_x
    notes = {"answers": len(items), "xstance_answers_per_s": f"{rate:.1f}",
             "probe_answers_per_s": f"{len(items) / t_p:.1f}",
             "encode_answers_per_s": f"{len(answers) / t_e:.1f}"}
    vs_encode = Result("judge.xstance_throughput", f"xstance.score of {len(items)} answers",
                       f"SentenceTransformer.encode of the same {len(answers)} answers",
                       t_x, t_e, "≥ 30 answers/s on one thread", rate >= 30, notes)
    vs_probe = Result("judge.xstance_vs_probe", f"xstance.score of {len(items)} answers",
                      f"probe.score of the same {len(items)} answers", t_x, t_p, "informational",
                      None, {})
    return [vs_encode, vs_probe]


BENCHMARKS = [Benchmark("judge.xstance_throughput", run)]
