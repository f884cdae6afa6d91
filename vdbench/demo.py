"""The embedded default, end to end: micro world → SFT (chat, instruct) → DPO / SimPO / PPO
with drift capture → probe judge → metrics, plus a value-gap audit of the preference sets.

Every training stage goes through the same code as `vdbench train` (its command line is
parsed, then run) and every audit through `vdbench audit`'s pipeline, so the demo exercises
what users run. Stages that do not depend on each other run in parallel worker processes
(one torch thread each); a rerun skips whatever the store already holds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vdbench.commands.common import console, print_json


@dataclass(frozen=True)
class Stage:
    run: str
    algorithm: str
    dataset: str  # key of MicroWorld.datasets
    parent: str | None
    options: tuple[str, ...]
    moved: str  # the stance this stage is expected to move (for the summary)
    note: str


@dataclass(frozen=True)
class Audit:
    name: str  # dataset name in the store
    dataset: str  # key of MicroWorld.datasets
    limit: int  # first N pairs (the audit is a sample of the set)
    note: str


@dataclass(frozen=True)
class Plan:
    quick: bool
    drift: tuple[str, ...]
    stages: tuple[Stage, ...]
    audits: tuple[Audit, ...]

    def stage_names(self) -> list[str]:
        return [st.run for st in self.stages]

    def select(self, only: list[str] | None) -> list[Stage]:
        """The stages `--only` names (all without it), in plan order."""
        return [st for st in self.stages if not only or st.run in only]


def plan(quick: bool) -> Plan:
    """What the demo runs. Full: 55 prompts × 4 samples per checkpoint on a dense-early
    schedule; quick: 55 × 2, fewer steps and checkpoints (a smoke run, same code paths)."""
    if quick:
        drift = ("--eval-set", "vprism-mini", "--samples", "2", "--max-new-tokens", "48")
        sft = ("--max-steps", "40", "--eval-steps", "0,5,10,20")
        pref = ("--max-steps", "16", "--eval-steps", "0,4,8")
        ppo = ("--max-steps", "8", "--eval-steps", "0,4", "--response-length", "48", "--rm-epochs", "0.3")
        audit_limit = 100
    else:
        drift = ("--eval-set", "vprism-mini", "--samples", "4", "--max-new-tokens", "48")
        sft = ("--max-steps", "94", "--eval-steps", "0,2,5,10,15,20,30,45,60,75")
        pref = ("--max-steps", "60", "--eval-steps", "0,5,10,20,30,45,60")
        ppo = ("--max-steps", "30", "--eval-steps", "0,2,5,10,20,30", "--response-length", "48")
        audit_limit = 500
    drift = (*drift, "--temperature", "0.7", "--gen-batch-size", "128")
    sft = ("--lr", "5e-4", "--batch-size", "16", *sft)
    pref = ("--lr", "5e-5", "--batch-size", "16", *pref)
    dpo, simpo = (*pref, "--beta", "0.1"), (*pref, "--beta", "2.0", "--gamma", "1.0")
    stages = (
        Stage("sft-chat", "sft", "chat", None, sft, "neutral",
              "SFT on a 70 %-neutral chat set (like WildChat)"),
        Stage("sft-instruct", "sft", "instruct", None, sft, "support",
              "SFT on a 70 %-support instruct set (like Alpaca)"),
        Stage("dpo-gap-support", "dpo", "gap-support", "sft-chat", dpo, "support",
              "DPO on support-vs-other pairs (value gap)"),
        Stage("simpo-gap-support", "simpo", "gap-support", "sft-chat", simpo, "support",
              "SimPO on the same pairs"),
        *(Stage(f"ppo-gap-support-kl{kl}", "ppo", "gap-support", "sft-chat",
                ("--lr", "1e-5", "--batch-size", "16", *ppo, "--kl-coef", kl), "support",
                f"PPO with a graded reward model, KL coefficient {kl} to the SFT policy")
          for kl in ("0.05", "1.0")),
        Stage("dpo-style", "dpo", "style", "sft-chat", dpo, "support",
              "DPO on style-only pairs (same stance, better answer): a control"),
        Stage("simpo-style", "simpo", "style", "sft-chat", simpo, "support",
              "SimPO on the style-only pairs: a control"),
    )
    audits = (
        Audit("micro-gap-support", "gap-support", audit_limit, "value-gap pairs (support chosen)"),
        Audit("micro-style", "style", audit_limit, "style-only pairs (same stance)"),
    )
    return Plan(quick, drift, stages, audits)


def default_paths(args: argparse.Namespace) -> tuple[Path, str]:
    """The store and the runs-directory suffix: quick runs never mix with full ones."""
    db = args.db or ("vdbench-demo-quick.duckdb" if args.quick else "vdbench-demo.duckdb")
    return Path(db), "-quick" if args.quick else ""


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_demo(args: argparse.Namespace) -> int:
    from vdbench.demo_summary import build_summary, print_summary
    from vdbench.progress import Board

    the_plan = plan(args.quick)
    db, suffix = default_paths(args)
    _check_request(args, the_plan, db)  # before minutes of pre-training, not after
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    work = Path(args.workdir).expanduser()
    work.mkdir(parents=True, exist_ok=True)
    chosen = the_plan.select(args.only)
    audits = [] if args.only and "audit" not in args.only else list(the_plan.audits)
    board_console = console(stderr=True)
    workers = args.jobs or default_jobs()
    with Board(board_console) as board:
        world = build_world(work, args.seed, workers, board)
        results = run_jobs(
            plan_jobs(chosen, audits, the_plan, world, db, work / f"runs-seed{args.seed}{suffix}", args),
            workers=workers, board=board,
        )
    summary = build_summary(db, chosen, audits, results, seed=args.seed)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["quick"] = args.quick
    if args.json:
        print_json(summary)
        return 0
    opens_tui = not args.no_tui and sys.stdout.isatty() and sys.stdin.isatty()
    out = console()
    print_summary(out, summary, tui_next=opens_tui)
    if opens_tui:
        from vdbench.tui.app import VdbenchApp

        VdbenchApp(str(db)).run()
        out.print(f"store: {db}   (again: vdbench tui --db {db})", markup=False)
    return 0


def _check_request(args: argparse.Namespace, the_plan: Plan, db: Path) -> None:
    """Refuse a bad --db, --only, --jobs or --judge before any model is built."""
    from vdbench.errors import InputError
    from vdbench.judges.registry import find_manifest, read_manifest

    parent = db.expanduser().resolve().parent
    if not parent.is_dir():
        raise InputError("directory of --db does not exist", where=str(parent))
    known = [*the_plan.stage_names(), "audit"]
    unknown = [name for name in args.only or [] if name not in known]
    if unknown:
        raise InputError(f"unknown demo stage(s): {', '.join(unknown)}",
                         hint=f"stages: {', '.join(known)}")
    chosen = the_plan.select(args.only)
    missing = sorted({st.parent for st in chosen if st.parent and st.parent not in
                      {c.run for c in chosen}} - _stored_runs(db))
    if missing:
        raise InputError(f"the chosen stages start from {', '.join(missing)}, which is neither "
                         f"chosen nor in the store", where=str(db),
                         hint=f"add {' '.join(missing)} to --only")
    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    read_manifest(find_manifest(args.judge))


def _stored_runs(db: Path) -> set[str]:
    from vdbench import queries
    from vdbench.store import Store

    if not db.exists():
        return set()
    with Store(db).read() as con:
        return {run["run_id"] for run in queries.list_runs(con)}


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


# -- jobs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One unit of work for a worker process: a training stage or an audit."""

    name: str
    kind: str  # "train" | "audit"
    needs: tuple[str, ...]
    spec: dict[str, Any]


