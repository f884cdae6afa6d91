"""Stance curves in TensorBoard: a real `vdbench train sft --report-to tensorboard` run writes
event files whose `vdbench/` scalars sit at the checkpoints' steps with the stored values;
our PPO sends the same scalars (and its own statistics) through the same callbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vdbench.cli import main
from vdbench.store import Store

STANCES = ("support", "neutral", "oppose")


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in the event files under `log_dir`: tag → [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = list(log_dir.rglob("events.out.tfevents.*"))
    assert files, f"no event files under {log_dir}"
    acc = EventAccumulator(str(files[0].parent), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _argv(tiny_world, tmp_path: Path, **extra) -> list[str]:
    argv = ["train", "sft", "--model", str(tiny_world.model), "--data", str(tiny_world.sft),
            "--db", str(tmp_path / "s.duckdb"), "--run", "sft", "--eval-set", str(tiny_world.eval_set),
            "--samples", "2", "--max-new-tokens", "6", "--lr", "1e-3", "--batch-size", "4",
            "--max-steps", "4", "--every", "2", "--output-dir", str(tmp_path / "out")]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return argv


def test_sft_run_writes_vdbench_scalars_at_the_checkpoint_steps(tiny_world, tmp_path, capsys):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install -e '.[trackers]')")
    log_dir = tmp_path / "tb"
    argv = _argv(tiny_world, tmp_path, judge="probe", report_to="tensorboard", logging_dir=log_dir,
                 json=True)
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["report_to"] == ["tensorboard"] and summary["logging_dir"] == str(log_dir)
    scalars = _scalars(log_dir)

    assert main(["metrics", "--db", str(tmp_path / "s.duckdb"), "--run", "sft", "--json",
                 "--n-boot", "20"]) == 0
    report = json.loads(capsys.readouterr().out)
    stored = {(v["topic"], v["step"]): v["v"] for v in report["values"]}
    assert {t for t, _ in stored} == {"abortion", "death_penalty", "(all topics)"}
    # transformers prefixes every training log with train/ (TensorBoard and W&B alike).
    for (topic, step), values in stored.items():
        name = "all" if topic == "(all topics)" else topic
        for stance in STANCES:
            series = dict(scalars[f"train/vdbench/v/{stance}/{name}"])
            assert series[step] == pytest.approx(values[stance], abs=1e-6), (topic, step, stance)
    for stance in STANCES:
        assert [s for s, _ in scalars[f"train/vdbench/v/{stance}/all"]] == [0, 2, 4]
    unhealthy = dict(scalars["train/vdbench/health/unhealthy"])
    assert unhealthy == {h["step"]: pytest.approx(h["unhealthy"], abs=1e-6) for h in report["health"]}
    # The Trainer's own curves are untouched: a loss at every step, checkpoint steps included.
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3, 4]


def test_report_to_is_checked_before_any_model_loads(tiny_world, tmp_path, capsys, monkeypatch):
    from vdbench.training import models

    monkeypatch.setattr(models, "load_causal_lm", lambda *a, **k: pytest.fail("model loaded"))
    assert main(_argv(tiny_world, tmp_path, report_to="tensorbored")) == 2
    err = capsys.readouterr().err
    assert "--report-to: unknown tracker 'tensorbored'" in err and "tensorboard" in err
    assert main(_argv(tiny_world, tmp_path, logging_dir=tmp_path / "tb")) == 2
    assert "--logging-dir is where trackers write: it needs --report-to" in capsys.readouterr().err
    from transformers.integrations.integration_utils import get_available_reporting_integrations

    if "neptune" not in get_available_reporting_integrations():
        assert main(_argv(tiny_world, tmp_path, report_to="tensorboard,neptune")) == 2
        assert "--report-to: neptune is not installed" in capsys.readouterr().err


def test_ppo_logs_its_statistics_and_the_drift_scalars_and_stops_on_budget(tiny_world, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install -e '.[trackers]')")
    import torch

    from tests.fixtures.training import QUESTIONS, TOPIC_WORDS
    from tests.test_drift_budget import JumpJudge
    from vdbench.evalsets.registry import get_eval_set
    from vdbench.runs import RunSpec
    from vdbench.training.callback import DriftCallback
    from vdbench.training.config import DriftConfig, PPOHParams
    from vdbench.training.models import load_model_and_tokenizer
    from vdbench.training.ppo import PPOTrainer
    from vdbench.training.runner import tracker_logging_dir

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model, tok = load_model_and_tokenizer(tiny_world.model)
    drift = DriftCallback(
        Store(tmp_path / "s.duckdb"), RunSpec("ppo", "preference", "ppo"),
        get_eval_set(str(tiny_world.eval_set)),
        DriftConfig(every=2, samples_per_prompt=2, max_new_tokens=6, batch_size=8),
        tokenizer=tok, judge=JumpJudge(), drift_budget="neutral:0.1", stop_on_budget=True)
    config = PPOHParams(learning_rate=1e-3, batch_size=4, mini_batches=1, ppo_epochs=1,
                        response_length=6, max_steps=6)
    with tracker_logging_dir(tmp_path / "tb"):
        prompts = [q.format(w=w) for w in TOPIC_WORDS.values() for q in QUESTIONS]
        trainer = PPOTrainer(model, tok, prompts, config, reward_fn=lambda p, r: [0.0] * len(r),
                             callbacks=[drift], output_dir=tmp_path / "out", report_to=["tensorboard"],
                             run_name="ppo")
    drift.attach(trainer)
    history = trainer.train()

    assert drift.stop_step == 2 and len(history) == 2  # neutral jumped by the first checkpoint
    assert (tmp_path / "out" / "checkpoint-2" / "config.json").exists()
    scalars = _scalars(tmp_path / "tb")
    assert [s for s, _ in scalars["train/reward"]] == [1, 2]
    assert dict(scalars["train/vdbench/v/neutral/all"]) == {0: pytest.approx(0.1), 2: pytest.approx(0.9)}
    assert dict(scalars["train/vdbench/budget/exceeded"]) == {0: 0.0, 2: 3.0}
