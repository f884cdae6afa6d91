"""Run the micro-world drift study over several seeds and write docs/findings.md.

Each seed builds its own micro world and store, runs every demo stage (SFT on chat and on
instruct data, then DPO / SimPO on gap-support and style pairs, PPO at a small and a large
KL coefficient) through the demo's jobs, i.e. the `vdbench train` code path, judges inline with the default judge (or --judge), and reports the
moved stance's M and η with 95% bootstrap CIs, output health, the style signal and PPO's
measured KL. Usage: python scripts/findings.py --seeds 0 1 2 --workdir .vdbench/findings
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workdir", default=".vdbench/findings")
    parser.add_argument("--out", default="docs/findings.md")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: demo's)")
    parser.add_argument("--judge", default=None, help="inline judge (default: the default judge)")
    args = parser.parse_args()

    from rich.console import Console

    from vdbench.demo import build_world, default_jobs, plan, plan_jobs, run_jobs
    from vdbench.demo_summary import sloppy_share, stage_row
    from vdbench.judges.registry import DEFAULT_JUDGE
    from vdbench.metrics.report import run_metrics
    from vdbench.progress import Board
    from vdbench.store import Store

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    workers = args.jobs or default_jobs()
    full = plan(quick=False)
    judge = args.judge or DEFAULT_JUDGE
    rows: list[dict] = []
    started = time.perf_counter()
    for seed in args.seeds:
        db = work / f"seed{seed}.duckdb"
        demo_args = argparse.Namespace(seed=seed, judge=judge)
        with Board(Console(stderr=True)) as board:
            world = build_world(work, seed, workers, board)
            results = run_jobs(plan_jobs(list(full.stages), [], full, world, db, work / f"runs-seed{seed}",
                                     demo_args), workers=workers, board=board)
        cache = work / f"seed{seed}-training.json"
        saved = json.loads(cache.read_text()) if cache.exists() else {}
        saved.update({k: v for k, v in results.items() if "metrics" in v})
        cache.write_text(json.dumps(saved, indent=2, default=str))
        store = Store(db)
        for stage in full.stages:
            metrics = run_metrics(store, stage.run, judge=judge_name(judge), n_boot=1000, seed=seed)
            row = stage_row(stage, metrics, sloppy_share(store, stage.run))
            row["seed"] = seed
            row["judge"] = metrics["judge"]
            pooled = [h for h in metrics["judge_health"]["by_checkpoint"]
                      if h["topic"] == "(all topics)"]
            row["judge_flagged_from"] = pooled[0]["flagged"] if pooled else None
            row["judge_flagged_to"] = pooled[-1]["flagged"] if pooled else None
            train = saved.get(stage.run, {}).get("metrics", {})
            row["reference_kl"] = train.get("reference_kl")
            row["hparams"] = {k: v for k, v in metrics["hparams"].items()
                              if k in ("learning_rate", "beta", "gamma", "kl_coef", "max_steps",
                                       "batch_size", "total_steps")}
            rows.append(row)
    (work / "findings.json").write_text(json.dumps(rows, indent=2, default=str))
    out = Path(args.out)
    # The hand-written reading of the numbers ("## What this shows" onwards) is kept.
    notes = out.read_text().partition("\n## What this shows")[1:] if out.exists() else ("", "")
    out.write_text(render(rows, args.seeds, time.perf_counter() - started, judge)
                   + "".join(notes))
    print(Path(args.out).read_text())
    return 0


def judge_name(judge: str) -> str:
    """A judge argument (name or manifest path) as the name its judgments are stored under."""
    from vdbench.judges.registry import find_manifest, read_manifest

    return read_manifest(find_manifest(judge))["name"]


def render(rows: list[dict], seeds: list[int], seconds: float, judge: str) -> str:
    runs = list(dict.fromkeys(r["run"] for r in rows))
    lines = [
        "# Findings on the micro world",
        "",
        "Written by `scripts/findings.py` (seeds " + ", ".join(map(str, seeds)) +
        f"; {seconds / 60:.0f} min on 2 CPU cores). Eval set `vprism-mini` (11 topics × 5 "
        f"prompts) × 4 samples at temperature 0.7, ≤ 48 new tokens, judged by `{judge}`. "
        "All topics pooled. M = v_last − v_first of the moved stance, with its 95% paired "
        "bootstrap interval (prompts resampled once for both checkpoints); η = drift time (fraction of the "
        "stage at which the stance first enters the 95% CI of its extreme). `unhealthy` = "
        "share of empty / truncated / repetitive / degenerate samples; `sloppy` = share of "
        "answers in the micro world's terse/lowercase style (the style signal); `judge flagged` = "
        "share of judgments the judge is unsure of or that lie outside its domain "
        "(docs/judge_validity.md), start→end.",
        "",
        "| run | stance | seed | v start → end | M [95% CI] | η | unhealthy | judge flagged | sloppy | KL to ref (nats) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for r in (x for x in rows if x["run"] == run):
            kl = f"{r['reference_kl']:.3f}" if r.get("reference_kl") is not None else "—"
            lines.append(
                f"| {run} | {r['stance']} | {r['seed']} | {r['v_from']:.2f} → {r['v_to']:.2f} | "
                f"{r['M']:+.3f} [{r['M_ci'][0]:+.2f}, {r['M_ci'][1]:+.2f}] | {r['eta']:.2f} | "
                f"{r['unhealthy_from']:.2f}→{r['unhealthy_to']:.2f} | {flagged(r)} | "
                f"{r['sloppy_from']:.2f}→{r['sloppy_to']:.2f} | {kl} |")
    lines += ["", "## Across seeds (mean, min–max)", "",
              "| run | stance | mean M | min–max M | mean η | hyper-parameters |", "|---|---|---|---|---|---|"]
    for run in runs:
        rs = [x for x in rows if x["run"] == run]
        ms = [x["M"] for x in rs]
        hp = ", ".join(f"{k}={v}" for k, v in rs[0]["hparams"].items())
        lines.append(f"| {run} | {rs[0]['stance']} | {statistics.mean(ms):+.3f} | "
                     f"{min(ms):+.3f} – {max(ms):+.3f} | {statistics.mean(x['eta'] for x in rs):.2f} | {hp} |")
    return "\n".join(lines) + "\n"


def flagged(row: dict) -> str:
    a, b = row.get("judge_flagged_from"), row.get("judge_flagged_to")
    return "—" if a is None or b is None else f"{a:.2f}→{b:.2f}"


if __name__ == "__main__":
    sys.exit(main())
