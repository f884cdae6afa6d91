"""Sampling beside training: inline drift capture vs `vdbench sample --watch` in a second process.

The same SFT (the benchmark's random micro-shaped Llama, 40 steps, batch 8, checkpoints at
0/10/20/30/40) and the same samples (vprism-mini, K = 5, 32 new tokens) are run twice as
real `vdbench` processes:

- inline: `vdbench train sft …` samples each checkpoint inside the training loop;
- watched: `vdbench train sft … --no-inline-sampling` saves checkpoints only, while
  `vdbench sample --watch OUTPUT` samples them beside it (on the second core here; on
  another GPU or host in real use).

Reported: the trainer's wall time, inline / watched (>1: training finishes sooner when the
watcher samples), and the time until every sample is stored, inline / watched. Each
process pins its threads to 1, so on this 2-core machine trainer and watcher each get a
core, as trainer and sidecar would each get a GPU.

    .venv/bin/python -m benchmarks.run train.watch_vs_inline
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_callback import _sft_rows
from benchmarks.bench_generation import bench_model_dir
from benchmarks.harness import Benchmark, Result

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false"}
CLI = [sys.executable, "-m", "vdbench.cli"]


def _train_argv(tmp: Path, model: Path, run: str, steps: int, every: int, samples: int,
                tokens: int) -> list[str]:
    data = tmp / "sft.jsonl"
    if not data.exists():
        data.write_text("".join(json.dumps(r) + "\n" for r in _sft_rows(8 * steps)), "utf-8")
    return [*CLI, "train", "sft", "--model", str(model), "--data", str(data),
            "--db", str(tmp / f"{run}.duckdb"), "--run", run, "--eval-set", "vprism-mini",
            "--samples", str(samples), "--max-new-tokens", str(tokens), "--lr", "1e-3",
            "--batch-size", "8", "--max-steps", str(steps), "--every", str(every),
            "--max-length", "256", "--output-dir", str(tmp / run), "--json"]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:5])} failed: {done.stderr[-1500:]}")
    return done


def _samples(db: Path) -> int:
    from vdbench.store import Store

    with Store(db).read() as con:
        return int(con.execute("SELECT count(*) FROM samples").fetchone()[0])


def watch_vs_inline(quick: bool) -> list[Result]:
    steps, every, samples, tokens = (8, 4, 2, 8) if quick else (40, 10, 5, 32)
    tmp = Path(tempfile.mkdtemp(prefix="vdbench-bench-watch-"))
    model = bench_model_dir()  # one random model for both runs
    t0 = time.perf_counter()
    _run(_train_argv(tmp, model, "inline", steps, every, samples, tokens))
    inline_s = time.perf_counter() - t0

    argv = _train_argv(tmp, model, "watched", steps, every, samples, tokens)
    watch_argv = [*CLI, "sample", "--watch", str(tmp / "watched"), "--run", "watched",
                  "--db", str(tmp / "watched.duckdb"), "--eval-set", "vprism-mini",
                  "--samples", str(samples), "--max-new-tokens", str(tokens),
                  "--poll", "0.5", "--settle", "0.5", "--idle-timeout", "600", "--json"]
    t0 = time.perf_counter()
    trainer = subprocess.Popen([*argv, "--no-inline-sampling"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=ENV)
    watcher = subprocess.Popen(watch_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=ENV)
    _, train_err = trainer.communicate(timeout=1800)
    train_s = time.perf_counter() - t0
    watch_out, watch_err = watcher.communicate(timeout=1800)
    all_s = time.perf_counter() - t0
    if trainer.returncode or watcher.returncode:
        raise RuntimeError(f"watched run failed: {train_err[-800:]} {watch_err[-800:]}")
    n_inline, n_watched = _samples(tmp / "inline.duckdb"), _samples(tmp / "watched.duckdb")
    if n_inline != n_watched:
        raise RuntimeError(f"inline stored {n_inline} samples, the watcher {n_watched}")
    notes = {"steps": steps, "checkpoints": len(range(0, steps + 1, every)), "K": samples,
             "new_tokens": tokens, "samples": n_watched,
             "watcher_stopped": json.loads(watch_out)["stopped"]}
    return [
        Result(name="train.watch_vs_inline", candidate="trainer with --no-inline-sampling "
               "(watcher beside it)", baseline="trainer sampling inline",
               candidate_s=train_s, baseline_s=inline_s, target="info", passed=None, notes=notes),
        Result(name="train.watch_vs_inline.all_samples", candidate="until the watcher has stored "
               "every sample", baseline="inline run end to end", candidate_s=all_s,
               baseline_s=inline_s, target="info", passed=None, notes=notes),
    ]


BENCHMARKS = [Benchmark("train.watch_vs_inline", watch_vs_inline)]
