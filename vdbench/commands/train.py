"""`vdbench train sft|dpo|simpo|ppo`: train one stage on TRL (PPO: ours) with drift capture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vdbench.commands.capability import add_capability_options, capability_options
from vdbench.commands.common import add_db, add_json, console, print_json

ALGORITHM_HELP = {
    "sft": "supervised fine-tuning on conversational `messages` (loss on assistant turns)",
    "dpo": "Direct Preference Optimisation on prompt/chosen/rejected (β exposed)",
    "simpo": "SimPO (reference-free, length-normalised; β and target margin γ exposed)",
    "ppo": "PPO with a reward model trained on the preference data and a KL penalty to the "
    "starting policy",
}


def _common(p: argparse.ArgumentParser, algorithm: str) -> None:
    g = p.add_argument_group("inputs and lineage")
    g.add_argument("--model", type=Path, metavar="DIR",
                   help="local Hugging Face causal-LM directory (default: the --parent "
                   "checkpoint's recorded path)")
    g.add_argument("--data", type=Path, required=True, metavar="FILE",
                   help="training data: JSONL/Parquet/CSV or a saved datasets directory "
                   + ("(rows with `messages`)" if algorithm == "sft" else "(rows with prompt/chosen/rejected)"))
    add_db(p)
    g.add_argument("--run", required=True, metavar="NAME", help="name of the run to create or resume")
    g.add_argument("--parent", metavar="RUN[:STEP]",
                   help="the run (and checkpoint) this stage continues: its lineage; step 0 of "
                   "this run is that checkpoint (default step: the parent's last)")
    g.add_argument("--output-dir", type=Path, metavar="DIR",
                   help="where the trained model goes (default ./vdbench-runs/RUN)")
    g.add_argument("--trust-remote-code", action="store_true",
                   help="allow running Python code shipped in the model directory (off by default)")
    g.add_argument("--dtype", choices=["float32", "bfloat16", "float16", "auto"],
                   help="weights dtype when loading (default float32; mixed precision via --bf16)")

    d = p.add_argument_group("drift capture (samples of the eval set during training)")
    d.add_argument("--eval-set", default="vprism", metavar="NAME",
                   help="built-in name, a name stored in the DB, or a file (default vprism)")
    d.add_argument("--every", type=int, metavar="N",
                   help="sample every N optimiser steps (default: ~10 checkpoints per run)")
    d.add_argument("--eval-steps", metavar="LIST",
                   help='extra steps to sample, e.g. "0,5,10,20,40", or "log:N" for N '
                   "geometrically spaced steps (dense early)")
    d.add_argument("--samples", type=int, default=5, metavar="K", help="samples per prompt (default 5)")
    d.add_argument("--max-new-tokens", type=int, default=256, help="default 256")
    d.add_argument("--temperature", type=float, default=0.7, help="default 0.7")
    d.add_argument("--top-p", type=float, default=1.0, help="default 1.0 (off)")
    d.add_argument("--gen-batch-size", type=int, default=64, metavar="N",
                   help="sequences per generate call (default 64)")
    d.add_argument("--judge", metavar="NAME",
                   help="judge each checkpoint's samples as they are stored (default: leave "
                   "them for `vdbench judge run`)")
    d.add_argument("--save-checkpoints", action="store_true",
                   help="also save the model at every sampled step (OUTPUT/checkpoint-STEP)")
    d.add_argument("--no-inline-sampling", dest="inline_sampling", action="store_false",
                   help="sample nothing during training: save OUTPUT/checkpoint-STEP at every "
                   "scheduled step (the start as checkpoint-0) for `vdbench sample --watch "
                   "OUTPUT` to sample beside training, on another GPU or host")
    d.add_argument("--sync-generate", action=argparse.BooleanOptionalAction, default=None,
                   help="every process joins every generate call (needed with ZeRO-3/FSDP; "
                   "default: detected)")
    add_capability_options(d)

    k = p.add_argument_group("trackers and drift budget")
    k.add_argument("--report-to", metavar="NAME[,NAME]",
                   help="also log stance values v(T), pooled v and output health (under vdbench/) "
                   "with the training metrics to these transformers trackers: tensorboard, wandb, "
                   "trackio, mlflow, … or all (default: none)")
    k.add_argument("--logging-dir", type=Path, metavar="DIR",
                   help="where TensorBoard event files go (default OUTPUT_DIR/runs; a rerun "
                   "appends there)")
    k.add_argument("--drift-budget", metavar="STANCE:MAX[,…]",
                   help='e.g. "neutral:0.2": warn (and record a run event) when a topic\'s or the '
                   "pooled stance moves more than MAX from the stage's first checkpoint, judged "
                   "by its bootstrap CI of M lying wholly beyond ±MAX (needs --judge)")
    k.add_argument("--stop-on-budget", action="store_true",
                   help="with --drift-budget: end training at that checkpoint (model and "
                   "checkpoint saved, run marked stopped); a rerun reports it stopped, a rerun "
                   "without this flag trains on")

    t = p.add_argument_group("training")
    t.add_argument("--lr", type=float, help="learning rate (default: see docs/training.md)")
    t.add_argument("--epochs", type=float, help="passes over the data (default 1)")
    t.add_argument("--max-steps", type=int, help="optimiser steps (overrides --epochs)")
    t.add_argument("--batch-size", type=int, help="per-device batch (PPO: prompts per rollout)")
    t.add_argument("--seed", type=int, default=0, help="training and sampling seed (default 0)")
    if algorithm != "ppo":
        t.add_argument("--grad-accum", type=int, help="gradient accumulation steps (default 1)")
        t.add_argument("--max-length", type=int, help="max tokens per training sequence (default 1024)")
        t.add_argument("--warmup-ratio", type=float, help="share of steps warming up (default 0.03)")
        t.add_argument("--lr-scheduler", help="transformers scheduler name (default linear)")
        t.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                       help="bf16 mixed precision (default: on where CUDA supports it)")
        t.add_argument("--gradient-checkpointing", action="store_true")
    if algorithm in ("dpo", "simpo"):
        t.add_argument("--beta", type=float,
                       help={"dpo": "DPO β (default 0.1)", "simpo": "SimPO β (default 2.0)"}[algorithm])
    if algorithm == "simpo":
        t.add_argument("--gamma", type=float, help="SimPO target reward margin γ (default 1.0)")
    if algorithm == "ppo":
        t.add_argument("--kl-coef", type=float, help="KL penalty coefficient to the reference (default 0.05)")
        t.add_argument("--gamma", type=float, help="discount γ for GAE (default 1.0)")
        t.add_argument("--lam", type=float, help="GAE λ (default 0.95)")
        t.add_argument("--ppo-epochs", type=int, help="update passes per rollout batch (default 4)")
        t.add_argument("--mini-batches", type=int, help="mini-batches per pass (default 2)")
        t.add_argument("--clip-range", type=float, help="policy ratio clip ε (default 0.2)")
        t.add_argument("--clip-range-value", type=float, help="value clip (default 0.2)")
        t.add_argument("--vf-coef", type=float, help="value-loss weight (default 0.1)")
        t.add_argument("--response-length", type=int, help="max new tokens per rollout (default 128)")
        t.add_argument("--rollout-temperature", type=float, help="rollout temperature (default 1.0)")
        t.add_argument("--missing-eos-penalty", type=float,
                       help="subtracted from the score of a rollout that never ended")
        r = p.add_argument_group("PPO reward model")
        r.add_argument("--reward-model", type=Path, metavar="DIR",
                       help="use this sequence-classification model instead of training one")
        r.add_argument("--rm-lr", type=float, help="reward-model learning rate (default 1e-5)")
        r.add_argument("--rm-epochs", type=float, help="reward-model epochs (default 1)")
        r.add_argument("--rm-batch-size", type=int, help="reward-model batch size (default 8)")
        r.add_argument("--no-graded", action="store_true",
                       help="train on the plain pairs only, ignoring stance/score grades")
    add_json(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train SFT / DPO / SimPO / PPO on a local model, sampling the eval set as it trains",
        description="Train one post-training stage on a local Hugging Face causal LM and capture "
        "value drift: the eval set is sampled at step 0, on a schedule and at the end, and stored "
        "with the step, the fraction of training, the stage and the lineage. Every input is "
        "checked before the model loads. Works under torchrun / accelerate launch (rank 0 writes).",
    )
    algos = p.add_subparsers(dest="algorithm", metavar="ALGORITHM", required=True)
    for name, text in ALGORITHM_HELP.items():
        a = algos.add_parser(name, help=text, description=text)
        _common(a, name)
        a.set_defaults(func=cmd_train)


def _overrides(args: argparse.Namespace, mapping: dict[str, str]) -> dict:
    """Dataclass field → value for the options the user actually gave."""
    return {field: getattr(args, opt) for opt, field in mapping.items()
            if getattr(args, opt, None) is not None}


def build_request(args: argparse.Namespace):
    """A TrainRequest from parsed options; unset options keep the dataclass defaults."""
    from dataclasses import replace

    from vdbench.errors import InputError
    from vdbench.training.config import (
        HPARAMS_BY_ALGORITHM,
        DriftConfig,
        RewardHParams,
        TrainRequest,
    )
    from vdbench.training.schedule import parse_eval_steps

    for opt in ("samples", "max_new_tokens", "gen_batch_size"):
        if getattr(args, opt) <= 0:
            raise InputError(f"--{opt.replace('_', '-')} must be positive")
    if args.temperature < 0:
        raise InputError("--temperature must be ≥ 0")
    drift = DriftConfig(
        eval_set=args.eval_set, every=args.every, eval_steps=parse_eval_steps(args.eval_steps),
        samples_per_prompt=args.samples, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens, batch_size=args.gen_batch_size, seed=args.seed,
        sync_generate=args.sync_generate, **capability_options(args),
    )
    common = {"lr": "learning_rate", "epochs": "epochs", "max_steps": "max_steps",
              "batch_size": "batch_size", "seed": "seed"}
    specific = {
        "sft": {"grad_accum": "grad_accum", "max_length": "max_length", "warmup_ratio": "warmup_ratio",
                "lr_scheduler": "lr_scheduler", "bf16": "bf16"},
        "dpo": {"grad_accum": "grad_accum", "max_length": "max_length", "warmup_ratio": "warmup_ratio",
                "lr_scheduler": "lr_scheduler", "bf16": "bf16", "beta": "beta"},
        "simpo": {"grad_accum": "grad_accum", "max_length": "max_length", "warmup_ratio": "warmup_ratio",
                  "lr_scheduler": "lr_scheduler", "bf16": "bf16", "beta": "beta", "gamma": "gamma"},
        "ppo": {"kl_coef": "kl_coef", "gamma": "gamma", "lam": "lam", "ppo_epochs": "ppo_epochs",
                "mini_batches": "mini_batches", "clip_range": "clip_range",
                "clip_range_value": "clip_range_value", "vf_coef": "vf_coef",
                "response_length": "response_length", "rollout_temperature": "rollout_temperature",
                "missing_eos_penalty": "missing_eos_penalty"},
    }[args.algorithm]
    values = _overrides(args, {**common, **specific})
    for name in ("lr", "epochs", "max_steps", "batch_size", "grad_accum"):
        value = getattr(args, name, None)
        if value is not None and value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive, got {value}")
    hp = HPARAMS_BY_ALGORITHM[args.algorithm](**values)
    if args.algorithm != "ppo" and getattr(args, "gradient_checkpointing", False):
        hp = replace(hp, gradient_checkpointing=True)
    if args.algorithm == "ppo":
        reward = RewardHParams(**_overrides(args, {"rm_lr": "learning_rate", "rm_epochs": "epochs",
                                                   "rm_batch_size": "batch_size"}))
        hp = replace(hp, reward=replace(reward, graded=not args.no_graded))
    tracking = _tracking_options(args)
    return TrainRequest(
        **tracking,
        algorithm=args.algorithm, data=args.data, db=Path(args.db), run=args.run, hparams=hp,
        drift=drift, model=args.model, parent=args.parent, output_dir=args.output_dir,
        judge=args.judge, trust_remote_code=args.trust_remote_code, dtype=args.dtype,
        save_checkpoints=args.save_checkpoints, inline_sampling=args.inline_sampling,
        reward_model=getattr(args, "reward_model", None), quiet=args.json,
    )


def _tracking_options(args: argparse.Namespace) -> dict:
    """--report-to / --logging-dir / --drift-budget / --stop-on-budget, checked together."""
    from vdbench.errors import InputError
    from vdbench.metrics.budget import parse_drift_budget

    budget = parse_drift_budget(args.drift_budget)
    if not args.inline_sampling:
        given = [opt for opt, on in (("--judge", args.judge), ("--drift-budget", budget),
                                     ("--capability", getattr(args, "capability", None)))
                 if on]
        if given:
            raise InputError(f"--no-inline-sampling samples nothing during training, so "
                             f"{', '.join(given)} has nothing to act on",
                             hint="give --judge/--capability to `vdbench sample --watch OUTPUT_DIR` "
                             "instead; a drift budget needs inline sampling")
    if budget and not args.judge:
        raise InputError("--drift-budget needs --judge: the budget is judged on each "
                         "checkpoint's stances as training runs", hint="add e.g. --judge probe")
    if args.stop_on_budget and not budget:
        raise InputError("--stop-on-budget needs --drift-budget", hint="e.g. --drift-budget neutral:0.2")
    report_to: list[str] = []
    if args.report_to is not None:
        from vdbench.training.trackers import parse_report_to

        report_to = parse_report_to(args.report_to)
    if args.logging_dir is not None and not report_to:
        raise InputError("--logging-dir is where trackers write: it needs --report-to",
                         hint="e.g. --report-to tensorboard")
    return {"report_to": tuple(report_to), "logging_dir": args.logging_dir,
            "drift_budget": budget, "stop_on_budget": args.stop_on_budget}


def cmd_train(args: argparse.Namespace) -> int:
    from vdbench.training import distributed
    from vdbench.training.runner import prepare_training, run_training

    request = build_request(args)
    if request.judge is not None:
        from vdbench.judges.registry import find_manifest, read_manifest

        read_manifest(find_manifest(request.judge))  # an unknown judge fails now, not after training
    if request.drift.capability:
        from vdbench.commands.capability import check_capability

        check_capability(request.drift)  # an unknown task or uncached dataset fails now too
    prepared = prepare_training(request)
    if distributed.is_main():
        for warning in prepared.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    summary = run_training(prepared)
    if not distributed.is_main():
        return 0
    if args.json:
        print_json(summary)
        return 0
    out = console()
    stopped = summary.get("stopped")
    if stopped and stopped.get("already"):
        out.print(f"run {summary['run']} stopped at step {stopped['step']} of "
                  f"{stopped['planned_steps']} on its drift budget: nothing trained. To train on, "
                  "rerun without --stop-on-budget", markup=False)
        return 0
    parent = summary["parent"]
    lineage = f" ← {parent['run']}" + (f":{parent['step']}" if parent["step"] is not None else "") if parent["run"] else ""
    trained = (f"{stopped['step']} of {summary['total_steps']}" if stopped
               else str(summary["total_steps"]))
    out.print(f"run {summary['run']} ({summary['stage']}/{summary['algorithm']}{lineage}) trained "
              f"{trained} steps in {summary['seconds']:.1f} s; model saved to "
              f"{summary['output_dir']}", markup=False)
    if not summary["inline_sampling"]:
        out.print(f"saved checkpoints at steps {summary['checkpoints_saved']} for the watcher; "
                  f"sample them with: vdbench sample --watch {summary['output_dir']} --run "
                  f"{summary['run']} --db {args.db}", markup=False)
        return 0
    out.print(f"stored {summary['samples_stored']} samples at steps {summary['checkpoints_stored']} "
              f"(sampling took {100 * summary['sampling_share']:.0f}% of the time)", markup=False)
    m = summary["metrics"]
    if m.get("first_loss") is not None:
        out.print(f"training loss {m['first_loss']:.4g} → {m['last_loss']:.4g}", markup=False)
    if m.get("reference_kl") is not None:
        rm = m["reward_model"]
        by = rm.get("mean_reward_by_stance")
        if by:
            out.print("reward model, mean reward by stance: "
                      + ", ".join(f"{k} {v:+.3f}" for k, v in by.items()), markup=False)
        out.print(f"reward {m['first_reward']:+.4f} → {m['last_reward']:+.4f}; KL to the reference "
                  f"{m['reference_kl']:.4f} nats per response after training", markup=False)
    if summary["skipped_steps"]:
        out.print(f"steps already stored (skipped): {summary['skipped_steps']}", markup=False)
    if stopped:
        out.print(f"stopped early at step {stopped['step']} of {stopped['planned_steps']}: "
                  f"{len(stopped['breaches'])} topic stance(s) beyond the drift budget; "
                  f"checkpoint saved to {summary['output_dir']}/checkpoint-{stopped['step']}",
                  markup=False)
    elif summary["budget_breaches"]:
        out.print(f"drift budget exceeded by {len(summary['budget_breaches'])} topic stance(s) "
                  "(warned above; recorded as run events)", markup=False)
    if summary["report_to"]:
        where = f" (TensorBoard: {summary['logging_dir']})" if "tensorboard" in summary["report_to"] else ""
        out.print(f"tracked in {', '.join(summary['report_to'])}{where}", markup=False)
    if not summary["judge"]:
        out.print(f"next: vdbench judge run --db {args.db} --run {summary['run']}", markup=False)
    return 0
