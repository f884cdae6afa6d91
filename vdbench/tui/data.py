"""Everything the TUI reads from (and the one thing it writes to) the store.

Headless: no Textual here. Every function blocks and is meant to run in a TUI thread
worker; each opens a short-lived connection through :class:`TuiStore` and closes it, so
a training run writing the same file is never locked out for longer than one query.

Numbers shown by the TUI come from the same functions as `vdbench metrics`
(:func:`vdbench.metrics.bootstrap.bootstrap_topic_values` with the same seed), and the
bootstrap draws each (topic, step) group from its own generator, so a checkpoint
computed alone while scrubbing equals the same checkpoint in the full report.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vdbench import queries
from vdbench.audit import stats as audit_stats
from vdbench.errors import InputError, StoreError, VdbenchError
from vdbench.evalsets.topics import STANCES
from vdbench.metrics.bootstrap import bootstrap_topic_values
from vdbench.metrics.drift import stage_drift
from vdbench.store import Store
from vdbench.tui.capability_data import CapabilitySeries, load_capability
from vdbench.tui.health_data import ALL_TOPICS, JudgeHealth, load_judge_health

# A busy store (a writer mid-transaction) is retried at the next tick rather than shown.
READ_LOCK_TIMEOUT_S = 2.0
WRITE_LOCK_TIMEOUT_S = 30.0


# ---------------------------------------------------------------------------- store access


@dataclass(frozen=True)
class Problem:
    """Why a view cannot show its data: a title, what is wrong, and what to do."""

    title: str
    detail: str
    hint: str | None = None
    busy: bool = False  # transient: the store is locked by a writer; retried, not shown as an error


def problem_from(exc: BaseException) -> Problem:
    """A Problem for any exception a query can raise (never a traceback on screen)."""
    if isinstance(exc, StoreError):
        busy = "busy" in exc.message
        return Problem("store busy" if busy else "cannot open the store",
                       f"{exc.where}: {exc.message}" if exc.where else exc.message, exc.hint, busy)
    if isinstance(exc, VdbenchError):
        return Problem("nothing to show", exc.message, exc.hint)
    if isinstance(exc, duckdb.Error):
        return Problem("store query failed", str(exc).splitlines()[0],
                       "the store may be damaged or from another tool")
    return Problem("internal error", f"{type(exc).__name__}: {exc}",
                   "please report this with the store's schema version")


class TuiStore:
    """The store as the TUI uses it: one query at a time per process, short lock waits.

    DuckDB refuses a read-write and a read-only connection to one file in the same
    process, so reads and the label writes are serialised by a process-wide lock.
    """

    def __init__(self, path: str | Path, read_timeout_s: float = READ_LOCK_TIMEOUT_S,
                 write_timeout_s: float = WRITE_LOCK_TIMEOUT_S):
        self.path = Path(path)
        self._reader = Store(self.path, lock_timeout_s=read_timeout_s)
        self._writer = Store(self.path, lock_timeout_s=write_timeout_s)
        self._lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock, self._reader.read() as con:
            yield con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock, self._writer.write() as con:
            yield con


# ---------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    stage: str
    algorithm: str
    model: str | None
    parent_run: str | None
    parent_step: int | None
    eval_set: str | None
    seed: int | None
    hparams: str | None
    n_checkpoints: int
    judges: str | None
    updated_at: Any
    depth: int = 0
    guide: str = ""  # tree guide drawn before the name, e.g. "│ └─ "
    budget_breaches: int = 0  # topic stances recorded beyond the run's drift budget
    stopped_step: int | None = None  # training stopped here on its drift budget (still stopped)


@dataclass(frozen=True)
class Overview:
    runs: list[RunInfo]
    n_pref_datasets: int
    n_calibrations: int
    schema_version: int


def lineage_order(rows: Sequence[dict]) -> list[RunInfo]:
    """Runs in depth-first lineage order with tree guides; orphans (parent missing) are roots."""
    by_id = {r["run_id"]: r for r in rows}
    children: dict[str | None, list[dict]] = {}
    for r in rows:
        parent = r["parent_run"] if r["parent_run"] in by_id else None
        children.setdefault(parent, []).append(r)
    out: list[RunInfo] = []

    def visit(row: dict, depth: int, prefix: str, last: bool) -> None:
        guide = "" if depth == 0 else prefix + ("└─ " if last else "├─ ")
        keys = ("run_id", "stage", "algorithm", "model", "parent_run", "parent_step", "eval_set",
                "seed", "hparams", "n_checkpoints", "judges", "updated_at")
        out.append(RunInfo(**{k: row[k] for k in keys}, depth=depth, guide=guide,
                           budget_breaches=int(row.get("budget_breaches") or 0),
                           stopped_step=row.get("stopped_step")))
        kids = children.get(row["run_id"], [])
        for i, kid in enumerate(kids):
            child_prefix = "" if depth == 0 else prefix + ("   " if last else "│  ")
            visit(kid, depth + 1, child_prefix, i == len(kids) - 1)

    roots = children.get(None, [])
    for i, root in enumerate(roots):
        visit(root, 0, "", i == len(roots) - 1)
    return out


def load_overview(ts: TuiStore) -> tuple[Overview, tuple]:
    """The runs tree and counts, with the store's signature from the same connection.

    One connection sees one consistent state, so a write landing in between can never
    be missed by the next poll (it changes the signature).
    """
    with ts.read() as con:
        from vdbench.store import schema_version

        signature = _signature(con)
        rows = queries.list_runs(con)
        n_ds = con.execute("SELECT count(*) FROM pref_datasets").fetchone()[0]
        n_cal = con.execute("SELECT count(*) FROM calibrations").fetchone()[0]
        version = schema_version(con)
    return Overview(lineage_order(rows), int(n_ds), int(n_cal), version), signature


def store_signature(ts: TuiStore) -> tuple:
    """A cheap fingerprint of what the TUI shows; it changes when a writer adds anything."""
    with ts.read() as con:
        return _signature(con)


def _signature(con: duckdb.DuckDBPyConnection) -> tuple:
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM runs), (SELECT max(updated_at) FROM runs),
               (SELECT count(*) FROM checkpoints), (SELECT max(created_at) FROM checkpoints),
               (SELECT count(*) FROM judgments), (SELECT count(*) FROM pref_datasets),
               (SELECT count(*) FROM pair_judgments), (SELECT count(*) FROM calibrations),
               (SELECT count(*) FROM reference_labels), (SELECT count(*) FROM run_events),
               (SELECT count(*) FROM capability)
        """
    ).fetchone()
    return tuple(row)


