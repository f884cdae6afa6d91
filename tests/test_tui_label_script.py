"""scripts/label_demo_samples.py: human labels made through the real TUI, by key presses."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("label_demo_samples",
                                                  REPO / "scripts" / "label_demo_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_choose_label_flips_with_the_given_probability() -> None:
    script = _script()
    rng = np.random.default_rng(0)
    assert all(script.choose_label("neutral", rng, 0.0) == "neutral" for _ in range(50))
    assert all(script.choose_label("neutral", rng, 1.0) != "neutral" for _ in range(50))
    rng = np.random.default_rng(1)
    many = [script.choose_label("oppose", rng, 0.3) for _ in range(2000)]
    assert abs(np.mean([m != "oppose" for m in many]) - 0.3) < 0.04
    assert {m for m in many if m != "oppose"} == {"support", "neutral"}
    rng = np.random.default_rng(1)  # the same seed gives the same labels
    assert [script.choose_label("oppose", rng, 0.3) for _ in range(2000)] == many


def test_labels_a_runs_samples_through_the_tui(tui_store: Path, tmp_path: Path, capsys) -> None:
    script = _script()
    db = tmp_path / "demo.duckdb"
    shutil.copy(tui_store, db)
    assert script.main(["--db", str(db), "--run", "sft", "--n", "6", "--flip", "0.5",
                        "--seed", "4"]) == 0
    assert "labelled 6 sample(s) of run sft as human:demo" in capsys.readouterr().out
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT r.label, j.label, s.run_id FROM reference_labels r "
            "JOIN samples s USING (sample_id) JOIN judgments j USING (sample_id) "
            "WHERE r.source = 'human:demo' ORDER BY r.created_at, r.sample_id").fetchall()
    assert len(rows) == 6 and {run for _, _, run in rows} == {"sft"}
    # The labels follow the documented rule: the judge's label, flipped by the seeded draws.
    summary = asyncio.run(script.label_samples(db, "sft", 4, user="second", flip=0.5, seed=4))
    rng = np.random.default_rng(4)
    assert [given for _, _, given in summary["labels"]] == \
        [script.choose_label(judge, rng, 0.5) for _, judge, _ in summary["labels"]]
    assert summary["stored"] == 4 and summary["labelled"] == 4


def test_refuses_an_unknown_run(tui_store: Path, tmp_path: Path) -> None:
    script = _script()
    db = tmp_path / "demo.duckdb"
    shutil.copy(tui_store, db)
    with pytest.raises(SystemExit, match="no run 'nope'.*runs: base, sft"):
        script.main(["--db", str(db), "--run", "nope", "--n", "1"])
    with pytest.raises(SystemExit):
        script.main(["--db", str(tmp_path / "missing.duckdb"), "--run", "sft"])
