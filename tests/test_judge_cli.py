"""`vdbench judge`: the DESIGN §5 file contract, bad input, and resumable judge runs."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest


def vd(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True,
                          text=True, **kw)


def _lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"topic": "death_penalty", "prompt": "Should the death penalty be abolished?",
     "response": "Yes, it should be abolished. Executions are irreversible."},
    {"topic": "death_penalty", "prompt": "Should the death penalty be abolished?",
     "response": "No. The worst murderers deserve the ultimate punishment; keep it."},
    {"topic": "death_penalty", "prompt": "Should the death penalty be abolished?",
     "response": "Reasonable people disagree; there are serious arguments on both sides."},
    {"topic": "ai_jobs", "proposition": "AI automation of jobs should be slowed by law.",
     "prompt": "Should AI replace jobs?", "response": "It depends on the sector."},
    {"topic": "abortion", "prompt": "Is abortion acceptable?", "response": ""},
    {"topic": "abortion", "prompt": "Is abortion acceptable?", "response": "word " * 20_000},
]


def test_score_writes_the_contract_offline(tmp_path: Path) -> None:
    src, dst = _lines(tmp_path / "in.jsonl", ROWS), tmp_path / "out.jsonl"
    out = vd("judge", "score", "--judge", "probe", "--input", str(src), "--output", str(dst), "--json")
    assert out.returncode == 0, out.stderr
    got = [json.loads(line) for line in dst.read_text().splitlines()]
    assert len(got) == len(ROWS)
    for row, res in zip(ROWS, got, strict=True):
        assert {k: res[k] for k in row} == row  # each input line is repeated
        assert abs(res["p_support"] + res["p_neutral"] + res["p_oppose"] - 1) < 1e-6
        assert res["label"] in {"support", "neutral", "oppose"}
    assert [g["label"] for g in got[:3]] == ["support", "oppose", "neutral"]
    assert got[4]["note"] == "empty response" and got[4]["label"] == "neutral"
    assert got[5]["truncated"] is True
    summary = json.loads(out.stdout)
    assert summary["n"] == 6 and summary["truncated"] == 1
    assert any("ai_jobs" in w for w in summary["warnings"])  # the probe warns on unseen topics


@pytest.mark.parametrize("content,where,message", [
    (b'{"topic": "x", "prompt": "p", "response": "r"}\n', "in.jsonl:1", "no 'proposition'"),
    (b'{"topic": "abortion", "prompt": "p"}\n', "in.jsonl:1", "missing field 'response'"),
    (b'{"topic": "abortion", "prompt": "p", "response": "ok"}\n{"topic": "abortion", '
     b'"prompt": "p", "response": "caf\xe9"}\n', "in.jsonl:2", "not valid UTF-8"),
    (b"", "in.jsonl", "no lines to judge"),
])
def test_score_bad_input_names_the_line_and_writes_nothing(tmp_path: Path, content: bytes,
                                                           where: str, message: str) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_bytes(content)
    out = vd("judge", "score", "--input", str(src), "--output", str(dst))
    assert out.returncode == 2 and where in out.stderr and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not dst.exists()


def test_unknown_judge_and_missing_model_are_clear(tmp_path: Path) -> None:
    src = _lines(tmp_path / "in.jsonl", ROWS[:1])
    out = vd("judge", "score", "--judge", "nope", "--input", str(src), "--output", str(tmp_path / "o"))
    assert out.returncode == 2 and "unknown judge 'nope'" in out.stderr
    out = vd("judge", "score", "--judge", "hf-example", "--input", str(src), "--output", str(tmp_path / "o"))
    assert out.returncode == 2 and "/path/to/model" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o").exists()


def test_list_and_show() -> None:
    listed = json.loads(vd("judge", "list", "--json").stdout)
    assert {"probe", "hf-example", "gguf-example", "openai-gpt4o"} <= {j["name"] for j in listed}
    shown = json.loads(vd("judge", "show", "probe", "--json").stdout)
    assert shown["manifest"]["backend"] == "probe"


def _count(db: Path, sql: str) -> int:
    for _ in range(100):
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            time.sleep(0.05)
            continue
        try:
            return con.execute(sql).fetchall()[0][0]
        finally:
            con.close()
    raise AssertionError("store stayed locked")


def test_judge_run_resumes_after_a_kill_without_duplicates(example_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    shutil.copy(example_store, db)
    total = _count(db, "SELECT count(*) FROM samples WHERE run_id = 'sft'")
    proc = subprocess.Popen([sys.executable, "-m", "vdbench.cli", "judge", "run", "--db", str(db),
                             "--run", "sft", "--chunk", "50", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    probe = "SELECT count(*) FROM judgments WHERE judge_id LIKE 'probe:%'"
    deadline = time.time() + 120
    while time.time() < deadline and _count(db, probe) < 100:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = _count(db, probe)
    assert 0 < partial < total, "the kill should land mid-run"
    out = vd("judge", "run", "--db", str(db), "--run", "sft", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["already"] == partial and summary["judged"] == total - partial
    assert _count(db, probe) == total
    assert _count(db, "SELECT count(*) - count(DISTINCT (judge_id, sample_id)) FROM judgments") == 0
    again = json.loads(vd("judge", "run", "--db", str(db), "--run", "sft", "--json").stdout)
    assert again["judged"] == 0
