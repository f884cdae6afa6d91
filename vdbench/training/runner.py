"""One training stage end to end: validate everything, then load, train, sample, save.

`prepare_training` does every check that needs no model (data schema, model directory,
parent run, output directory, schedule against the planned run length), so bad input is
reported in seconds; `run_training` loads the model and runs the stage with the
DriftCallback attached. Under `torchrun` / `accelerate launch` every process runs both;
only rank 0 writes to the store.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from vdbench.errors import InputError
from vdbench.evalsets.model import EvalSet
from vdbench.progress import ProgressFn
from vdbench.runs import RunSpec, parse_parent
from vdbench.store import Store
from vdbench.training import distributed
from vdbench.training.config import (
    ALGORITHMS,
    STAGE_BY_ALGORITHM,
    PPOHParams,
    TrainRequest,
)
from vdbench.training.data import TrainingData, load_training_data
from vdbench.training.models import check_model_dir
from vdbench.training.schedule import checkpoint_schedule, planned_total_steps

log = logging.getLogger(__name__)


@dataclass
class PreparedTraining:
    request: TrainRequest
    data: TrainingData
    model_dir: Path
    output_dir: Path
    total_steps: int
    schedule: list[int]
    eval_set: EvalSet
    run: RunSpec
    warnings: list[str] = field(default_factory=list)


def check_output_dir(path: Path) -> Path:
    """Create `path` if needed and prove it is writable; InputError otherwise."""
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".vdbench-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"output directory is not writable: {exc.strerror or exc}", where=str(path),
                         hint="choose a writable --output-dir") from None
    return path


def _parent_checkpoint(store: Store, run: str, step: int | None) -> tuple[int | None, str | None]:
    """(step, recorded path) of the parent's checkpoint; InputError if run or step is absent."""
    if not store.path.exists():
        raise InputError(f"parent run {run!r} does not exist: the store {store.path} is empty",
                         hint="train or sample the parent first, or drop --parent")
    with store.read() as con:
        found = con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run]).fetchone()
        if found is None:
            known = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
            raise InputError(f"parent run {run!r} does not exist in {store.path}",
                             hint=f"known runs: {', '.join(known) or '(none)'}")
        rows = con.execute("SELECT step, path FROM checkpoints WHERE run_id = ? ORDER BY step",
                           [run]).fetchall()
    if not rows:
        return step, None
    paths = dict(rows)
    if step is None:
        step = rows[-1][0]
    elif step not in paths:
        raise InputError(f"parent run {run!r} has no checkpoint at step {step}",
                         hint=f"its checkpoints: {sorted(paths)}")
    return step, paths.get(step)