# Longest first once their parent is done, so the two workers finish together.
_PRIORITY = ("sft-chat", "reward model", "ppo-gap-support-kl0.05", "ppo-gap-support-kl1.0",
             "dpo-gap-support", "simpo-gap-support", "sft-instruct", "dpo-style", "simpo-style")
REWARD_JOB = "reward model"


def plan_jobs(chosen: list[Stage], audits: list[Audit], the_plan: Plan, world: Any, db: Path,
          runs_dir: Path, args: argparse.Namespace) -> list[Job]:
    names = {st.run for st in chosen}
    jobs = []
    reward_dir = runs_dir / "reward-model"
    for stage in chosen:
        argv = ["train", stage.algorithm, "--data", str(world.datasets[stage.dataset]),
                "--db", str(db), "--run", stage.run, "--seed", str(args.seed),
                "--output-dir", str(runs_dir / stage.run), "--judge", args.judge, *the_plan.drift,
                *stage.options, "--json"]
        argv += ["--parent", stage.parent] if stage.parent else ["--model", str(world.base)]
        needs = (stage.parent,) if stage.parent in names else ()
        if stage.algorithm == "ppo":
            # Every PPO stage scores with one reward model, trained once on the same pairs.
            if not any(j.name == REWARD_JOB for j in jobs):
                jobs.append(Job(REWARD_JOB, "reward", needs, {"argv": argv, "output": str(reward_dir)}))
            argv, needs = [*argv, "--reward-model", str(reward_dir)], (*needs, REWARD_JOB)
        jobs.append(Job(stage.run, "train", needs, {"argv": argv}))
    for audit in audits:
        jobs.append(Job(f"audit {audit.name}", "audit", (), {
            "db": str(db), "input": str(world.datasets[audit.dataset]), "name": audit.name,
            "limit": audit.limit, "judge": args.judge, "seed": args.seed}))
    order = {name: i for i, name in enumerate(_PRIORITY)}
    return sorted(jobs, key=lambda j: order.get(j.name, len(order)))