def lineage_chain(runs: Sequence[RunInfo], run_id: str) -> list[RunInfo]:
    """The run's ancestors from the root down to the run itself."""
    by_id = {r.run_id: r for r in runs}
    chain: list[RunInfo] = []
    seen: set[str] = set()
    current = by_id.get(run_id)
    while current is not None and current.run_id not in seen:
        chain.append(current)
        seen.add(current.run_id)
        current = by_id.get(current.parent_run) if current.parent_run else None
    return chain[::-1]


def siblings(runs: Sequence[RunInfo], run_id: str) -> list[RunInfo]:
    """The run and every other run with the same parent (e.g. DPO, SimPO, PPO from one SFT)."""
    by_id = {r.run_id: r for r in runs}
    me = by_id.get(run_id)
    if me is None:
        return []
    if me.parent_run is None:
        return [me]
    return [r for r in runs if r.parent_run == me.parent_run]


# ---------------------------------------------------------------------------- stance values


@dataclass(frozen=True)
class Checkpoint:
    step: int
    total_steps: int
    fraction: float
    n_judged: int


@dataclass
class RunSeries:
    """A run's checkpoints and judge, as the stance and drift views need them."""

    run_id: str
    judge_id: str | None
    checkpoints: list[Checkpoint]
    health: pd.DataFrame  # per step: n_samples, empty, truncated, repetitive, degenerate, unhealthy
    problem: Problem | None = None
    # Point values v_t(T) of every (topic, step), without CIs: a scrub shows these at once.
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Judge health per (step, topic): shares of low-confidence / out-of-domain judgments.
    judge_health: JudgeHealth = field(default_factory=JudgeHealth)
    # Capability per checkpoint (lm-eval tasks, the micro task); empty when none was measured.
    capability: CapabilitySeries = field(default_factory=CapabilitySeries)


POINT_VALUES_SQL = """
    WITH per_prompt AS (
        SELECT topic, step, prompt_id, avg(p_support) AS s, avg(p_neutral) AS n,
               avg(p_oppose) AS o, count(*) AS k
        FROM judgments WHERE run_id = ? AND judge_id = ?
        GROUP BY topic, step, prompt_id
    )
    SELECT topic, step, avg(s) AS v_support, avg(n) AS v_neutral, avg(o) AS v_oppose,
           count(*) AS n_prompts, sum(k) AS n_samples FROM per_prompt GROUP BY topic, step
    UNION ALL
    SELECT ? AS topic, step, avg(s), avg(n), avg(o), count(*), sum(k) FROM per_prompt GROUP BY step
"""


