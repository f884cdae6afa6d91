"""`vdbench demo --quick` end to end, as a newcomer runs it: a fresh work directory (the
micro world is pre-trained from scratch), every stage trained, sampled and judged, the
preference sets audited, the summary printed; then a rerun that reuses everything, and
the same rerun on a real terminal, where the demo opens the TUI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ("sft-chat", "sft-instruct", "dpo-gap-support", "simpo-gap-support",
          "ppo-gap-support-kl0.05", "ppo-gap-support-kl1.0", "dpo-style", "simpo-style")


def _demo(workdir: Path, db: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "vdbench.cli", "demo", "--quick", "--workdir",
                           str(workdir), "--db", str(db), *extra],
                          capture_output=True, text=True, env=env, timeout=900, check=False)


def _counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "samples": con.execute("SELECT count(*) FROM samples").fetchone()[0],
            "distinct": con.execute("SELECT count(DISTINCT (run_id, step, prompt_id, sample_idx)) "
                                    "FROM samples").fetchone()[0],
            "judgments": con.execute("SELECT count(*) FROM judgments").fetchone()[0],
            "runs": con.execute("SELECT count(*) FROM runs").fetchone()[0],
            "pairs": con.execute("SELECT count(*) FROM pref_pairs").fetchone()[0],
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess, float]:
    root = tmp_path_factory.mktemp("demo")
    workdir, db = root / "work", root / "demo.duckdb"
    started = time.perf_counter()
    out = _demo(workdir, db)
    return workdir, db, out, time.perf_counter() - started


def test_quick_demo_runs_every_stage_and_prints_the_findings(quick_demo) -> None:
    workdir, db, out, seconds = quick_demo
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for stage in STAGES:  # each stage has a row in the drift table
        assert re.search(rf"^{re.escape(stage)}\s+(support|neutral|oppose)\s", text, re.M), text
    assert "micro-gap-support" in text and "micro-style" in text  # the audit table
    for finding in ("SFT sets values, and early", "style-only preference data barely moves values",
                    "value-gap preference data moves values",
                    "DPO moves values more than SimPO, and SimPO more than PPO"):
        assert finding in text
    assert text.count("paper:") == 4 and "output health:" in text
    words = " ".join(text.split())  # long paths may wrap at spaces
    assert f"store: {db}" in words and f"vdbench tui --db {db}" in words
    assert "micro world: built in" in out.stderr  # progress lines when stderr is not a terminal
    print(f"quick demo from a fresh work directory: {seconds:.0f} s")


def test_quick_demo_store_holds_each_sample_once_judged(quick_demo) -> None:
    _, db, out, _ = quick_demo
    assert out.returncode == 0
    counts = _counts(db)
    assert counts["runs"] == len(STAGES)
    assert counts["samples"] == counts["distinct"] == counts["judgments"] > 0
    assert counts["pairs"] == 120  # two audited sets of 60 pairs


def test_quick_demo_rerun_reuses_everything(quick_demo) -> None:
    workdir, db, first, _ = quick_demo
    assert first.returncode == 0
    before = _counts(db)
    out = _demo(workdir, db, "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "micro world: cached" in out.stderr
    assert out.stderr.count("already in the store") == len(STAGES)
    assert _counts(db) == before


def test_killed_demo_resumes_without_duplicates(quick_demo, tmp_path: Path) -> None:
    """SIGKILL to the demo process alone (its workers notice and stop), then a rerun."""
    workdir, _, first, _ = quick_demo
    assert first.returncode == 0
    db = tmp_path / "killed.duckdb"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vdbench.cli", "demo", "--quick", "--workdir",
                             str(workdir), "--db", str(db), "--json"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if db.exists() and _samples_if_readable(db) >= 500:
            break
    assert proc.poll() is None, "the demo finished before it could be killed"
    proc.kill()
    proc.wait()
    time.sleep(3)  # the workers' watchdog ticks once a second
    partial = _samples_if_readable(db)
    assert 0 < partial
    out = _demo(workdir, db, "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    counts = _counts(db)
    assert counts["runs"] == len(STAGES)
    assert counts["samples"] == counts["distinct"] == counts["judgments"] > partial
    assert counts == _counts(quick_demo[1])  # same work, same store, however it got there


def _samples_if_readable(db: Path) -> int:
    try:
        return _counts(db)["samples"]
    except duckdb.Error:  # locked by a writer, or not yet migrated
        return 0


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_demo_on_a_terminal_opens_the_tui(quick_demo, tmp_path: Path) -> None:
    from tests.test_tui_tmux import Tmux

    workdir, db, first, _ = quick_demo
    assert first.returncode == 0
    tmux = Tmux(tmp_path)
    tmux.start(f"cd {REPO} && OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 {sys.executable} -m vdbench.cli "
               f"demo --quick --workdir {workdir} --db {db}; echo EXITED $?; sleep 30")
    try:
        tmux.wait_for("runs and lineage", timeout=120)
        tmux.wait_for("sft-chat")
        tmux.keys("q")
        screen = tmux.wait_for("EXITED 0")
        assert f"vdbenchtui--db{db}" in "".join(screen.split())  # the path may wrap
    finally:
        tmux.kill()
