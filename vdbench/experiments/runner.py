"""Run a planned experiment: build what it starts from, tag its runs in the store, and hand
the training / reward-model / audit / selection jobs to the worker pool (vdbench.jobs).

Resuming is the jobs' own property (each skips what the store holds), so `vdbench
experiment run` after a kill, or with seeds added to the file, trains only what is missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdbench.errors import InputError
from vdbench.experiments.plan import Plan, PlannedRun, train_argv
from vdbench.jobs import REWARD_JOB, Job
from vdbench.store import Store

# Relative wall time of one optimiser step, by algorithm (a PPO step is a rollout, a
# reward-model pass and several updates): only used to start long chains first.
STEP_COST = {"sft": 1.0, "dpo": 2.0, "simpo": 1.5, "ppo": 10.0}
SAMPLE_COST = 0.05  # one drift sample (generation + judging), in SFT-step units


@dataclass(frozen=True)
class Paths:
    db: Path
    work: Path  # the micro world lives here (micro-seed{world_seed})
    runs: Path  # one output directory per run, plus reward models and derived datasets


def default_paths(plan: Plan, db: str | None, workdir: str, runs_dir: str | None = None) -> Paths:
    work = Path(workdir).expanduser()
    return Paths(db=Path(db or f"{plan.spec.name}.duckdb").expanduser(), work=work,
                 runs=Path(runs_dir).expanduser() if runs_dir else work / "experiments" / plan.spec.name)


def check_request(plan: Plan, paths: Paths) -> None:
    """Refuse what would fail later, before minutes of pre-training: a --db in a missing
    directory, a base model that is not a directory, runs whose parents are neither
    planned nor stored, or a store holding the same run ids with other settings."""
    parent = paths.db.resolve().parent
    if not parent.is_dir():
        raise InputError("directory of --db does not exist", where=str(parent))
    spec = plan.spec
    if spec.base != "micro" and not Path(spec.base).is_dir():
        raise InputError(f"base model {spec.base} is not a directory",
                         where=str(spec.source or "<experiment>"))
    planned = {r.run_id for r in plan.runs}
    stored = stored_options(paths.db, spec.name)
    missing = sorted({r.parent_run for r in plan.runs if r.parent_run and r.parent_run not in planned}
                     - set(stored) - stored_run_ids(paths.db))
    if missing:
        raise InputError(f"the chosen stages start from {', '.join(missing)}, which is neither "
                         "chosen nor in the store", where=str(paths.db),
                         hint="run the parent stages too (leave out --only, or add them to it)")
    for run in plan.runs:
        old = stored.get(run.run_id)
        if old is not None and old != _jsonable(run.options):
            changed = sorted(k for k in set(old) | set(run.options)
                             if old.get(k) != _jsonable(run.options).get(k))
            raise InputError(f"run {run.run_id} is in the store with other settings "
                             f"({', '.join(changed)} changed)", where=str(paths.db),
                             hint="name the experiment anew, use another --db, or put the "
                                  "changed option in a grid so the run id changes")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def stored_run_ids(db: Path) -> set[str]:
    from vdbench import queries

    if not db.exists():
        return set()
    with Store(db).read() as con:
        return {run["run_id"] for run in queries.list_runs(con)}


def stored_options(db: Path, experiment: str) -> dict[str, dict[str, Any]]:
    if not db.exists():
        return {}
    with Store(db).read() as con:
        rows = con.execute("SELECT run_id, options FROM experiment_runs WHERE experiment = ?",
                           [experiment]).fetchall()
    return {run_id: json.loads(options) for run_id, options in rows}


def record_plan(plan: Plan, db: Path) -> None:
    """Tag every planned run with the experiment, its grid point and seed (idempotent)."""
    spec = plan.spec
    store = Store(db)
    with store.write() as con:
        exists = con.execute("SELECT count(*) FROM experiments WHERE experiment = ?",
                             [spec.name]).fetchone()
        payload = json.dumps(spec.raw, default=str)
        if exists and exists[0]:
            con.execute("UPDATE experiments SET spec = ?, source = ?, updated_at = current_timestamp "
                        "WHERE experiment = ?", [payload, str(spec.source or ""), spec.name])
        else:
            con.execute("INSERT INTO experiments (experiment, source, spec) VALUES (?, ?, ?)",
                        [spec.name, str(spec.source or ""), payload])
        con.executemany(
            "INSERT OR IGNORE INTO experiment_runs (experiment, run_id, stage, algorithm, dataset, "
            "parent_run, point, grid, options, seed, moved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[spec.name, r.run_id, r.stage, r.algorithm, r.dataset, r.parent_run, r.point,
              json.dumps(r.grid, default=str), json.dumps(r.options, default=str), r.seed, r.moved]
             for r in plan.runs])


def _cost(run: PlannedRun) -> float:
    steps = float(run.options.get("max_steps") or 100)
    evals = str(run.options.get("eval_steps") or "0").replace("[", "").replace("]", "")
    n_evals = len([e for e in evals.split(",") if e.strip()]) or 2
    samples = float(run.options.get("samples") or 5) * 55
    return STEP_COST[run.algorithm] * steps + SAMPLE_COST * n_evals * samples


def plan_jobs(plan: Plan, paths: Paths, data: dict[str, str], *, base: str | None,
              judge: str | None) -> list[Job]:
    """The worker jobs of `plan`: derived datasets, reward models, runs, audits."""
    jobs: list[Job] = []
    planned = {r.run_id for r in plan.runs}
    spec = plan.spec
    db = str(paths.db)
    for name, ds in spec.datasets.items():
        if ds.kind != "select" or not any(r.dataset == name for r in plan.runs):
            continue
        sel = ds.value
        jobs.append(Job(f"select {name}", "select", (), {
            "db": db, "input": data[sel["from"]], "name": f"{spec.name}.{sel['from']}",
            "limit": sel.get("limit"), "keep": sel["keep"], "min_margin": sel.get("min_margin"),
            "output": data[name], "judge": judge,
            "seed": spec.seeds[0]}, cost=200.0))
    for run in plan.runs:
        argv = train_argv(run, data=data[run.dataset], db=db, output_dir=str(paths.runs / run.run_id),
                          model=base, judge=judge)
        needs: tuple[str, ...] = (run.parent_run,) if run.parent_run in planned else ()
        if spec.datasets[run.dataset].kind == "select":
            needs = (*needs, f"select {run.dataset}")
        if run.algorithm == "ppo":
            # PPO runs with the same starting model, data and reward-model options
            # share one reward model.
            rm_opts = {k: v for k, v in run.options.items() if k.startswith("rm_") or k == "no_graded"}
            rm_key = f"{run.parent_run or 'base'}-{run.dataset}" + "".join(
                f"-{k}{v}" for k, v in sorted(rm_opts.items()))
            rm_name = f"{REWARD_JOB} {rm_key}"
            rm_dir = paths.runs / "reward-models" / rm_key
            if not any(j.name == rm_name for j in jobs):
                jobs.append(Job(rm_name, "reward", needs, {"argv": argv, "output": str(rm_dir)},
                                cost=150.0))
            argv, needs = [*argv, "--reward-model", str(rm_dir)], (*needs, rm_name)
        jobs.append(Job(run.run_id, "train", needs, {"argv": argv}, cost=_cost(run)))
    for audit in plan.audits:
        jobs.append(Job(f"audit {audit.name}", "audit", (), {
            "db": db, "input": data[audit.dataset], "name": audit.name, "limit": audit.limit,
            "judge": judge, "seed": spec.seeds[0]},
            cost=40.0 + 0.2 * (audit.limit or 1000)))
    return jobs


def run_plan(plan: Plan, paths: Paths, *, workers: int, board: Any, judge: str | None = None,
             world_seed: int | None = None) -> dict[str, Any]:
    """Build the base, write derived datasets, tag the runs, run every job; returns each
    job's result by name."""
    from vdbench.experiments.datasets import materialize
    from vdbench.jobs import run_jobs

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    check_request(plan, paths)
    paths.work.mkdir(parents=True, exist_ok=True)
    paths.runs.mkdir(parents=True, exist_ok=True)
    world = None
    if plan.spec.uses_micro:
        world = build_world(paths.work, plan.spec.world_seed if world_seed is None else world_seed,
                            workers, board)
    base = str(world.base) if plan.spec.base == "micro" and world else plan.spec.base
    from vdbench.judges.registry import DEFAULT_JUDGE

    # Every run is judged as it trains (as the demo's are), and audits use the same judge.
    judge = judge or plan.spec.drift.get("judge") or DEFAULT_JUDGE
    data = materialize(plan.spec, world, paths.runs / "datasets")
    record_plan(plan, paths.db)
    return run_jobs(plan_jobs(plan, paths, data, base=base, judge=judge), workers=workers,
                    board=board)


def build_world(work: Path, seed: int, threads: int, board: Any) -> Any:
    from transformers.utils import logging as hf_logging

    from vdbench.micro import build_micro_world

    hf_logging.disable_progress_bar()  # the board shows progress; no stray tqdm lines
    job = "micro world"
    board.add(job, 0, "loading")
    # Nothing else runs yet, so pre-training gets every thread the workers will share.
    world = build_micro_world(work / f"micro-seed{seed}", seed=seed, num_threads=threads,
                              progress=board.fn(job))
    board.finish(job, "cached" if world.from_cache else
                 f"built in {world.manifest['pretrain']['seconds']:.0f} s")
    return world
