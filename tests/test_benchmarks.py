"""benchmarks/run.py is the one runner: it knows every bench_*.py, and quick modes work.

No timings are asserted here (they belong to the benchmarks themselves).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_runner_lists_a_benchmark_from_every_bench_module() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--list"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    listed_modules = {line.split()[1] for line in out.stdout.splitlines() if line.strip()}
    on_disk = {p.stem for p in (REPO / "benchmarks").glob("bench_*.py")}
    assert listed_modules == on_disk
    for name in ("store.stance_query", "tui.startup_scrub", "audit.import", "demo.wall_time",
                 "metrics.interval_coverage"):
        assert name in out.stdout


def test_runner_refuses_an_unknown_benchmark() -> None:
    out = subprocess.run([sys.executable, "-m", "benchmarks.run", "--list", "no.such"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 2 and "unknown benchmark(s): ['no.such']" in out.stderr


def test_quick_stance_query_queries_a_checkpoint_that_exists() -> None:
    # Quick mode used to query step 40, which its smaller table does not hold (AssertionError).
    from benchmarks.bench_store import stance_query

    [result] = stance_query(quick=True)
    assert result.name == "store.stance_query" and result.candidate_s > 0
