"""`vdbench train`: bad input is refused before any model loads; stages chain into a lineage."""

from __future__ import annotations

import json
import shutil

import pytest

from vdbench.cli import main
from vdbench.store import Store


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail the test if anything tries to load a model or tokenizer."""
    from vdbench.training import models

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was validated")

    monkeypatch.setattr(models, "load_causal_lm", refuse)
    monkeypatch.setattr(models, "load_tokenizer", refuse)


def _args(tiny_world, tmp_path, algo="sft", data=None, **extra):
    argv = ["train", algo, "--model", str(tiny_world.model),
            "--data", str(data or (tiny_world.sft if algo == "sft" else tiny_world.pref)),
            "--db", str(tmp_path / "s.duckdb"), "--run", extra.pop("run", f"{algo}-run"),
            "--eval-set", str(tiny_world.eval_set), "--samples", "2", "--max-new-tokens", "6",
            "--lr", "1e-3", "--batch-size", "4", "--output-dir", str(tmp_path / "out" / algo)]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return argv


def _error(capsys) -> str:
    return capsys.readouterr().err


def test_sft_data_given_to_dpo_names_the_missing_fields(tiny_world, tmp_path, capsys, no_model_loading):
    assert main(_args(tiny_world, tmp_path, "dpo", data=tiny_world.sft)) == 2
    err = _error(capsys)
    assert f"{tiny_world.sft}:1" in err and "'prompt', 'chosen', 'rejected'" in err


def test_model_dir_without_tokenizer(tiny_world, tmp_path, capsys, no_model_loading):
    model = tmp_path / "model"
    shutil.copytree(tiny_world.model, model)
    (model / "tokenizer.json").unlink()
    argv = _args(tiny_world, tmp_path)
    argv[argv.index("--model") + 1] = str(model)
    assert main(argv) == 2
    assert "no tokenizer" in _error(capsys)


def test_model_dir_without_config(tiny_world, tmp_path, capsys, no_model_loading):
    argv = _args(tiny_world, tmp_path)
    argv[argv.index("--model") + 1] = str(tmp_path)
    assert main(argv) == 2
    assert "no config.json" in _error(capsys)


def test_every_larger_than_the_run(tiny_world, tmp_path, capsys, no_model_loading):
    # 24 rows, batch 4, 1 epoch: 6 steps.
    assert main(_args(tiny_world, tmp_path, every=50)) == 2
    assert "--every 50 is larger than the run (6 training steps)" in _error(capsys)


def test_unwritable_output_dir(tiny_world, tmp_path, capsys, no_model_loading):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # a path under a file is unwritable, even for root
    argv = _args(tiny_world, tmp_path)
    argv[argv.index("--output-dir") + 1] = str(blocker / "out")
    assert main(argv) == 2
    assert "output directory is not writable" in _error(capsys)


def test_parent_run_that_does_not_exist(tiny_world, tmp_path, capsys, no_model_loading):
    assert main(_args(tiny_world, tmp_path, parent="ghost:3")) == 2
    assert "parent run 'ghost' does not exist" in _error(capsys)


def test_unknown_judge_is_refused_before_training(tiny_world, tmp_path, capsys, no_model_loading):
    assert main(_args(tiny_world, tmp_path, judge="no-such-judge")) == 2
    assert "unknown judge" in _error(capsys)


@pytest.mark.slow
def test_sft_then_dpo_and_simpo_form_one_lineage(tiny_world, tmp_path, capsys):
    assert main(_args(tiny_world, tmp_path, "sft", run="sft", max_steps=3, every=1, json=True)) == 0
    sft = json.loads(capsys.readouterr().out)
    assert sft["checkpoints_stored"] == [0, 1, 2, 3]
    # DPO continues from the SFT run's last checkpoint: the model comes from its recorded path.
    argv = _args(tiny_world, tmp_path, "dpo", run="dpo", parent="sft", max_steps=2, beta=0.2, json=True)
    del argv[argv.index("--model"):argv.index("--model") + 2]
    assert main(argv) == 0
    dpo = json.loads(capsys.readouterr().out)
    assert dpo["model"] == str((tmp_path / "out" / "sft").resolve())
    assert dpo["parent"] == {"run": "sft", "step": 3}
    assert main(_args(tiny_world, tmp_path, "simpo", run="simpo", parent="sft:3", max_steps=2,
                      beta=2.5, gamma=1.5, every=1, json=True)) == 0
    simpo = json.loads(capsys.readouterr().out)
    assert simpo["samples_stored"] == 3 * 8
    with Store(tmp_path / "s.duckdb").read() as con:
        runs = {r[0]: r[1:] for r in con.execute(
            "SELECT run_id, stage, algorithm, parent_run, parent_step, hparams FROM runs").fetchall()}
    assert runs["dpo"][:4] == ("preference", "dpo", "sft", 3)
    assert json.loads(runs["dpo"][4])["beta"] == 0.2
    simpo_hp = json.loads(runs["simpo"][4])
    assert (simpo_hp["beta"], simpo_hp["gamma"], simpo_hp["learning_rate"]) == (2.5, 1.5, 1e-3)
    assert simpo_hp["drift"]["samples_per_prompt"] == 2


def test_a_rerun_resumes_without_duplicates(tiny_world, tmp_path, capsys):
    argv = _args(tiny_world, tmp_path, "sft", run="r", max_steps=2, every=1, json=True)
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["samples_stored"] == 3 * 8
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["samples_stored"] == 0 and second["skipped_steps"] == [0, 1, 2]
    with Store(tmp_path / "s.duckdb").read() as con:
        assert con.execute("SELECT count(*) FROM samples").fetchone()[0] == 24
