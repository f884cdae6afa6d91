"""Coverage of vdbench's 95 % intervals in a seeded simulation where the truth is known.

  python benchmarks/bench_interval_coverage.py [--runs 400] [--n-boot 400] [--seed 0]
      [--world default|few-labels|many-prompts|labels-elsewhere|near-boundary ...]

Each simulated run: P prompts drawn from a prompt population (per-prompt true stance
shares θ ~ Dirichlet at the first checkpoint; at the last, a mix of θ with a fresh draw
around a target), n answers per prompt and checkpoint drawn from θ, a simulated judge
whose soft output for an answer of true stance i is Dirichlet with mean C[i] (so its
confusion matrix is known exactly), and a random subset of the judged answers labelled
with their true stance. Checked, per stance, at both checkpoints:

- plain v(T) interval (vdbench.metrics.bootstrap) ∋ the judge-level truth Cᵀ μ
  (the expected judge output over the prompt population, μ = E θ);
- corrected v interval (vdbench.metrics.corrected) ∋ the true shares μ;
- plain paired M interval ∋ Cᵀ (μ_last − μ_first); corrected M interval ∋ μ_last − μ_first.

Each check is made with both bootstrap designs: [prompts] (prompts with their samples,
rescaled, expanded percentile: what bootstrap.py and corrected.py use by default) and
[two-stage] (prompts, then samples within each prompt: the earlier design, kept for
comparison); * marks the interval `vdbench metrics` reports.
Worlds (WORLDS): default, few labels, many prompts, labels on other answers than the
judged ones, and a true share near 0. Prints each coverage with its 95 % Wilson interval; target ≈ 93–97 %. Not a timing
benchmark: benchmarks/run.py shows it as a study (no ratio), quick mode on one world.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too

from benchmarks.harness import Benchmark, Result  # noqa: E402
from vdbench.errors import InputError  # noqa: E402
from vdbench.evalsets.topics import STANCES  # noqa: E402
from vdbench.metrics.bootstrap import (  # noqa: E402
    bootstrap_drift_interval,
    bootstrap_topic_values,
)
from vdbench.metrics.corrected import (  # noqa: E402
    DESIGNS,
    corrected_drift,
    corrected_topic_values,
)

STEPS = (0, 100)


@dataclass(frozen=True)
class World:
    """The simulated truth: prompt population, drift and judge (all rows in STANCES order)."""

    n_prompts: int = 30
    samples_per_prompt: int = 4
    n_labels: int = 150
    labels_elsewhere: bool = False  # labels on other answers than the judged samples
    mu_first: tuple[float, float, float] = (0.30, 0.45, 0.25)
    mu_target: tuple[float, float, float] = (0.55, 0.30, 0.15)
    drift_weight: float = 0.5  # θ_last = (1 − w) θ_first + w · Dirichlet(κ μ_target)
    prompt_concentration: float = 8.0  # κ: smaller = prompts differ more
    judge_concentration: float = 6.0  # α: judge output ~ Dirichlet(α C[true stance])
    confusion: tuple[tuple[float, ...], ...] = (
        (0.70, 0.18, 0.12),
        (0.12, 0.76, 0.12),
        (0.18, 0.17, 0.65),
    )

    @property
    def mu(self) -> dict[int, np.ndarray]:
        """True shares μ at each checkpoint (the prompt-population mean of θ)."""
        first, target = np.array(self.mu_first), np.array(self.mu_target)
        w = self.drift_weight
        return {STEPS[0]: first, STEPS[1]: (1 - w) * first + w * target}

    @property
    def judge_level(self) -> dict[int, np.ndarray]:
        """Expected judge output Cᵀ μ at each checkpoint."""
        c = np.array(self.confusion)
        return {s: c.T @ m for s, m in self.mu.items()}


def _answers(world: World, rng: np.random.Generator) -> pd.DataFrame:
    """Judged answers of freshly drawn prompts at both checkpoints, with their true stance."""
    k, p, n = len(STANCES), world.n_prompts, world.samples_per_prompt
    theta_first = rng.dirichlet(world.prompt_concentration * np.array(world.mu_first), size=p)
    fresh = rng.dirichlet(world.prompt_concentration * np.array(world.mu_target), size=p)
    theta = {STEPS[0]: theta_first,
             STEPS[1]: (1 - world.drift_weight) * theta_first + world.drift_weight * fresh}
    conf = np.array(world.confusion)
    frames = []
    for step in STEPS:
        # true stance of each answer: inverse-CDF draw from its prompt's θ
        cum = np.cumsum(theta[step], axis=1)
        u = rng.random((p, n))
        true = np.minimum((u[..., None] > cum[:, None, :]).sum(axis=2), k - 1).ravel()
        judge = rng.standard_gamma(world.judge_concentration * conf[true])  # Dirichlet(α C[true])
        judge /= judge.sum(axis=1, keepdims=True)
        frames.append(pd.DataFrame({
            "topic": "t", "step": step, "prompt_id": np.repeat([f"p{i:03d}" for i in range(p)], n),
            "sample_idx": np.tile(np.arange(n), p), "true": true,
            **{f"p_{s}": judge[:, j] for j, s in enumerate(STANCES)},
        }))
    return pd.concat(frames, ignore_index=True)


def simulate_run(world: World, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One run's judged samples (topic, step, prompt_id, sample_idx, p_*) and labelled items.

    The labelled items are a random subset of the judged samples, or (labels_elsewhere) of
    answers to other prompts from the same population, as labels from another run would be.
    """
    samples = _answers(world, rng)
    pool = _answers(world, rng) if world.labels_elsewhere else samples
    picked = rng.choice(len(pool), size=min(world.n_labels, len(pool)), replace=False)
    labelled = pool.iloc[picked]
    labelled = pd.DataFrame({"label": np.asarray(STANCES)[labelled["true"].to_numpy()],
                             **{f"p_{s}": labelled[f"p_{s}"].to_numpy() for s in STANCES}})
    return samples.drop(columns="true"), labelled