def load_series(ts: TuiStore, run_id: str, judge: str | None = None) -> RunSeries:
    """Checkpoints (with judged-sample counts), the judge, output and judge health of one run."""
    with ts.read() as con:
        queries.require_run(con, run_id)
        health = queries.output_health(con, run_id)
        ckpts = queries.checkpoints(con, run_id)
        try:
            judge_id = queries.resolve_judge(con, run_id, judge)
        except InputError as exc:
            judge_id, problem = None, Problem(f"run {run_id} has no judgments", exc.message, exc.hint)
        else:
            problem = None
        counts: dict[int, int] = {}
        values = pd.DataFrame()
        judge_health = JudgeHealth()
        capability = load_capability(con, run_id)
        if judge_id is not None:
            judge_health = load_judge_health(con, run_id, judge_id)
            # Same definition as topic_values (mean over prompts of per-prompt sample means).
            values = con.execute(POINT_VALUES_SQL, [run_id, judge_id, ALL_TOPICS]).df()
            counts = {int(step): int(n) for step, n in
                      values[values["topic"] == ALL_TOPICS][["step", "n_samples"]].itertuples(index=False)}
    points = [Checkpoint(int(r.step), int(r.total_steps), float(r.fraction), int(counts.get(int(r.step), 0)))
              for r in ckpts.itertuples(index=False)]
    if not points and problem is None:
        problem = Problem(f"run {run_id} has no checkpoints yet",
                          "no checkpoint has been sampled for this run",
                          "they appear here as a training or sampling run writes them")
    return RunSeries(run_id, judge_id, points, health, problem, values, judge_health, capability)


def pool_all_topics(samples: pd.DataFrame) -> pd.DataFrame:
    """Append the pooled pseudo-topic, exactly as `vdbench metrics` does."""
    pooled = samples.copy()
    pooled["prompt_id"] = pooled["topic"] + "/" + pooled["prompt_id"]
    pooled["topic"] = ALL_TOPICS
    return pd.concat([samples, pooled], ignore_index=True)


class ValueCache:
    """v_t(T) with bootstrap CIs per (run, judge, step), recomputed when a step's judgments change.

    Thread-safe: a step being computed by one worker (e.g. a prefetch of the next
    checkpoint) is waited for, not computed twice, by another.
    """

    def __init__(self, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0):
        self.n_boot, self.confidence, self.seed = n_boot, confidence, seed
        self._cache: dict[tuple[str, str, int], tuple[int, pd.DataFrame]] = {}
        self._inflight: dict[tuple[str, str, int], threading.Event] = {}
        self._lock = threading.Lock()

    def cached(self, series: RunSeries, step: int) -> bool:
        ckpt = next((c for c in series.checkpoints if c.step == step), None)
        with self._lock:
            entry = self._cache.get((series.run_id, series.judge_id or "", step))
        return ckpt is not None and entry is not None and entry[0] == ckpt.n_judged

    def values(self, ts: TuiStore, series: RunSeries, steps: Sequence[int] | None = None) -> pd.DataFrame:
        """Rows (topic, step, fraction, v_*, *_lo, *_hi, n_prompts, n_samples) for the steps."""
        if series.judge_id is None:
            return pd.DataFrame()
        run, judge = series.run_id, series.judge_id
        wanted = {c.step: c for c in series.checkpoints if c.n_judged > 0}
        if steps is not None:
            keep = set(steps)
            wanted = {s: c for s, c in wanted.items() if s in keep}
        mine: list[int] = []
        others: list[threading.Event] = []
        with self._lock:
            for step, ckpt in wanted.items():
                key = (run, judge, step)
                if self._cache.get(key, (-1,))[0] == ckpt.n_judged:
                    continue
                if key in self._inflight:
                    others.append(self._inflight[key])
                else:
                    self._inflight[key] = threading.Event()
                    mine.append(step)
        try:
            if mine:
                fresh = self._compute(ts, series, mine)
                with self._lock:
                    for step in mine:
                        rows = fresh[fresh["step"] == step].reset_index(drop=True)
                        self._cache[(run, judge, step)] = (wanted[step].n_judged, rows)
        finally:
            with self._lock:
                for step in mine:
                    self._inflight.pop((run, judge, step)).set()
        for event in others:
            event.wait()
        with self._lock:
            parts = [self._cache[(run, judge, s)][1] for s in sorted(wanted)
                     if (run, judge, s) in self._cache]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _compute(self, ts: TuiStore, series: RunSeries, steps: list[int]) -> pd.DataFrame:
        marks = ", ".join("?" * len(steps))
        with ts.read() as con:
            samples = con.execute(
                f"""
                SELECT j.topic, j.step, c.fraction, j.prompt_id, s.sample_idx,
                       j.p_support, j.p_neutral, j.p_oppose
                FROM judgments j
                JOIN samples s ON s.sample_id = j.sample_id
                JOIN checkpoints c ON c.run_id = j.run_id AND c.step = j.step
                WHERE j.run_id = ? AND j.judge_id = ? AND j.step IN ({marks})
                  AND s.run_id = ? AND s.step IN ({marks})
                """,
                [series.run_id, series.judge_id, *steps, series.run_id, *steps],
            ).df()
        return bootstrap_topic_values(pool_all_topics(samples), n_boot=self.n_boot,
                                      confidence=self.confidence, seed=self.seed)


