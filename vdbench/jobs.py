"""Worker processes for training, reward-model, audit and data-selection jobs.

`run_jobs` runs a list of jobs on spawned processes (one torch thread each), each job once
the jobs it needs are done, longest critical path first. Every job goes through the same
code as the command a user would type (`vdbench train` is parsed, then run; an audit is
`vdbench audit`'s pipeline) and skips work the store already holds, so a killed run resumes
with nothing done twice. `vdbench demo` and `vdbench experiment run` both use it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class Job:
    """One unit of work for a worker process."""

    name: str
    kind: str  # "train" | "reward" | "audit" | "select"
    needs: tuple[str, ...]
    spec: dict[str, Any]
    cost: float = 1.0  # a relative estimate of its wall time, for scheduling


def critical_path(jobs: list[Job]) -> dict[str, float]:
    """Each job's cost plus the longest chain of jobs that wait on it: starting the job with
    the longest remaining chain first lets the workers finish together."""
    children: dict[str, list[Job]] = {}
    for job in jobs:
        for need in job.needs:
            children.setdefault(need, []).append(job)
    memo: dict[str, float] = {}

    def length(job: Job) -> float:
        if job.name not in memo:
            memo[job.name] = job.cost + max((length(c) for c in children.get(job.name, [])),
                                            default=0.0)
        return memo[job.name]

    return {job.name: length(job) for job in jobs}


REWARD_JOB = "reward model"


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
    priority = critical_path(jobs)
    pending = sorted(jobs, key=lambda j: -priority[j.name])  # stable: ties keep plan order
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
    work = {"train": _train, "reward": _reward, "audit": _audit, "select": _select}[job.kind]
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
    store = Store(prepared.request.db)
    if set(prepared.schedule) <= done_steps(store, job.name) and has_results(store, job.name):
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


def has_results(store: Any, run_id: str) -> bool:
    """Whether training finished and recorded its own statistics (written after the last
    checkpoint, so a run killed in between is trained again; its stored checkpoints are
    kept, not duplicated)."""
    with store.read() as con:
        row = con.execute("SELECT count(*) FROM run_results WHERE run_id = ?", [run_id]).fetchone()
    return bool(row and row[0])


def _select(job: Job, report: Any) -> dict[str, Any]:
    """Audit a dataset (resumable) and write the subset `vdbench audit select` would."""
    from vdbench.experiments.datasets import select_job

    return select_job(job.spec, report)
