"""`vdbench sample`: checkpoints trained elsewhere, their steps, batching and resuming."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vdbench.cli import main
from vdbench.errors import InputError
from vdbench.sampling import discover_checkpoints, require_engine
from vdbench.store import Store


def _training_dir(root: Path, model: Path, steps=(2, 4), max_steps=6, final=True) -> Path:
    """A Trainer-style output: checkpoint-N dirs with trainer_state.json (+ the final model)."""
    root.mkdir(parents=True)
    for step in steps:
        ckpt = root / f"checkpoint-{step}"
        shutil.copytree(model, ckpt)
        (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": max_steps}))
    if final:
        for f in model.iterdir():
            shutil.copy(f, root / f.name)
        (root / "trainer_state.json").write_text(json.dumps({"global_step": max_steps, "max_steps": max_steps}))
    return root


def test_steps_and_total_come_from_trainer_state(tiny_world, tmp_path):
    run_dir = _training_dir(tmp_path / "run", tiny_world.model)
    refs = discover_checkpoints([str(run_dir)])
    assert [(r.path.name, r.step, r.total_steps) for r in refs] == [
        ("checkpoint-2", 2, 6), ("checkpoint-4", 4, 6), ("run", 6, 6)]


def test_globs_names_and_explicit_steps(tiny_world, tmp_path):
    run_dir = _training_dir(tmp_path / "run", tiny_world.model, final=False)
    for ckpt in run_dir.iterdir():
        (ckpt / "trainer_state.json").unlink()  # only the names tell the step now
    refs = discover_checkpoints([str(run_dir / "checkpoint-*")], total_steps=10)
    assert [(r.step, r.total_steps) for r in refs] == [(2, 10), (4, 10)]
    # A base model without a step joins with --steps for the directories lacking one.
    refs = discover_checkpoints([str(tiny_world.model), str(run_dir)], steps=[0], total_steps=10)
    assert [r.step for r in refs] == [0, 2, 4]
    with pytest.raises(InputError, match="cannot tell which training step"):
        discover_checkpoints([str(tiny_world.model)])
    with pytest.raises(InputError, match="two checkpoints claim step 2"):
        discover_checkpoints([str(run_dir / "checkpoint-2"), str(tiny_world.model)], steps=[2, 2])
    with pytest.raises(InputError, match="no checkpoint matches"):
        discover_checkpoints([str(tmp_path / "nothing-*")])


def test_vllm_engine_without_vllm_is_a_clear_error():
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(InputError, match="needs vLLM"):
        require_engine("vllm")


def _sample_argv(tiny_world, tmp_path, run_dir):
    return ["sample", "--checkpoint", str(run_dir), "--run", "ext", "--stage", "preference",
            "--algorithm", "dpo", "--db", str(tmp_path / "s.duckdb"), "--eval-set", str(tiny_world.eval_set),
            "--samples", "3", "--max-new-tokens", "5", "--batch-size", "5", "--json"]


def test_sample_resumes_after_a_kill_without_duplicates(tiny_world, tmp_path, capsys, monkeypatch):
    from vdbench.training import generation

    run_dir = _training_dir(tmp_path / "run", tiny_world.model)
    real = generation.sample_prompts
    calls = {"n": 0}

    def dies_on_the_second_checkpoint(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # what Ctrl-C or a kill mid-generation looks like
        return real(*args, **kwargs)

    monkeypatch.setattr(generation, "sample_prompts", dies_on_the_second_checkpoint)
    assert main(_sample_argv(tiny_world, tmp_path, run_dir)) == 130
    capsys.readouterr()
    store = Store(tmp_path / "s.duckdb")
    with store.read() as con:
        assert con.execute("SELECT step FROM checkpoints").fetchall() == [(2,)]
    monkeypatch.setattr(generation, "sample_prompts", real)
    assert main(_sample_argv(tiny_world, tmp_path, run_dir)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in summary["checkpoints"]] == ["already stored", "stored", "stored"]
    assert summary["samples_stored"] == 2 * 4 * 3
    with store.read() as con:
        rows = con.execute("SELECT step, total_steps, fraction, path FROM checkpoints ORDER BY step").fetchall()
        n, distinct = con.execute("SELECT count(*), count(DISTINCT (step, prompt_id, sample_idx)) FROM samples").fetchone()
        run = con.execute("SELECT stage, algorithm FROM runs WHERE run_id = 'ext'").fetchone()
    assert [(s, t, f) for s, t, f, _ in rows] == [(2, 6, 2 / 6), (4, 6, 4 / 6), (6, 6, 1.0)]
    assert rows[0][3].endswith("checkpoint-2")
    assert n == distinct == 3 * 4 * 3
    assert run == ("preference", "dpo")
