"""`vdbench sample`: sample checkpoints trained elsewhere into a run (batched, resumable)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vdbench.commands.capability import add_capability_options, capability_options
from vdbench.commands.common import add_db, add_json, console, print_json


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample", help="sample existing checkpoints (verl, OpenRLHF, any Trainer) into a run",
        description="Generate K samples per eval prompt from each checkpoint directory and store "
        "them as checkpoints of RUN. A directory holding checkpoint-* stands for all of them; "
        "step and total steps come from trainer_state.json, else checkpoint-STEP names, else "
        "--steps. Checkpoints already stored are skipped, so a killed run resumes.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", nargs="+", metavar="DIR",
                     help="model directories, training output dirs (their checkpoint-*), or globs")
    src.add_argument("--watch", type=Path, metavar="OUTPUT_DIR",
                     help="follow a training output directory and sample each checkpoint-* once "
                     "it is complete (trainer_state.json written, files at rest), until the run's "
                     "last checkpoint; pairs with `vdbench train --no-inline-sampling`")
    p.add_argument("--run", required=True, metavar="NAME")
    p.add_argument("--stage", metavar="STAGE",
                   help="stage label, e.g. base, sft, preference (default: the run's, else external)")
    p.add_argument("--algorithm", help="algorithm label, e.g. dpo (default: the run's, else none)")
    p.add_argument("--parent", metavar="RUN[:STEP]", help="lineage: the run this one continues")
    add_db(p)
    p.add_argument("--steps", type=_int_list, metavar="LIST",
                   help="step of each checkpoint, in order (when trainer_state.json is absent)")
    p.add_argument("--total-steps", type=int, help="total steps of the run (default: from "
                   "trainer_state.json, else the largest step)")
    p.add_argument("--eval-set", default="vprism", metavar="NAME")
    p.add_argument("--samples", type=int, default=5, metavar="K", help="samples per prompt (default 5)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=64, help="sequences per generate call (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine", choices=["hf", "vllm"], default="hf",
                   help="hf (default) or vllm (optional extra, GPU)")
    p.add_argument("--tokenizer", type=Path, metavar="DIR",
                   help="tokenizer directory for checkpoints saved without one")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16", "auto"])
    p.add_argument("--sync-generate", action="store_true",
                   help="every process joins every generate call (sharded weights)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow running Python code shipped in the model directory")
    p.add_argument("--judge", metavar="NAME", help="judge the samples as they are stored")
    p.add_argument("--shard", metavar="K/N", help="sample only shard K of N of the prompts (by a "
                   "stable hash of prompt id) into Parquet under --shard-dir; the store is only read, "
                   "load the shards with `vdbench ingest --db DB DIR`")
    p.add_argument("--shard-dir", metavar="DIR", help="where --shard writes its Parquet files")
    w = p.add_argument_group("--watch")
    w.add_argument("--poll", type=float, default=5.0, metavar="S",
                   help="seconds between looks at the directory (default 5)")
    w.add_argument("--settle", type=float, default=2.0, metavar="S",
                   help="a checkpoint's files must be unchanged this long before it is read (default 2)")
    w.add_argument("--until-step", type=int, metavar="N", help="stop once step N (or later) is stored")
    w.add_argument("--idle-timeout", type=float, metavar="S",
                   help="stop after S seconds with no new checkpoint (default: wait for the last one)")
    add_capability_options(p)
    add_json(p)
    p.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.evalsets.stored import resolve_eval_set
    from vdbench.runs import RunSpec, parse_parent
    from vdbench.sampling import discover_checkpoints, require_engine, sample_checkpoints
    from vdbench.shards import parse_shard, sample_shard
    from vdbench.store import Store
    from vdbench.training import distributed
    from vdbench.training.config import DriftConfig

    for opt in ("samples", "max_new_tokens", "batch_size"):
        if getattr(args, opt) <= 0:
            raise InputError(f"--{opt.replace('_', '-')} must be positive")
    require_engine(args.engine)
    shard = parse_shard(args.shard, args.shard_dir)
    capability = capability_options(args)
    if shard is not None and (capability or args.judge or args.sync_generate):
        raise InputError("--shard writes samples only: it cannot take --judge, --capability or "
                         "--sync-generate", hint="ingest the shards, then judge with "
                         "`vdbench judge run --shard K/N --shard-dir DIR`")
    if capability and args.engine == "vllm":
        raise InputError("--capability scores log-likelihoods through the HF model: it needs "
                         "--engine hf", hint="sample with vLLM, then run vdbench capability run")
    store = Store(args.db)
    if not store.path.parent.exists():
        raise InputError("directory of --db does not exist", where=str(store.path.parent))
    if args.watch is not None:
        return _cmd_watch(args, store, shard, capability)
    _check_not_watching(args)
    existing = _existing_run(store, args.run)  # a rerun need not repeat the labels
    args.stage = args.stage or (existing["stage"] if existing else "external")
    args.algorithm = args.algorithm or (existing["algorithm"] if existing else "none")
    checkpoints = discover_checkpoints(args.checkpoint, args.steps, args.total_steps)
    if args.judge is not None:
        from vdbench.judges.registry import find_manifest, read_manifest

        read_manifest(find_manifest(args.judge))
    eval_set = resolve_eval_set(args.eval_set, store)
    cfg = DriftConfig(eval_set=eval_set.name, samples_per_prompt=args.samples,
                      temperature=args.temperature, top_p=args.top_p,
                      max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed,
                      sync_generate=args.sync_generate, **capability)
    parent_run, parent_step = parse_parent(args.parent)
    run = RunSpec(run_id=args.run, stage=args.stage, algorithm=args.algorithm,
                  model=str(checkpoints[0].path), parent_run=parent_run, parent_step=parent_step,
                  eval_set=eval_set.name, hparams={"sampled_from": [str(c.path) for c in checkpoints],
                                                   "generation": cfg.gen_settings()},
                  seed=args.seed)
    if shard is not None:  # the store is only read (a stored eval set); workers never write it
        summary = sample_shard(shard, run, checkpoints, eval_set, cfg, engine=args.engine,
                               tokenizer_path=args.tokenizer, trust_remote_code=args.trust_remote_code,
                               dtype=args.dtype, quiet=args.json)
        if args.json:
            print_json(summary)
        else:
            console().print(f"run {summary['run']} {summary['shard']}: wrote {summary['samples_written']} "
                            f"samples ({summary['prompts']} prompts) to {summary['shard_dir']}; next: "
                            f"vdbench ingest --db {args.db} {summary['shard_dir']}", markup=False)
        return 0
    summary = sample_checkpoints(store, run, checkpoints, eval_set, cfg, engine=args.engine,
                                 tokenizer_path=args.tokenizer, trust_remote_code=args.trust_remote_code,
                                 dtype=args.dtype, judge=args.judge, quiet=args.json)
    if not distributed.is_main():
        return 0
    if args.json:
        print_json(summary)
        return 0
    out = console()
    stored = [c for c in summary["checkpoints"] if c["status"] == "stored"]
    out.print(f"run {summary['run']}: stored {summary['samples_stored']} samples from {len(stored)} "
              f"checkpoint(s) in {summary['seconds']:.1f} s; "
              f"{len(summary['checkpoints']) - len(stored)} already stored", markup=False)
    if "capability" in summary:
        c = summary["capability"]
        out.print(f"capability ({', '.join(c['tasks'])}) stored at steps {c['stored_steps']} "
                  f"({c['seconds']:.1f} s)", markup=False)
    if not args.judge:
        out.print(f"next: vdbench judge run --db {args.db} --run {summary['run']}", markup=False)
    return 0


WATCH_ONLY = ("poll", "settle", "until_step", "idle_timeout")


def _check_not_watching(args: argparse.Namespace) -> None:
    from vdbench.errors import InputError

    defaults = {"poll": 5.0, "settle": 2.0, "until_step": None, "idle_timeout": None}
    for opt in WATCH_ONLY:
        if getattr(args, opt) != defaults[opt]:
            raise InputError(f"--{opt.replace('_', '-')} sets how --watch follows a directory",
                             hint="add --watch OUTPUT_DIR, or drop it")


def _cmd_watch(args: argparse.Namespace, store, shard, capability: dict) -> int:
    """`vdbench sample --watch DIR`: sample checkpoints as a trainer writes them."""
    from vdbench.errors import InputError
    from vdbench.evalsets.stored import resolve_eval_set
    from vdbench.runs import RunSpec, parse_parent
    from vdbench.sampling import sample_checkpoints
    from vdbench.training import distributed
    from vdbench.training.config import DriftConfig
    from vdbench.training.judging import InlineJudge
    from vdbench.watch import check_watch_dir, watch

    if shard is not None or args.steps is not None or args.sync_generate:
        raise InputError("--watch samples whole checkpoints in one process: it cannot take "
                         "--shard, --steps or --sync-generate")
    if distributed.world_size() > 1:
        raise InputError("--watch runs as one process (one GPU, or vLLM's own parallelism)",
                         hint="start it without torchrun / accelerate launch")
    for opt in ("poll", "settle"):
        if getattr(args, opt) < 0:
            raise InputError(f"--{opt} must be ≥ 0 seconds")
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        raise InputError("--idle-timeout must be positive")
    if args.until_step is not None and args.until_step < 0:
        raise InputError("--until-step must be ≥ 0")
    out_dir = check_watch_dir(args.watch)
    eval_set = resolve_eval_set(args.eval_set, store)
    cfg = DriftConfig(eval_set=eval_set.name, samples_per_prompt=args.samples,
                      temperature=args.temperature, top_p=args.top_p,
                      max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed,
                      **capability)
    judge = InlineJudge(args.judge).load() if args.judge else None  # fails before any sampling
    given_parent = parse_parent(args.parent) if args.parent else None

    def run_spec() -> RunSpec:
        """The run as stored by its trainer (`vdbench train --no-inline-sampling` registers
        it when training starts, possibly after the watcher), unless given here."""
        existing = _existing_run(store, args.run)
        parent_run, parent_step = given_parent or ((existing["parent_run"], existing["parent_step"])
                                                   if existing else (None, None))
        return RunSpec(run_id=args.run, stage=args.stage or (existing["stage"] if existing else "external"),
                       algorithm=args.algorithm or (existing["algorithm"] if existing else "none"),
                       model=str(out_dir.resolve()), parent_run=parent_run, parent_step=parent_step,
                       eval_set=eval_set.name, seed=args.seed,
                       hparams={"watched": str(out_dir.resolve()), "generation": cfg.gen_settings()})

    def sample(ref) -> int:
        summary = sample_checkpoints(store, run_spec(), [ref], eval_set, cfg, engine=args.engine,
                                     tokenizer_path=args.tokenizer,
                                     trust_remote_code=args.trust_remote_code, dtype=args.dtype,
                                     judge=judge, quiet=args.json)
        return int(summary["samples_stored"])

    try:
        outcome = watch(out_dir, args.run, store, sample, poll_s=args.poll, settle_s=args.settle,
                        until_step=args.until_step, idle_timeout_s=args.idle_timeout,
                        total_steps=args.total_steps, quiet=args.json)
    except KeyboardInterrupt:
        print(f"interrupted: what was stored stays stored; rerun the same command to resume "
              f"(run {args.run})", file=sys.stderr)
        return 130
    result = {"run": args.run, "watched": str(out_dir), **outcome.as_dict()}
    if args.json:
        print_json(result)
        return 0
    out = console()
    out.print(f"run {args.run}: stored {outcome.samples_stored} samples from "
              f"{len(outcome.stored)} checkpoint(s) {outcome.stored} in {outcome.seconds:.1f} s; "
              f"{len(outcome.already)} already stored; stopped: {outcome.reason}", markup=False)
    for path in outcome.incomplete:
        out.print(f"warning: {path} never completed (no trainer_state.json or weights): not read",
                  markup=False)
    if not args.judge:
        out.print(f"next: vdbench judge run --db {args.db} --run {args.run}", markup=False)
    return 0


def _existing_run(store, run_id: str) -> dict | None:
    """The stored run's stage, algorithm and lineage (queries.find_run), or None."""
    from vdbench.queries import find_run

    if not store.path.exists():
        return None
    with store.read() as con:
        return find_run(con, run_id)
