"""Synthetic value-gap preference pairs with a controllable gap, in TRL format.

For every eval-set prompt, ``pairs_per_prompt`` pairs are built. Exactly
``round(gap × n_pairs)`` of them (placed at random) are *value-gap* pairs: chosen takes
the aligned stance (``support`` or ``oppose``), rejected the contrasting one
(``opposite``: the other pole; ``neutral``; ``mixed``: either, alternately). The rest are
*style-only* pairs: chosen and rejected share a stance (support, neutral and oppose in
equal shares) and differ in quality alone (good vs poor). So ``gap=1`` is a pure
value-gap set, ``gap=0`` a style-only set that should not move values at all.

Responses come from a :class:`ResponseSource`:

- :class:`TemplateSource` — our per-topic templates (``vdbench.audit.templates``); every
  response's stance and quality are known by construction.
- :class:`ModelSource` — a local Hugging Face causal-LM directory: ``samples`` responses
  per prompt are sampled (temperature 0.7, at most 256 new tokens by default), judged,
  and bucketed by stance (the judge's argmax, kept if its probability is at least
  ``min_confidence``). Quality is not judged: a style-only pair is two distinct responses
  from the same bucket, the longer one chosen. A prompt whose buckets lack a needed
  stance yields no pair of that kind; the shortfall is reported.

Rows are ``{"prompt", "chosen", "rejected"}`` strings (TRL's standard preference
format, ready for ``vdbench train dpo``) plus analysis fields ``topic``, ``kind``
(gap | style), ``chosen_stance``, ``rejected_stance`` (drop them with ``meta=False``).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from vdbench.audit.templates import ARGUMENTS, template_response
from vdbench.errors import InputError
from vdbench.evalsets.model import EvalPrompt, EvalSet
from vdbench.evalsets.topics import STANCES
from vdbench.judges.base import Judge, JudgeItem

ALIGNMENTS = ("support", "oppose")
CONTRASTS = ("opposite", "neutral", "mixed")


@dataclass(frozen=True)
class SynthConfig:
    align: str = "support"
    gap: float = 1.0
    pairs_per_prompt: int = 1
    contrast: str = "opposite"
    seed: int = 0
    meta: bool = True

    def check(self) -> None:
        if self.align not in ALIGNMENTS:
            raise InputError(f"--align must be one of {', '.join(ALIGNMENTS)}, got {self.align!r}")
        if not 0.0 <= self.gap <= 1.0:
            raise InputError(f"--gap is a fraction of pairs in [0, 1], got {self.gap}")
        if self.pairs_per_prompt < 1:
            raise InputError(f"--pairs-per-prompt must be at least 1, got {self.pairs_per_prompt}")
        if self.contrast not in CONTRASTS:
            raise InputError(
                f"--contrast must be one of {', '.join(CONTRASTS)}, got {self.contrast!r}"
            )


class ResponseSource(Protocol):
    name: str

    def pair(
        self,
        prompt: EvalPrompt,
        chosen: tuple[str, str],
        rejected: tuple[str, str],
        rng: random.Random,
    ) -> tuple[str, str] | None:
        """(chosen text, rejected text) with the given (stance, quality), or None if unavailable."""
        ...


class TemplateSource:
    """Responses from our per-topic templates; covers the built-in topics."""

    name = "templates"

    def __init__(self, topics: Sequence[str]):
        unknown = [t for t in topics if t not in ARGUMENTS]
        if unknown:
            raise InputError(
                f"no response templates for topic(s) {', '.join(unknown)}",
                hint=f"templates cover {', '.join(ARGUMENTS)}; for other topics use --source MODEL_DIR",
            )

    def pair(
        self,
        prompt: EvalPrompt,
        chosen: tuple[str, str],
        rejected: tuple[str, str],
        rng: random.Random,
    ) -> tuple[str, str] | None:
        for _ in range(10):  # a style pair may draw the same text twice; redraw
            c = template_response(prompt.topic, *chosen, rng)
            r = template_response(prompt.topic, *rejected, rng)
            if c != r:
                return c, r
        return c, r


Sampler = Callable[[Sequence[str]], list[list[str]]]


@dataclass
class ModelSource:
    """Responses sampled from a model and bucketed by the judge's stance."""

    buckets: dict[str, dict[str, list[str]]]  # prompt_id -> stance -> responses
    name: str = "model"
    stats: dict = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        evalset: EvalSet,
        sampler: Sampler,
        judge: Judge,
        *,
        min_confidence: float = 0.5,
        name: str = "model",
    ) -> ModelSource:
        prompts = evalset.prompts
        responses = sampler([p.text for p in prompts])
        items, owners = [], []
        for prompt, texts in zip(prompts, responses, strict=True):
            for text in dict.fromkeys(t for t in texts if t.strip()):  # distinct, non-empty
                items.append(
                    JudgeItem(prompt.topic, evalset.topics[prompt.topic], prompt.text, text)
                )
                owners.append(prompt.prompt_id)
        scores = judge.score(items)
        buckets: dict[str, dict[str, list[str]]] = {
            p.prompt_id: {s: [] for s in STANCES} for p in prompts
        }
        labels: Counter[str] = Counter()
        for item, owner, score in zip(items, owners, scores, strict=True):
            probs = dict(
                zip(STANCES, (score.p_support, score.p_neutral, score.p_oppose), strict=True)
            )
            if probs[score.label] >= min_confidence:
                buckets[owner][score.label].append(item.response)
                labels[score.label] += 1
            else:
                labels["unsure"] += 1
        return cls(
            buckets,
            name,
            {
                "sampled": sum(len(r) for r in responses),
                "distinct": len(items),
                "labels": dict(labels),
                "judge_id": judge.identity.judge_id,
            },
        )

    def pair(
        self,
        prompt: EvalPrompt,
        chosen: tuple[str, str],
        rejected: tuple[str, str],
        rng: random.Random,
    ) -> tuple[str, str] | None:
        bucket = self.buckets.get(prompt.prompt_id, {})
        if chosen[0] == rejected[0]:  # style pair: two distinct responses, longer one chosen
            pool = bucket.get(chosen[0], [])
            if len(pool) < 2:
                return None
            a, b = rng.sample(pool, 2)
            return (a, b) if len(a) >= len(b) else (b, a)
        if not bucket.get(chosen[0]) or not bucket.get(rejected[0]):
            return None
        return rng.choice(bucket[chosen[0]]), rng.choice(bucket[rejected[0]])


