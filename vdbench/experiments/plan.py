"""Expand an experiment spec into its run tree: every stage × grid point × seed, with lineage.

A stage with list-valued options runs once per combination (the grid), for each seed, and
once per point of its parent stage. Run ids come from the file's `run_name` template
(default `{experiment}.{stage}{grid}.s{seed}`, e.g. `micro-paper.gap-dpo-gap-support.s0`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from vdbench.errors import InputError
from vdbench.experiments.options import check_argv, is_grid, options_argv
from vdbench.experiments.spec import AuditSpec, ExperimentSpec, StageSpec

# How a grid axis is written into run ids (algorithm and dataset values stand alone).
ABBREVIATIONS = {"kl_coef": "kl", "beta": "b", "gamma": "g", "lr": "lr", "max_steps": "steps",
                 "batch_size": "bs", "epochs": "ep", "samples": "k"}


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    stage: str
    algorithm: str
    dataset: str
    parent_run: str | None
    seed: int
    point: str  # stage + grid values, without the seed: what seeds are aggregated over
    grid: dict[str, Any]  # grid axis -> value (the parent's axes as "parent-stage.axis")
    options: dict[str, Any]  # every `vdbench train` option the run gets
    moved: str | None
    note: str
    line: int


@dataclass(frozen=True)
class Plan:
    spec: ExperimentSpec
    runs: tuple[PlannedRun, ...]
    audits: tuple[AuditSpec, ...]
    points: tuple[str, ...] = field(default=())

    def run(self, run_id: str) -> PlannedRun:
        return next(r for r in self.runs if r.run_id == run_id)

    def size(self) -> dict[str, Any]:
        by_algo: dict[str, int] = {}
        steps = 0
        for r in self.runs:
            by_algo[r.algorithm] = by_algo.get(r.algorithm, 0) + 1
            steps += int(r.options.get("max_steps") or 0)
        return {"runs": len(self.runs), "points": len(self.points), "seeds": len(self.spec.seeds),
                "by_algorithm": by_algo, "optimizer_steps": steps, "audits": len(self.audits)}


def _label(key: str, value: Any) -> str:
    if key in ("algorithm", "dataset"):
        return f"-{value}"
    return f"-{ABBREVIATIONS.get(key, key.replace('_', '-'))}{value}"


def _axes(stage: StageSpec, algorithm: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The grid axes of one algorithm of a stage, in file order."""
    axes: list[tuple[str, tuple[Any, ...]]] = []
    if len(stage.algorithms) > 1:
        axes.append(("algorithm", (algorithm,)))
    if len(stage.datasets) > 1:
        axes.append(("dataset", stage.datasets))
    for table in (stage.options, stage.by_algorithm.get(algorithm, {})):
        for key, value in table.items():
            if is_grid(key, value):
                axes.append((key, tuple(value)))
    return axes


def _scalars(stage: StageSpec, algorithm: str) -> dict[str, Any]:
    out = {}
    for table in (stage.options, stage.by_algorithm.get(algorithm, {})):
        out.update({k: v for k, v in table.items() if not is_grid(k, v)})
    return out


def expand(spec: ExperimentSpec, *, seeds: tuple[int, ...] | None = None,
           only: list[str] | None = None) -> Plan:
    """The run tree of `spec` (for `seeds` instead of the file's, if given). `only` keeps
    the named stages (their parents must then be in the store already: checked by the
    runner). Every run's command line is checked here, before any work."""
    seeds = seeds or spec.seeds
    runs: list[PlannedRun] = []
    by_stage: dict[str, list[PlannedRun]] = {}
    where = str(spec.source) if spec.source else "<experiment>"
    for stage in spec.stages:
        mine: list[PlannedRun] = []
        for seed in seeds:
            parents: list[PlannedRun | None] = (
                [p for p in by_stage[stage.parent] if p.seed == seed] if stage.parent else [None])
            for parent in parents:
                for algorithm in stage.algorithms:
                    axes = _axes(stage, algorithm)
                    for combo in itertools.product(*(values for _, values in axes)):
                        grid_items = list(zip([k for k, _ in axes], combo, strict=True))
                        mine.append(_planned(spec, stage, algorithm, seed, parent, grid_items))
        by_stage[stage.name] = mine
        runs.extend(mine)
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"run_name gives two runs the id {dup!r}",
                         where=f"{where}:{_line_of(spec, 'run_name')}",
                         hint="put {seed} and {grid} in run_name")
    for run in runs:
        argv = train_argv(run, data="-", db="-", output_dir="-", model="-")
        check_argv(argv, f"{where}:{run.line}")
    if only:  # stage names, grid points or run ids
        known = {s.name for s in spec.stages} | {r.point for r in runs} | {r.run_id for r in runs}
        unknown = [n for n in only if n not in known and n != "audit"]
        if unknown:
            raise InputError(f"unknown stage(s): {', '.join(unknown)}",
                             hint="stages: " + ", ".join([s.name for s in spec.stages] + ["audit"]))
        runs = [r for r in runs if {r.stage, r.point, r.run_id} & set(only)]
    audits = spec.audits if not only or "audit" in only else ()
    points = tuple(dict.fromkeys(r.point for r in runs))
    return Plan(spec, tuple(runs), tuple(audits), points)


def _line_of(spec: ExperimentSpec, key: str) -> int:
    if spec.source is None:
        return 1
    for i, line in enumerate(spec.source.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip().startswith(key):
            return i
    return 1


def _planned(spec: ExperimentSpec, stage: StageSpec, algorithm: str, seed: int,
             parent: PlannedRun | None, grid_items: list[tuple[str, Any]]) -> PlannedRun:
    own = dict(grid_items)
    dataset = own.get("dataset", stage.datasets[0])
    options = {**spec.drift, **_scalars(stage, algorithm),
               **{k: v for k, v in own.items() if k not in ("algorithm", "dataset")}}
    inherited = {f"{parent.stage}.{k}": v for k, v in parent.grid.items()} if parent else {}
    parent_part = parent.point[len(parent.stage):] if parent else ""
    grid = parent_part + "".join(_label(k, v) for k, v in grid_items)
    run_id = spec.run_name.format(experiment=spec.name, stage=stage.name, grid=grid, seed=seed)
    moved = stage.moved or spec.datasets[dataset].moves
    return PlannedRun(
        run_id=run_id, stage=stage.name, algorithm=algorithm, dataset=dataset,
        parent_run=parent.run_id if parent else None, seed=seed, point=f"{stage.name}{grid}",
        grid={**inherited, **own}, options=options, moved=moved, note=stage.note, line=stage.line)


def train_argv(run: PlannedRun, *, data: str, db: str, output_dir: str, model: str | None,
               reward_model: str | None = None, judge: str | None = None) -> list[str]:
    """The `vdbench train` command line of one planned run."""
    options = dict(run.options)
    if judge is not None:
        options["judge"] = judge
    argv = ["train", run.algorithm, "--data", data, "--db", db, "--run", run.run_id,
            "--seed", str(run.seed), "--output-dir", output_dir, *options_argv(options), "--json"]
    argv += ["--parent", run.parent_run] if run.parent_run else ["--model", str(model)]
    if reward_model:
        argv += ["--reward-model", reward_model]
    return argv
