"""`vdbench demo`: the whole pipeline on the embedded default, offline, on CPU."""

from __future__ import annotations

import argparse

from vdbench.commands.common import add_json, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded micro world (CPU, offline)",
                       description="Builds (or reuses) the micro model and datasets, trains SFT then "
                       "DPO / SimPO / PPO with drift capture, judges with the probe, and prints "
                       "the drift metrics. `--example` instead writes a synthetic store (no model) "
                       "for a first look at the metrics and the TUI.")
    p.add_argument("--db", default="vdbench-demo.duckdb", help="store to write (default ./vdbench-demo.duckdb)")
    p.add_argument("--workdir", default=".vdbench", help="micro world and trained models (default ./.vdbench)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judge", default="probe", help="judge for inline judging (default probe)")
    p.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    p.add_argument("--only", nargs="*", metavar="RUN", help="run only these stages")
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

    path = Path(args.db)
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
