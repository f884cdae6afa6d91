"""The drift callback: when it samples, what it records, and that training is unaffected."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vdbench.evalsets.registry import get_eval_set
from vdbench.judges.base import JudgeIdentity, JudgeScore
from vdbench.runs import RunSpec, done_steps
from vdbench.store import Store
from vdbench.training import generation
from vdbench.training.callback import DriftCallback
from vdbench.training.config import DriftConfig, SFTHParams
from vdbench.training.data import load_training_data, to_dataset
from vdbench.training.models import load_model_and_tokenizer
from vdbench.training.sft import build_sft_trainer

HP = SFTHParams(learning_rate=1e-3, max_steps=5, batch_size=4, bf16=False, warmup_ratio=0.0)


def _train(tiny_world, out: Path, callback=None, dropout=0.1):
    torch.set_num_threads(1)
    model, tok = load_model_and_tokenizer(tiny_world.model)
    model.config.attention_dropout = dropout  # training consumes RNG: the fork must hide sampling
    for layer in model.model.layers:
        layer.self_attn.attention_dropout = dropout
    data = to_dataset(load_training_data(tiny_world.sft, "sft"))
    trainer = build_sft_trainer(model, tok, data, HP, out, [callback] if callback else [])
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def _callback(db: Path, tiny_world, run="sft", every=2, **kwargs) -> DriftCallback:
    return DriftCallback(
        Store(db), RunSpec(run, "sft", "sft", parent_run=kwargs.pop("parent_run", None)),
        get_eval_set(str(tiny_world.eval_set)),
        DriftConfig(every=every, samples_per_prompt=2, max_new_tokens=6, batch_size=8), **kwargs)


@pytest.fixture(scope="module")
def baseline_losses(tiny_world, tmp_path_factory):
    return _train(tiny_world, tmp_path_factory.mktemp("base"))


def test_training_loss_is_identical_with_and_without_the_callback(tiny_world, tmp_path, baseline_losses):
    callback = _callback(tmp_path / "s.duckdb", tiny_world)
    with_callback = _train(tiny_world, tmp_path / "out", callback)
    assert callback.stored  # it did sample (at 0, 2, 4, 5)
    assert with_callback == baseline_losses


def test_the_rng_fork_alone_protects_training(tiny_world, tmp_path, baseline_losses, monkeypatch):
    # The sampler normally draws from a private generator; make it draw from torch's
    # global RNG, as `generate`'s own sampler would: the fork must still hide it.
    monkeypatch.setattr(generation.SeededSampler, "_rng", lambda self, device: None)
    losses = _train(tiny_world, tmp_path / "out", _callback(tmp_path / "s.duckdb", tiny_world))
    assert losses == baseline_losses


def test_without_any_protection_sampling_would_change_training(tiny_world, tmp_path, baseline_losses,
                                                                monkeypatch):
    # The control for the two tests above: global-RNG sampling without the fork
    # perturbs training, so identical losses there are not an accident.
    import contextlib

    monkeypatch.setattr(generation.SeededSampler, "_rng", lambda self, device: None)
    monkeypatch.setattr("vdbench.training.callback.forked_rng", lambda seed: contextlib.nullcontext())
    perturbed = _train(tiny_world, tmp_path / "out", _callback(tmp_path / "s.duckdb", tiny_world))
    assert perturbed != baseline_losses


def test_samples_at_zero_every_n_and_the_end_once_each(tiny_world, tmp_path):
    db = tmp_path / "s.duckdb"
    store = Store(db)
    callback = _callback(db, tiny_world, every=2)
    _train(tiny_world, tmp_path / "out", callback)
    with store.read() as con:
        rows = con.execute("SELECT step, total_steps, fraction FROM checkpoints WHERE run_id='sft' "
                           "ORDER BY step").fetchall()
        counts = con.execute("SELECT step, count(*), count(DISTINCT sample_id) FROM samples "
                             "GROUP BY step ORDER BY step").fetchall()
        health = {r[0] for r in con.execute("SELECT health FROM samples").fetchall()}
        run = con.execute("SELECT stage, algorithm, eval_set FROM runs WHERE run_id='sft'").fetchone()
    assert rows == [(0, 5, 0.0), (2, 5, 0.4), (4, 5, 0.8), (5, 5, 1.0)]
    assert counts == [(s, 8, 8) for s in (0, 2, 4, 5)]  # 4 prompts × 2 samples, no duplicates
    assert health <= {"ok", "empty", "truncated", "repetitive", "degenerate"}
    assert run == ("sft", "sft", "tiny_eval")


def test_a_rerun_skips_steps_already_stored(tiny_world, tmp_path):
    db = tmp_path / "s.duckdb"
    first = _callback(db, tiny_world, every=2)
    first.schedule = []  # pre-store steps 0 and 2 by hand, as a killed run would have
    model, tok = load_model_and_tokenizer(tiny_world.model)
    first.on_train_begin(None, type("S", (), {"max_steps": 5, "global_step": 0})(), None,
                         model=model, processing_class=tok)
    first._maybe_capture(2, model, tok, None)
    assert done_steps(Store(db), "sft") == {0, 2}
    second = _callback(db, tiny_world, every=2)
    _train(tiny_world, tmp_path / "out", second)
    assert sorted(second.stored) == [4, 5]
    assert done_steps(Store(db), "sft") == {0, 2, 4, 5}


class StubJudge:
    """Scores by a keyword so the test can check what reached the store."""

    identity = JudgeIdentity("stub:0:0", "stub", "stub", "none", "0" * 16, "0" * 16)

    def __init__(self):
        self.calls = 0

    def score(self, items):
        self.calls += 1
        return [JudgeScore(0.2, 0.5, 0.3) for _ in items]


def test_inline_judging_scores_each_checkpoint_as_it_is_stored(tiny_world, tmp_path):
    db = tmp_path / "s.duckdb"
    judge = StubJudge()
    callback = _callback(db, tiny_world, every=5, judge=judge)
    _train(tiny_world, tmp_path / "out", callback)
    with Store(db).read() as con:
        judged = con.execute("SELECT step, count(*) FROM judgments GROUP BY step ORDER BY step").fetchall()
        unjudged = con.execute("SELECT count(*) FROM samples s WHERE NOT EXISTS (SELECT 1 FROM "
                               "judgments j WHERE j.sample_id = s.sample_id)").fetchone()[0]
    assert judged == [(0, 8), (5, 8)]
    assert unjudged == 0
    assert judge.calls == 2


def test_lineage_is_recorded(tiny_world, tmp_path):
    db = tmp_path / "s.duckdb"
    from vdbench.runs import register_run

    register_run(Store(db), RunSpec("base", "base", "none"))
    callback = _callback(db, tiny_world, run="child", every=5, parent_run="base")
    _train(tiny_world, tmp_path / "out", callback)
    with Store(db).read() as con:
        assert con.execute("SELECT parent_run FROM runs WHERE run_id='child'").fetchone() == ("base",)