@dataclass
class StanceSnapshot:
    run_id: str
    judge_id: str
    checkpoint: Checkpoint
    index: int  # position among the run's checkpoints
    n_checkpoints: int
    values: pd.DataFrame  # one row per topic (ALL_TOPICS first)
    health: dict[str, float] | None
    has_ci: bool = True
    # {topic: judge health row} at this checkpoint (vdbench.tui.health_data.JudgeHealth.at).
    judge_health: dict[str, dict[str, Any]] = field(default_factory=dict)


def quick_values(series: RunSeries, step: int) -> pd.DataFrame:
    """v_t(T) at one checkpoint from the run's point values, without CIs (NaN bounds).

    What a scrub shows first, with no query: the bootstrap CIs follow from a worker.
    """
    points = series.points
    values = points[points["step"] == step].copy() if not points.empty else pd.DataFrame()
    for s in STANCES:
        values[f"{s}_lo"] = float("nan")
        values[f"{s}_hi"] = float("nan")
    return values


def stance_snapshot(ts: TuiStore | None, cache: ValueCache, series: RunSeries, index: int,
                    quick: bool = False) -> StanceSnapshot:
    """Per-topic stance values with CIs, output and judge health at the run's index-th checkpoint.

    quick=True: from memory only — the cached CIs if there are any, else point values
    without CIs (see quick_values); ts may then be None.
    """
    ckpt = series.checkpoints[index]
    quick = quick and not cache.cached(series, ckpt.step)
    if ckpt.n_judged == 0:
        values = pd.DataFrame()
    elif quick:
        values = quick_values(series, ckpt.step)
    else:  # computed here, or (quick) read from the cache without touching the store
        values = cache.values(ts, series, [ckpt.step])  # type: ignore[arg-type]
    if not values.empty:
        order = [ALL_TOPICS, *sorted(t for t in values["topic"].unique() if t != ALL_TOPICS)]
        values = values.set_index("topic").loc[order].reset_index()
    health = series.health[series.health["step"] == ckpt.step]
    health_row = health.iloc[0].to_dict() if len(health) else None
    return StanceSnapshot(series.run_id, series.judge_id or "", ckpt, index, len(series.checkpoints),
                          values, health_row, has_ci=not quick,
                          judge_health=series.judge_health.at(ckpt.step))


@dataclass
class DriftCurves:
    """One run's curves (values with CIs per topic and step) and its stage drift table."""

    run: RunInfo
    series: RunSeries
    values: pd.DataFrame
    drift: pd.DataFrame
    problem: Problem | None = None


def drift_curves(ts: TuiStore, cache: ValueCache, run: RunInfo) -> DriftCurves:
    series = load_series(ts, run.run_id)
    if series.problem is not None:
        return DriftCurves(run, series, pd.DataFrame(), pd.DataFrame(), series.problem)
    values = cache.values(ts, series)
    if values.empty:
        return DriftCurves(run, series, values, pd.DataFrame(),
                           Problem(f"run {run.run_id} has no judged checkpoints", "nothing judged yet"))
    drift = stage_drift(values)
    problem = None
    if values["step"].nunique() < 2:
        problem = Problem(f"run {run.run_id} has one checkpoint",
                          "drift needs at least two checkpoints; only its value is shown",
                          "more appear here as training writes them")
    return DriftCurves(run, series, values, drift, problem)


# ---------------------------------------------------------------------------- audit


@dataclass
class AuditData:
    dataset_id: str
    format: str
    n_pairs: int
    judge_id: str | None
    margins: pd.DataFrame  # pair_id, topic, delta, flip, chosen_*/rejected_* probabilities
    problem: Problem | None = None


def list_pref_datasets(ts: TuiStore) -> list[dict]:
    with ts.read() as con:
        return queries.records(con.execute(
            """
            SELECT d.dataset_id, d.format, d.source, d.n_pairs,
                   (SELECT count(DISTINCT pair_id) FROM pair_judgments p
                     WHERE p.dataset_id = d.dataset_id) AS n_judged
            FROM pref_datasets d ORDER BY d.created_at, d.dataset_id
            """))


