"""`vdbench capability run`: capability scores for a run's stored checkpoint directories.

Also the `--capability` options `vdbench train` and `vdbench sample` share, so the three
commands accept and check a TASKS list the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from vdbench.commands.common import add_db, add_json, console, print_json

TASKS_HELP = ("comma-separated: micro (the built-in micro-world task), lm-evaluation-harness "
              "task/group names (hellaswag, piqa, mmlu, ...; their datasets must be in the HF "
              "cache when offline), or paths of local lm-eval task YAMLs / directories")


def add_capability_options(group: Any) -> None:
    """--capability, --capability-limit, --capability-batch-size on a parser or group."""
    from vdbench.capability.spec import DEFAULT_BATCH_SIZE, DEFAULT_LIMIT

    group.add_argument("--capability", metavar="TASKS",
                       help="also score each checkpoint's capability with lm-evaluation-harness "
                       f"in the same pass: {TASKS_HELP} (optional extra: vdbench[capability])")
    group.add_argument("--capability-limit", type=int, metavar="N",
                       help=f"with --capability: documents per task (per subtask of a group such "
                       f"as mmlu; default {DEFAULT_LIMIT})")
    group.add_argument("--capability-batch-size", type=int, metavar="N",
                       help=f"with --capability: lm-eval batch size (default {DEFAULT_BATCH_SIZE})")


def capability_options(args: argparse.Namespace) -> dict[str, Any]:
    """The DriftConfig capability fields from --capability*, checked without lm-eval."""
    from vdbench.capability.spec import (
        DEFAULT_BATCH_SIZE,
        DEFAULT_LIMIT,
        check_batch_size,
        check_limit,
        parse_tasks,
    )
    from vdbench.errors import InputError

    if args.capability is None:
        for opt in ("capability_limit", "capability_batch_size"):
            if getattr(args, opt) is not None:
                raise InputError(f"--{opt.replace('_', '-')} sets how --capability scores",
                                 hint="add --capability TASKS (e.g. --capability micro)")
        return {}
    parse_tasks(args.capability)
    limit = DEFAULT_LIMIT if args.capability_limit is None else args.capability_limit
    batch = DEFAULT_BATCH_SIZE if args.capability_batch_size is None else args.capability_batch_size
    return {"capability": tuple(e.strip() for e in args.capability.split(",") if e.strip()),
            "capability_limit": check_limit(limit),
            "capability_batch_size": check_batch_size(batch)}


def check_capability(config: Any) -> list[str]:
    """Load every task a DriftConfig asks for (lm-eval installed, names known, datasets
    cached), so a bad one fails before any model loads; returns the task names."""
    from vdbench.capability.harness import CapabilityCapture

    capture = CapabilityCapture.from_config(config)
    return capture.check() if capture is not None else []


def register(sub: argparse._SubParsersAction) -> None:
    from vdbench.capability.spec import DEFAULT_BATCH_SIZE, DEFAULT_LIMIT

    p = sub.add_parser(
        "capability", help="capability (lm-eval tasks, the micro task) at a run's checkpoints",
        description="Capability beside values: general-ability scores stored per checkpoint "
        "beside the stances. `vdbench train/sample --capability TASKS` score checkpoints as "
        "they are sampled; `vdbench capability run` scores a run's stored checkpoint "
        "directories afterwards. See docs/capability.md.",
    )
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    r = verbs.add_parser(
        "run", help="score every stored checkpoint directory of a run",
        description="Load each checkpoint of RUN whose model directory was saved (the "
        "checkpoints table's path) and score it with lm-evaluation-harness on TASKS. "
        "Checkpoints without a saved directory are reported as skipped; checkpoints whose "
        "tasks are all stored are skipped, so a killed run resumes.",
    )
    add_db(r)
    r.add_argument("--run", required=True, metavar="NAME")
    r.add_argument("--tasks", required=True, metavar="TASKS", help=TASKS_HELP)
    r.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                   help=f"documents per task (per subtask of a group; default {DEFAULT_LIMIT})")
    r.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                   help=f"lm-eval batch size (default {DEFAULT_BATCH_SIZE})")
    r.add_argument("--tokenizer", type=Path, metavar="DIR",
                   help="tokenizer directory for checkpoints saved without one")
    r.add_argument("--dtype", choices=["float32", "bfloat16", "float16", "auto"])
    r.add_argument("--trust-remote-code", action="store_true",
                   help="allow running Python code shipped in the model directory")
    add_json(r)
    r.set_defaults(func=cmd_capability_run)


def _checkpoint_plan(store: Any, run_id: str) -> tuple[list[dict], list[dict]]:
    """(checkpoints with a model directory, checkpoints skipped with the reason)."""
    from vdbench import queries
    from vdbench.errors import InputError

    with store.read() as con:
        queries.require_run(con, run_id)
        ckpts = queries.checkpoints(con, run_id)
    if ckpts.empty:
        raise InputError(f"run {run_id!r} has no checkpoints",
                         hint="train or sample it first (vdbench train / vdbench sample)")
    usable, skipped = [], []
    for row in ckpts.itertuples(index=False):
        path = row.path if isinstance(row.path, str) else None  # NULL reads as NaN
        entry = {"step": int(row.step), "path": path}
        if path is None:
            skipped.append({**entry, "status": "skipped", "reason": "no saved model directory"})
        elif not Path(path).is_dir():
            skipped.append({**entry, "status": "skipped", "reason": "model directory no longer exists"})
        else:
            usable.append(entry)
    if not usable:
        raise InputError(
            f"run {run_id!r} has no saved checkpoint directories ({len(skipped)} checkpoints, "
            "none with a model directory on disk); nothing was scored",
            hint="score while training (vdbench train --capability TASKS), keep checkpoints "
            "(--save-checkpoints), or sample saved directories with vdbench sample --capability")
    return usable, skipped


def cmd_capability_run(args: argparse.Namespace) -> int:
    from vdbench.capability.harness import CapabilityCapture
    from vdbench.capability.spec import check_batch_size, check_limit
    from vdbench.errors import InputError
    from vdbench.store import Store

    check_limit(args.limit, "--limit")
    check_batch_size(args.batch_size, "--batch-size")
    store = Store(args.db)
    if not store.path.exists():
        raise InputError("no store here", where=str(store.path),
                         hint="train or sample a run into it first")
    usable, skipped = _checkpoint_plan(store, args.run)
    capture = CapabilityCapture(args.tasks, limit=args.limit, batch_size=args.batch_size)
    names = capture.check()  # every task loads before the first model does

    from vdbench.training.models import check_model_dir, load_model_and_tokenizer
    from vdbench.training.runner import quiet_libraries

    quiet_libraries()
    todo = [c for c in usable if capture.missing(store, args.run, c["step"])]
    for c in todo:  # every directory checked before the first model loads
        check_model_dir(c["path"], trust_remote_code=args.trust_remote_code,
                        require_tokenizer=args.tokenizer is None)
    started = time.perf_counter()
    import torch

    device = "cuda" if torch.cuda.is_available() else None
    done = []
    for c in usable:
        if c not in todo:
            done.append({**c, "status": "already stored"})
            continue
        t0 = time.perf_counter()
        model, tokenizer = load_model_and_tokenizer(
            c["path"], trust_remote_code=args.trust_remote_code, dtype=args.dtype,
            device=device, tokenizer_path=args.tokenizer)
        added = capture.measure(store, args.run, c["step"], model, tokenizer)
        del model
        done.append({**c, "status": "stored", "rows": added})
        if not args.json:
            print(f"step {c['step']}: scored in {time.perf_counter() - t0:.1f} s ({c['path']})",
                  file=sys.stderr)
    capture.close()
    summary = {
        "run": args.run, "tasks": names, "limit": args.limit,
        "checkpoints": sorted(done + skipped, key=lambda c: c["step"]),
        "rows_stored": int(sum(c.get("rows", 0) for c in done)),
        "seconds": round(time.perf_counter() - started, 2),
        "scores": _scores(store, args.run),
    }
    if args.json:
        print_json(summary)
        return 0
    out = console()
    stored = [c for c in done if c["status"] == "stored"]
    out.print(f"run {args.run}: capability ({', '.join(names)}) scored at {len(stored)} "
              f"checkpoint(s) in {summary['seconds']:.1f} s; "
              f"{len(done) - len(stored)} already stored", markup=False)
    reasons: dict[str, list[int]] = {}
    for c in skipped:
        reasons.setdefault(c["reason"], []).append(c["step"])
    for reason, steps in reasons.items():
        out.print(f"  skipped steps {', '.join(map(str, steps))}: {reason}", markup=False)
    for row in summary["scores"]:
        out.print(f"  step {row['step']}: {row['task']} {row['metric']} {row['value']:.3f}"
                  + (f" ± {row['stderr']:.3f}" if row["stderr"] is not None else "")
                  + f" (n={row['n']})", markup=False)
    return 0


def _scores(store: Any, run_id: str) -> list[dict]:
    """Each stored checkpoint's headline score per task (vdbench.metrics.capability)."""
    from vdbench.capability.records import capability_frame
    from vdbench.metrics.capability import headline_metric

    with store.read() as con:
        frame = capability_frame(con, run_id)
    rows = []
    for task, group in frame.groupby("task", sort=True):
        metric = headline_metric(list(group["metric"]))
        mine = group[(group["metric"] == metric) & (group["filter"] == group["filter"].min())]
        for r in mine.itertuples(index=False):
            rows.append({"step": int(r.step), "task": task, "metric": metric, "filter": r.filter,
                         "value": float(r.value),
                         "stderr": None if r.stderr is None or r.stderr != r.stderr else float(r.stderr),
                         "n": int(r.n)})
    return sorted(rows, key=lambda r: (r["step"], r["task"]))
