"""Our PPO: it raises reward on a toy task, a large KL coefficient keeps the policy near
the reference, and the reward model learns graded stance preferences."""

from __future__ import annotations

import json

import pytest
import torch

from tests.fixtures.training import (
    QUESTIONS,
    STANCE_ANSWERS,
    TOPIC_WORDS,
    build_tiny_model,
    build_tiny_tokenizer,
    preference_rows,
    write_jsonl,
)
from vdbench.cli import main
from vdbench.training.config import PPOHParams, RewardHParams
from vdbench.training.data import load_training_data
from vdbench.training.ppo import PPOTrainer
from vdbench.training.reward import graded_pairs, preference_direction

PROMPTS = [q.format(w=w) for w in TOPIC_WORDS.values() for q in QUESTIONS]


def _toy_run(kl_coef: float, steps: int = 40):
    """Reward = share of response tokens drawn from the 'support' answers' vocabulary.

    40 steps: with the packages a fresh install resolves today (transformers 5.24, torch
    2.13) the toy policy starts climbing near step 20 (reward 0.08 → 0.29 by step 25, 0.94
    by step 40); 25 steps stopped it mid-climb. The assertion is unchanged.
    """
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tok = build_tiny_tokenizer()
    target = set(tok(" ".join(STANCE_ANSWERS["support"]), add_special_tokens=False)["input_ids"])

    def reward_fn(prompts, responses):
        return [sum(t in target for t in r) / max(len(r), 1) for r in responses]

    config = PPOHParams(learning_rate=3e-3, batch_size=16, mini_batches=2, ppo_epochs=4,
                        response_length=8, kl_coef=kl_coef, max_steps=steps)
    trainer = PPOTrainer(build_tiny_model(tok, seed=0), tok, PROMPTS, config, reward_fn=reward_fn)
    history = trainer.train()
    return trainer, history


@pytest.fixture(scope="module")
def loose():
    return _toy_run(kl_coef=0.01)


def test_ppo_raises_mean_reward_on_a_toy_task(loose):
    _, history = loose
    start = sum(h["reward"] for h in history[:5]) / 5
    end = sum(h["reward"] for h in history[-5:]) / 5
    assert end > start + 0.3, (start, end)


def test_a_large_kl_coefficient_keeps_the_policy_near_the_reference(loose):
    loose_trainer, _ = loose
    tight_trainer, tight_history = _toy_run(kl_coef=1.0)
    loose_kl, tight_kl = loose_trainer.reference_kl(), tight_trainer.reference_kl()
    assert tight_kl < 2.0, tight_kl
    assert tight_kl < loose_kl / 5, (tight_kl, loose_kl)
    assert tight_history[-1]["reward"] < 0.5


def test_graded_pairs_add_margins_and_the_implied_middle_pairs():
    rows = [
        {"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": c}],
         "rejected": [{"role": "assistant", "content": r}], "topic": "t",
         "chosen_stance": cs, "rejected_stance": rs}
        for c, r, cs, rs in [("s1", "o1", "support", "oppose"), ("s2", "n1", "support", "neutral"),
                             ("s3", "o2", "support", "oppose"), ("s4", "n2", "support", "neutral")]
    ]
    assert preference_direction(rows) == 1
    out = graded_pairs(rows, margin_unit=0.5)
    assert [r["margin"] for r in out[:4]] == [1.0, 0.5, 1.0, 0.5]
    implied = out[4:]
    assert implied and all(r["margin"] == 0.5 for r in implied)
    assert {(r["chosen"][0]["content"][0], r["rejected"][0]["content"][0]) for r in implied} == {("n", "o")}
    # Data preferring oppose and neutral over support flips the axis: oppose > neutral is implied.
    flipped = [{**r, "chosen": r["rejected"], "rejected": r["chosen"],
                "chosen_stance": r["rejected_stance"], "rejected_stance": r["chosen_stance"]} for r in rows]
    assert preference_direction(flipped) == -1
    assert {(r["chosen"][0]["content"][0], r["rejected"][0]["content"][0])
            for r in graded_pairs(flipped)[4:]} == {("o", "n")}


def test_score_labels_become_margins():
    row = {"prompt": [], "chosen": [], "rejected": [], "score_chosen": 8.0, "score_rejected": 5.0}
    assert graded_pairs([row], margin_unit=0.5)[0]["margin"] == 1.5


@pytest.mark.slow
def test_reward_model_learns_support_over_neutral_over_oppose(tiny_world, tmp_path):
    from vdbench.training.models import load_tokenizer
    from vdbench.training.reward import train_reward_model

    torch.set_num_threads(1)
    path = write_jsonl(tmp_path / "gap.jsonl",
                       preference_rows(48, "support", ("oppose", "oppose", "neutral"), seed=1))
    data = load_training_data(path, "preference")
    _, stats = train_reward_model(tiny_world.model, load_tokenizer(tiny_world.model), data,
                                  RewardHParams(learning_rate=3e-3, epochs=4, batch_size=8),
                                  tmp_path / "rm", quiet=True)
    by = stats["mean_reward_by_stance"]
    assert stats["implied_pairs"] > 0
    assert by["support"] > by["neutral"] > by["oppose"], by


@pytest.mark.slow
def test_vdbench_train_ppo_end_to_end(tiny_world, tmp_path, capsys):
    argv = ["train", "ppo", "--model", str(tiny_world.model), "--data", str(tiny_world.pref),
            "--db", str(tmp_path / "s.duckdb"), "--run", "ppo", "--eval-set", str(tiny_world.eval_set),
            "--samples", "2", "--max-new-tokens", "6", "--lr", "1e-3", "--batch-size", "4",
            "--max-steps", "3", "--every", "1", "--response-length", "6", "--kl-coef", "0.2",
            "--rm-epochs", "1", "--output-dir", str(tmp_path / "out"), "--json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["checkpoints_stored"] == [0, 1, 2, 3]
    assert summary["metrics"]["reward_model"]["trained"]
    assert set(summary["metrics"]["reward_model"]["mean_reward_by_stance"]) == {"support", "neutral", "oppose"}
    assert summary["hparams"]["kl_coef"] == 0.2
    out = tmp_path / "out"
    assert (out / "value_head.safetensors").exists() and (out / "config.json").exists()
    assert len(json.loads((out / "ppo_history.json").read_text())) == 3
