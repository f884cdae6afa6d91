"""A small benchmark harness: every result is a ratio against a named baseline measured in
the same run, as the median of several repeats, with threads pinned."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def pin_threads(n: int = 1) -> None:
    """Pin BLAS/OpenMP/torch threads; two contending threads can be 100× slower than one."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def median_time(fn: Callable[[], object], repeats: int, setup: Callable[[], object] | None = None) -> float:
    """Median wall time of `fn` over `repeats` runs; `setup` runs untimed before each."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_cpu_time(fn: Callable[[], object], repeats: int) -> float:
    """Median process CPU seconds of `fn` over `repeats` runs: with threads pinned to one,
    the work done, steady when other jobs share the cores (unlike wall time)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


@dataclass
class Result:
    name: str
    candidate: str
    baseline: str
    candidate_s: float
    baseline_s: float
    target: str
    passed: bool | None
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """How many times faster the candidate is than the baseline (>1 is faster)."""
        return self.baseline_s / self.candidate_s if self.candidate_s else float("inf")

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "info"}[self.passed]
        notes = "; ".join(f"{k}={v}" for k, v in self.notes.items())
        if not self.baseline_s:  # a study (coverage, memory), not a timing: no ratio to print
            return (f"{self.name}: {self.candidate} in {self.candidate_s:.1f} s "
                    f"[target {self.target}: {verdict}]" + (f" ({notes})" if notes else ""))
        return (f"{self.name}: {self.candidate} {self.candidate_s * 1e3:.1f} ms vs baseline "
                f"{self.baseline} {self.baseline_s * 1e3:.1f} ms → ratio {self.ratio:.1f}× "
                f"[target {self.target}: {verdict}]" + (f" ({notes})" if notes else ""))


@dataclass
class Benchmark:
    """A named benchmark; `run(quick)` measures candidate and baseline and returns Results."""

    name: str
    run: Callable[[bool], list[Result]]