def prepare_training(req: TrainRequest) -> PreparedTraining:
    """Validate the request without loading a model; raise InputError on bad input."""
    if req.algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {req.algorithm!r}", hint=f"one of {', '.join(ALGORITHMS)}")
    kind = "sft" if req.algorithm == "sft" else "preference"
    data = load_training_data(req.data, kind)
    store = Store(req.db)
    if not store.path.parent.exists():
        raise InputError("directory of --db does not exist", where=str(store.path.parent))

    parent_run, parent_step = parse_parent(req.parent)
    parent_path = None
    if parent_run is not None:
        parent_step, parent_path = _parent_checkpoint(store, parent_run, parent_step)
    model_dir = req.model or (Path(parent_path) if parent_path else None)
    if model_dir is None:
        raise InputError("--model is required" + (
            f" (parent {parent_run!r} has no recorded checkpoint path)" if parent_run else ""))
    model_dir = Path(model_dir).expanduser().resolve()
    check_model_dir(model_dir, trust_remote_code=req.trust_remote_code)
    warnings: list[str] = []
    if parent_path and Path(parent_path).expanduser().resolve() != model_dir:
        warnings.append(f"--model {model_dir} is not the parent checkpoint's recorded model "
                        f"({parent_path}); the lineage will say this run continues "
                        f"{parent_run}:{parent_step}")
    if req.reward_model is not None:
        check_model_dir(req.reward_model, trust_remote_code=req.trust_remote_code)

    output_dir = check_output_dir(req.output_dir or Path("vdbench-runs") / req.run).resolve()

    hp = req.hparams
    if isinstance(hp, PPOHParams):
        total = planned_total_steps(len(data), hp.batch_size, 1, distributed.world_size(),
                                    hp.epochs, hp.max_steps)
    else:
        total = planned_total_steps(len(data), hp.batch_size, hp.grad_accum,
                                    distributed.world_size(), hp.epochs, hp.max_steps)
    schedule = checkpoint_schedule(total, req.drift.every, req.drift.eval_steps)

    from vdbench.evalsets.stored import resolve_eval_set

    eval_set = resolve_eval_set(req.drift.eval_set, store)
    hparams = {"algorithm": req.algorithm, **_hparams_dict(hp), "drift": asdict(req.drift),
               "total_steps": total, "data": str(req.data), "world_size": distributed.world_size()}
    run = RunSpec(
        run_id=req.run, stage=STAGE_BY_ALGORITHM[req.algorithm], algorithm=req.algorithm,
        model=str(model_dir), parent_run=parent_run, parent_step=parent_step,
        eval_set=eval_set.name, hparams=hparams, seed=getattr(hp, "seed", None),
    )
    return PreparedTraining(req, data, Path(model_dir), output_dir, total, schedule, eval_set, run,
                            warnings)


def _hparams_dict(hp: Any) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(hp), default=str))


def quiet_libraries() -> None:
    import warnings

    import datasets
    import transformers

    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _latest_trainer_checkpoint(output_dir: Path) -> str | None:
    # checkpoint-0 (the start, saved for a watcher) holds no optimiser state to resume from,
    # and one without trainer_state.json was cut off while being written
    from vdbench.watch import read_state

    found = [p for p in output_dir.glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit() and int(p.name.split("-")[-1]) > 0
             and read_state(p) is not None]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None


