"""The embedded default, end to end: micro world → SFT → DPO / SimPO / PPO with drift
capture → probe judge → metrics. Every stage goes through the same code as
`vdbench train` (the command line is parsed, then run), so the demo exercises what users run.
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


# Matched drift capture for every stage: 55 prompts (vprism-mini) × 4 samples, 48 new tokens.
DRIFT = ("--eval-set", "vprism-mini", "--samples", "4", "--max-new-tokens", "48",
         "--temperature", "0.7", "--gen-batch-size", "128")


def stages(quick: bool) -> list[Stage]:
    """SFT on neutral-heavy chat data, then preference stages from its final checkpoint."""
    sft_steps = "60" if quick else "94"
    pref_steps = "30" if quick else "60"
    pref_sched = ("--eval-steps", "0,5,10,20,30,45,60") if not quick else ("--eval-steps", "0,5,10,20,30")
    pref = ("--lr", "5e-5", "--batch-size", "16", "--max-steps", pref_steps, *pref_sched)
    return [
        Stage("sft-chat", "sft", "chat", None,
              ("--lr", "5e-4", "--batch-size", "16", "--max-steps", sft_steps,
               "--eval-steps", "0,2,5,10,15,20,30,45,60,75"), "neutral",
              "SFT on a 70 %-neutral chat set (like WildChat)"),
        Stage("dpo-gap-support", "dpo", "gap-support", "sft-chat", (*pref, "--beta", "0.1"), "support",
              "DPO on support-vs-other pairs"),
        Stage("simpo-gap-support", "simpo", "gap-support", "sft-chat",
              (*pref, "--beta", "2.0", "--gamma", "1.0"), "support", "SimPO on the same pairs"),
        Stage("dpo-style", "dpo", "style", "sft-chat", (*pref, "--beta", "0.1"), "support",
              "DPO on style-only pairs (same stance, different quality): a control"),
        Stage("simpo-style", "simpo", "style", "sft-chat", (*pref, "--beta", "2.0", "--gamma", "1.0"),
              "support", "SimPO on the style-only pairs: a control"),
        *(Stage(f"ppo-gap-support-kl{kl}", "ppo", "gap-support", "sft-chat",
                ("--lr", "1e-5", "--batch-size", "16", "--max-steps", "20" if quick else "30",
                 "--kl-coef", kl, "--response-length", "48", "--eval-steps", "0,2,5,10,20,30"),
                "support", f"PPO with a graded reward model, KL coefficient {kl} to the SFT policy")
          for kl in ("0.05", "1.0")),
    ]


def run_demo(args: argparse.Namespace) -> int:
    from vdbench.errors import InputError
    from vdbench.metrics.report import run_metrics
    from vdbench.micro import build_micro_world
    from vdbench.store import Store

    _check_request(args)  # before minutes of pre-training, not after
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(int(os.environ.get("VDBENCH_THREADS", "1")))
    out = console()
    started = time.perf_counter()
    work = Path(args.workdir).expanduser()
    work.mkdir(parents=True, exist_ok=True)
    say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else (
        lambda text: out.print(text, markup=False))
    say(f"micro world (seed {args.seed}) in {work / f'micro-seed{args.seed}'} ...")
    world = build_micro_world(work / f"micro-seed{args.seed}", seed=args.seed)
    db = Path(args.db)
    store = Store(db)
    chosen = [st for st in stages(args.quick) if not args.only or st.run in args.only]
    summaries = run_stages(chosen, world, db, work / f"runs-seed{args.seed}", args.seed, args.judge, say)
    report = []
    for stage in chosen:
        try:
            metrics = run_metrics(store, stage.run, n_boot=500, seed=args.seed)
        except InputError:
            continue
        report.append(_summarise(stage, metrics, store))
    elapsed = time.perf_counter() - started
    if args.json:
        print_json({"db": str(db), "seconds": round(elapsed, 1), "stages": report, "training": summaries})
        return 0
    _print_table(out, report)
    out.print(f"done in {elapsed / 60:.1f} min. Explore: vdbench tui --db {db}    "
              f"vdbench metrics --db {db} --run sft-chat", markup=False)
    return 0


def _check_request(args: argparse.Namespace) -> None:
    """Refuse a bad --db, --only or --judge before any model is built."""
    from vdbench.errors import InputError
    from vdbench.judges.registry import find_manifest, read_manifest

    parent = Path(args.db).expanduser().resolve().parent
    if not parent.is_dir():
        raise InputError("directory of --db does not exist", where=str(parent))
    known = [st.run for st in stages(args.quick)]
    unknown = [name for name in args.only or [] if name not in known]
    if unknown:
        raise InputError(f"unknown demo stage(s): {', '.join(unknown)}",
                         hint=f"stages: {', '.join(known)}")
    read_manifest(find_manifest(args.judge))


def run_stages(chosen: list[Stage], world: Any, db: Path, runs_dir: Path, seed: int, judge: str,
               say: Any) -> dict[str, Any]:
    """Train each stage through the `vdbench train` code path; skip stages already stored."""
    from vdbench.cli import build_parser
    from vdbench.commands.train import build_request
    from vdbench.runs import done_steps
    from vdbench.store import Store
    from vdbench.training.runner import prepare_training, run_training

    parser = build_parser()
    summaries: dict[str, Any] = {}
    for stage in chosen:
        argv = ["train", stage.algorithm, "--data", str(world.datasets[stage.dataset]),
                "--db", str(db), "--run", stage.run, "--seed", str(seed),
                "--output-dir", str(runs_dir / stage.run), "--judge", judge, *DRIFT,
                *stage.options, "--json"]
        argv += ["--parent", stage.parent] if stage.parent else ["--model", str(world.base)]
        prepared = prepare_training(build_request(parser.parse_args(argv)))
        if set(prepared.schedule) <= done_steps(Store(db), stage.run):
            say(f"{stage.run}: already complete in {db}, skipped")
            continue
        say(f"{stage.run}: {stage.note} — {prepared.total_steps} steps ...")
        summary = run_training(prepared)
        summaries[stage.run] = {k: summary[k] for k in ("seconds", "total_steps", "samples_stored", "metrics")}
    return summaries


def sloppy_share(store: Any, run: str) -> dict[int, float]:
    """Per checkpoint: share of samples in the micro world's terse/sloppy style (a style signal)."""
    from vdbench.micro.corpus import answer_quality

    with store.read() as con:
        rows = con.execute("SELECT step, text FROM samples WHERE run_id = ?", [run]).fetchall()
    per: dict[int, list[int]] = {}
    for step, text in rows:
        per.setdefault(step, []).append(answer_quality(text) == "sloppy")
    return {step: sum(v) / len(v) for step, v in sorted(per.items())}