@dataclass
class Tally:
    """Hits per (check, stance) over the simulated runs."""

    hits: dict[str, np.ndarray] = field(default_factory=dict)
    widths: dict[str, list[np.ndarray]] = field(default_factory=dict)
    runs: int = 0
    refused: int = 0

    def add(self, check: str, lo: np.ndarray, hi: np.ndarray, truth: np.ndarray) -> None:
        inside = (lo <= truth + 1e-12) & (truth - 1e-12 <= hi)
        self.hits[check] = self.hits.get(check, np.zeros(len(STANCES), dtype=int)) + inside
        self.widths.setdefault(check, []).append(hi - lo)


def run_study(world: World, n_runs: int, n_boot: int, seed: int = 0) -> Tally:
    """Simulate runs until `n_runs` are not refused; tally which intervals cover their truth.

    Checks what `vdbench metrics` reports (plain and corrected: the prompt-level design)
    and, for comparison, each with the two-stage design.
    """
    tally = Tally()
    mu, judge_level = world.mu, world.judge_level
    m_true = mu[STEPS[1]] - mu[STEPS[0]]
    m_judge = judge_level[STEPS[1]] - judge_level[STEPS[0]]
    for r in range(3 * n_runs):  # refused runs are replaced, up to 2 n_runs of them
        if tally.runs == n_runs:
            break
        rng = np.random.default_rng([seed, r])
        samples, labelled = simulate_run(world, rng)
        boot = {"n_boot": n_boot, "confidence": 0.95, "seed": r}
        try:
            corr = {d: corrected_topic_values(samples, labelled, design=d, **boot)
                    for d in DESIGNS}
        except InputError:  # a class with too few labels: the method refuses, as it should
            tally.refused += 1
            continue
        tally.runs += 1
        plain = {d: bootstrap_topic_values(samples, design=d, **boot).set_index("step")
                 for d in DESIGNS}
        for step in STEPS:
            for d in DESIGNS:
                lo, hi = (np.array([plain[d].loc[step, f"{s}_{e}"] for s in STANCES])
                          for e in ("lo", "hi"))
                tally.add(f"plain v@{step} ∋ Cᵀμ [{d}]{'*' if d == 'prompts' else ''}", lo, hi,
                          judge_level[step])
            for d in DESIGNS:
                cv = corr[d].values.set_index("step")
                lo, hi = (np.array([cv.loc[step, f"{s}_{e}"] for s in STANCES]) for e in ("lo", "hi"))
                star = "*" if d == "prompts" else ""
                tally.add(f"corrected v@{step} ∋ μ [{d}]{star}", lo, hi, mu[step])
        for d in DESIGNS:
            ci = bootstrap_drift_interval(samples, *STEPS, design=d, **boot)
            tally.add(f"plain M ∋ CᵀΔμ [{d}]{'*' if d == 'prompts' else ''}",
                      np.array([ci[s][0] for s in STANCES]), np.array([ci[s][1] for s in STANCES]),
                      m_judge)
        for d in DESIGNS:
            cm = corrected_drift(samples, corr[d], *STEPS, confidence=0.95, seed=r)
            star = "*" if d == "prompts" else ""
            tally.add(f"corrected M ∋ Δμ [{d}]{star}", np.array([cm[s]["M_ci"][0] for s in STANCES]),
                      np.array([cm[s]["M_ci"][1] for s in STANCES]), m_true)
    return tally


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion hits / n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def report(tally: Tally) -> list[str]:
    """One line per check: coverage per stance with its Wilson interval, and mean width."""
    lines = [f"{tally.runs} runs (and {tally.refused} refused for too few labels, replaced)"]
    for check, hits in tally.hits.items():
        width = np.mean(tally.widths[check], axis=0)
        cells = []
        for j, s in enumerate(STANCES):
            lo, hi = wilson(int(hits[j]), tally.runs)
            cells.append(f"{s} {100 * hits[j] / tally.runs:5.1f}% [{100 * lo:4.1f}, {100 * hi:4.1f}]"
                         f" w={width[j]:.3f}")
        lines.append(f"{check:<36} " + "  ".join(cells))
    return lines