def run_jobs(jobs: list[Job], *, workers: int, board: Any) -> dict[str, Any]:
    """Run `jobs` on `workers` spawned processes, each job once its `needs` are done.

    Progress travels back through a queue. The first failure stops everything and is
    raised here (an InputError keeps its message and exit code).
    """
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    for job in jobs:
        board.add(job.name)
    results: dict[str, Any] = {}
    pending = list(jobs)
    running: dict[Future, Job] = {}

    def drain() -> None:
        while True:
            try:
                name, kind, *rest = events.get_nowait()
            except queue_mod.Empty:
                return
            if kind == "progress":
                board.update(name, *rest)
            else:
                board.finish(name, rest[0])

    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(events,)) as pool:
        try:
            while pending or running:
                for job in [j for j in pending if all(n in results for n in j.needs)]:
                    if len(running) >= workers:
                        break
                    pending.remove(job)
                    running[pool.submit(_run_job, job)] = job
                done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                drain()
                for future in done:
                    job = running.pop(future)
                    results[job.name] = future.result()  # raises the worker's error
            drain()
        except BaseException:
            # Ctrl-C or a failed job: stop the workers now (their writes are transactions,
            # so a rerun resumes), rather than waiting for their current stage to end.
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=5)
            raise
        finally:
            events.close()
            events.join_thread()
    return results


_EVENTS: Any = None


def _worker_init(events: Any) -> None:
    global _EVENTS
    _EVENTS = events
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the demo process's to handle
    _exit_with_parent()
    import torch

    torch.set_num_threads(int(os.environ.get("VDBENCH_THREADS", "1")))


def _exit_with_parent() -> None:
    """A worker whose demo process was killed (even by SIGKILL) stops too, rather than
    training on as an orphan; its store writes are transactions, so a rerun resumes."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_job(job: Job) -> dict[str, Any]:
    def report(phase: str, done: int, total: int) -> None:
        _EVENTS.put((job.name, "progress", phase, done, total))

    started = time.perf_counter()
    work = {"train": _train, "reward": _reward, "audit": _audit}[job.kind]
    result = work(job, report)
    text = result.pop("_status", None) or f"done in {time.perf_counter() - started:.0f} s"
    _EVENTS.put((job.name, "finish", text))
    return result


def _train(job: Job, report: Any) -> dict[str, Any]:
    from vdbench.cli import build_parser
    from vdbench.commands.train import build_request
    from vdbench.runs import done_steps
    from vdbench.store import Store
    from vdbench.training.runner import prepare_training, run_training

    prepared = prepare_training(build_request(build_parser().parse_args(job.spec["argv"])))
    if set(prepared.schedule) <= done_steps(Store(prepared.request.db), job.name):
        return {"_status": "already in the store"}
    summary = run_training(prepared, progress=report)
    return {k: summary[k] for k in ("seconds", "sampling_seconds", "total_steps",
                                    "samples_stored", "metrics")}


def _reward(job: Job, report: Any) -> dict[str, Any]:
    """Train the PPO stages' shared reward model from the PPO stage's own settings."""
    import json

    from vdbench.cli import build_parser
    from vdbench.commands.train import build_request
    from vdbench.training.models import load_tokenizer
    from vdbench.training.runner import prepare_training, quiet_libraries, train_ppo_reward_model

    output = Path(job.spec["output"])
    marker = output / "vdbench-reward.json"  # written last: its presence means complete
    if marker.is_file():
        return {"_status": "already trained", **json.loads(marker.read_text())}
    prepared = prepare_training(build_request(build_parser().parse_args(job.spec["argv"])))
    quiet_libraries()
    tokenizer = load_tokenizer(prepared.model_dir,
                               trust_remote_code=prepared.request.trust_remote_code)
    _, stats = train_ppo_reward_model(prepared, tokenizer, output, report)
    marker.write_text(json.dumps(stats, default=str))
    return stats


def _audit(job: Job, report: Any) -> dict[str, Any]:
    from vdbench.audit.pipeline import AuditOptions, run_audit
    from vdbench.store import Store

    spec = job.spec
    opts = AuditOptions(input=spec["input"], format="trl", name=spec["name"], limit=spec["limit"],
                        judge=spec["judge"], seed=spec["seed"], n_boot=500)
    return run_audit(Store(spec["db"]), opts, progress=report)