def _summarise(stage: Stage, metrics: dict[str, Any], store: Any) -> dict[str, Any]:
    overall = next(d for d in metrics["drift"] if d["topic"] == "(all topics)")
    first = next(v for v in metrics["values"] if v["topic"] == "(all topics)")
    last = [v for v in metrics["values"] if v["topic"] == "(all topics)"][-1]
    moved = overall["stances"][stage.moved]
    health = metrics["health"]
    return {
        "run": stage.run, "algorithm": stage.algorithm, "note": stage.note,
        "stance": stage.moved, "v_from": first["v"][stage.moved], "v_to": last["v"][stage.moved],
        "v_to_ci": last["ci"][stage.moved], "M": moved["M"], "eta": moved["eta"],
        "dominant": overall["dominant"],
        "unhealthy_from": health[0]["unhealthy"] if health else None,
        "unhealthy_to": health[-1]["unhealthy"] if health else None,
        "sloppy_from": (sloppy := list(sloppy_share(store, stage.run).values()))[0],
        "sloppy_to": sloppy[-1],
    }


def _print_table(out: Any, report: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title="value drift on the micro world, all topics pooled",
                  caption="v: start→end ± half-width of the end's 95% bootstrap CI; bad: share of "
                  "unhealthy samples at the end; sloppy: style signal, start→end",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True,
                  show_edge=False)
    for col in ("run", "stance", "v", "M", "η", "bad", "sloppy"):
        table.add_column(col, no_wrap=True)
    for r in report:
        lo, hi = r["v_to_ci"]
        table.add_row(r["run"], r["stance"], f"{r['v_from']:.2f}→{r['v_to']:.2f}±{(hi - lo) / 2:.2f}",
                      f"{r['M']:+.2f}", f"{r['eta']:.2f}", f"{r['unhealthy_to']:.2f}",
                      f"{r['sloppy_from']:.2f}→{r['sloppy_to']:.2f}")
    out.print(table)
