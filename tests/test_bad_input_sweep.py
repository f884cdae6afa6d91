"""Every command refuses bad input the way a new user needs: one clear line naming the
file, line or option, exit status 2, no traceback, and nothing written.

Each case runs in a scratch directory holding a few bad inputs (a directory where a file
is expected, an empty file, a file that is not DuckDB, a CSV with a repeated prompt); the
directory must look the same afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vdbench.cli import main

STORE = "store.duckdb"  # a copy of the example store (runs base → sft → dpo)

CASES = [
    # judge score
    (["judge", "score", "--input", "adir", "--output", "out.jsonl"],
     "adir: is a directory"),
    (["judge", "score", "--input", "answers.jsonl", "--output", "no/such/dir/out.jsonl"],
     "no/such/dir: directory of --output does not exist"),
    (["judge", "score", "--input", "answers.jsonl", "--output", "adir"],
     "--output is a directory"),
    (["judge", "score", "--input", "missing.jsonl", "--output", "out.jsonl"],
     "missing.jsonl: file not found"),
    (["judge", "score", "--input", "empty.jsonl", "--output", "out.jsonl"],
     "empty.jsonl: input holds no lines"),
    # judge eval
    (["judge", "eval", "--input", "missing.jsonl"], "missing.jsonl: file not found"),
    (["judge", "eval", "--input", "adir"], "adir: is a directory"),
    (["judge", "eval", "--input", "ibm-test", "--n-boot", "0"], "--n-boot must be at least 1"),
    (["judge", "eval", "--input", "ibm-test", "--confidence", "2"], "--confidence must be in"),
    # judge run (loads the probe judge, then refuses before reading the run)
    (["judge", "run", "--db", STORE, "--run", "sft", "--judge", "probe", "--chunk", "0"],
     "--chunk must be at least 1, got 0"),
    (["judge", "run", "--db", "missing.duckdb", "--run", "sft", "--judge", "probe"],
     "missing.duckdb: no store here"),
    # metrics
    (["metrics", "--db", STORE, "--run", "sft", "--confidence", "1.5"], "--confidence must be in [0.5, 1)"),
    (["metrics", "--db", STORE, "--run", "sft", "--n-boot", "-3"], "--n-boot must be at least 1, got -3"),
    (["metrics", "--db", "missing.duckdb", "--run", "sft"], "missing.duckdb: no store here"),
    (["metrics", "--db", "bad.duckdb", "--run", "sft"], "bad.duckdb: cannot open store"),
    (["metrics", "--db", "adir", "--run", "sft"], "adir: cannot open store"),
    # prompts import / build
    (["prompts", "import", "--db", "new.duckdb", "dup.csv"],
     "dup.csv:3: duplicate prompt in topic 'abortion' (same text as dup.csv:2)"),
    (["prompts", "import", "--db", "new.duckdb", "adir"], "adir: is a directory"),
    (["prompts", "import", "--db", "new.duckdb", "missing.csv"], "missing.csv: file not found"),
    (["prompts", "import", "--db", "new.duckdb", "empty.jsonl"], "empty.jsonl: file holds no prompts"),
    (["prompts", "import", "--db", "no/such/new.duckdb", "good.csv"], "no/such: directory does not exist"),
    (["prompts", "build", "--input", "missing.jsonl", "--output", "o.jsonl"], "missing.jsonl: file not found"),
    (["prompts", "build", "--input", "empty.jsonl", "--output", "o.jsonl"], "the prompt pool holds no prompts"),
    (["prompts", "build", "--input", "empty.jsonl", "--output", "o.jsonl", "--per-topic", "-1"],
     "--per-topic must be at least 1"),
    # sample
    (["sample", "--checkpoint", "missingckpt", "--run", "r", "--db", "new.duckdb"],
     "missingckpt: checkpoint directory not found"),
    (["sample", "--checkpoint", "adir", "--run", "r", "--db", "new.duckdb"],
     "adir: neither a model directory"),
    (["sample", "--checkpoint", "adir", "--run", "r", "--db", "new.duckdb", "--samples", "0"],
     "--samples must be positive"),
    (["sample", "--checkpoint", "adir", "--run", "r", "--db", "no/such/new.duckdb"],
     "no/such: directory of --db does not exist"),
    # calibrate
    (["calibrate", "--db", "missing.duckdb", "--run", "sft"], "missing.duckdb: no store here"),
    (["calibrate", "--db", "bad.duckdb", "--run", "sft"], "bad.duckdb: cannot open store"),
    (["calibrate", "--db", STORE, "--run", "sft", "--n", "0"], "--n must be at least 1"),
    (["calibrate", "--db", STORE, "--run", "sft", "--max-concurrency", "0"],
     "--max-concurrency must be at least 1, got 0"),
    # audit
    (["audit", "--input", "missing.jsonl", "--format", "trl", "--db", "new.duckdb"],
     "missing.jsonl: no such file"),
    (["audit", "--input", "empty.jsonl", "--format", "trl", "--db", "new.duckdb"],
     "empty.jsonl: the file holds no rows"),
    (["audit", "--input", "adir", "--format", "trl", "--db", "new.duckdb"],
     "adir: directory is not a saved `datasets` dataset"),
    (["audit", "--input", "pairs.jsonl", "--format", "trl", "--db", "new.duckdb", "--limit", "-1"],
     "--limit must be at least 1"),
    (["audit", "--input", "pairs.jsonl", "--format", "trl", "--db", "new.duckdb", "--n-boot", "0"],
     "--n-boot must be at least 1"),
    (["audit", "--input", "pairs.jsonl", "--format", "trl", "--db", "new.duckdb", "--bins", "0", "--no-judge"],
     "--bins must be at least 1"),
    (["audit", "--input", "pairs.jsonl", "--format", "trl", "--db", STORE, "--threshold", "2"],
     "--threshold is a cosine similarity in [-1, 1], got 2.0"),
    (["audit", "--input", "pairs.jsonl", "--format", "trl", "--db", "bad.duckdb"],
     "bad.duckdb: cannot open store"),
    (["audit", "--input", "pairs.jsonl", "--format", "trl", "--db", "no/such/new.duckdb"],
     "no/such: directory does not exist"),
    # ingest
    (["ingest", "--db", STORE, "--table", "samples", "missing.parquet"], "missing.parquet: no file matches"),
    # tui: refused before the app starts
    (["tui", "--db", "adir"], "adir: --db is a directory"),
    (["tui", "--db", "no/such/new.duckdb"], "no/such: directory of --db does not exist"),
    (["tui", "--db", "bad.duckdb"], "bad.duckdb: --db is not a DuckDB store file"),
    (["tui", "--db", STORE, "--poll", "-1"], "--poll must be 0 (off) or positive"),
    (["tui", "--db", STORE, "--n-boot", "0"], "--n-boot must be at least 1"),
    # experiment report
    (["experiment", "report", "--db", "missing.duckdb"], "missing.duckdb: no such store"),
    (["experiment", "report", "--db", "bad.duckdb"], "bad.duckdb: cannot open store"),
    (["experiment", "report", "--db", STORE, "--markdown", "no/such/r.md"],
     "no/such: directory of --markdown does not exist"),
    # capability run
    (["capability", "run", "--db", "missing.duckdb", "--run", "sft", "--tasks", "arc"],
     "missing.duckdb: no store here"),
    (["capability", "run", "--db", "bad.duckdb", "--run", "sft", "--tasks", "arc"],
     "bad.duckdb: cannot open store"),
    (["capability", "run", "--db", STORE, "--run", "sft", "--tasks", "arc", "--limit", "-1"],
     "--limit must be a positive number"),
]


@pytest.fixture
def workspace(tmp_path: Path, example_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.duckdb").write_text("this is not a DuckDB file\n")
    (tmp_path / "dup.csv").write_text(
        'topic,prompt\nabortion,"Is abortion acceptable?"\nabortion,"Is  abortion acceptable?"\n')
    (tmp_path / "good.csv").write_text('topic,prompt\nabortion,"Is abortion acceptable?"\n')
    (tmp_path / "answers.jsonl").write_text(
        '{"topic": "abortion", "prompt": "Is abortion acceptable?", "response": "Yes."}\n')
    (tmp_path / "pairs.jsonl").write_text(
        '{"prompt": "Is it ok?", "chosen": "Yes.", "rejected": "No."}\n')
    shutil.copy(example_store, tmp_path / STORE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("argv,message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_clear_error(workspace: Path, capsys: pytest.CaptureFixture[str],
                                      argv: list[str], message: str) -> None:
    before = _snapshot(workspace)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err
    # One error line (progress lines such as "importing …" may come before it).
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        next(line for line in err.splitlines() if message in line)], err
    assert _snapshot(workspace) == before, "a refused command wrote something"
