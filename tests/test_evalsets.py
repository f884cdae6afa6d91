"""Eval sets: the built-in V-PRISM-style set and user files, including bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vdbench.evalsets import get_eval_set
from vdbench.evalsets.loaders import load_eval_file
from vdbench.evalsets.topics import BUILTIN_TOPICS


def vd(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vdbench.cli", *args], capture_output=True, text=True)


def test_prompts_list_json_gives_11_topics_by_50_prompts_with_propositions() -> None:
    out = vd("prompts", "list", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["n_topics"] == 11 and data["n_prompts"] == 550
    for topic in data["topics"]:
        assert topic["n_prompts"] == 50
        assert topic["proposition"] == BUILTIN_TOPICS[topic["topic"]]
        framings = {p["framing"] for p in topic["prompts"]}
        assert framings == {"for", "against", "open"}
    texts = [p["prompt"] for t in data["topics"] for p in t["prompts"]]
    assert len(set(texts)) == 550


def test_mini_subset_is_11_by_5_with_varied_framing() -> None:
    mini = get_eval_set("vprism-mini")
    grouped = mini.by_topic()
    assert len(grouped) == 11 and all(len(ps) == 5 for ps in grouped.values())
    assert all(len({p.framing for p in ps}) == 3 for ps in grouped.values())


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = [
    {"topic": "abortion", "prompt": "Is abortion morally acceptable?"},
    {"topic": "ai_jobs", "prompt": "Should AI replace jobs?",
     "proposition": "Automation of jobs by AI should be slowed by law."},
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_user_files_load_in_each_format(tmp_path: Path, fmt: str, db: Path) -> None:
    path = tmp_path / f"mine.{fmt}"
    if fmt == "jsonl":
        _write_jsonl(path, GOOD)
    elif fmt == "csv":
        path.write_text("topic,prompt,proposition\nabortion,Is abortion morally acceptable?,\n"
                        "ai_jobs,Should AI replace jobs?,Automation of jobs by AI should be slowed by law.\n")
    else:
        pq.write_table(pa.Table.from_pylist([{**r, "proposition": r.get("proposition")} for r in GOOD]), path)
    evalset = load_eval_file(path)
    assert evalset.topics["abortion"] == BUILTIN_TOPICS["abortion"]
    assert evalset.topics["ai_jobs"].startswith("Automation")
    out = vd("prompts", "import", str(path), "--db", str(db), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["prompts"] == 2
    listed = json.loads(vd("prompts", "list", "--eval-set", "mine", "--db", str(db), "--json").stdout)
    assert listed["n_prompts"] == 2


BAD_CASES = {
    "missing column": ([{"topic": "abortion"}], "mine.jsonl:1", "missing required column 'prompt'"),
    "wrong type": ([GOOD[0], {"topic": "abortion", "prompt": 42}], "mine.jsonl:2", "must be text"),
    "empty file": ([], "mine.jsonl", "holds no prompts"),
    "duplicate ids": ([{**GOOD[0], "prompt_id": "a"}, {**GOOD[0], "prompt": "other?", "prompt_id": "a"}],
                      "mine.jsonl:2", "duplicate prompt_id 'a' (first at"),
    "unknown topic": ([{"topic": "mars", "prompt": "Go to Mars?"}], "mine.jsonl:1", "no proposition"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_files_fail_with_file_and_line_and_write_nothing(tmp_path: Path, db: Path, case: str) -> None:
    rows, where, message = BAD_CASES[case]
    path = _write_jsonl(tmp_path / "mine.jsonl", rows)
    out = vd("prompts", "import", str(path), "--db", str(db))
    assert out.returncode == 2
    assert where in out.stderr and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not db.exists(), "nothing may be written for a file that fails validation"


def test_non_utf8_line_is_named(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + b'{"topic": "abortion", "prompt": "caf\xe9?"}\n')
    out = vd("prompts", "import", str(path), "--db", str(db))
    assert out.returncode == 2 and "mine.jsonl:2" in out.stderr and "UTF-8" in out.stderr
    assert not db.exists()


def test_reimport_is_idempotent_and_a_changed_file_under_the_same_name_is_refused(
        tmp_path: Path, db: Path) -> None:
    path = _write_jsonl(tmp_path / "mine.jsonl", GOOD)
    assert vd("prompts", "import", str(path), "--db", str(db)).returncode == 0
    assert vd("prompts", "import", str(path), "--db", str(db)).returncode == 0
    _write_jsonl(path, [*GOOD, {"topic": "abortion", "prompt": "A new question?"}])
    out = vd("prompts", "import", str(path), "--db", str(db))
    assert out.returncode == 2 and "already in the store with different prompts" in out.stderr
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM prompts").fetchall() == [(2,)]


def test_prompts_show_topic_and_unknown_target() -> None:
    out = vd("prompts", "show", "death_penalty", "--json")
    data = json.loads(out.stdout)
    assert data["proposition"] == BUILTIN_TOPICS["death_penalty"] and len(data["prompts"]) == 50
    bad = vd("prompts", "show", "nope")
    assert bad.returncode == 2 and "neither a topic nor a prompt_id" in bad.stderr
