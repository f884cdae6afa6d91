"""`vdbench demo`: the whole pipeline on the embedded default, offline, on CPU."""

from __future__ import annotations

import argparse

from vdbench.commands.common import add_json, console, print_json
from vdbench.judges.registry import DEFAULT_JUDGE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded micro world (CPU, offline)",
                       description="Builds (or reuses) the micro model and datasets, trains SFT (chat "
                       "and instruct) then DPO / SimPO / PPO with drift capture, judges every "
                       "checkpoint with the probe, audits the preference sets, and then opens the TUI "
                       "on a terminal, or prints the summary and the store's path. A rerun reuses what "
                       "is built. `--example` instead writes a synthetic store (no model) in seconds.")
    p.add_argument("--db", help="store to write (default ./vdbench-demo.duckdb, "
                   "./vdbench-demo-quick.duckdb with --quick)")
    p.add_argument("--workdir", default=".vdbench", help="micro world and trained models (default ./.vdbench)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judge", default=DEFAULT_JUDGE, help=f"judge for inline judging (default {DEFAULT_JUDGE})")
    p.add_argument("--quick", action="store_true",
                   help="fewer steps, checkpoints and samples: a ~2 minute smoke run of every stage")
    p.add_argument("--only", nargs="*", metavar="STAGE",
                   help="run only these stages (names as in the summary; 'audit' for the audit)")
    p.add_argument("--jobs", type=int, help="worker processes for independent stages "
                   "(default: 2, or 1 on a one-core machine)")
    p.add_argument("--no-tui", action="store_true", help="print the summary; do not open the TUI")
    p.add_argument("--example", action="store_true",
                   help="write the synthetic example store (base → sft → dpo) instead of training")
    add_json(p)
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.example:
        return _example(args)
    from vdbench.demo import run_demo

    return run_demo(args)


def _example(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vdbench.example import build_example_store
    from vdbench.metrics.report import run_metrics

    path = Path(args.db or "vdbench-demo.duckdb")
    if path.exists():
        path.unlink()
        path.with_suffix(path.suffix + ".wal").unlink(missing_ok=True)
    store = build_example_store(str(path))
    reports = {run: run_metrics(store, run, n_boot=500) for run in ("sft", "dpo")}
    if args.json:
        print_json(reports)
        return 0
    out = console()
    out.print(f"wrote the synthetic example store {path} (no model involved)", markup=False)
    for run, report in reports.items():
        overall = next(d for d in report["drift"] if d["topic"] == "(all topics)")
        moved = overall["dominant"]
        s = overall["stances"][moved]
        out.print(f"  {run}: {moved} moved M = {s['M']:+.2f}, drift time η = {s['eta']:.2f}", markup=False)
    out.print(f"next: vdbench metrics --db {path} --run sft    |    vdbench tui --db {path}", markup=False)
    return 0
