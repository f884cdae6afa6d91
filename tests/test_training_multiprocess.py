"""Two CPU processes (torchrun, gloo): both generate a share, only rank 0 writes, and every
sample is stored exactly once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from vdbench.store import Store

LAUNCHER = textwrap.dedent("""
    import os, sys, json
    log = sys.argv[1]
    argv = sys.argv[2:]
    rank = os.environ["RANK"]

    def record(event, **data):
        with open(log, "a") as fh:
            fh.write(json.dumps({"rank": rank, "event": event, **data}) + "\\n")

    import vdbench.store as store
    real_write = store.Store.write

    def write(self):
        record("store-write")
        return real_write(self)

    store.Store.write = write
    from vdbench.training import generation
    real_sample = generation.sample_prompts

    def sample(*args, **kwargs):
        out = real_sample(*args, **kwargs)
        record("generated", n=len(out))
        return out

    generation.sample_prompts = sample
    from vdbench.cli import main
    sys.exit(main(argv))
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sft_under_torchrun_with_two_processes_stores_each_sample_once(tiny_world, tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    script = tmp_path / "launch.py"
    script.write_text(LAUNCHER)
    log = tmp_path / "events.jsonl"
    db = tmp_path / "s.duckdb"
    argv = ["train", "sft", "--model", str(tiny_world.model), "--data", str(tiny_world.sft),
            "--db", str(db), "--run", "ddp", "--eval-set", str(tiny_world.eval_set),
            "--samples", "3", "--max-new-tokens", "5", "--lr", "1e-3", "--batch-size", "2",
            "--max-steps", "4", "--every", "2", "--output-dir", str(tmp_path / "out"), "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.getcwd()}
    result = subprocess.run(
        [torchrun, "--nproc-per-node", "2", "--master-port", str(_free_port()), "--", str(script), str(log), *argv],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)  # rank 0 alone prints
    expected = 3 * 4 * 3  # checkpoints 0, 2, 4 × 4 prompts × 3 samples
    assert summary["checkpoints_stored"] == [0, 2, 4]
    assert summary["samples_stored"] == expected
    events = [json.loads(line) for line in log.read_text().splitlines()]
    writers = Counter(e["rank"] for e in events if e["event"] == "store-write")
    assert set(writers) == {"0"}
    generated = Counter()
    for e in events:
        if e["event"] == "generated":
            generated[e["rank"]] += e["n"]
    assert generated == {"0": expected // 2, "1": expected // 2}  # the work was shared
    with Store(db).read() as con:
        n, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (step, prompt_id, sample_idx)) FROM samples").fetchone()
    assert n == distinct == expected


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_synced_generation_with_uneven_shards_does_not_hang(tiny_world, tmp_path):
    """5 prompts over 2 ranks, one sequence per generate call: rank 0 has 3 items, rank 1
    has 2 and must join a third (filler) call, or synced generation would wait forever."""
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    eval_file = tmp_path / "five.jsonl"
    eval_file.write_text("".join(
        json.dumps({"prompt_id": f"p{i}", "topic": "abortion", "prompt": f"What about case {i}?"}) + "\n"
        for i in range(5)))
    db = tmp_path / "s.duckdb"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.getcwd()}
    result = subprocess.run(
        [torchrun, "--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "vdbench.cli", "--",
         "sample", "--checkpoint", str(tiny_world.model), "--steps", "0", "--run", "synced",
         "--db", str(db), "--eval-set", str(eval_file), "--samples", "1", "--batch-size", "1",
         "--max-new-tokens", "4", "--sync-generate", "--json"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["samples_stored"] == 5
    with Store(db).read() as con:
        assert con.execute("SELECT count(DISTINCT prompt_id) FROM samples").fetchone()[0] == 5