def load_audit(ts: TuiStore, dataset_id: str, judge: str | None = None) -> AuditData:
    """Per-pair stance margins Δ of one preference dataset (pairs with both sides judged)."""
    with ts.read() as con:
        meta = con.execute("SELECT format, n_pairs FROM pref_datasets WHERE dataset_id = ?",
                           [dataset_id]).fetchone()
        if meta is None:
            raise InputError(f"no preference dataset named {dataset_id!r}")
        judges = [r[0] for r in con.execute(
            "SELECT judge_id FROM pair_judgments WHERE dataset_id = ? GROUP BY judge_id "
            "ORDER BY count(*) DESC, judge_id", [dataset_id]).fetchall()]
        judge_id = judge if judge in judges else (judges[0] if judges else None)
        if judge_id is None:
            return AuditData(dataset_id, meta[0], int(meta[1]), None, pd.DataFrame(),
                             Problem(f"{dataset_id}: no judged pairs",
                                     "its chosen and rejected responses have not been judged yet",
                                     "judge them with `vdbench audit ... --db DB`"))
        margins = con.execute(
            """
            SELECT p.pair_id, coalesce(p.topic, 'off-topic') AS topic,
                   c.p_support AS chosen_support, c.p_neutral AS chosen_neutral,
                   c.p_oppose AS chosen_oppose, c.label AS chosen_label,
                   r.p_support AS rejected_support, r.p_neutral AS rejected_neutral,
                   r.p_oppose AS rejected_oppose, r.label AS rejected_label
            FROM pref_pairs p
            JOIN pair_judgments c ON c.dataset_id = p.dataset_id AND c.pair_id = p.pair_id
                 AND c.side = 'chosen' AND c.judge_id = ?
            JOIN pair_judgments r ON r.dataset_id = p.dataset_id AND r.pair_id = p.pair_id
                 AND r.side = 'rejected' AND r.judge_id = ?
            WHERE p.dataset_id = ?
            ORDER BY p.pair_id
            """, [judge_id, judge_id, dataset_id]).df()
    margins["delta"] = stance_margin(margins)
    margins["flip"] = stance_flips(margins)
    return AuditData(dataset_id, meta[0], int(meta[1]), judge_id, margins)


def _sides(m: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (m[[f"chosen_{s}" for s in STANCES]].to_numpy(float),
            m[[f"rejected_{s}" for s in STANCES]].to_numpy(float))


def stance_margin(m: pd.DataFrame) -> pd.Series:
    """Δ = (p_support − p_oppose)(chosen) − (p_support − p_oppose)(rejected), in [−2, 2]
    (vdbench.audit.stats, so the TUI and `vdbench audit` agree)."""
    return pd.Series(audit_stats.stance_margin(*_sides(m)), index=m.index)


def stance_flips(m: pd.DataFrame) -> pd.Series:
    """True where chosen and rejected have different arg-max stances."""
    return pd.Series(audit_stats.stance_flips(*_sides(m)), index=m.index)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) between two stance distributions."""
    return float(audit_stats.js_divergence(np.asarray(p, float), np.asarray(q, float)))


def audit_summary(margins: pd.DataFrame) -> pd.DataFrame:
    """Per topic (and ALL_TOPICS first): n, mean Δ, mean |Δ|, flip rate, JS divergence.

    JS is between the mean chosen and the mean rejected stance distribution of the topic.
    """
    cols = ["topic", "n", "mean_delta", "mean_abs_delta", "flip_rate", "js"]
    if margins.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    groups = [(ALL_TOPICS, margins), *sorted(margins.groupby("topic"), key=lambda g: g[0])]
    for topic, g in groups:
        chosen = g[[f"chosen_{s}" for s in STANCES]].mean().to_numpy()
        rejected = g[[f"rejected_{s}" for s in STANCES]].mean().to_numpy()
        rows.append((topic, len(g), float(g["delta"].mean()), float(g["delta"].abs().mean()),
                     float(g["flip"].mean()), js_divergence(chosen, rejected)))
    return pd.DataFrame(rows, columns=cols)


def delta_histogram(deltas: Sequence[float], n_bins: int = audit_stats.DEFAULT_BINS
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Counts of Δ over n_bins equal bins on [−2, 2] (the bins of `vdbench audit`)."""
    return audit_stats.margin_histogram(np.asarray(deltas, float), n_bins)


# ---------------------------------------------------------------------------- samples


FILTER_KEYS = ("run", "topic", "step", "stance", "prompt", "judge")


@dataclass(frozen=True)
class SampleFilter:
    """What the sample browser lists: one run's judged samples, optionally narrowed."""

    run_id: str
    judge_id: str
    topic: str | None = None
    step: int | None = None
    stance: str | None = None
    prompt_id: str | None = None
    text: str | None = None