def run_training(prep: PreparedTraining, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Load the model, train with drift capture, save the final model; return a summary.

    `progress(phase, step, total)` hears each step and each drift checkpoint's sampling.
    """
    import torch

    from vdbench.evalsets.stored import register_eval_set
    from vdbench.runs import register_run
    from vdbench.training.callback import DriftCallback

    req = prep.request
    store = Store(req.db)
    quiet_libraries()
    if distributed.is_main():
        register_eval_set(store, prep.eval_set)
        prep.run = register_run(store, prep.run)
    stopped = distributed.broadcast_object(_stopped_event(store, prep.run.run_id)
                                           if distributed.is_main() else None)
    if stopped is not None and req.stop_on_budget:
        return _already_stopped_summary(prep, stopped)
    if stopped is not None and distributed.is_main():
        from vdbench.run_events import RESUMED, record_event

        record_event(store, prep.run.run_id, stopped["step"], RESUMED,
                     {"from_step": stopped["step"], "planned_steps": prep.total_steps})
        if not req.quiet:
            print(f"run {prep.run.run_id} stopped at step {stopped['step']} on its drift budget; "
                  f"training on to step {prep.total_steps} (warnings only)", file=sys.stderr)
    torch.manual_seed(getattr(req.hparams, "seed", 0))

    from vdbench.training.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(prep.model_dir, trust_remote_code=req.trust_remote_code,
                                                dtype=req.dtype)
    drift = replace(req.drift)
    callback = DriftCallback(
        store, prep.run, prep.eval_set, drift, tokenizer=tokenizer, judge=req.judge,
        total_steps=prep.total_steps, save_checkpoints=req.save_checkpoints,
        checkpoint_paths={0: str(prep.model_dir), prep.total_steps: str(prep.output_dir)},
        drift_budget=req.drift_budget, stop_on_budget=req.stop_on_budget,
        inline=req.inline_sampling,
    )
    callbacks: list[TrainerCallback] = [ProgressCallback(progress, callback)] if progress else []
    callbacks.append(callback)
    started = time.perf_counter()
    logging_dir = req.logging_dir or prep.output_dir / "runs"
    if req.algorithm == "ppo":
        metrics = _run_ppo(prep, model, tokenizer, callbacks, progress, logging_dir)
    else:
        metrics = _run_trl(prep, model, tokenizer, callbacks, logging_dir)
    seconds = time.perf_counter() - started
    summary = {
        "run": prep.run.run_id, "algorithm": req.algorithm, "stage": prep.run.stage,
        "parent": {"run": prep.run.parent_run, "step": prep.run.parent_step},
        "model": str(prep.model_dir), "output_dir": str(prep.output_dir),
        "eval_set": prep.eval_set.name, "total_steps": prep.total_steps, "schedule": prep.schedule,
        "checkpoints_stored": sorted(callback.stored),
        "inline_sampling": req.inline_sampling,
        "checkpoints_saved": sorted(callback.saved),
        "samples_stored": int(sum(callback.stored.values())),
        # steps a stop on the drift budget never reached are not "skipped"
        "skipped_steps": [] if not req.inline_sampling else sorted(
            s for s in set(prep.schedule) - set(callback.stored)
            if callback.stop_step is None or s <= callback.stop_step),
        "seconds": round(seconds, 2), "sampling_seconds": round(callback.seconds, 2),
        "sampling_share": round(callback.seconds / seconds, 4) if seconds else 0.0,
        "judge": req.judge, "metrics": metrics, "hparams": prep.run.hparams,
        "warnings": prep.warnings,
        "report_to": list(req.report_to), "logging_dir": str(logging_dir) if req.report_to else None,
        "drift_budget": req.drift_budget,
        "budget_breaches": [b.as_dict() for b in callback.breaches],
        "stopped": _stop_summary(callback, prep.total_steps),
    }
    if distributed.is_main():
        record_results(store, prep.run.run_id, {
            "algorithm": req.algorithm, "total_steps": prep.total_steps,
            "seconds": summary["seconds"], "sampling_seconds": summary["sampling_seconds"],
            "stopped_step": callback.stop_step, **metrics})
    return summary


def _stopped_event(store: Store, run_id: str) -> dict[str, Any] | None:
    """The run's `stopped` event if it is stopped now (no later `resumed`), else None."""
    from vdbench import queries

    with store.read() as con:
        event = queries.stopped_at(queries.run_events(con, run_id))
    if event is None:
        return None
    return {"step": int(event["step"]), **event["payload"]}


def _stop_summary(callback: Any, total_steps: int) -> dict[str, Any] | None:
    if callback.stop_step is None:
        return None
    return {"step": callback.stop_step, "planned_steps": total_steps, "reason": "drift budget",
            "breaches": [b.as_dict() for b in callback.stop_breaches]}


def _already_stopped_summary(prep: PreparedTraining, stopped: dict[str, Any]) -> dict[str, Any]:
    """What a rerun of a run stopped on its budget reports: nothing trained, nothing stored."""
    req = prep.request
    return {
        "run": prep.run.run_id, "algorithm": req.algorithm, "stage": prep.run.stage,
        "parent": {"run": prep.run.parent_run, "step": prep.run.parent_step},
        "model": str(prep.model_dir), "output_dir": str(prep.output_dir),
        "eval_set": prep.eval_set.name, "total_steps": prep.total_steps, "schedule": prep.schedule,
        "checkpoints_stored": [], "samples_stored": 0, "skipped_steps": prep.schedule,
        "seconds": 0.0, "sampling_seconds": 0.0, "sampling_share": 0.0, "judge": req.judge,
        "metrics": {}, "hparams": prep.run.hparams, "warnings": prep.warnings,
        "report_to": list(req.report_to), "logging_dir": None, "drift_budget": req.drift_budget,
        "budget_breaches": [],
        "stopped": {"step": stopped["step"], "planned_steps": stopped.get("planned_steps"),
                    "reason": stopped.get("reason", "drift budget"),
                    "breaches": stopped.get("breaches", []), "already": True},
    }


@contextmanager
def tracker_logging_dir(path: Path | None) -> Iterator[None]:
    """Point transformers' TensorBoard callback at `path` while trainers are built (it
    reads TENSORBOARD_LOGGING_DIR when created), then restore the environment."""
    if path is None:
        yield
        return
    before = os.environ.get("TENSORBOARD_LOGGING_DIR")
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TENSORBOARD_LOGGING_DIR", None)
        else:
            os.environ["TENSORBOARD_LOGGING_DIR"] = before


def record_results(store: Store, run_id: str, stats: dict[str, Any]) -> None:
    """Keep what training measured (losses, reward margins, PPO reward and KL to the
    reference) in the store beside the run's stances; a rerun replaces it."""
    import json

    with store.write() as con:
        con.execute("INSERT OR REPLACE INTO run_results (run_id, stats) VALUES (?, ?)",
                    [run_id, json.dumps(stats, default=str)])


def _run_trl(prep: PreparedTraining, model, tokenizer, callbacks: list,
             logging_dir: Path | None = None) -> dict[str, Any]:
    from transformers.trainer_callback import PrinterCallback

    from vdbench.training.callback import DriftCallback
    from vdbench.training.data import to_dataset

    req = prep.request
    hp: Any = replace(req.hparams, max_steps=prep.total_steps)  # the schedule's length, exactly
    dataset = to_dataset(prep.data)
    callbacks = callbacks + ([] if req.quiet else [StderrLogCallback()])
    tracking: dict[str, Any] = {"report_to": req.report_to, "run_name": prep.run.run_id}
    with tracker_logging_dir(logging_dir if req.report_to else None):
        if req.algorithm == "sft":
            from vdbench.training.sft import build_sft_trainer

            trainer = build_sft_trainer(model, tokenizer, dataset, hp, prep.output_dir, callbacks,
                                        **tracking)
        elif req.algorithm == "dpo":
            from vdbench.training.dpo import build_dpo_trainer

            trainer = build_dpo_trainer(model, tokenizer, dataset, hp, prep.output_dir, callbacks,
                                        **tracking)
        else:
            from vdbench.training.simpo import build_simpo_trainer

            trainer = build_simpo_trainer(model, tokenizer, dataset, hp, prep.output_dir, callbacks,
                                          **tracking)
    trainer.remove_callback(PrinterCallback)  # stdout is for the summary / --json
    for callback in callbacks:
        if isinstance(callback, DriftCallback):
            callback.attach(trainer)  # its scalars go to the trainer's report_to trackers
    resume = _latest_trainer_checkpoint(prep.output_dir)
    if resume and distributed.is_main() and not req.quiet:
        print(f"resuming from {resume}", file=sys.stderr)
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(prep.output_dir))
    trainer.save_state()  # trainer_state.json: `vdbench sample` reads the step from it
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    margins = [h["rewards/margins"] for h in trainer.state.log_history if "rewards/margins" in h]
    out = {"train_loss": result.training_loss, "first_loss": losses[0] if losses else None,
           "last_loss": losses[-1] if losses else None, "steps": trainer.state.global_step}
    if margins:  # DPO / SimPO: the implicit reward margin, chosen over rejected
        tail = margins[-max(1, len(margins) // 5):]
        out |= {"first_margin": margins[0], "last_margin": sum(tail) / len(tail)}
    return out


def _run_ppo(prep: PreparedTraining, policy, tokenizer, callbacks: list,
             progress: ProgressFn | None, logging_dir: Path | None = None) -> dict[str, Any]:
    from vdbench.training.callback import DriftCallback
    from vdbench.training.ppo import PPOTrainer
    from vdbench.training.reward import load_reward_model

    req = prep.request
    hp: PPOHParams = req.hparams  # type: ignore[assignment]
    hp = replace(hp, max_steps=prep.total_steps)
    if req.reward_model is not None:
        reward_model = load_reward_model(req.reward_model, trust_remote_code=req.trust_remote_code)
        rm_stats: dict[str, Any] = {"path": str(req.reward_model), "trained": False}
    else:
        reward_model, rm_stats = train_ppo_reward_model(prep, tokenizer, prep.output_dir / "reward_model",
                                                        progress)
    with tracker_logging_dir(logging_dir if req.report_to else None):
        trainer = PPOTrainer(policy, tokenizer, prep.data.prompts(), hp, reward_model=reward_model,
                             callbacks=callbacks, log_to_stderr=not req.quiet,
                             output_dir=prep.output_dir, report_to=req.report_to,
                             run_name=prep.run.run_id)
    for callback in callbacks:
        if isinstance(callback, DriftCallback):
            callback.attach(trainer)
    history = trainer.train()
    trainer.save(prep.output_dir)
    last = history[-1] if history else {}
    return {"reward_model": rm_stats, "steps": len(history),
            "first_reward": history[0]["reward"] if history else None,
            "last_reward": last.get("reward"), "last_kl": last.get("kl_k3"),
            "mean_kl": sum(h["kl_k3"] for h in history) / len(history) if history else None,
            "reference_kl": trainer.reference_kl()}


def train_ppo_reward_model(prep: PreparedTraining, tokenizer, output_dir: Path,
                           progress: ProgressFn | None = None) -> tuple[Any, dict[str, Any]]:
    """The reward model a PPO run trains when none is given (`--reward-model`), from its
    starting model, data and settings; returns (model, stats). Several PPO runs on the same
    data can share one: train it here once and pass its directory to each."""
    from vdbench.training.reward import train_reward_model

    req = prep.request
    hp: PPOHParams = req.hparams  # type: ignore[assignment]
    return train_reward_model(
        prep.model_dir, tokenizer, prep.data, hp.reward, output_dir,
        trust_remote_code=req.trust_remote_code, seed=hp.seed, quiet=req.quiet,
        callbacks=[ProgressCallback(progress, phase="reward model")] if progress else (),
    )


class ProgressCallback(TrainerCallback):
    """Reports training steps to a `ProgressFn`; with a drift callback, also its sampling.

    Placed before the drift callback, so "sample step N" is reported before the drift
    callback samples checkpoint N.
    """

    def __init__(self, progress: ProgressFn, drift: Any = None, phase: str = "train"):
        self.progress, self.drift, self.phase = progress, drift, phase

    def _report(self, state, sampling: bool) -> None:
        step = state.global_step
        phase = f"sample step {step}" if sampling else self.phase
        self.progress(phase, step, state.max_steps)

    def on_train_begin(self, args, state, control, **kwargs):
        self._report(state, self.drift is not None and state.global_step not in self.drift.sampled)

    def on_step_end(self, args, state, control, **kwargs):
        drift = self.drift
        sampling = drift is not None and state.global_step in drift.schedule \
            and state.global_step not in drift.sampled
        self._report(state, sampling)

    def on_train_end(self, args, state, control, **kwargs):
        self.progress(self.phase, state.global_step, state.max_steps)


class StderrLogCallback(TrainerCallback):
    """One short line per logged step on stderr (stdout stays clean for --json)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        keys = ("loss", "learning_rate", "rewards/margins", "rewards/accuracies")
        parts = [f"{k.split('/')[-1]} {logs[k]:.4g}" if isinstance(logs[k], float)
                 else f"{k.split('/')[-1]} {logs[k]}" for k in keys if k in logs]
        print(f"step {state.global_step}/{state.max_steps}: " + ", ".join(parts), file=sys.stderr)
