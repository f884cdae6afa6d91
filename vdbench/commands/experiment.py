"""`vdbench experiment run|show|report`: a declared grid of stages × settings × seeds.

`run FILE.toml` expands the file into its run tree and trains it in worker processes,
resuming whatever a previous (killed) run left; `show FILE` prints the expanded plan;
`report --db DB --experiment NAME` aggregates over seeds with hierarchical bootstrap CIs
and compares grid points. FILE may also name a built-in experiment (`micro-paper`,
`demo`, `demo-quick`). See docs/experiments.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from vdbench.commands.common import add_json, console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="run, show and report a declared grid of training "
                       "stages × hyper-parameters × seeds (TOML)",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    cmds = p.add_subparsers(dest="experiment_command", metavar="SUBCOMMAND", required=True)

    r = cmds.add_parser("run", help="expand the file and train every run (resumable)")
    r.add_argument("file", metavar="FILE", help="experiment TOML, or a built-in name (micro-paper)")
    r.add_argument("--db", help="store to write (default ./NAME.duckdb)")
    r.add_argument("--workdir", default=".vdbench",
                   help="micro world and trained models (default ./.vdbench)")
    r.add_argument("--runs-dir", help="output directory of the runs "
                   "(default WORKDIR/experiments/NAME)")
    r.add_argument("--jobs", type=int, help="worker processes (default: the file's, else 2 or "
                   "1 on a one-core machine)")
    r.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="run these seeds instead of the file's")
    r.add_argument("--only", nargs="+", metavar="STAGE",
                   help="only these stages, grid points or run ids (their parents must be "
                   "planned or stored)")
    r.add_argument("--judge", help="judge for inline judging (default: the file's [drift] judge)")
    add_json(r)
    r.set_defaults(func=cmd_run)

    s = cmds.add_parser("show", help="print the expanded plan and its size; runs nothing")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--seeds", type=int, nargs="+", metavar="SEED")
    add_json(s)
    s.set_defaults(func=cmd_show)

    t = cmds.add_parser("report", help="seed-aggregated drift per grid point and comparisons")
    t.add_argument("--db", required=True, help="the experiment's store")
    t.add_argument("--experiment", help="experiment name (default: the store's only one)")
    t.add_argument("--judge", help="judge whose judgments to read (default: the runs' only one)")
    t.add_argument("--n-boot", type=int, default=2000, help="bootstrap replicates (default 2000)")
    t.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    t.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    t.add_argument("--markdown", type=Path, metavar="FILE", help="also write the tables as Markdown")
    t.add_argument("--csv", type=Path, metavar="FILE", help="also write one row per point and seed")
    add_json(t)
    t.set_defaults(func=cmd_report)


def _load(file: str, seeds: list[int] | None, only: list[str] | None = None) -> Any:
    from vdbench.errors import InputError
    from vdbench.experiments.plan import expand
    from vdbench.experiments.spec import load_spec, resolve_file

    if seeds is not None and (not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds)):
        raise InputError("--seeds must be distinct non-negative integers")
    return expand(load_spec(resolve_file(file)), seeds=tuple(seeds) if seeds else None, only=only)


def plan_rows(plan: Any) -> list[dict[str, Any]]:
    return [{"run": r.run_id, "stage": r.stage, "algorithm": r.algorithm, "dataset": r.dataset,
             "parent": r.parent_run, "seed": r.seed, "point": r.point, "grid": r.grid,
             "moved": r.moved, "max_steps": r.options.get("max_steps")} for r in plan.runs]


def cmd_show(args: argparse.Namespace) -> int:
    plan = _load(args.file, args.seeds)
    size = plan.size()
    if args.json:
        print_json({"experiment": plan.spec.name, "source": str(plan.spec.source), "size": size,
                    "runs": plan_rows(plan),
                    "audits": [{"name": a.name, "dataset": a.dataset, "limit": a.limit}
                               for a in plan.audits]})
        return 0
    from rich import box
    from rich.table import Table

    out = console()
    table = Table(title=f"experiment {plan.spec.name}: {size['runs']} runs = {size['points']} "
                  f"grid points × {size['seeds']} seed(s)", box=box.SIMPLE_HEAD)
    table.add_column("run", no_wrap=True)
    for col in ("algorithm", "dataset", "parent", "steps", "moves"):
        table.add_column(col, overflow="fold")
    for r in plan.runs:
        table.add_row(r.run_id, r.algorithm, r.dataset, r.parent_run or "(base)",
                      str(r.options.get("max_steps", "")), r.moved or "(dominant)")
    out.print(table)
    algos = ", ".join(f"{n} {a}" for a, n in size["by_algorithm"].items())
    out.print(f"{size['runs']} runs ({algos}), {size['optimizer_steps']:,} optimiser steps, "
              f"{size['audits']} audit(s)", markup=False)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.experiments.runner import default_paths, run_plan
    from vdbench.jobs import default_jobs
    from vdbench.progress import Board

    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    plan = _load(args.file, args.seeds, args.only)
    if args.judge:
        from vdbench.judges.registry import find_manifest, read_manifest

        read_manifest(find_manifest(args.judge))
    paths = default_paths(plan, args.db, args.workdir, args.runs_dir)
    workers = args.jobs or plan.spec.jobs or default_jobs()
    started = time.perf_counter()
    with Board(console(stderr=True)) as board:
        results = run_plan(plan, paths, workers=workers, board=board, judge=args.judge)
    seconds = round(time.perf_counter() - started, 1)
    summary = {"experiment": plan.spec.name, "db": str(paths.db), "seconds": seconds,
               "size": plan.size(), "jobs": {k: v.get("_status", "done") if isinstance(v, dict)
                                             else "done" for k, v in results.items()}}
    if args.json:
        print_json(summary)
        return 0
    out = console()
    out.print(f"experiment {plan.spec.name}: {len(plan.runs)} runs in {seconds / 60:.1f} min; "
              f"store {paths.db}", markup=False)
    out.print(f"next: vdbench experiment report --db {paths.db} --experiment {plan.spec.name}",
              markup=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.experiments.render import markdown_report, print_report, write_csv
    from vdbench.experiments.report import experiment_report, list_experiments
    from vdbench.store import Store

    db = Path(args.db)
    if not db.is_file():
        raise InputError("no such store", where=str(db))
    for path, flag in ((args.markdown, "--markdown"), (args.csv, "--csv")):
        if path is not None and not path.expanduser().resolve().parent.is_dir():
            raise InputError(f"directory of {flag} does not exist", where=str(path.parent))
    store = Store(db)
    name = args.experiment
    if name is None:
        names = [e["experiment"] for e in list_experiments(store)]
        if len(names) != 1:
            raise InputError("the store holds " + (f"{len(names)} experiments: " + ", ".join(names)
                             if names else "no experiment"), where=str(db),
                             hint="choose one with --experiment NAME" if names else
                             "run one first: vdbench experiment run FILE.toml")
        name = names[0]
    report = experiment_report(store, name, judge=args.judge, n_boot=args.n_boot,
                               confidence=args.confidence, seed=args.seed)
    if args.markdown:
        args.markdown.write_text(markdown_report(report), encoding="utf-8")
    if args.csv:
        write_csv(report, args.csv)
    if args.json:
        print_json(report)
        return 0
    print_report(console(), report)
    return 0
