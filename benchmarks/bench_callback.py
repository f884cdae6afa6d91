"""Drift-capture overhead: SFT with the DriftCallback vs the same SFT without it.

One micro-world-shaped random Llama (hidden 128, 2 layers, the micro tokenizer) trains
40 SFT steps (batch 8) on chat rows; the callback samples vprism-mini (55 prompts) K = 5
times, 32 new tokens, at steps 0, 10, 20, 30 and 40 and stores them in a DuckDB store.
Reported: the overhead as a share of the instrumented run's time, (with − without) /
with, and the callback's own timer for comparison. Informational: the share depends on
the eval-set size, K, the response length and the schedule, all of which the user sets.

Times are process CPU time (threads pinned to 1).

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.run callback.overhead
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from benchmarks.bench_generation import bench_model_dir
from benchmarks.harness import Benchmark, Result

STEPS = 40
EVERY = 10


def _sft_rows(n: int, seed: int = 0) -> list[dict]:
    from vdbench.evalsets.registry import builtin_eval_set

    rng = random.Random(seed)
    prompts = builtin_eval_set("vprism").prompts
    answers = ["There are arguments on both sides of this question.",
               "I think this is right, and here is why it matters.",
               "I disagree with this, for several practical reasons."]
    return [{"messages": [{"role": "user", "content": rng.choice(prompts).text},
                          {"role": "assistant", "content": rng.choice(answers)}]} for _ in range(n)]


def _train(with_callback: bool, steps: int, samples: int, new_tokens: int) -> tuple[float, float, float]:
    """(process seconds of train(), its wall seconds, wall seconds the callback measured)."""
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback

    from vdbench.runs import RunSpec
    from vdbench.store import Store
    from vdbench.training.callback import DriftCallback
    from vdbench.training.config import DriftConfig, SFTHParams
    from vdbench.training.models import load_model_and_tokenizer
    from vdbench.training.runner import quiet_libraries
    from vdbench.training.sft import build_sft_trainer

    quiet_libraries()
    tmp = Path(tempfile.mkdtemp(prefix="vdbench-bench-cb-"))
    model, tokenizer = load_model_and_tokenizer(bench_model_dir())
    hp = SFTHParams(learning_rate=1e-3, max_steps=steps, batch_size=8, bf16=False, max_length=256)
    callbacks = []
    callback = None
    if with_callback:
        callback = DriftCallback(
            Store(tmp / "s.duckdb"), RunSpec("bench", "sft", "sft"), "vprism-mini",
            DriftConfig(every=EVERY, samples_per_prompt=samples, max_new_tokens=new_tokens),
            tokenizer=tokenizer)
        callbacks.append(callback)
    trainer = build_sft_trainer(model, tokenizer, Dataset.from_list(_sft_rows(400)), hp, tmp / "out", callbacks)
    trainer.remove_callback(PrinterCallback)
    start, wall = time.process_time(), time.perf_counter()
    trainer.train()
    return (time.process_time() - start, time.perf_counter() - wall,
            callback.seconds if callback else 0.0)


def run(quick: bool) -> list[Result]:
    steps = 20 if quick else STEPS
    plain, _, _ = _train(False, steps, 5, 32)
    instrumented, instrumented_wall, measured = _train(True, steps, 5, 32)
    share = (instrumented - plain) / instrumented
    checkpoints = steps // EVERY + 1
    return [Result(
        name="callback.overhead", candidate="SFT with DriftCallback", baseline="SFT alone",
        candidate_s=instrumented, baseline_s=plain, target="info", passed=None,
        notes={"overhead_share": f"{share:.0%}", "callback_timer_share_wall": f"{measured / instrumented_wall:.0%}",
               "checkpoints": checkpoints, "samples_per_checkpoint": 55 * 5,
               "per_checkpoint_s": round((instrumented - plain) / checkpoints, 2), "train_steps": steps},
    )]


BENCHMARKS = [Benchmark("callback.overhead", run)]

if __name__ == "__main__":
    from benchmarks.harness import pin_threads

    pin_threads(1)
    for result in run(quick=False):
        print(result.line())