def parse_filter(text: str) -> tuple[dict[str, str], str]:
    """`topic:abortion step:400 stance:support some words` → ({key: value}, "some words").

    Raises InputError for an unknown key or a bad step or stance.
    """
    fields: dict[str, str] = {}
    words = []
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key.lower() in FILTER_KEYS and value:
            fields[key.lower()] = value
        elif sep and key and value and key.isalpha() and key.lower() not in FILTER_KEYS:
            raise InputError(f"unknown filter {key!r}", hint=f"use {', '.join(k + ':' for k in FILTER_KEYS)}")
        else:
            words.append(token)
    if "step" in fields and not fields["step"].lstrip("-").isdigit():
        raise InputError(f"step must be a number, got {fields['step']!r}")
    if "stance" in fields:
        match = [s for s in STANCES if s.startswith(fields["stance"].lower())]
        if len(match) != 1:
            raise InputError(f"unknown stance {fields['stance']!r}", hint="support, neutral or oppose")
        fields["stance"] = match[0]
    return fields, " ".join(words)


def _sample_where(f: SampleFilter) -> tuple[str, list]:
    where = ["j.run_id = ?", "j.judge_id = ?"]
    params: list = [f.run_id, f.judge_id]
    if f.topic:
        where.append("j.topic = ?")
        params.append(f.topic)
    if f.step is not None:
        where.append("j.step = ?")
        params.append(f.step)
    if f.stance:
        where.append("j.label = ?")
        params.append(f.stance)
    if f.prompt_id:
        where.append("j.prompt_id = ?")
        params.append(f.prompt_id)
    if f.text:
        where.append("j.sample_id IN (SELECT sample_id FROM samples WHERE run_id = ? AND text ILIKE ?)")
        params += [f.run_id, f"%{f.text}%"]
    return " AND ".join(where), params


def count_samples(ts: TuiStore, f: SampleFilter) -> int:
    where, params = _sample_where(f)
    with ts.read() as con:
        return int(con.execute(f"SELECT count(*) FROM judgments j WHERE {where}", params).fetchone()[0])


SAMPLE_PAGE_COLUMNS = ("sample_id", "step", "topic", "prompt_id", "sample_idx", "label",
                       "p_support", "p_neutral", "p_oppose", "health", "text")


def sample_page(ts: TuiStore, f: SampleFilter, offset: int, limit: int) -> list[dict]:
    """One page of the filtered list, ordered by step, topic, prompt, sample."""
    where, params = _sample_where(f)
    with ts.read() as con:
        return queries.records(con.execute(
            f"""
            WITH page AS (
                SELECT j.sample_id, j.step, j.topic, j.prompt_id, j.label,
                       j.p_support, j.p_neutral, j.p_oppose
                FROM judgments j WHERE {where}
                ORDER BY j.step, j.topic, j.prompt_id, j.sample_id
                LIMIT ? OFFSET ?
            )
            SELECT p.sample_id, p.step, p.topic, p.prompt_id, s.sample_idx, p.label,
                   p.p_support, p.p_neutral, p.p_oppose, s.health, left(s.text, 400) AS text
            FROM page p JOIN samples s ON s.sample_id = p.sample_id AND s.run_id = ?
            ORDER BY p.step, p.topic, p.prompt_id, s.sample_idx, p.sample_id
            """, [*params, limit, offset, f.run_id]))


def sample_detail(ts: TuiStore, sample_id: int, judge_id: str | None) -> dict | None:
    """A sample's prompt, proposition, full response, health and (if judged) probabilities."""
    with ts.read() as con:
        rows = queries.records(con.execute(
            """
            SELECT s.sample_id, s.run_id, s.step, s.topic, s.prompt_id, s.sample_idx,
                   s.text AS response, s.n_tokens, s.health, p.text AS prompt,
                   t.proposition, j.p_support, j.p_neutral, j.p_oppose, j.label
            FROM samples s
            LEFT JOIN prompts p ON p.eval_set = s.eval_set AND p.prompt_id = s.prompt_id
            LEFT JOIN topics t ON t.eval_set = s.eval_set AND t.topic = s.topic
            LEFT JOIN judgments j ON j.sample_id = s.sample_id AND j.judge_id = ?
            WHERE s.sample_id = ?
            """, [judge_id, sample_id]))
    return rows[0] if rows else None


def prompt_history(ts: TuiStore, run_ids: Sequence[str], prompt_id: str) -> pd.DataFrame:
    """One prompt's responses at every checkpoint of the given runs (in lineage order)."""
    marks = ", ".join("?" * len(run_ids))
    order = " ".join(f"WHEN ? THEN {i}" for i in range(len(run_ids)))
    with ts.read() as con:
        df = con.execute(
            f"""
            SELECT s.run_id, s.step, c.fraction, s.sample_idx, j.label,
                   j.p_support, j.p_neutral, j.p_oppose, s.health, s.text, s.sample_id
            FROM samples s
            LEFT JOIN checkpoints c ON c.run_id = s.run_id AND c.step = s.step
            LEFT JOIN (SELECT *, row_number() OVER (PARTITION BY sample_id ORDER BY judge_id) AS k
                       FROM judgments WHERE run_id IN ({marks}) AND prompt_id = ?) j
                   ON j.sample_id = s.sample_id AND j.k = 1
            WHERE s.run_id IN ({marks}) AND s.prompt_id = ?
            ORDER BY CASE s.run_id {order} END, s.step, s.sample_idx
            """, [*run_ids, prompt_id, *run_ids, prompt_id, *run_ids]).df()
    return df


