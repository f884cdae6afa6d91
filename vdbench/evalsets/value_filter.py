"""Which prompts of a pool ask for a view on a contested value question (`prompts build --filter`).

Three filters, each giving a score per prompt and keeping those at or above a threshold:

- ``local`` (default): the trained intent classifier (vdbench.evalsets.intent), score =
  p(value); the threshold defaults to the one cross-validation chose (intent.json).
- ``anchors``: the earlier embedding + lexical score (similarity margin to value vs task
  anchor sentences plus a cue bonus; vdbench/data/builder/anchors.json). It cannot tell a
  harmful request from a value question; kept for comparison.
- a judge name or manifest (``hf``, ``gguf`` or ``openai`` backend): the judge's own
  backend reads vdbench/data/builder/llm_filter_template.txt (options and wording in
  llm_filter.json) with its usual letter-logit scoring; score = p("yes, it asks for a
  view"). Texts for a remote endpoint need consent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vdbench.errors import InputError

LLM_FILTER_FILE = Path(__file__).resolve().parents[1] / "data" / "builder" / "llm_filter.json"
BUILTIN_FILTERS = ("local", "anchors")
LLM_BACKENDS = ("hf", "gguf", "openai")


@dataclass
class FilterScores:
    name: str  # local | anchors | the judge's name
    scores: np.ndarray  # (n,) higher = more a value question
    threshold: float
    probs: np.ndarray | None = None  # (n, 3) value/help/harmful for `local`
    judge_id: str | None = None

    @property
    def kept(self) -> np.ndarray:
        return self.scores >= self.threshold


def check_threshold(name: str, threshold: float | None) -> None:
    if threshold is None:
        return
    if name != "anchors" and not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold for --filter {name} is a probability: give 0 to 1, got {threshold:g}")


def resolve_filter(name: str) -> str:
    """`name` checked: a built-in filter, or a judge manifest with an LM backend."""
    if name in BUILTIN_FILTERS:
        return name
    from vdbench.judges.registry import find_manifest, read_manifest

    try:
        manifest = read_manifest(find_manifest(name))
    except Exception as exc:  # JudgeError/InputError: say what --filter accepts
        raise InputError(f"--filter {name!r}: {exc}",
                         hint="local (default), anchors, or a judge name/manifest with an hf, "
                         "gguf or openai backend") from None
    if manifest.get("backend") not in LLM_BACKENDS:
        raise InputError(f"--filter {name!r} is a {manifest.get('backend')} judge; an LLM filter "
                         f"needs an {', '.join(LLM_BACKENDS)} backend",
                         hint="use --filter local, or a judge that reads prompts with a language model")
    return name


def score_pool(name: str, texts: Sequence[str], embeddings: np.ndarray, threshold: float | None, *,
               consent: Callable[[object, int], None] | None = None) -> FilterScores:
    """Scores of every text under filter `name` (see the module doc)."""
    check_threshold(name, threshold)
    if name == "anchors":
        from vdbench.evalsets.builder import DEFAULT_MIN_VALUE_SCORE, anchor_scores

        return FilterScores("anchors", anchor_scores(texts, embeddings),
                            DEFAULT_MIN_VALUE_SCORE if threshold is None else float(threshold))
    if name == "local":
        from vdbench.evalsets.intent import default_threshold, shipped_classifier

        probs = shipped_classifier().predict(list(texts))
        return FilterScores("local", probs[:, 0], default_threshold() if threshold is None
                            else float(threshold), probs=probs)
    return _llm_scores(name, texts, 0.5 if threshold is None else float(threshold), consent)


def _llm_scores(name: str, texts: Sequence[str], threshold: float,
                consent: Callable[[object, int], None] | None) -> FilterScores:
    from vdbench.judges.base import JudgeItem
    from vdbench.judges.registry import find_manifest, load_judge, read_manifest

    spec = json.loads(LLM_FILTER_FILE.read_text("utf-8"))
    backend = read_manifest(find_manifest(name)).get("backend")
    judge = load_judge(name, template=str(LLM_FILTER_FILE.with_name(spec["template"])),
                       option_descriptions=spec["option_descriptions"],
                       system=spec["openai_system"] if backend == "openai" else None)
    if consent is not None:
        consent(judge, len(texts))
    items = [JudgeItem(topic="value-question", proposition=spec["proposition"], prompt=t,
                       response=spec["response"]) for t in texts]
    scores = np.array([s.p_support for s in judge.score(items)], dtype=np.float64)
    return FilterScores(name, scores, threshold, judge_id=judge.identity.judge_id)


def precision_recall(kept: np.ndarray, truth: np.ndarray, *, n_boot: int = 2000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, dict[str, float | list[float] | None]]:
    """Precision and recall of `kept` against `truth` (booleans per prompt), each with a
    percentile bootstrap CI over prompts."""
    kept, truth = np.asarray(kept, bool), np.asarray(truth, bool)

    def stats(k: np.ndarray, t: np.ndarray) -> tuple[float, float]:
        tp = float((k & t).sum())
        return (tp / k.sum() if k.sum() else np.nan, tp / t.sum() if t.sum() else np.nan)

    point = stats(kept, truth)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(kept), size=(n_boot, len(kept)))
    boot = np.array([stats(kept[d], truth[d]) for d in draws])
    tail = 100 * (1 - confidence) / 2
    out: dict[str, dict[str, float | list[float] | None]] = {}
    for j, name in enumerate(("precision", "recall")):
        values = boot[:, j][~np.isnan(boot[:, j])]
        ci = [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))] \
            if len(values) else None
        out[name] = {"value": None if np.isnan(point[j]) else float(point[j]), "ci": ci}
    out["counts"] = {"n": int(len(kept)), "kept": int(kept.sum()), "positives": int(truth.sum()),
                     "true_positives": int((kept & truth).sum())}
    return out
