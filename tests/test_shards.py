"""Sharded workers: N `sample`/`judge run --shard K/N` processes + one `vdbench ingest` give
the store one process gives, never open the store for writing, and re-run without duplicates."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.test_sampling import _training_dir
from vdbench.cli import main

N_SHARDS = 3
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def vd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True, text=True,
                          env=ENV)


def run_shards(argv: list[str], shard_dir: Path) -> list[dict]:
    """N shard processes at once, like an array job; their --json summaries."""
    procs = [subprocess.Popen([sys.executable, "-m", "vdbench.cli", *argv, "--shard", f"{k}/{N_SHARDS}",
                               "--shard-dir", str(shard_dir), "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for k in range(N_SHARDS)]
    outs = [p.communicate() for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    return [json.loads(out) for out, _ in outs]


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, without the wall-clock columns (created_at, updated_at)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name <> 'schema_version'").fetchall()]
        out = {}
        for table in tables:
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND data_type NOT LIKE 'TIMESTAMP%' ORDER BY ordinal_position", [table]).fetchall()]
            out[table] = sorted(con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(), key=repr)
        return out
    finally:
        con.close()


def ingest(db: Path, shard_dir: Path) -> dict[str, int]:
    out = vd("ingest", "--db", str(db), str(shard_dir), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["added"]


@pytest.fixture(scope="module")
def sampled(tiny_world, tmp_path_factory):
    """One unsharded store and a shard directory from the same `sample` command."""
    root = tmp_path_factory.mktemp("shards")
    run_dir = _training_dir(root / "run", tiny_world.model)
    argv = ["sample", "--checkpoint", str(run_dir), "--run", "ext", "--stage", "preference",
            "--algorithm", "dpo", "--eval-set", str(tiny_world.eval_set), "--samples", "3",
            "--max-new-tokens", "5", "--batch-size", "4", "--temperature", "0"]
    single = root / "single.duckdb"
    assert main([*argv, "--db", str(single), "--json"]) == 0
    never = root / "never.duckdb"  # workers are given a store path; none may create or write it
    summaries = run_shards([*argv, "--db", str(never)], root / "sample-shards")
    assert not never.exists()
    return root, single, root / "sample-shards", summaries, argv


def test_sample_shards_plus_ingest_equal_one_process(sampled):
    root, single, shard_dir, summaries, _ = sampled
    # every prompt in exactly one shard, every checkpoint in every shard
    assert sum(s["prompts"] for s in summaries) == 4
    assert all(c["status"] == "written" for s in summaries for c in s["checkpoints"])
    sharded = root / "sharded.duckdb"
    added = ingest(sharded, shard_dir)
    want, got = dump(single), dump(sharded)
    assert added["samples"] == len(want["samples"]) == 3 * 3 * 4  # 3 checkpoints × 3 samples × 4 prompts
    for table in ("runs", "checkpoints", "eval_sets", "topics", "prompts", "samples"):
        assert got[table] == want[table], table
    assert {t: rows for t, rows in got.items() if rows} == {t: rows for t, rows in want.items() if rows}


def test_a_shard_rerun_after_ingest_or_a_kill_adds_nothing(sampled):
    root, _, shard_dir, _, argv = sampled
    sharded = root / "rerun.duckdb"
    ingest(sharded, shard_dir)
    before = dump(sharded)
    # a re-run finds its files and skips
    again = vd(*argv, "--db", str(root / "never.duckdb"), "--shard", "0/3", "--shard-dir", str(shard_dir), "--json")
    assert again.returncode == 0, again.stderr
    assert {c["status"] for c in json.loads(again.stdout)["checkpoints"]} == {"already written"}
    # killed before its last rename: the samples file is missing, a temp file left behind
    victim = sorted((shard_dir / "samples").glob("*shard1of3.parquet"))[-1]
    victim.rename(victim.with_name(f".{victim.name}.999.tmp"))
    redo = vd(*argv, "--db", str(root / "never.duckdb"), "--shard", "1/3", "--shard-dir", str(shard_dir), "--json")
    assert redo.returncode == 0, redo.stderr
    assert victim.exists()
    assert set(ingest(sharded, shard_dir).values()) == {0}
    assert dump(sharded) == before


def test_judge_run_shards_plus_ingest_equal_one_process(sampled):
    root, single, _, _, _ = sampled
    one, many = root / "judged-one.duckdb", root / "judged-many.duckdb"
    shutil.copy(single, one)
    shutil.copy(single, many)
    out = vd("judge", "run", "--db", str(one), "--run", "ext", "--json")
    assert out.returncode == 0, out.stderr
    before = many.stat().st_mtime_ns, many.read_bytes()
    summaries = run_shards(["judge", "run", "--db", str(many), "--run", "ext"], root / "judge-shards")
    assert (many.stat().st_mtime_ns, many.read_bytes()) == before  # opened read-only
    assert sum(s["judged"] for s in summaries) == 36
    added = ingest(many, root / "judge-shards")
    assert added["judgments"] == 36 and added["judges"] == 1
    assert dump(many) == dump(one)
    # re-running a judge shard after ingest: its file is there, ingest adds nothing
    again = vd("judge", "run", "--db", str(many), "--run", "ext", "--shard", "2/3", "--shard-dir",
               str(root / "judge-shards"), "--json")
    assert json.loads(again.stdout)["status"] == "already written"
    assert set(ingest(many, root / "judge-shards").values()) == {0}


@pytest.mark.parametrize("extra, message", [
    (["--shard", "3/2", "--shard-dir", "{d}"], "K must be in 0..1"),
    (["--shard", "0/0", "--shard-dir", "{d}"], "N must be at least 1"),
    (["--shard", "x", "--shard-dir", "{d}"], "expects K/N"),
    (["--shard", "0/2"], "--shard needs --shard-dir"),
    (["--shard-dir", "{d}"], "--shard-dir needs --shard"),
    (["--shard", "0/2", "--shard-dir", "{d}/no/such/dir"], "parent directory of --shard-dir"),
])
@pytest.mark.parametrize("command", ["sample", "judge"])
def test_bad_shard_options_are_one_line_errors(command, extra, message, tiny_world, tmp_path, capsys):
    extra = [e.replace("{d}", str(tmp_path / "shards")) for e in extra]
    if command == "sample":
        argv = ["sample", "--checkpoint", str(tiny_world.model), "--steps", "0", "--run", "r",
                "--db", str(tmp_path / "s.duckdb"), "--eval-set", str(tiny_world.eval_set)]
    else:
        argv = ["judge", "run", "--db", str(tmp_path / "s.duckdb"), "--run", "r"]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "s.duckdb").exists() and not (tmp_path / "shards").exists()


def test_ingest_of_something_that_is_not_a_shard_dir(tmp_path, capsys):
    (tmp_path / "d" / "nonsense").mkdir(parents=True)
    assert main(["ingest", "--db", str(tmp_path / "s.duckdb"), str(tmp_path / "d")]) == 2
    assert "not a shard table" in capsys.readouterr().err
    assert main(["ingest", "--db", str(tmp_path / "s.duckdb"), str(tmp_path / "missing")]) == 2
    assert "not a shard directory" in capsys.readouterr().err


def test_at_temperature_above_zero_shards_give_the_same_ids_and_counts(tiny_world, tmp_path):
    """Seeds are per checkpoint, draws per batch: texts may differ, keys and counts may not."""
    run_dir = _training_dir(tmp_path / "run", tiny_world.model, steps=(2,), max_steps=2, final=False)
    argv = ["sample", "--checkpoint", str(run_dir), "--run", "hot", "--eval-set", str(tiny_world.eval_set),
            "--samples", "2", "--max-new-tokens", "4", "--temperature", "0.9"]
    assert main([*argv, "--db", str(tmp_path / "single.duckdb"), "--json"]) == 0
    run_shards([*argv, "--db", str(tmp_path / "never.duckdb")], tmp_path / "shards")
    ingest(tmp_path / "sharded.duckdb", tmp_path / "shards")
    keys = "SELECT sample_id, run_id, step, eval_set, prompt_id, topic, sample_idx FROM samples ORDER BY sample_id"
    got = []
    for db in ("single.duckdb", "sharded.duckdb"):
        con = duckdb.connect(str(tmp_path / db), read_only=True)
        got.append(con.execute(keys).fetchall())
        con.close()
    assert got[0] == got[1] and len(got[0]) == 4 * 2
