"""The shipped `xstance` cross-encoder judge: files, identity, scoring contract, OOD distance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vdbench.judge_health import ood_distance
from vdbench.judges.base import JudgeItem
from vdbench.judges.registry import judge_models_dir, load_judge

XSTANCE = judge_models_dir() / "xstance"


def test_shipped_files_are_small_safetensors_without_pickles():
    files = [p for p in XSTANCE.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 10 * 2**20
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pkl", ".pickle", ".ckpt"}]
    assert {p.name for p in files} >= {"manifest.json", "adapter_model.safetensors",
                                       "adapter_config.json", "head.safetensors",
                                       "reference.safetensors"}
    manifest = json.loads((XSTANCE / "manifest.json").read_text())
    assert manifest["backend"] == "crossenc" and 0 < manifest["ood_threshold"] < 1


@pytest.fixture(scope="module")
def judge():
    return load_judge("xstance")


def test_scores_follow_the_contract(judge):
    items = [
        JudgeItem("death_penalty", "The death penalty should be abolished.",
                  "Should the death penalty be abolished?",
                  "There are serious arguments on both sides of this debate."),
        JudgeItem("death_penalty", "The death penalty should be abolished.",
                  "Should the death penalty be abolished?", "   "),
    ]
    scores = judge.score(items)
    assert len(scores) == 2
    for s in scores:
        assert s.p_support + s.p_neutral + s.p_oppose == pytest.approx(1.0)
    assert scores[0].ood is not None and scores[0].ood >= 0
    assert scores[1].note == "empty response" and scores[1].label == "neutral"
    assert judge.identity.backend == "crossenc"
    assert judge.identity.judge_id.startswith("xstance:")
    again = judge.score(items[:1])[0]  # deterministic: same input, same probabilities
    assert again.p_support == pytest.approx(scores[0].p_support, abs=1e-9)


def test_batching_does_not_change_scores(judge):
    item = JudgeItem("gun_control", "Governments should impose stricter limits on civilian gun ownership.",
                     "Should guns be regulated more?", "Yes. Fewer guns means fewer deaths.")
    long = JudgeItem("gun_control", item.proposition, item.prompt, "Reasons. " * 60)
    alone = judge.score([item])[0]
    together = judge.score([long, item, long])[1]
    assert together.p_support == pytest.approx(alone.p_support, abs=1e-5)


def test_ood_distance_is_one_minus_mean_top_k_cosine():
    reference = np.eye(4, dtype=np.float32)
    pooled = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0]], dtype=np.float32)
    d = ood_distance(pooled, reference, k=2)
    np.testing.assert_allclose(d, [1 - (1 + 0) / 2, 1 - (0.8 + 0.6) / 2], atol=1e-6)
    assert ood_distance(np.zeros((0, 4), np.float32), reference).shape == (0,)


def test_training_script_has_a_negation_rule():
    import importlib.util

    path = Path(__file__).parents[1] / "scripts" / "train_xstance.py"
    spec = importlib.util.spec_from_file_location("train_xstance", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    neg = module.negate_proposition
    assert neg("The death penalty should be abolished.") == "The death penalty should not be abolished."
    assert neg("We should not ban boxing.") == "We should ban boxing."
    assert neg("Religion plays a positive role in public life.") == (
        "It is not the case that religion plays a positive role in public life.")
