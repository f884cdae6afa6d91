"""`vdbench experiment run` of a small grid (SFT → DPO | SimPO, 2 seeds) as a user runs it:
uninterrupted; killed with SIGKILL mid-run and resumed (the same store, nothing twice); then
`vdbench experiment report --json` over it (per-point mean M with a CI over seeds, per-seed
values, the algorithm comparison with its CI), its Markdown and CSV, and bad report options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

GRID = """[experiment]
name = "tiny"
base = "{model}"
seeds = [0, 1]
jobs = 2

[drift]
eval_set = "{eval_set}"
samples = 2
max_new_tokens = 6

[datasets]
sft = {{ path = "{sft}", moves = "neutral" }}
pref = {{ path = "{pref}", moves = "support" }}

[[stage]]
name = "sft"
algorithm = "sft"
dataset = "sft"
max_steps = 4
eval_steps = [0, 4]
batch_size = 4

[[stage]]
name = "pref"
parent = "sft"
algorithm = ["dpo", "simpo"]
dataset = "pref"
max_steps = 4
eval_steps = [0, 2, 4]
batch_size = 4
lr = 1e-3
"""

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vdbench.cli", "experiment", *args]


def _run(toml: Path, db: Path, work: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd("run", str(toml), "--db", str(db), "--workdir", str(work)),
                          capture_output=True, text=True, env=ENV, timeout=timeout, check=False)


def _snapshot(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {
            "runs": q("SELECT run_id, parent_run, seed FROM runs ORDER BY run_id"),
            "checkpoints": q("SELECT run_id, step FROM checkpoints ORDER BY ALL"),
            "samples": q("SELECT count(*), count(DISTINCT (run_id, step, prompt_id, sample_idx)) FROM samples"),
            "judgments": q("SELECT count(*), count(DISTINCT (judge_id, sample_id)) FROM judgments"),
            "tagged": q("SELECT run_id, point, seed FROM experiment_runs ORDER BY run_id"),
            "results": q("SELECT run_id FROM run_results ORDER BY run_id"),
            "values": q("SELECT run_id, step, round(avg(p_support), 4) FROM judgments "
                        "GROUP BY ALL ORDER BY ALL"),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def grid(tiny_world, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("experiment")
    toml = root / "grid.toml"
    toml.write_text(GRID.format(model=tiny_world.model, eval_set=tiny_world.eval_set,
                                sft=tiny_world.sft, pref=tiny_world.pref))
    return toml


@pytest.fixture(scope="module")
def uninterrupted(grid) -> tuple[Path, dict]:
    db = grid.parent / "whole.duckdb"
    started = time.perf_counter()
    out = _run(grid, db, grid.parent / "work-whole")
    assert out.returncode == 0, out.stderr[-3000:]
    print(f"uninterrupted 6-run grid: {time.perf_counter() - started:.0f} s")
    return db, _snapshot(db)


def test_killed_mid_run_and_resumed_gives_the_same_store(grid, uninterrupted) -> None:
    _, whole = uninterrupted
    db, work = grid.parent / "killed.duckdb", grid.parent / "work-killed"
    proc = subprocess.Popen(_cmd("run", str(grid), "--db", str(db), "--workdir", str(work)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)
    # Kill once the first preference run is under way: the SFT runs are done, others not.
    seen = []
    deadline = time.monotonic() + 300
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("tiny.pref-") and "train (1/4)" in line:
            break
        assert time.monotonic() < deadline, "".join(seen[-20:])
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    time.sleep(2.0)  # the workers notice their parent is gone within a second and exit
    partial = _snapshot(db)
    assert 0 < len(partial["results"]) < len(whole["results"])  # killed mid-run
    out = _run(grid, db, work)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "already in the store" in out.stderr  # finished runs were not trained again
    resumed = _snapshot(db)
    assert resumed == whole
    n, distinct = resumed["samples"][0]
    assert n == distinct > 0 and resumed["judgments"][0][0] == resumed["judgments"][0][1] == n
    assert len(resumed["tagged"]) == len(resumed["runs"]) == 6


def test_a_rerun_of_a_finished_experiment_trains_nothing(grid, uninterrupted) -> None:
    db, whole = uninterrupted
    out = _run(grid, db, grid.parent / "work-whole")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.count("already in the store") == 6
    assert _snapshot(db) == whole


def test_report_json_aggregates_seeds_and_compares_the_algorithms(grid, uninterrupted, tmp_path) -> None:
    db, _ = uninterrupted
    md, csv_path = tmp_path / "r.md", tmp_path / "r.csv"
    out = subprocess.run(_cmd("report", "--db", str(db), "--json", "--n-boot", "400",
                              "--markdown", str(md), "--csv", str(csv_path)),
                         capture_output=True, text=True, env=ENV, timeout=300, check=True)
    report = json.loads(out.stdout)
    assert report["experiment"] == "tiny" and not report["pending"]
    points = {p["point"]: p for p in report["points"]}
    assert set(points) == {"sft", "pref-dpo", "pref-simpo"}
    for p in points.values():
        assert p["n_seeds"] == 2 and [s["seed"] for s in p["per_seed"]] == [0, 1]
        lo, hi = p["M_ci"]
        assert lo <= p["M"] <= hi
        assert p["M"] == pytest.approx(sum(s["M"] for s in p["per_seed"]) / 2, abs=1e-9)
        assert p["unhealthy_to"] is not None and "training" in p
    assert points["pref-dpo"]["training"]["first_margin"] is not None  # DPO's reward margin
    algo = [c for c in report["comparisons"] if c["axis"] == "algorithm"]
    assert len(algo) == 1
    c = algo[0]
    assert {c["a"], c["b"]} == {"pref-dpo", "pref-simpo"} and c["seeds"] == [0, 1]
    a, b = points[c["a"]]["M"], points[c["b"]]["M"]
    assert c["estimate"] == pytest.approx(a - b, abs=1e-9)
    assert c["ci"][0] <= c["estimate"] <= c["ci"][1]
    assert c["verdict"] in ("not separable", f"{c['a_value']} moves support more",
                            f"{c['b_value']} moves support more")
    if c["ci"][0] <= 0 <= c["ci"][1]:
        assert c["verdict"] == "not separable"
    assert "| pref-dpo |" in md.read_text() and "### Comparisons" in md.read_text()
    assert len(csv_path.read_text().splitlines()) == 1 + 6  # header + 3 points × 2 seeds


def test_report_refuses_bad_options(uninterrupted, tmp_path) -> None:
    db, _ = uninterrupted
    cases = [
        (["--db", str(tmp_path / "none.duckdb")], "no such store"),
        (["--db", str(db), "--experiment", "nope"], "no experiment 'nope' in the store"),
        (["--db", str(db), "--n-boot", "0"], "--n-boot must be at least 1"),
        (["--db", str(db), "--confidence", "1.5"], "--confidence must lie strictly between 0 and 1"),
        (["--db", str(db), "--markdown", str(tmp_path / "no" / "r.md")], "directory of --markdown"),
    ]
    for args, message in cases:
        out = subprocess.run(_cmd("report", *args), capture_output=True, text=True, env=ENV,
                             timeout=120, check=False)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_changed_settings_under_the_same_run_ids_are_refused(grid, uninterrupted, tmp_path) -> None:
    db, before = uninterrupted
    changed = tmp_path / "changed.toml"
    changed.write_text(grid.read_text().replace("lr = 1e-3", "lr = 2e-3"))
    out = _run(changed, db, grid.parent / "work-whole", timeout=120)
    assert out.returncode == 2 and "is in the store with other settings (lr changed)" in out.stderr
    assert _snapshot(db) == before
