"""Wall time of `vdbench demo`, as a newcomer meets it: from an empty work directory
(micro-world pre-training included), stdout not a terminal, on this machine's cores.

  python benchmarks/bench_demo.py [--mode quick|full|both] [--repeat N]

Candidate: the default, independent stages in 2 worker processes (`--jobs 2`).
Baseline, measured in the same run: the same demo with one worker (`--jobs 1`), which also
pre-trains with one thread. Each figure is the median of N fresh runs (default 3).
Targets (2 CPU cores): full demo ≤ 10 min (aim 5), `--quick` ≤ 2 min. Also timed once: a
rerun of the candidate, which finds everything in the store. Each run must print the same
summary apart from its elapsed time (the demo is deterministic); the benchmark checks it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too

from benchmarks.harness import Benchmark, Result  # noqa: E402

LIMITS = {"quick": 120.0, "full": 600.0}


def _run(mode: str, jobs: int, root: Path) -> tuple[float, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "vdbench.cli", "demo", "--no-tui", "--jobs", str(jobs),
           "--workdir", str(root / "work"), "--db", str(root / "demo.duckdb")]
    cmd += ["--quick"] if mode == "quick" else []
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"demo failed ({mode}, --jobs {jobs}):\n{out.stderr[-3000:]}")
    # Everything but the elapsed time and the paths (which differ from run to run).
    text = " ".join(out.stdout.split())
    summary = text.split("output health:")[0]
    return seconds, summary


def bench(mode: str, repeat: int) -> bool:
    return measure(mode, repeat).passed is True


def measure(mode: str, repeat: int) -> Result:
    """The demo with --jobs 2 against the baseline --jobs 1; passes within LIMITS[mode]."""
    times: dict[int, list[float]] = {2: [], 1: []}
    summaries = set()
    rerun = 0.0
    for i in range(repeat):
        for jobs in (2, 1):
            root = Path(tempfile.mkdtemp(prefix=f"vdbench-bench-demo-{mode}-{jobs}-"))
            try:
                seconds, summary = _run(mode, jobs, root)
                times[jobs].append(seconds)
                summaries.add(summary)
                if jobs == 2 and i == 0:
                    rerun, _ = _run(mode, jobs, root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
    cand, base = statistics.median(times[2]), statistics.median(times[1])
    ok = cand <= LIMITS[mode] and len(summaries) == 1
    print(f"demo {mode}: --jobs 2 {cand:.1f} s (runs {', '.join(f'{t:.1f}' for t in times[2])}) vs "
          f"baseline --jobs 1 {base:.1f} s (runs {', '.join(f'{t:.1f}' for t in times[1])}) → "
          f"ratio {base / cand:.2f}×; rerun {rerun:.1f} s; identical summaries: {len(summaries) == 1} "
          f"[target ≤ {LIMITS[mode]:.0f} s: {'PASS' if ok else 'FAIL'}]", flush=True)
    return Result(f"demo.{mode}", f"`vdbench demo{' --quick' if mode == 'quick' else ''}` --jobs 2",
                  "the same demo with --jobs 1", cand, base, f"≤ {LIMITS[mode]:.0f} s, identical summaries",
                  ok, {"rerun_s": f"{rerun:.1f}"})


def run(quick: bool) -> list[Result]:
    """For benchmarks/run.py: the quick demo once (quick mode), or the full demo three times."""
    return [measure("quick", 1)] if quick else [measure("full", 3)]


BENCHMARKS = [Benchmark("demo.wall_time", run)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("quick", "full", "both"), default="quick")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    modes = ("quick", "full") if args.mode == "both" else (args.mode,)
    return 0 if all([bench(mode, args.repeat) for mode in modes]) else 1


if __name__ == "__main__":
    sys.exit(main())
