"""Capability overhead: a micro-world SFT run with `--capability micro` vs the same run without.

The run is the demo's chat SFT on the micro world (built or reused under .vdbench/),
sampling vprism-mini (55 prompts) K = 2 times, 48 new tokens, every 10 steps. With
`--capability micro` each of those checkpoints is also scored on the built-in micro task
(176 log-likelihood multiple-choice items) through lm-evaluation-harness. Each run is its
own `vdbench train` process, so the candidate also pays for importing lm-eval and loading
its task, as a user's run does.

Reported: the overhead as a share of the instrumented run's wall time, (with − without) /
with, the per-checkpoint cost, and the ratio of the two wall times. Informational: the
share grows with the task (an lm-eval task of thousands of items costs far more than the
micro task) and shrinks with longer training between checkpoints.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.run capability.overhead [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Benchmark, Result

REPO = Path(__file__).resolve().parents[1]
EVERY = 10


def _world() -> Path:
    from vdbench.micro import build_micro_world

    return build_micro_world(REPO / ".vdbench" / "micro-seed0", seed=0, num_threads=1).root


def _train(world: Path, steps: int, capability: bool, tmp: Path) -> tuple[float, dict]:
    """(wall seconds of the `vdbench train` process, its --json summary)."""
    run = "cap" if capability else "plain"
    argv = [sys.executable, "-m", "vdbench.cli", "train", "sft", "--model", str(world / "base"),
            "--data", str(world / "data" / "chat_sft.jsonl"), "--db", str(tmp / f"{run}.duckdb"),
            "--run", run, "--output-dir", str(tmp / run), "--eval-set", "vprism-mini",
            "--samples", "2", "--max-new-tokens", "48", "--lr", "5e-4", "--batch-size", "16",
            "--max-steps", str(steps), "--every", str(EVERY), "--json"]
    if capability:
        argv += ["--capability", "micro"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"vdbench train failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, json.loads(out.stdout)


def run(quick: bool) -> list[Result]:
    steps = 20 if quick else 60
    world = _world()
    with tempfile.TemporaryDirectory(prefix="vdbench-bench-cap-") as name:
        tmp = Path(name)
        plain_s, plain = _train(world, steps, False, tmp)
        cap_s, cap = _train(world, steps, True, tmp)
    checkpoints = len(cap["checkpoints_stored"])
    share = (cap_s - plain_s) / cap_s
    in_run = (cap["seconds"] - plain["seconds"]) / cap["seconds"]
    return [Result(
        name="capability.overhead", candidate="SFT + --capability micro", baseline="SFT alone",
        candidate_s=cap_s, baseline_s=plain_s, target="info", passed=None,
        notes={"overhead_share_wall": f"{share:.0%}", "overhead_share_training": f"{in_run:.0%}",
               "per_checkpoint_s": round((cap_s - plain_s) / checkpoints, 2),
               "checkpoints": checkpoints, "train_steps": steps, "items_per_checkpoint": 176},
    )]


BENCHMARKS = [Benchmark("capability.overhead", run)]

if __name__ == "__main__":
    from benchmarks.harness import pin_threads

    pin_threads(1)
    for result in run(quick="--quick" in sys.argv):
        print(result.line())
