"""`vdbench sample --watch`: a sidecar that samples checkpoints as a trainer writes them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vdbench.cli import main
from vdbench.store import Store
from vdbench.watch import ReadinessTracker, watch, weights_present, write_trainer_state

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _fake_checkpoint(path: Path, step: int, max_steps: int, *, state: bool = True) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"x" * 100)
    if state:
        write_trainer_state(path, step, max_steps)
    return path


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_checkpoint_is_ready_only_when_complete_and_at_rest(tmp_path):
    clock = FakeClock()
    tracker = ReadinessTracker(settle_s=2.0, clock=clock)
    ckpt = _fake_checkpoint(tmp_path / "checkpoint-5", 5, 10, state=False)
    assert not tracker.ready(ckpt)  # weights there, trainer_state.json not yet
    write_trainer_state(ckpt, 5, 10)
    assert not tracker.ready(ckpt)  # first sight: not yet known to be at rest
    clock.now = 1.0
    with open(ckpt / "model.safetensors", "ab") as fh:  # still being written
        fh.write(b"y" * 10)
    assert not tracker.ready(ckpt)
    clock.now = 2.5
    assert not tracker.ready(ckpt)  # unchanged for 1.5 s < settle
    clock.now = 3.1
    assert tracker.ready(ckpt)


def test_sharded_weights_need_every_shard_the_index_names(tmp_path):
    ckpt = tmp_path / "checkpoint-1"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    (ckpt / "model-00001-of-00002.safetensors").write_bytes(b"x")
    assert not weights_present(ckpt)
    (ckpt / "model-00002-of-00002.safetensors").write_bytes(b"x")
    assert weights_present(ckpt)
    (ckpt / "model.safetensors.index.json").write_text("{ half")
    assert not weights_present(ckpt)


def test_watch_samples_in_order_skips_half_written_and_stops_at_the_last(tmp_path, db):
    """A simulated trainer writes a checkpoint per poll; one directory never completes."""
    out = tmp_path / "out"
    out.mkdir()
    _fake_checkpoint(out / "checkpoint-3", 3, 6, state=False)  # cut off mid-save
    writes = iter([lambda: _fake_checkpoint(out / "checkpoint-0", 0, 6),
                   lambda: _fake_checkpoint(out / "checkpoint-2", 2, 6),
                   lambda: None, lambda: _fake_checkpoint(out / "checkpoint-4", 4, 6),
                   lambda: _fake_checkpoint(out / "checkpoint-6", 6, 6)])
    clock = FakeClock()
    sampled: list[int] = []

    def sleep(seconds: float) -> None:
        clock.now += seconds
        next(writes, lambda: None)()

    outcome = watch(out, "r", Store(db), lambda ref: sampled.append(ref.step) or 10, poll_s=1.0,
                    settle_s=0.5, quiet=True, sleep=sleep, clock=clock)
    assert sampled == [0, 2, 4, 6]
    assert outcome.samples_stored == 40
    assert outcome.reason.startswith("the run's last checkpoint (step 6)")
    assert outcome.incomplete == [str(out / "checkpoint-3")]


def test_watch_option_errors(tmp_path, db, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    cases = [
        (["--watch", str(f)], "not a file"),
        (["--watch", str(tmp_path / "no" / "such" / "dir")], "parent does not exist"),
        (["--watch", str(tmp_path), "--poll", "-1"], "--poll must be"),
        (["--watch", str(tmp_path), "--idle-timeout", "0"], "--idle-timeout must be positive"),
        (["--watch", str(tmp_path), "--shard", "0/2", "--shard-dir", str(tmp_path)], "cannot take"),
        (["--checkpoint", str(tmp_path), "--until-step", "3"], "--until-step sets how --watch"),
    ]
    for extra, message in cases:
        assert main(["sample", "--run", "w", "--db", str(db), *extra]) != 0
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)
    assert not db.exists()


def test_train_without_inline_sampling_refuses_what_it_cannot_do(tiny_world, tmp_path, capsys):
    argv = ["train", "sft", "--model", str(tiny_world.model), "--data", str(tiny_world.sft),
            "--db", str(tmp_path / "s.duckdb"), "--run", "r", "--no-inline-sampling",
            "--judge", "probe", "--output-dir", str(tmp_path / "out")]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "--no-inline-sampling samples nothing" in err and "--judge" in err
    assert not (tmp_path / "out").exists()


def _store_steps(db: Path) -> list[int]:
    if not db.exists():
        return []
    try:
        with Store(db, lock_timeout_s=1.0).read() as con:
            return [r[0] for r in con.execute("SELECT step FROM checkpoints ORDER BY step").fetchall()]
    except Exception:  # busy: the watcher is writing
        return []


def test_real_trainer_and_watcher_processes_store_every_checkpoint_once(tiny_world, tmp_path):
    """A real `vdbench train --no-inline-sampling` process writes checkpoints while a real
    watcher process samples them; the watcher is killed and restarted; a half-written
    checkpoint directory planted in the output is never read."""
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    out.mkdir()
    half = out / "checkpoint-5"  # cut off mid-save: config and part of the weights, no state
    half.mkdir()
    (half / "config.json").write_text("{}")
    (half / "model.safetensors").write_bytes(b"\0" * 64)
    cli = [sys.executable, "-m", "vdbench.cli"]
    train = subprocess.Popen(
        [*cli, "train", "sft", "--model", str(tiny_world.model), "--data", str(tiny_world.sft),
         "--db", str(db), "--run", "r", "--eval-set", str(tiny_world.eval_set), "--lr", "1e-3",
         "--batch-size", "2", "--max-steps", "12", "--every", "4", "--no-inline-sampling",
         "--output-dir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    watch_argv = [*cli, "sample", "--watch", str(out), "--run", "r", "--db", str(db),
                  "--eval-set", str(tiny_world.eval_set), "--samples", "2", "--max-new-tokens", "6",
                  "--poll", "0.2", "--settle", "0.5", "--idle-timeout", "120", "--json"]
    watcher = subprocess.Popen(watch_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 180
    while not _store_steps(db) and time.monotonic() < deadline and watcher.poll() is None:
        time.sleep(0.2)
    assert _store_steps(db), watcher.stderr.read() if watcher.poll() is not None else "no checkpoint stored"
    watcher.send_signal(signal.SIGKILL)  # mid-run: it may be sampling the next checkpoint
    watcher.wait()
    killed_at = _store_steps(db)
    restarted = subprocess.run(watch_argv, capture_output=True, text=True, env=ENV, timeout=300)
    assert restarted.returncode == 0, restarted.stderr
    train_out, train_err = train.communicate(timeout=300)
    assert train.returncode == 0, train_err
    result = json.loads(restarted.stdout)
    assert sorted(result["already_stored"] + result["stored_steps"]) == [0, 4, 8, 12]
    assert set(result["already_stored"]) >= set(killed_at)
    assert result["incomplete"] == [str(half)]
    with Store(db).read() as con:
        rows = con.execute("SELECT step, count(*), count(DISTINCT (prompt_id, sample_idx)) "
                           "FROM samples WHERE run_id = 'r' GROUP BY step ORDER BY step").fetchall()
        stage = con.execute("SELECT stage, algorithm FROM runs WHERE run_id = 'r'").fetchone()
    assert [r[0] for r in rows] == [0, 4, 8, 12]
    assert all(r[1] == r[2] == 4 * 2 for r in rows)  # 4 prompts × 2 samples, once each
    assert stage == ("sft", "sft")  # the watcher adopted the trainer's run
    # a rerun of the finished watch adds nothing
    again = subprocess.run(watch_argv, capture_output=True, text=True, env=ENV, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["stored_steps"] == []
