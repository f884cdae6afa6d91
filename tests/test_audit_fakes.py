"""Model-free stand-ins for the audit's judge and embedder, and tests that they behave.

The keyword judge knows our response templates' phrases, so it labels template
responses by construction; the hashing embedder gives word-overlap similarity. Together
they exercise the audit's plumbing in milliseconds; the real probe judge and MiniLM run in
the acceptance tests (test_audit_acceptance.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from vdbench.audit.templates import ARGUMENTS
from vdbench.judges.base import JudgeIdentity, JudgeItem, JudgeScore

_NEUTRAL_MARKERS = ("disagree", "both sides", "take a side", "depends", "cant say", "both views")


class KeywordJudge:
    """Labels a response by which side's template phrases it contains."""

    identity = JudgeIdentity(
        judge_id="keyword:test:test",
        name="keyword",
        backend="test",
        model="none",
        template_hash="test",
        model_hash="test",
    )

    def __init__(self) -> None:
        self.calls = 0
        self.items = 0

    def score(self, items: Sequence[JudgeItem]) -> list[JudgeScore]:
        self.calls += 1
        self.items += len(items)
        return [self._one(item) for item in items]

    def _one(self, item: JudgeItem) -> JudgeScore:
        text = item.response.lower()
        a = ARGUMENTS.get(item.topic)
        if any(m in text for m in _NEUTRAL_MARKERS) or a is None:
            return JudgeScore(0.1, 0.8, 0.1)
        pro = sum(p in text for p in (*a.support_claims, *a.support_reasons))
        con = sum(p in text for p in (*a.oppose_claims, *a.oppose_reasons))
        if pro > con:
            return JudgeScore(0.85, 0.1, 0.05)
        if con > pro:
            return JudgeScore(0.05, 0.1, 0.85)
        return JudgeScore(0.2, 0.6, 0.2)


def hashing_embedder(texts: Sequence[str], dim: int = 256) -> np.ndarray:
    """Unit-length bag-of-words vectors (md5-hashed tokens): overlap → similarity."""
    out = np.zeros((len(texts), dim))
    for i, text in enumerate(texts):
        for token in re.findall(r"[a-z]{3,}", text.lower()):
            out[i, int(hashlib.md5(token.encode()).hexdigest(), 16) % dim] += 1
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def test_keyword_judge_labels_template_stances():
    import random

    from vdbench.audit.templates import template_response

    rng = random.Random(0)
    judge = KeywordJudge()
    for topic in ARGUMENTS:
        for stance in ("support", "neutral", "oppose"):
            for quality in ("good", "poor"):
                text = template_response(topic, stance, quality, rng)
                [score] = judge.score([JudgeItem(topic, "p", "q", text)])
                assert score.label == stance, (topic, stance, quality, text)


def test_hashing_embedder_is_unit_length_and_overlap_sensitive():
    v = hashing_embedder(["gun laws and gun ownership", "gun ownership laws", "abortion access"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1)
    assert v[0] @ v[1] > v[0] @ v[2]