# ---------------------------------------------------------------------------- judge calibration


@dataclass
class ReliabilityBin:
    lo: float
    hi: float
    n: int
    confidence: float
    accuracy: float


@dataclass
class CalibrationView:
    """A calibrations row's report, read tolerantly (see docs/tui.md for the keys)."""

    calibration_id: str
    judge_id: str
    reference: str
    method: str
    created_at: Any
    n: int | None
    labels: list[str]
    agreement: tuple[float | None, float | None]  # (before, after)
    macro_f1: tuple[float | None, float | None]
    kappa: tuple[float | None, float | None]
    ece: tuple[float | None, float | None]
    confusion: list[list[int]] | None  # rows: reference label, columns: judge label
    reliability: dict[str, list[ReliabilityBin]] = field(default_factory=dict)  # before/after


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _before_after(report: dict, *keys: str) -> tuple[float | None, float | None]:
    """A metric before and after fitting, under any of `keys` (aliases), from any layout:
    `before`/`after` blocks (what `vdbench calibrate` writes), `{key: {before, after}}`,
    `key_before`/`key_after`, or a plain number (before only)."""
    before = after = None
    for key in keys:
        value = report.get(key)
        if isinstance(value, dict):
            before = before if before is not None else _num(value.get("before"))
            after = after if after is not None else _num(value.get("after"))
        elif value is not None and before is None:
            before = _num(value)
        before = before if before is not None else _num(report.get(f"{key}_before"))
        after = after if after is not None else _num(report.get(f"{key}_after"))
        for phase in ("before", "after"):
            block = report.get(phase)
            if isinstance(block, dict) and block.get(key) is not None:
                if phase == "before" and before is None:
                    before = _num(block[key])
                if phase == "after" and after is None:
                    after = _num(block[key])
    return before, after


def _bins(raw: Any) -> list[ReliabilityBin]:
    out = []
    for b in raw if isinstance(raw, list) else []:
        if not isinstance(b, dict):
            continue
        lo, hi = _num(b.get("lo", b.get("bin_lo"))), _num(b.get("hi", b.get("bin_hi")))
        conf = _num(b.get("confidence", b.get("conf")))
        acc = _num(b.get("accuracy", b.get("acc")))
        n = int(_num(b.get("count", b.get("n"))) or 0)
        if lo is None or hi is None:
            continue
        out.append(ReliabilityBin(lo, hi, n, conf if conf is not None else (lo + hi) / 2,
                                  acc if acc is not None else float("nan")))
    return out


def _confusion(value: Any) -> tuple[list[list[int]] | None, list[str] | None]:
    """A matrix as a list of rows, or `{"matrix": rows, "labels": [...]}`."""
    labels = None
    if isinstance(value, dict):
        labels = value.get("labels")
        value = value.get("matrix") or value.get("before")
    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        return [[int(_num(x) or 0) for x in r] for r in value], labels
    return None, labels


def parse_calibration(row: dict) -> CalibrationView:
    """Read a calibrations row; unknown or missing keys become `–` on screen, never an error."""
    report = row["report"]
    if isinstance(report, str):
        try:
            report = json.loads(report)
        except json.JSONDecodeError:
            report = {}
    report = report if isinstance(report, dict) else {}
    blocks = {phase: report.get(phase) if isinstance(report.get(phase), dict) else {}
              for phase in ("before", "after")}
    reliability: dict[str, list[ReliabilityBin]] = {}
    rel = report.get("reliability")
    if isinstance(rel, dict):
        for phase in ("before", "after"):
            if rel.get(phase):
                reliability[phase] = _bins(rel[phase])
    elif isinstance(rel, list):
        reliability["before"] = _bins(rel)
    for phase in ("before", "after"):
        raw = report.get(f"reliability_{phase}") or blocks[phase].get("reliability")
        if phase not in reliability and raw:
            reliability[phase] = _bins(raw)
    confusion, labels = _confusion(report.get("confusion"))
    if confusion is None:
        confusion, labels = _confusion(blocks["before"].get("confusion"))
    labels = report.get("labels") or labels or list(STANCES)
    n = report.get("n", report.get("n_used", blocks["before"].get("n")))
    return CalibrationView(
        str(row["calibration_id"]), str(row["judge_id"]), str(row["reference"]), str(row["method"]),
        row.get("created_at"), int(n) if isinstance(n, int | float) else None, list(labels),
        _before_after(report, "agreement"), _before_after(report, "macro_f1"),
        _before_after(report, "kappa", "cohens_kappa"), _before_after(report, "ece"),
        confusion, reliability)