def hf_sampler(
    model_dir: str | Path,
    *,
    samples: int = 5,
    temperature: float = 0.7,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    seed: int = 0,
    threads: int | None = None,
) -> Sampler:
    """A sampler over a local transformers causal-LM directory (chat template if it has one)."""

    def sample(prompts: Sequence[str]) -> list[list[str]]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        path = Path(model_dir)
        if not (path / "config.json").exists():
            raise InputError("not a Hugging Face model directory (no config.json)", where=str(path))
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        torch.manual_seed(seed)
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            if tokenizer.chat_template
            else p
            for p in prompts
        ]
        out: list[list[str]] = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                chunk = texts[start : start + batch_size]
                enc = tokenizer(
                    chunk,
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=not tokenizer.chat_template,
                )
                gen = model.generate(
                    **enc,
                    do_sample=temperature > 0,
                    temperature=temperature or None,
                    top_k=0,
                    top_p=1.0,
                    max_new_tokens=max_new_tokens,
                    num_return_sequences=samples,
                    pad_token_id=tokenizer.pad_token_id,
                )
                decoded = tokenizer.batch_decode(
                    gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
                )
                out += [
                    [t.strip() for t in decoded[i * samples : (i + 1) * samples]]
                    for i in range(len(chunk))
                ]
        return out

    return sample


def _exact_kinds(n: int, gap: float, rng: random.Random) -> list[str]:
    n_gap = round(gap * n)
    kinds = ["gap"] * n_gap + ["style"] * (n - n_gap)
    rng.shuffle(kinds)
    return kinds


def _contrast_stance(align: str, contrast: str, i: int) -> str:
    opposite = "oppose" if align == "support" else "support"
    if contrast == "opposite":
        return opposite
    if contrast == "neutral":
        return "neutral"
    return (opposite, "neutral")[i % 2]


def synth_pairs(
    evalset: EvalSet, config: SynthConfig, source: ResponseSource
) -> tuple[list[dict], dict]:
    """The pairs and a summary (counts by kind and stance, shortfall by reason)."""
    config.check()
    rng = random.Random(f"synth:{config.seed}:{config.align}:{config.gap}:{config.contrast}")
    slots = [(p, j) for p in evalset.prompts for j in range(config.pairs_per_prompt)]
    if not slots:
        raise InputError(f"eval set {evalset.name!r} has no prompts")
    kinds = _exact_kinds(len(slots), config.gap, rng)
    rows: list[dict] = []
    shortfall: Counter[str] = Counter()
    n_gap = n_style = 0
    for (prompt, _), kind in zip(slots, kinds, strict=True):
        if kind == "gap":
            chosen = (config.align, "good")
            rejected = (_contrast_stance(config.align, config.contrast, n_gap), "good")
            n_gap += 1
        else:
            stance = STANCES[n_style % 3]
            chosen, rejected = (stance, "good"), (stance, "poor")
            n_style += 1
        texts = source.pair(prompt, chosen, rejected, rng)
        if texts is None:
            shortfall[f"{kind}: no {chosen[0]}/{rejected[0]} responses for {prompt.topic}"] += 1
            continue
        row = {"prompt": prompt.text, "chosen": texts[0], "rejected": texts[1]}
        if config.meta:
            row |= {
                "topic": prompt.topic,
                "kind": kind,
                "chosen_stance": chosen[0],
                "rejected_stance": rejected[0],
            }
        rows.append(row)
    summary = {
        "eval_set": evalset.name,
        "source": source.name,
        "align": config.align,
        "gap": config.gap,
        "contrast": config.contrast,
        "seed": config.seed,
        "pairs_per_prompt": config.pairs_per_prompt,
        "n_pairs": len(rows),
        "kinds": dict(Counter(r.get("kind") for r in rows)) if config.meta else None,
        "realised_gap": (sum(r["kind"] == "gap" for r in rows) / len(rows))
        if config.meta and rows
        else None,
        "shortfall": dict(shortfall.most_common()),
    }
    return rows, summary


def write_jsonl(rows: Sequence[dict], path: str | Path) -> None:
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError("directory does not exist", where=str(path.parent))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)  # a killed run never leaves a half-written file under the real name
