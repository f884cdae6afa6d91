"""PPO's reward model: TRL's RewardTrainer (Bradley–Terry) on the preference data.

Graded preferences. A reward model trained only on "support over oppose" pairs may learn
"not oppose" and then rewards neutral answers as much as supportive ones (a feasibility
run saw PPO push everything to neutral). When pairs carry stances, the stances are put
on their ordinal axis (support = +1, neutral = 0, oppose = −1, sign flipped when the data
prefers oppose) and training uses
  - a Bradley–Terry margin proportional to the grade gap (support over oppose must win
    by more than support over neutral), and
  - the pairs the grades imply but the data lacks (e.g. neutral over oppose on
    support-gap data), built from answers on the same topic (or prompt).
When pairs carry numeric scores (score_chosen/score_rejected), the margin is their
scaled difference instead. Without either, plain pairs are used.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vdbench.training.config import RewardHParams
from vdbench.training.data import TrainingData

STANCE_GRADE = {"support": 1, "neutral": 0, "oppose": -1}


def preference_direction(rows: list[dict[str, Any]]) -> int:
    """+1 when the data prefers support on balance, −1 when oppose, 0 when stances tie."""
    total = sum(STANCE_GRADE[r["chosen_stance"]] - STANCE_GRADE[r["rejected_stance"]]
                for r in rows if "chosen_stance" in r and "rejected_stance" in r)
    return (total > 0) - (total < 0)


def _key(row: dict[str, Any]) -> str:
    return row.get("topic") or json.dumps(row["prompt"], sort_keys=True)


def graded_pairs(rows: list[dict[str, Any]], margin_unit: float = 0.5, augment: bool = True
                 ) -> list[dict[str, Any]]:
    """Reward-model training rows (prompt, chosen, rejected[, margin]) from preference rows.

    Stance-labelled rows get margin = margin_unit × grade gap (0 when the stances are
    equal, e.g. style pairs) and, if `augment`, implied pairs for grade orderings the data
    never states (at most half as many as the original rows). Score-labelled rows get
    margin = margin_unit × max(score_chosen − score_rejected, 0).
    """
    base = [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]
    if rows and all("score_chosen" in r and "score_rejected" in r for r in rows):
        for out, row in zip(base, rows, strict=True):
            out["margin"] = margin_unit * max(row["score_chosen"] - row["score_rejected"], 0.0)
        return base
    if not rows or not all("chosen_stance" in r and "rejected_stance" in r for r in rows):
        return base
    direction = preference_direction(rows) or 1

    def grade(stance: str) -> int:
        return direction * STANCE_GRADE[stance]

    stated: set[tuple[int, int]] = set()
    pools: dict[str, dict[int, list[tuple[list, list]]]] = defaultdict(lambda: defaultdict(list))
    for out, row in zip(base, rows, strict=True):
        g_c, g_r = grade(row["chosen_stance"]), grade(row["rejected_stance"])
        out["margin"] = margin_unit * max(g_c - g_r, 0)
        stated.add((max(g_c, g_r), min(g_c, g_r)))
        pools[_key(row)][g_c].append((row["prompt"], row["chosen"]))
        pools[_key(row)][g_r].append((row["prompt"], row["rejected"]))
    if not augment:
        return base
    implied = [(hi, lo) for hi in (1, 0) for lo in (0, -1) if hi > lo and (hi, lo) not in stated]
    budget = len(rows) // 2
    extra: list[dict[str, Any]] = []
    for hi, lo in implied:
        for key in sorted(pools):
            highs, lows = pools[key].get(hi, []), pools[key].get(lo, [])
            for i in range(min(len(highs), len(lows))):
                if len(extra) >= budget:
                    break
                prompt, better = highs[i]
                extra.append({"prompt": prompt, "chosen": better, "rejected": lows[i][1],
                              "margin": margin_unit * (hi - lo)})
    return base + extra


def _reward_args(hp: RewardHParams, output_dir: Path, seed: int):
    from trl import RewardConfig

    from vdbench.training.common import training_args_kwargs
    from vdbench.training.config import StageHParams

    stage = StageHParams(learning_rate=hp.learning_rate, epochs=hp.epochs, batch_size=hp.batch_size,
                         max_length=hp.max_length, seed=seed)
    return RewardConfig(**training_args_kwargs(stage, output_dir), max_length=hp.max_length,
                        center_rewards_coefficient=None)


def load_reward_model(path: str | Path, *, trust_remote_code: bool = False, pad_token_id: int | None = None):
    """A sequence-classification model with one output (the reward) from a local directory."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=1, trust_remote_code=trust_remote_code, local_files_only=True)
    if pad_token_id is not None and getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = pad_token_id
    return model


