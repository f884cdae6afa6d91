"""Run the micro-world drift study over several seeds and write docs/findings.md.

Each seed builds its own micro world and store, runs every demo stage (SFT on chat, then
DPO / SimPO on gap-support and style pairs, PPO at a small and a large KL coefficient)
through the `vdbench train` code path, judges inline with the probe, and reports the
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
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from vdbench.demo import _summarise, run_stages, stages
    from vdbench.metrics.report import run_metrics
    from vdbench.micro import build_micro_world
    from vdbench.store import Store

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    started = time.perf_counter()
    for seed in args.seeds:
        world = build_micro_world(work / f"micro-seed{seed}", seed=seed)
        db = work / f"seed{seed}.duckdb"
        chosen = stages(quick=False)
        summaries = run_stages(chosen, world, db, work / f"runs-seed{seed}", seed, "probe",
                               lambda t: print(t, file=sys.stderr, flush=True))
        cache = work / f"seed{seed}-training.json"
        saved = json.loads(cache.read_text()) if cache.exists() else {}
        saved.update(summaries)
        cache.write_text(json.dumps(saved, indent=2, default=str))
        store = Store(db)
        for stage in chosen:
            metrics = run_metrics(store, stage.run, n_boot=1000, seed=seed)
            row = _summarise(stage, metrics, store)
            row["seed"] = seed
            row["M_ci"] = _m_ci(metrics, stage.moved)
            train = saved.get(stage.run, {}).get("metrics", {})
            row["reference_kl"] = train.get("reference_kl")
            row["hparams"] = {k: v for k, v in metrics["hparams"].items()
                              if k in ("learning_rate", "beta", "gamma", "kl_coef", "max_steps",
                                       "batch_size", "total_steps")}
            rows.append(row)
    (work / "findings.json").write_text(json.dumps(rows, indent=2, default=str))
    Path(args.out).write_text(render(rows, args.seeds, time.perf_counter() - started))
    print(Path(args.out).read_text())
    return 0


def _m_ci(metrics: dict, stance: str) -> list[float]:
    """A 95% interval for M = v_last − v_first: the endpoint CIs combined (conservative)."""
    pooled = [v for v in metrics["values"] if v["topic"] == "(all topics)"]
    lo0, hi0 = pooled[0]["ci"][stance]
    lo1, hi1 = pooled[-1]["ci"][stance]
    return [lo1 - hi0, hi1 - lo0]


def render(rows: list[dict], seeds: list[int], seconds: float) -> str:
    runs = list(dict.fromkeys(r["run"] for r in rows))
    lines = [
        "# Findings on the micro world",
        "",
        "Written by `scripts/findings.py` (seeds " + ", ".join(map(str, seeds)) +
        f"; {seconds / 60:.0f} min on 2 CPU cores). Eval set `vprism-mini` (11 topics × 5 "
        "prompts) × 4 samples at temperature 0.7, ≤ 48 new tokens, judged by the probe. "
        "All topics pooled. M = v_last − v_first of the moved stance, with a conservative "
        "95% interval from the two endpoints' bootstrap CIs; η = drift time (fraction of the "
        "stage at which the stance first enters the 95% CI of its extreme). `unhealthy` = "
        "share of empty / truncated / repetitive / degenerate samples; `sloppy` = share of "
        "answers in the micro world's terse/lowercase style (the style signal).",
        "",
        "| run | stance | seed | v start → end | M [95% CI] | η | unhealthy | sloppy | KL to ref (nats) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for r in (x for x in rows if x["run"] == run):
            kl = f"{r['reference_kl']:.3f}" if r.get("reference_kl") is not None else "—"
            lines.append(
                f"| {run} | {r['stance']} | {r['seed']} | {r['v_from']:.2f} → {r['v_to']:.2f} | "
                f"{r['M']:+.3f} [{r['M_ci'][0]:+.2f}, {r['M_ci'][1]:+.2f}] | {r['eta']:.2f} | "
                f"{r['unhealthy_from']:.2f}→{r['unhealthy_to']:.2f} | "
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


if __name__ == "__main__":
    sys.exit(main())
