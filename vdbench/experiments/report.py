"""`vdbench experiment report`: seed-aggregated drift per grid point and the comparisons the
paper makes, every figure with a hierarchical bootstrap CI (vdbench.metrics.hierarchical).

Per point (a stage at one grid value, over its seeds): M and η of the moved stance as the
mean over seeds, with a CI that resamples seeds, then prompts within each; the per-seed
values; output health and judge health at the end; training's own statistics (PPO reward
and measured KL to the reference; DPO / SimPO reward margins).

Comparisons, each a paired difference (or slope) with its CI and a verdict that follows it:
- algorithm vs algorithm inside a stage, at the same data and shared settings;
- dataset vs dataset (e.g. support- vs oppose-aligned pairs, or a mixed set vs its
  gap-selected subset) between points that differ in nothing else;
- each hyper-parameter: points that differ only in that option form a series; adjacent
  values are compared pairwise and, with three or more values, the slope of M on log10 of
  the value is given.

Pure reads of the store: no torch, so the TUI uses it too.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vdbench import queries
from vdbench.errors import InputError
from vdbench.metrics.hierarchical import (
    hierarchical_interval,
    hierarchical_replicates,
    log_slope,
    point_estimate,
    seed_interval,
    seed_replicates,
)
from vdbench.store import Store

STANCES = ("support", "neutral", "oppose")
ALL_TOPICS = "(all topics)"
METHOD = ("hierarchical bootstrap: seeds resampled, then prompts within each drawn seed; "
          "expanded percentile at the seed level (t with seeds−1 df), at the prompt level "
          "for one seed; comparisons resample the compared points together (paired)")
# Options that belong to one algorithm: an algorithm comparison ignores them.
ALGORITHM_SPECIFIC = {"beta", "gamma", "kl_coef", "lam", "ppo_epochs", "mini_batches",
                      "clip_range", "clip_range_value", "vf_coef", "response_length",
                      "rollout_temperature", "missing_eos_penalty", "rm_lr", "rm_epochs",
                      "rm_batch_size", "no_graded", "lr", "max_steps", "batch_size", "epochs",
                      "grad_accum", "warmup_ratio", "lr_scheduler", "max_length",
                      "eval_steps", "every"}  # each algorithm's step budget brings its schedule


@dataclass
class RunData:
    run_id: str
    seed: int
    moved: str
    metrics: dict[str, Any]
    deltas: pd.Series  # prompt_id -> change in p(moved) from first to last checkpoint
    stats: dict[str, Any]
    distinct: tuple[float | None, float | None] = (None, None)  # first, last checkpoint


@dataclass
class Point:
    point: str
    stage: str
    algorithm: str
    dataset: str
    grid: dict[str, Any]
    settings: dict[str, Any]
    moved: str | None
    runs: list[RunData] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)


def list_experiments(store: Store) -> list[dict[str, Any]]:
    with store.read() as con:
        if not _has_tables(con):
            return []
        return queries.records(con.execute(
            "SELECT e.experiment, e.source, count(r.run_id) AS runs, "
            "count(DISTINCT r.point) AS points, count(DISTINCT r.seed) AS seeds "
            "FROM experiments e LEFT JOIN experiment_runs r USING (experiment) "
            "GROUP BY e.experiment, e.source ORDER BY e.experiment"))


def _has_tables(con: Any) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_name = 'experiment_runs'").fetchone()
    return bool(row and row[0])


def load_points(store: Store, experiment: str, *, judge: str | None = None,
                n_boot: int = 500, seed: int = 0) -> list[Point]:
    """Every grid point of `experiment` with its finished runs read from the store."""
    from vdbench.metrics.report import run_metrics

    with store.read() as con:
        if not _has_tables(con):
            raise InputError("the store holds no experiments", where=str(store.path),
                             hint="run one first: vdbench experiment run FILE.toml")
        rows = queries.records(con.execute(
            "SELECT r.*, (SELECT count(*) FROM checkpoints c WHERE c.run_id = r.run_id) AS n_ckpt, "
            "(SELECT stats FROM run_results x WHERE x.run_id = r.run_id) AS stats "
            "FROM experiment_runs r WHERE experiment = ? ORDER BY rowid", [experiment]))
        known = [r[0] for r in con.execute("SELECT experiment FROM experiments").fetchall()]
    if not rows:
        raise InputError(f"no experiment {experiment!r} in the store", where=str(store.path),
                         hint="experiments: " + (", ".join(known) or "none"))
    points: dict[str, Point] = {}
    point_of_run = {r["run_id"]: r["point"] for r in rows}
    for row in rows:
        options = json.loads(row["options"])
        grid = json.loads(row["grid"])
        algorithm, dataset = row["algorithm"], row["dataset"]
        pt = points.get(row["point"])
        if pt is None:
            parent_point = point_of_run.get(row["parent_run"] or "", row["parent_run"])
            settings = {"algorithm": algorithm, "dataset": dataset, "parent": parent_point,
                        **options}
            pt = points[row["point"]] = Point(row["point"], row["stage"], algorithm, dataset,
                                              grid, settings, row["moved"])
        if not row["n_ckpt"] or not row["stats"]:
            pt.pending.append(row["run_id"])
            continue
        metrics = run_metrics(store, row["run_id"], judge=judge, n_boot=n_boot, seed=seed)
        overall = next(d for d in metrics["drift"] if d["topic"] == ALL_TOPICS)
        moved = pt.moved or overall["dominant"]
        pt.moved = moved
        pt.runs.append(RunData(row["run_id"], int(row["seed"]), moved, metrics,
                               _prompt_deltas(store, row["run_id"], metrics["judge"], moved),
                               json.loads(row["stats"]), distinct_share(store, row["run_id"])))
    return list(points.values())


def _prompt_deltas(store: Store, run_id: str, judge_id: str, stance: str) -> pd.Series:
    """Per prompt: mean p(stance) over samples at the last checkpoint minus at the first."""
    with store.read() as con:
        df = queries.judged_samples(con, run_id, judge_id)
    first, last = df["step"].min(), df["step"].max()
    means = df.groupby(["step", "prompt_id"])[f"p_{stance}"].mean()
    return (means.loc[last] - means.loc[first]).dropna()


def distinct_share(store: Store, run_id: str) -> tuple[float | None, float | None]:
    """Share of distinct texts among the samples at the first and the last checkpoint.

    Per-sample output health cannot see a policy that collapsed onto one short, healthy-
    looking answer (a reward-hacked PPO saying "idk, depends" to everything); this can."""
    with store.read() as con:
        rows = con.execute(
            "SELECT step, count(DISTINCT text) / count(*) FROM samples WHERE run_id = ? "
            "GROUP BY step ORDER BY step", [run_id]).fetchall()
    if not rows:
        return None, None
    return float(rows[0][1]), float(rows[-1][1])


def _end(metrics: dict[str, Any], stance: str) -> dict[str, Any]:
    overall = next(d for d in metrics["drift"] if d["topic"] == ALL_TOPICS)
    values = [v for v in metrics["values"] if v["topic"] == ALL_TOPICS]
    health = metrics.get("health") or []
    judge_rows = [r for r in (metrics.get("judge_health") or {}).get("by_checkpoint", [])
                  if r.get("topic") == ALL_TOPICS and r.get("n")]
    judge_end = max(judge_rows, key=lambda r: r["step"]) if judge_rows else {}
    s = overall["stances"][stance]
    start = values[0]["v"] if values else {}
    return {"M": s["M"], "M_ci": s.get("M_ci"), "eta": s["eta"],
            "v_from": s["v_from"], "v_to": s["v_to"],
            "favoured_before": max(start, key=lambda k: start[k]) if start else None,
            "start": start,
            "unhealthy_from": health[0]["unhealthy"] if health else None,
            "unhealthy_to": health[-1]["unhealthy"] if health else None,
            "judge_flagged_to": judge_end.get("flagged"), **_capability_end(metrics)}


def _capability_end(metrics: dict[str, Any]) -> dict[str, Any]:
    """The run's capability Δ first → last on its first task's headline metric (the micro
    task when measured); {} when no capability was measured."""
    from vdbench.metrics.capability import headline_rows

    rows = headline_rows(metrics.get("capability") or {})
    row = next((r for r in rows if r["task"] == "vdbench_micro"), rows[0] if rows else None)
    if row is None or row["delta"] is None:
        return {}
    return {"capability_task": f"{row['task']} {row['metric']}", "capability_delta": row["delta"],
            "capability_delta_ci": row["delta_ci"]}


TRAINING_KEYS = ("first_reward", "last_reward", "reference_kl", "mean_kl", "first_margin",
                 "last_margin", "first_loss", "last_loss", "seconds")


def _mean(values: list[float | None]) -> float | None:
    got = [float(v) for v in values if v is not None]
    return float(np.mean(got)) if got else None


def point_summary(pt: Point, *, n_boot: int, confidence: float,
                  rng: np.random.Generator) -> dict[str, Any]:
    out: dict[str, Any] = {"point": pt.point, "stage": pt.stage, "algorithm": pt.algorithm,
                           "dataset": pt.dataset, "grid": pt.grid, "moved": pt.moved,
                           "n_seeds": len(pt.runs), "pending": pt.pending}
    if not pt.runs:
        return out
    per_seed = []
    for run in sorted(pt.runs, key=lambda r: r.seed):
        end = _end(run.metrics, run.moved)
        end["distinct_from"], end["distinct_to"] = run.distinct
        per_seed.append({"seed": run.seed, "run": run.run_id, **end,
                         **{k: run.stats.get(k) for k in TRAINING_KEYS}})
    groups = [r.deltas.to_numpy() for r in sorted(pt.runs, key=lambda r: r.seed)]
    reps = hierarchical_replicates(groups, n_boot, rng)
    ci = hierarchical_interval(groups, reps, confidence)[:, 0]
    etas = [s["eta"] for s in per_seed]
    eta_ci = seed_interval(etas, seed_replicates(etas, n_boot, rng), confidence)
    start = {s: _mean([p["start"].get(s) for p in per_seed]) for s in STANCES}
    out |= {
        "M": float(point_estimate(groups)[0]), "M_ci": [float(ci[0]), float(ci[1])],
        "eta": float(np.mean(etas)),
        "eta_ci": None if np.isnan(eta_ci).any() else [float(eta_ci[0]), float(eta_ci[1])],
        "v_from": _mean([p["v_from"] for p in per_seed]), "v_to": _mean([p["v_to"] for p in per_seed]),
        "start": start, "favoured_before": max(start, key=lambda s: start[s] or 0.0),
        "unhealthy_to": _mean([p["unhealthy_to"] for p in per_seed]),
        "unhealthy_from": _mean([p["unhealthy_from"] for p in per_seed]),
        "judge_flagged_to": _mean([p["judge_flagged_to"] for p in per_seed]),
        "distinct_from": _mean([p["distinct_from"] for p in per_seed]),
        "distinct_to": _mean([p["distinct_to"] for p in per_seed]),
        "capability_task": per_seed[0].get("capability_task"),
        "capability_delta": _mean([p.get("capability_delta") for p in per_seed]),
        "training": {k: _mean([p.get(k) for p in per_seed]) for k in TRAINING_KEYS},
        "per_seed": per_seed,
    }
    out["likely_before"] = out["favoured_before"] == pt.moved
    return out


def _signature(settings: dict[str, Any], without: set[str]) -> str:
    return json.dumps({k: v for k, v in settings.items() if k not in without},
                      sort_keys=True, default=str)


def _joint(points: list[Point]) -> tuple[list[np.ndarray], list[int]]:
    """Per shared seed, a (prompts × points) matrix of deltas on the shared prompts."""
    seeds = sorted(set.intersection(*({r.seed for r in p.runs} for p in points)))
    groups = []
    for seed in seeds:
        series = [next(r for r in p.runs if r.seed == seed).deltas for p in points]
        shared = series[0].index
        for s in series[1:]:
            shared = shared.intersection(s.index)
        if len(shared):
            groups.append(np.column_stack([s.loc[shared].to_numpy() for s in series]))
    return groups, seeds


def _verdict(ci: list[float], more: str, less: str) -> str:
    if ci[0] > 0:
        return more
    if ci[1] < 0:
        return less
    return "not separable"


def contrast(points: list[Point], weights: np.ndarray, *, n_boot: int, confidence: float,
             rng: np.random.Generator) -> dict[str, Any] | None:
    """A linear contrast Σ w_k M_k of jointly resampled points, with its CI."""
    groups, seeds = _joint(points)
    if not groups:
        return None
    reps = hierarchical_replicates(groups, n_boot, rng) @ weights
    est = float(point_estimate(groups) @ weights)
    units_groups = [g @ weights for g in groups]
    ci = hierarchical_interval(units_groups, reps[:, None], confidence)[:, 0]
    return {"estimate": est, "ci": [float(ci[0]), float(ci[1])], "seeds": seeds}


def comparisons(points: list[Point], *, n_boot: int, confidence: float,
                rng: np.random.Generator) -> list[dict[str, Any]]:
    done = [p for p in points if p.runs]
    out: list[dict[str, Any]] = []
    # Algorithm vs algorithm inside a stage, same data and shared settings.
    by_stage: dict[str, list[Point]] = {}
    for p in done:
        by_stage.setdefault(p.stage, []).append(p)
    for pts in by_stage.values():
        groups: dict[str, list[Point]] = {}
        for p in pts:
            key = _signature(p.settings, {"algorithm"} | ALGORITHM_SPECIFIC)
            groups.setdefault(key, []).append(p)
        for members in groups.values():
            for a, b in itertools.combinations(members, 2):
                if a.algorithm != b.algorithm:
                    out.append(_pair("algorithm", a, b, a.algorithm, b.algorithm, n_boot=n_boot,
                                     confidence=confidence, rng=rng, fixed=_fixed(a, {"algorithm"})))
    # Dataset and hyper-parameter series: points that differ in exactly one setting.
    keys = sorted({k for p in done for k in p.settings} - {"algorithm", "parent"})
    for key in keys:
        series: dict[str, list[Point]] = {}
        for p in done:
            if key in p.settings:
                # Datasets are compared inside a stage (e.g. support- vs oppose-aligned pairs,
                # a mixed set vs its subsets); a hyper-parameter's series may span stages.
                scope = p.stage if key == "dataset" else ""
                series.setdefault(scope + _signature(p.settings, {key}), []).append(p)
        for members in series.values():
            values = {json.dumps(p.settings[key], default=str) for p in members}
            if len(values) < 2 or len(values) != len(members):
                continue
            numeric = all(isinstance(p.settings[key], int | float) and
                          not isinstance(p.settings[key], bool) for p in members)
            if numeric:
                members = sorted(members, key=lambda p: p.settings[key])
                pairs = list(itertools.pairwise(members))
            else:
                pairs = list(itertools.combinations(members, 2))
            for a, b in pairs:
                out.append(_pair(key, a, b, str(a.settings[key]), str(b.settings[key]),
                                 n_boot=n_boot, confidence=confidence, rng=rng,
                                 fixed=_fixed(a, {key})))
            if numeric and len(members) >= 3:
                xs = [float(p.settings[key]) for p in members]
                res = contrast(members, log_slope(xs), n_boot=n_boot, confidence=confidence, rng=rng)
                if res:
                    scale = "log10 " if all(x > 0 for x in xs) else ""
                    out.append({"kind": "slope", "axis": key, "points": [p.point for p in members],
                                "values": xs, "of": "M of each point's moved stance",
                                "per": f"{scale}{key}", **res,
                                "verdict": _verdict(res["ci"], f"M rises with {key}",
                                                    f"M falls with {key}").replace(
                                                        "not separable", "no separable trend"),
                                "fixed": _fixed(members[0], {key})})
    return [c for c in out if c]


def _fixed(p: Point, without: set[str]) -> dict[str, Any]:
    return {k: v for k, v in p.grid.items() if k not in without and "." not in k}


def _pair(axis: str, a: Point, b: Point, la: str, lb: str, *, n_boot: int, confidence: float,
          rng: np.random.Generator, fixed: dict[str, Any]) -> dict[str, Any]:
    res = contrast([a, b], np.array([1.0, -1.0]), n_boot=n_boot, confidence=confidence, rng=rng)
    if res is None:
        return {}
    moved = a.moved if a.moved == b.moved else f"{a.moved} / {b.moved}"
    starts = {}
    if a.moved != b.moved:  # which moved stance was the more likely one before training
        starts = {"a_start": _mean([_end(r.metrics, r.moved)["v_from"] for r in a.runs]),
                  "b_start": _mean([_end(r.metrics, r.moved)["v_from"] for r in b.runs])}
    return {"kind": "difference", "axis": axis, "a": a.point, "b": b.point, "a_value": la,
            "b_value": lb, "of": f"M({moved})", **res, **starts,
            "verdict": _verdict(res["ci"], f"{la} moves {a.moved if a.moved == b.moved else 'its stance'} more",
                                f"{lb} moves {b.moved if a.moved == b.moved else 'its stance'} more"),
            "fixed": fixed}


def experiment_report(store: Store, experiment: str, *, judge: str | None = None,
                      n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    if n_boot < 1:
        raise InputError(f"--n-boot must be at least 1, got {n_boot}")
    if not 0 < confidence < 1:
        raise InputError(f"--confidence must lie strictly between 0 and 1, got {confidence}")
    points = load_points(store, experiment, judge=judge, n_boot=min(n_boot, 500), seed=seed)
    rng = np.random.default_rng(seed)
    summaries = [point_summary(p, n_boot=n_boot, confidence=confidence, rng=rng) for p in points]
    return {
        "experiment": experiment,
        "bootstrap": {"n_boot": n_boot, "confidence": confidence, "seed": seed, "method": METHOD},
        "judge": next((r.metrics["judge"] for p in points for r in p.runs), None),
        "points": summaries,
        "comparisons": comparisons(points, n_boot=n_boot, confidence=confidence, rng=rng),
        "pending": [r for p in points for r in p.pending],
    }