def train_reward_model(model_dir: Path, tokenizer, data: TrainingData, hp: RewardHParams,
                       output_dir: Path, *, trust_remote_code: bool = False, seed: int = 0,
                       quiet: bool = False, callbacks: Sequence[Any] = ()):
    """Train, save to `output_dir` and return (reward model, stats).

    Stats: pairs trained on (original and implied), final loss, and — when pairs carry
    stances — the mean reward of answers of each stance, so a user can check the model
    learned support > neutral > oppose (or the reverse) and not just "not oppose".
    """
    import torch
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import RewardTrainer

    rows = graded_pairs(data.rows, hp.margin_unit) if hp.graded else graded_pairs(data.rows, augment=False)
    if not hp.graded:
        for row in rows:
            row.pop("margin", None)
    torch.manual_seed(seed)
    model = load_reward_model(model_dir, trust_remote_code=trust_remote_code,
                              pad_token_id=tokenizer.pad_token_id)
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = RewardTrainer(model=model, args=_reward_args(hp, output_dir, seed),
                            train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                            callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)
    result = trainer.train()
    trainer.save_model(str(output_dir))
    stats: dict[str, Any] = {
        "path": str(output_dir), "trained": True, "pairs": len(data.rows),
        "implied_pairs": len(rows) - len(data.rows), "train_loss": result.training_loss,
        "graded": hp.graded,
    }
    if all("chosen_stance" in r for r in data.rows):
        stats["mean_reward_by_stance"] = mean_reward_by_stance(model, tokenizer, data.rows)
        if not quiet:
            print("reward model, mean reward by stance: " + ", ".join(
                f"{k} {v:+.3f}" for k, v in stats["mean_reward_by_stance"].items()), file=sys.stderr)
    return model, stats


def score_texts(model, tokenizer, conversations: list[list[dict[str, str]]], batch_size: int = 32) -> list[float]:
    """Reward of each full conversation (prompt + answer), rendered by the chat template."""
    import torch

    from vdbench.training.generation import left_pad

    device = next(model.parameters()).device
    out: list[float] = []
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(conversations), batch_size):
            rows = [tokenizer(tokenizer.apply_chat_template(c, tokenize=False),
                              add_special_tokens=False)["input_ids"]
                    for c in conversations[i:i + batch_size]]
            ids, mask = left_pad(rows, tokenizer.pad_token_id)
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                               position_ids=pos.to(device)).logits
            out.extend(logits[:, 0].float().tolist())
    finally:
        model.train(was_training)
    return out


def mean_reward_by_stance(model, tokenizer, rows: list[dict[str, Any]], limit: int = 300) -> dict[str, float]:
    """Mean reward of the dataset's answers grouped by their stance label."""
    convs, stances = [], []
    for row in rows[:limit]:
        for side in ("chosen", "rejected"):
            convs.append(row["prompt"] + row[side])
            stances.append(row[f"{side}_stance"])
    scores = score_texts(model, tokenizer, convs)
    grouped: dict[str, list[float]] = defaultdict(list)
    for stance, score in zip(stances, scores, strict=True):
        grouped[stance].append(score)
    return {s: sum(v) / len(v) for s in ("support", "neutral", "oppose") if (v := grouped.get(s))}