WORLDS = {
    "default": World(),
    "few-labels": World(n_labels=45),
    "many-prompts": World(n_prompts=100, samples_per_prompt=2, n_labels=200),
    "labels-elsewhere": World(n_prompts=100, samples_per_prompt=2, n_labels=200,
                              labels_elsewhere=True),
    "near-boundary": World(mu_first=(0.25, 0.70, 0.05), mu_target=(0.60, 0.38, 0.02)),
}


def run(quick: bool) -> list[Result]:
    """For benchmarks/run.py: the corrected v interval's coverage of the true shares μ."""
    runs, n_boot = (40, 100) if quick else (400, 400)
    worlds = ["default"] if quick else list(WORLDS)
    results = []
    for name in worlds:
        start = time.perf_counter()
        tally = run_study(WORLDS[name], runs, n_boot, 0)
        seconds = time.perf_counter() - start
        for line in report(tally):
            print(f"  {name}: {line}")
        results.append(Result(
            f"metrics.interval_coverage[{name}]", f"coverage study, {runs} simulated runs", "", seconds, 0.0,
            "≈ 93–97 % (read the lines above; quick mode is too few runs to judge)", None, {}))
    return results


BENCHMARKS = [Benchmark("metrics.interval_coverage", run)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=400, help="simulated runs per world (default 400)")
    parser.add_argument("--n-boot", type=int, default=400, help="bootstrap replicates (default 400)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--world", action="append", choices=list(WORLDS),
                        help="simulated world (repeatable; default: all)")
    args = parser.parse_args(argv)
    total = time.perf_counter()
    print("* = the interval `vdbench metrics` reports; [design] = prompt/sample resampling")
    for name in args.world or list(WORLDS):
        world = WORLDS[name]
        print(f"\n== {name}: {world}")
        print(f"truth μ {({s: np.round(m, 4).tolist() for s, m in world.mu.items()})}; "
              f"judge level Cᵀμ {({s: np.round(m, 4).tolist() for s, m in world.judge_level.items()})}")
        start = time.perf_counter()
        tally = run_study(world, args.runs, args.n_boot, args.seed)
        for line in report(tally):
            print(line)
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
    print(f"\nwall {time.perf_counter() - total:.1f} s, n_boot {args.n_boot}, seed {args.seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
