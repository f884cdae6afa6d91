"""Parquet shards from many workers load into one store, once, atomically."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq


def vd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True, text=True)


def test_shards_ingest_once_and_a_bad_shard_loads_nothing(example_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    shutil.copy(example_store, db)
    con = duckdb.connect(str(db), read_only=True)
    judged = con.sql("SELECT * FROM judgments WHERE run_id = 'dpo'").to_arrow_table()
    con.close()
    renamed = judged.set_column(0, "judge_id", pa.array(["other:1:2"] * judged.num_rows))
    half = renamed.num_rows // 2
    pq.write_table(renamed.slice(0, half), tmp_path / "shard-0.parquet")
    pq.write_table(renamed.slice(half), tmp_path / "shard-1.parquet")
    pattern = str(tmp_path / "shard-*.parquet")

    out = vd("ingest", "--db", str(db), "--table", "judgments", pattern, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"table": "judgments", "files": 2, "added": renamed.num_rows}
    again = vd("ingest", "--db", str(db), "--table", "judgments", pattern, "--json")
    assert json.loads(again.stdout)["added"] == 0

    pq.write_table(pa.table({"nonsense": [1, 2]}), tmp_path / "bad.parquet")
    fresh = renamed.set_column(0, "judge_id", pa.array(["third:1:2"] * renamed.num_rows))
    pq.write_table(fresh, tmp_path / "a-good.parquet")
    bad = vd("ingest", "--db", str(db), "--table", "judgments",
             str(tmp_path / "a-good.parquet"), str(tmp_path / "bad.parquet"))
    assert bad.returncode == 2 and "bad.parquet" in bad.stderr and "Traceback" not in bad.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM judgments WHERE judge_id = 'third:1:2'").fetchall() == [(0,)]


def test_a_failed_ingest_into_a_new_store_leaves_no_store(tmp_path: Path) -> None:
    pq.write_table(pa.table({"nonsense": [1, 2]}), tmp_path / "bad.parquet")
    db = tmp_path / "new.duckdb"
    bad = vd("ingest", "--db", str(db), "--table", "samples", str(tmp_path / "bad.parquet"))
    assert bad.returncode == 2 and "bad.parquet" in bad.stderr and "Traceback" not in bad.stderr
    assert not db.exists() and not (tmp_path / "new.duckdb.wal").exists()
