"""Ingest throughput: loading Parquet sample shards (as `vdbench sample --shard` writes them)
with `vdbench ingest`, against inserting the same rows from memory in one Arrow insert."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks.harness import Benchmark, Result, median_time
from vdbench.shards import SHARD_TABLES, Shard, write_shard
from vdbench.store import Store, ingest_parquet_tables, insert_arrow

N_SHARDS = 16


def samples_table(n: int, seed: int = 0) -> pa.Table:
    """n synthetic samples shaped like the store's: 550 prompts × 5 samples per checkpoint."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    step, within = idx // 2750, idx % 2750
    words = np.array(["I", "think", "the", "question", "depends", "on", "values", "and", "context"])
    texts = [" ".join(words[rng.integers(0, len(words), 40)]) for _ in range(min(n, 2000))]
    return pa.table({
        "sample_id": pa.array(idx * 7919 + 13, pa.int64()), "run_id": pa.array(["bench"] * n),
        "step": pa.array(step * 10, pa.int32()), "eval_set": pa.array(["vprism"] * n),
        "prompt_id": pa.array(np.char.add("p", (within // 5).astype(str))),
        "topic": pa.array(np.char.add("t", (within // 250).astype(str))),
        "sample_idx": pa.array(within % 5, pa.int32()), "text": pa.array([texts[i % len(texts)] for i in idx]),
        "n_tokens": pa.array(np.full(n, 40), pa.int32()), "health": pa.array(["ok"] * n),
        "gen_settings": pa.array([json.dumps({"temperature": 0.7})] * n),
    })


def _fresh(path: Path) -> Store:
    for p in (path, path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    store = Store(path)
    with store.write():
        pass
    return store


def ingest_throughput(quick: bool) -> list[Result]:
    n = 55_000 if quick else 550_000
    table = samples_table(n)
    tmp = Path(tempfile.mkdtemp(prefix="vdbench-bench-"))
    owner = np.arange(n) % N_SHARDS
    for k in range(N_SHARDS):
        write_shard(Shard(k, N_SHARDS, tmp / "shards").path("samples", "bench"),
                    table.filter(pa.array(owner == k)))
    files = sorted((tmp / "shards" / "samples").glob("*.parquet"))
    assert "samples" in SHARD_TABLES and len(files) == N_SHARDS

    def candidate() -> None:
        added = ingest_parquet_tables(_fresh(tmp / "ingest.duckdb"), [("samples", files)])
        assert added["samples"] == n

    def baseline() -> None:
        with _fresh(tmp / "memory.duckdb").write() as con:
            insert_arrow(con, "samples", table)

    repeats = 2 if quick else 3
    cand, base = median_time(candidate, repeats), median_time(baseline, repeats)
    again = ingest_parquet_tables(Store(tmp / "ingest.duckdb"), [("samples", files)])["samples"]
    result = Result(
        name="store.ingest_shards", candidate=f"vdbench ingest of {N_SHARDS} Parquet shards ({n:,} samples)",
        baseline="one Arrow INSERT OR IGNORE of the same rows held in memory",
        candidate_s=cand, baseline_s=base, target="≥ 0.5× (shards cost at most 2× an in-memory insert)",
        passed=None, notes={"rows_per_s_ingest": f"{n / cand:,.0f}", "rows_per_s_memory": f"{n / base:,.0f}",
                            "re_ingest_added": again},
    )
    result.passed = result.ratio >= 0.5 and again == 0
    return [result]


BENCHMARKS = [Benchmark("store.ingest_shards", ingest_throughput)]
