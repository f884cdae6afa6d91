"""The store: migrations, idempotent writes, crashes and concurrent readers, with real processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from vdbench.errors import StoreError
from vdbench.runs import RunSpec, SampleRecord, register_run, write_checkpoint
from vdbench.store import SCHEMA_VERSION, Store, load_migrations, migrate, schema_version

REPO = Path(__file__).resolve().parents[1]


def _count(path: Path, sql: str, params: list | None = None) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()[0][0]
    finally:
        con.close()


def test_fresh_store_records_every_migration(db: Path) -> None:
    store = Store(db)
    register_run(store, RunSpec("r", "sft", "sft"))
    assert store.version() == SCHEMA_VERSION == len(load_migrations())
    names = [r[0] for r in duckdb.connect(str(db), read_only=True).execute(
        "SELECT name FROM schema_version ORDER BY version").fetchall()]
    assert names == [m.name for m in load_migrations()]


def test_older_store_is_upgraded_in_place(db: Path) -> None:
    con = duckdb.connect(str(db))
    migrate(con, db, target=1)
    con.execute("INSERT INTO runs (run_id, stage, algorithm) VALUES ('old', 'sft', 'sft')")
    con.close()
    store = Store(db)
    assert store.version() == SCHEMA_VERSION
    with store.read() as con:
        assert con.execute("SELECT run_id FROM runs").fetchall() == [("old",)]
        # a table from a later migration now exists
        assert con.execute("SELECT count(*) FROM pref_pairs").fetchall() == [(0,)]


def test_newer_store_is_refused_with_a_clear_message(db: Path) -> None:
    register_run(Store(db), RunSpec("r", "sft", "sft"))
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_version (version, name) VALUES (?, 'from_the_future')",
                [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(StoreError, match="newer than this vdbench"):
        with Store(db).read():
            pass
    with pytest.raises(StoreError, match="newer than this vdbench"):
        register_run(Store(db), RunSpec("r2", "sft", "sft"))
    out = subprocess.run([sys.executable, "-m", "vdbench.cli", "metrics", "--db", str(db), "--runs"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "newer than this vdbench" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_store_for_reading_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "vdbench.cli", "metrics", "--db",
                          str(tmp_path / "nope.duckdb"), "--run", "x"], capture_output=True, text=True)
    assert out.returncode != 0 and "no store here" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "nope.duckdb").exists()


def _samples(n_prompts: int, k: int) -> list[SampleRecord]:
    return [SampleRecord(f"p{i}", "abortion", j, f"answer {i}.{j}", 3, "ok")
            for i in range(n_prompts) for j in range(k)]


def test_checkpoint_writes_are_idempotent(db: Path) -> None:
    store = Store(db)
    register_run(store, RunSpec("r", "sft", "sft"))
    added = write_checkpoint(store, "r", 10, 100, None, "vprism", _samples(5, 2), {"t": 0.7})
    again = write_checkpoint(store, "r", 10, 100, None, "vprism", _samples(5, 2), {"t": 0.7})
    assert (added, again) == (10, 0)
    assert _count(db, "SELECT count(*) FROM samples") == 10
    assert _count(db, "SELECT count(*) FROM checkpoints") == 1
    assert _count(db, "SELECT fraction FROM checkpoints") == pytest.approx(0.1)


def test_user_text_is_bound_not_interpolated(db: Path) -> None:
    store = Store(db)
    nasty = "x'); DROP TABLE runs; --"
    register_run(store, RunSpec(nasty, "sft", "sft"))
    with store.read() as con:
        assert con.execute("SELECT run_id FROM runs").fetchall() == [(nasty,)]


def test_unknown_parent_run_is_refused(db: Path) -> None:
    from vdbench.errors import InputError

    with pytest.raises(InputError, match="parent run 'ghost' does not exist"):
        register_run(Store(db), RunSpec("child", "preference", "dpo", parent_run="ghost"))


WRITER = textwrap.dedent(
    """
    import sys, time
    from vdbench.store import Store
    from vdbench.runs import RunSpec, SampleRecord, register_run, write_checkpoint, done_steps
    db, n_ckpt, per_ckpt, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    store = Store(db)
    register_run(store, RunSpec("run", "sft", "sft"))
    done = done_steps(store, "run")
    for step in range(n_ckpt):
        if step in done:
            continue
        samples = [SampleRecord(f"p{i}", "abortion", 0, "x" * 200, 50, "ok") for i in range(per_ckpt)]
        write_checkpoint(store, "run", step, n_ckpt - 1 or 1, None, "vprism", samples, {})
        print(f"wrote {step}", flush=True)
        time.sleep(pause)
    print("done", flush=True)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_sigkill_mid_write_leaves_no_partial_checkpoint_and_rerun_completes(db: Path) -> None:
    """Kill the writer while a large checkpoint transaction is in flight, then re-run it."""
    n_ckpt, per_ckpt = 6, 60_000
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(n_ckpt), str(per_ckpt), "0"],
                            stdout=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout is not None
    # Wait until two checkpoints are committed, then kill during the third's transaction.
    for line in proc.stdout:
        if line.strip() == "wrote 1":
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The store opens; every stored checkpoint is whole; no orphan samples.
    steps = [r[0] for r in duckdb.connect(str(db), read_only=True).execute(
        "SELECT step FROM checkpoints ORDER BY step").fetchall()]
    assert steps and steps == list(range(len(steps))) and len(steps) < n_ckpt
    per_step = dict(duckdb.connect(str(db), read_only=True).execute(
        "SELECT step, count(*) FROM samples GROUP BY step").fetchall())
    assert per_step == {s: per_ckpt for s in steps}

    # The re-run resumes and completes with no duplicate rows.
    out = subprocess.run([sys.executable, "-c", WRITER, str(db), str(n_ckpt), str(per_ckpt), "0"],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"wrote {steps[0]}\n" not in out.stdout  # committed checkpoints are not redone
    assert _count(db, "SELECT count(*) FROM checkpoints") == n_ckpt
    assert _count(db, "SELECT count(*) FROM samples") == n_ckpt * per_ckpt
    assert _count(db, "SELECT count(*) - count(DISTINCT sample_id) FROM samples") == 0


READER = textwrap.dedent(
    """
    import json, sys, time
    from vdbench.store import Store
    store, seen, errors = Store(sys.argv[1], lock_timeout_s=30), [], 0
    deadline = time.time() + float(sys.argv[2])
    while time.time() < deadline:
        with store.read() as con:
            n = con.execute("SELECT count(*) FROM checkpoints").fetchall()[0][0]
            partial = con.execute(
                "SELECT count(*) FROM checkpoints c WHERE (SELECT count(*) FROM samples s "
                "WHERE s.step = c.step) <> ?", [int(sys.argv[3])]).fetchall()[0][0]
        seen.append((n, partial))
        time.sleep(0.02)
    print(json.dumps(seen))
    """
)


def test_reader_sees_progress_while_another_process_writes(db: Path) -> None:
    n_ckpt, per_ckpt = 12, 2_000
    register_run(Store(db), RunSpec("run", "sft", "sft"))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(n_ckpt), str(per_ckpt), "0.15"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    reader = subprocess.run([sys.executable, "-c", READER, str(db), "4", str(per_ckpt)],
                            capture_output=True, text=True, env=_env(), timeout=120)
    w_out, w_err = writer.communicate(timeout=120)
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, reader.stderr
    seen = json.loads(reader.stdout)
    counts = [n for n, _ in seen]
    assert len(seen) > 10, "the reader should get many reads in while the writer runs"
    assert len(set(counts)) > 2, f"the reader should see checkpoints appear: {sorted(set(counts))}"
    assert counts == sorted(counts), "checkpoint counts never go backwards"
    assert all(partial == 0 for _, partial in seen), "a reader never sees a partial checkpoint"
    assert "done" in w_out


def test_example_store_copy_is_usable(example_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"
    shutil.copy(example_store, copy)
    assert Store(copy).version() == SCHEMA_VERSION
    assert schema_version(duckdb.connect(str(copy), read_only=True)) == SCHEMA_VERSION
