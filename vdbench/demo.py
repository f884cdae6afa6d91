"""The embedded default, end to end: micro world → SFT (chat, instruct) → DPO / SimPO / PPO
with drift capture → probe judge → metrics, plus a value-gap audit of the preference sets.

The plan is the built-in experiment `demo` (vdbench/data/experiments/demo.toml, or
demo-quick.toml), a subset of `micro-paper`, run by the same machinery as `vdbench
experiment run`: every training stage goes through `vdbench train`'s code and every audit
through `vdbench audit`'s pipeline; independent stages run in parallel worker processes (one
torch thread each); a rerun skips whatever the store already holds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from vdbench.commands.common import console, print_json

if TYPE_CHECKING:
    from vdbench.experiments.plan import Plan


def plan(quick: bool, seed: int = 0, only: list[str] | None = None) -> Plan:
    """What the demo runs: the built-in experiment `demo` (full: 55 prompts × 4 samples per
    checkpoint on a dense-early schedule) or `demo-quick` (55 × 2, fewer steps and
    checkpoints: a smoke run, same code paths), for one seed."""
    from vdbench.experiments.plan import expand
    from vdbench.experiments.spec import load_spec, resolve_file

    return expand(load_spec(resolve_file("demo-quick" if quick else "demo")), seeds=(seed,),
                  only=only)


def default_paths(args: argparse.Namespace) -> tuple[Path, str]:
    """The store and the runs-directory suffix: quick runs never mix with full ones."""
    db = args.db or ("vdbench-demo-quick.duckdb" if args.quick else "vdbench-demo.duckdb")
    return Path(db), "-quick" if args.quick else ""


def run_demo(args: argparse.Namespace) -> int:
    from vdbench.demo_summary import build_summary, print_summary
    from vdbench.experiments.runner import Paths, run_plan
    from vdbench.jobs import default_jobs
    from vdbench.progress import Board

    db, suffix = default_paths(args)
    the_plan = _check_request(args, db)  # before minutes of pre-training, not after
    started = time.perf_counter()
    work = Path(args.workdir).expanduser()
    paths = Paths(db=db, work=work, runs=work / f"runs-seed{args.seed}{suffix}")
    workers = args.jobs or default_jobs()
    with Board(console(stderr=True)) as board:
        results = run_plan(the_plan, paths, workers=workers, board=board, judge=args.judge,
                           world_seed=args.seed)
    summary = build_summary(db, list(the_plan.runs), list(the_plan.audits), results, seed=args.seed)
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


def _check_request(args: argparse.Namespace, db: Path) -> Plan:
    """Refuse a bad --db, --only, --jobs or --judge before any model is built."""
    from vdbench.errors import InputError
    from vdbench.experiments.runner import Paths, check_request
    from vdbench.judges.registry import find_manifest, read_manifest

    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    read_manifest(find_manifest(args.judge))
    parent = db.expanduser().resolve().parent
    if not parent.is_dir():
        raise InputError("directory of --db does not exist", where=str(parent))
    try:
        the_plan = plan(args.quick, args.seed, args.only)
    except InputError as exc:
        if exc.message.startswith("unknown stage"):
            raise InputError(exc.message.replace("unknown stage", "unknown demo stage"),
                             hint=exc.hint) from None
        raise
    check_request(the_plan, Paths(db=db, work=Path(args.workdir), runs=Path(args.workdir)))
    return the_plan