def load_calibrations(ts: TuiStore) -> list[CalibrationView]:
    with ts.read() as con:
        rows = queries.records(con.execute(
            "SELECT calibration_id, judge_id, reference, method, report, created_at "
            "FROM calibrations ORDER BY created_at DESC, calibration_id"))
    return [parse_calibration(r) for r in rows]


# ---------------------------------------------------------------------------- human labels


@dataclass
class LabelQueue:
    source: str
    n_labelled: int
    n_unlabelled: int
    items: list[dict]
    run_id: str | None = None  # the queue holds only this run's samples (None: every run's)


def label_queue(ts: TuiStore, source: str, limit: int = 50, run_id: str | None = None) -> LabelQueue:
    """Samples this annotator has not labelled, in a fixed shuffled order across topics/checkpoints.

    run_id: only that run's samples (and the counts are that run's); None: every run's.
    """
    scope = "" if run_id is None else " AND s.run_id = ?"
    in_run = [] if run_id is None else [run_id]
    with ts.read() as con:
        counted = "reference_labels r" if run_id is None else \
            "reference_labels r JOIN samples s USING (sample_id)"
        n_labelled = con.execute(f"SELECT count(*) FROM {counted} WHERE r.source = ?{scope}",
                                 [source, *in_run]).fetchone()[0]
        n_total = con.execute(f"SELECT count(*) FROM samples s WHERE true{scope}",
                              in_run).fetchone()[0]
        items = queries.records(con.execute(
            f"""
            WITH todo AS (
                SELECT s.* FROM samples s
                WHERE NOT EXISTS (SELECT 1 FROM reference_labels r
                                  WHERE r.source = ? AND r.sample_id = s.sample_id){scope}
                ORDER BY hash(s.sample_id) LIMIT ?
            )
            SELECT t.sample_id, t.run_id, t.step, t.topic, t.prompt_id, t.sample_idx,
                   t.text AS response, t.health, p.text AS prompt, tp.proposition,
                   j.p_support, j.p_neutral, j.p_oppose, j.label
            FROM todo t
            LEFT JOIN prompts p ON p.eval_set = t.eval_set AND p.prompt_id = t.prompt_id
            LEFT JOIN topics tp ON tp.eval_set = t.eval_set AND tp.topic = t.topic
            LEFT JOIN (SELECT *, row_number() OVER (PARTITION BY sample_id ORDER BY judge_id) AS k
                       FROM judgments WHERE sample_id IN (SELECT sample_id FROM todo)) j
                   ON j.sample_id = t.sample_id AND j.k = 1
            ORDER BY hash(t.sample_id)
            """, [source, *in_run, limit]))
    return LabelQueue(source, int(n_labelled), int(n_total) - int(n_labelled), items, run_id)


def write_label(ts: TuiStore, source: str, sample_id: int, label: str) -> None:
    """Store (or replace) one human label; the probabilities are one-hot."""
    if label not in STANCES:
        raise InputError(f"label must be one of {', '.join(STANCES)}, got {label!r}")
    probs = [1.0 if s == label else 0.0 for s in STANCES]
    with ts.write() as con:
        con.execute("INSERT OR REPLACE INTO reference_labels (source, sample_id, label, p_support, "
                    "p_neutral, p_oppose) VALUES (?, ?, ?, ?, ?, ?)", [source, sample_id, label, *probs])


def delete_label(ts: TuiStore, source: str, sample_id: int) -> None:
    with ts.write() as con:
        con.execute("DELETE FROM reference_labels WHERE source = ? AND sample_id = ?", [source, sample_id])


# ---------------------------------------------------------------------------- export


def export_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a view's data as CSV or Parquet (by the file's extension)."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"cannot export to {path.name!r}", hint="use a .csv or .parquet file name")
    if not path.parent.exists():
        raise InputError("directory does not exist", where=str(path.parent))
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


# ---------------------------------------------------------------------------- the TUI's backend


class Backend:
    """What the TUI's workers share: the store, the value cache and the annotator's name."""

    def __init__(self, path: str | Path, *, n_boot: int = 1000, confidence: float = 0.95,
                 seed: int = 0, user: str = "anonymous"):
        self.ts = TuiStore(path)
        self.cache = ValueCache(n_boot=n_boot, confidence=confidence, seed=seed)
        self.label_source = f"human:{user}"
        self.confidence = confidence
        self.n_boot = n_boot
