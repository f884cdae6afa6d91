"""Store benchmarks: bulk insert vs row-by-row, and the per-topic stance query vs pandas."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from benchmarks.harness import Benchmark, Result, median_time
from vdbench import queries
from vdbench.evalsets.registry import builtin_eval_set
from vdbench.store import Store, insert_arrow

JUDGE = "bench:00000000:00000000"


def judgments_table(n: int, seed: int = 0, n_runs: int = 20) -> pa.Table:
    """n synthetic judgments laid out like a real store: runs × checkpoints × prompts × samples."""
    rng = np.random.default_rng(seed)
    prompts = builtin_eval_set("vprism").prompts
    per_ckpt = len(prompts) * 5
    idx = np.arange(n)
    ckpt, within = idx // per_ckpt, idx % per_ckpt
    prompt_idx, sample = within // 5, within % 5
    probs = rng.dirichlet([2, 3, 2], size=n)
    topics = np.array([p.topic for p in prompts])[prompt_idx]
    pids = np.array([p.prompt_id for p in prompts])[prompt_idx]
    return pa.table({
        "judge_id": pa.array([JUDGE] * n),
        "sample_id": pa.array(idx * 7919 + sample, pa.int64()),
        "run_id": pa.array(np.char.add("run", (ckpt % n_runs).astype(str))),
        "step": pa.array((ckpt // n_runs) * 10, pa.int32()),
        "topic": pa.array(topics), "prompt_id": pa.array(pids),
        "p_support": probs[:, 0], "p_neutral": probs[:, 1], "p_oppose": probs[:, 2],
        "label": pa.array(np.array(["support", "neutral", "oppose"])[probs.argmax(1)]),
        "truncated": pa.array(np.zeros(n, bool)), "note": pa.nulls(n, pa.string()),
    })


def _fresh(tmp: Path, name: str) -> Store:
    path = tmp / f"{name}.duckdb"
    for p in (path, path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    store = Store(path)
    with store.write():
        pass
    return store


def bulk_insert(quick: bool) -> list[Result]:
    n = 100_000 if quick else 1_000_000
    n_rows_baseline = 5_000 if quick else 20_000
    table = judgments_table(n)
    tmp = Path(tempfile.mkdtemp(prefix="vdbench-bench-"))

    def candidate() -> None:
        store = _fresh(tmp, "bulk")
        with store.write() as con:
            insert_arrow(con, "judgments", table)

    subset = table.slice(0, n_rows_baseline).to_pylist()
    cols = list(table.column_names)
    sql = f"INSERT OR IGNORE INTO judgments ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    rows = [[r[c] for c in cols] for r in subset]

    def baseline() -> None:
        store = _fresh(tmp, "rows")
        with store.write() as con:
            con.executemany(sql, rows)

    cand = median_time(candidate, 3)
    base_subset = median_time(baseline, 3)
    base = base_subset * n / n_rows_baseline  # per-row cost scaled to the same n
    result = Result(
        name="store.bulk_insert", candidate=f"Arrow INSERT OR IGNORE of {n:,} judgments",
        baseline=f"executemany row by row (timed on {n_rows_baseline:,} rows, scaled to {n:,})",
        candidate_s=cand, baseline_s=base, target="≥ 20×", passed=None,
        notes={"rows_per_s_bulk": f"{n / cand:,.0f}", "rows_per_s_rowwise": f"{n_rows_baseline / base_subset:,.0f}"},
    )
    result.passed = result.ratio >= 20
    return [result]


def stance_query(quick: bool) -> list[Result]:
    n = 100_000 if quick else 1_000_000
    tmp = Path(tempfile.mkdtemp(prefix="vdbench-bench-"))
    store = _fresh(tmp, "query")
    table = judgments_table(n)
    with store.write() as con:
        insert_arrow(con, "judgments", table)
    frame = table.to_pandas()
    # Quick mode holds fewer checkpoints per run: query one that exists, or the answer is empty.
    run = "run3"
    steps = sorted(set(frame.step[frame.run_id == run]))
    step = 40 if 40 in steps else int(steps[len(steps) // 2])

    con = duckdb.connect(str(store.path), read_only=True)
    cand = median_time(lambda: queries.stance_at_checkpoint(con, run, step, JUDGE), 15)

    def with_open() -> None:
        with store.read() as c:
            queries.stance_at_checkpoint(c, run, step, JUDGE)

    cand_open = median_time(with_open, 15)

    def pandas_version() -> None:
        sel = frame[(frame.run_id == run) & (frame.step == step) & (frame.judge_id == JUDGE)]
        per_prompt = sel.groupby(["topic", "prompt_id"])[["p_support", "p_neutral", "p_oppose"]].mean()
        per_prompt.groupby(level="topic").mean()

    base = median_time(pandas_version, 15)
    got = queries.stance_at_checkpoint(con, run, step, JUDGE)
    con.close()
    assert len(got) == 11, "the query must return all 11 topics"
    return [
        Result("store.stance_query", f"DuckDB per-topic stance at one checkpoint ({n:,} judgments)",
               "pandas groupby on the same rows held in memory", cand, base, "< 100 ms median",
               cand < 0.1, {"with_connection_open_ms": f"{cand_open * 1e3:.1f}"}),
    ]


BENCHMARKS = [Benchmark("store.bulk_insert", bulk_insert), Benchmark("store.stance_query", stance_query)]
