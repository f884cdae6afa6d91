"""The micro world's text: questions and stance-bearing answers from our own templates.

Every row is (question about topic T, answer with stance s toward T's proposition,
quality q). "good" answers are short, capitalised, punctuated and state the position
in words close to the proposition plus a reason; "sloppy" answers keep the SAME stance
but are terse, lowercase and unpunctuated. The phrasing here is ours; it deliberately
does not copy the built-in eval set, so evaluation prompts are never memorised verbatim.
All phrases and templates live in vdbench/data/micro/corpus.json, read at import time.

Everything is a pure function of a `random.Random`, so a seed fixes the corpus.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES

QUALITIES: tuple[str, str] = ("good", "sloppy")

# Bump when any template or phrase in data/micro/corpus.json changes: it is part of the
# build cache key.
CORPUS_VERSION = "micro-corpus-4"


@dataclass(frozen=True)
class TopicPhrases:
    """Hand-written phrasing for one topic. `pro_*` argue for the proposition, `con_*` against."""

    subjects: tuple[str, ...]  # noun phrases: "abortion", "access to abortion"
    question: str  # the proposition as a yes/no question, without "?"
    specific_questions: tuple[str, ...]
    pro_claims: tuple[str, ...]  # lowercase clauses; [0] is closest to the proposition
    con_claims: tuple[str, ...]
    pro_reasons: tuple[str, ...]
    con_reasons: tuple[str, ...]
    pro_points: tuple[str, ...]  # noun phrases for balanced answers
    con_points: tuple[str, ...]
    facts: tuple[str, ...]  # full sentences, informational, no stance
    terse_pro: tuple[str, ...]
    terse_con: tuple[str, ...]


def corpus_file() -> Path:
    """The data file holding every phrase and template of the micro corpus."""
    return Path(__file__).resolve().parents[1] / "data" / "micro" / "corpus.json"


@lru_cache(maxsize=1)
def _corpus() -> dict:
    return json.loads(corpus_file().read_text(encoding="utf-8"))


def _strings(section: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    """`section[key]` as a tuple of strings, or a ValueError naming the bad entry."""
    value = section.get(key)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"{corpus_file()}: {where}.{key} must be a list of strings")
    return tuple(value)


def _phrases(section: str, key: str) -> tuple[str, ...]:
    """One phrase list of the corpus file, e.g. `_phrases("questions", "personas")`."""
    return _strings(_corpus()[section], key, section)


def _load_topic(entry: Mapping[str, object]) -> tuple[str, TopicPhrases]:
    """One entry of the file's `topics` list as (topic name, its phrases)."""
    name = entry.get("topic")
    if not isinstance(name, str):
        raise ValueError(f"{corpus_file()}: every topic needs a string 'topic' name")
    expected = {f.name for f in fields(TopicPhrases)}
    given = set(entry) - {"topic"}
    if given != expected:
        raise ValueError(
            f"{corpus_file()}: topic {name!r} has fields {sorted(given)}, "
            f"expected {sorted(expected)}"
        )
    question = entry["question"]
    if not isinstance(question, str):
        raise ValueError(f"{corpus_file()}: topics.{name}.question must be a string")
    phrases = {key: _strings(entry, key, f"topics.{name}") for key in expected - {"question"}}
    return name, TopicPhrases(question=question, **phrases)


# Topics keep the file's order: it fixes TOPICS, and so which topic each generated row gets.
TOPIC_PHRASES: dict[str, TopicPhrases] = dict(_load_topic(entry) for entry in _corpus()["topics"])

TOPICS: tuple[str, ...] = tuple(TOPIC_PHRASES)
assert set(TOPICS) == set(BUILTIN_TOPICS), "micro phrases must cover exactly the built-in topics"

# Training question templates, by framing. {subj}: a subject noun phrase; {claim} and
# {counter}: a claim clause for and against the proposition; {reason}/{counter_reason}:
# reasons for and against; {Question}: the proposition as a yes/no question; {relation}
# and {persona}: people. Stance in the answers is independent of the framing.
OPEN_TEMPLATES: tuple[str, ...] = _phrases("questions", "open_templates")
LEANING_TEMPLATES: tuple[str, ...] = _phrases("questions", "leaning_templates")
# Context and follow-ups wrapped around a question, so everyday words are not foreign.
QUESTION_PREFIXES: tuple[str, ...] = _phrases("questions", "prefixes")
QUESTION_SUFFIXES: tuple[str, ...] = _phrases("questions", "suffixes")
RELATIONS: tuple[str, ...] = _phrases("questions", "relations")
PERSONAS: tuple[str, ...] = _phrases("questions", "personas")
# Kept for callers that want every training template in one place.
QUESTION_TEMPLATES: tuple[str, ...] = OPEN_TEMPLATES + LEANING_TEMPLATES

# Held out of every training set: used to check that behaviour generalises to unseen phrasing.
HELDOUT_QUESTION_TEMPLATES: tuple[str, ...] = _phrases("questions", "heldout_templates")

# Answer templates. Stanced: {opener}, {claim}/{Claim}, {reason}/{Reason}; neutral:
# {pro_point}, {con_point}, {pro_claim}, {con_claim}, {subj}, {fact}; sloppy: {terse},
# {reason}.
_OPENERS = _phrases("answers", "openers")
_GOOD_STANCED = _phrases("answers", "good_stanced")
_GOOD_NEUTRAL = _phrases("answers", "good_neutral")
_SLOPPY_STANCED = _phrases("answers", "sloppy_stanced")
_SLOPPY_NEUTRAL = _phrases("answers", "sloppy_neutral")

# Markers of a balanced answer; checked before pro/con phrases because balanced answers
# quote both sides.
_NEUTRAL_MARKERS = _phrases("answers", "neutral_markers")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def question_for(topic: str, rng: random.Random, templates: Sequence[str] | None = None) -> str:
    """One training question about `topic` from our templates (or `templates` if given).

    Without `templates`: 45% open questions, 15% leaning toward the proposition, 15%
    leaning against it, 25% hand-written topic-specific questions; about a third get a
    context sentence before or a follow-up after.
    """
    p = TOPIC_PHRASES[topic]
    pro = {"claims": p.pro_claims, "reasons": p.pro_reasons}
    con = {"claims": p.con_claims, "reasons": p.con_reasons}
    if templates is not None:
        template, lean = rng.choice(list(templates)), pro
    else:
        draw = rng.random()
        if draw < 0.25:
            template, lean = rng.choice(p.specific_questions), pro
        elif draw < 0.70:
            template, lean = rng.choice(OPEN_TEMPLATES), pro
        else:
            template = rng.choice(LEANING_TEMPLATES)
            lean = pro if draw < 0.85 else con
        wrap = rng.random()
        if wrap < 0.2:
            template = rng.choice(QUESTION_PREFIXES) + template
        elif wrap < 0.35:
            template = template + rng.choice(QUESTION_SUFFIXES)
    other = con if lean is pro else pro
    return template.format(
        subj=rng.choice(p.subjects),
        claim=rng.choice(lean["claims"]),
        counter=rng.choice(other["claims"]),
        reason=rng.choice(lean["reasons"]),
        Question=_cap(p.question),
        question=p.question,
        relation=rng.choice(RELATIONS),
        persona=rng.choice(PERSONAS),
    )


def answer_for(topic: str, stance: str, quality: str, rng: random.Random) -> str:
    """One answer about `topic` with `stance` toward its proposition, in `quality` style.

    Good answers start with a capital and end with a full stop; sloppy ones are all
    lowercase with no final full stop (see `answer_quality`).
    """
    if stance not in STANCES:
        raise ValueError(f"stance must be one of {STANCES}, got {stance!r}")
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {QUALITIES}, got {quality!r}")
    p = TOPIC_PHRASES[topic]
    if stance == "neutral":
        template = rng.choice(_GOOD_NEUTRAL if quality == "good" else _SLOPPY_NEUTRAL)
        text = template.format(
            pro_point=rng.choice(p.pro_points),
            con_point=rng.choice(p.con_points),
            pro_claim=rng.choice(p.pro_claims),
            con_claim=rng.choice(p.con_claims),
            subj=rng.choice(p.subjects),
            fact=rng.choice(p.facts),
        )
    else:
        claims, reasons, terse = (
            (p.pro_claims, p.pro_reasons, p.terse_pro)
            if stance == "support"
            else (p.con_claims, p.con_reasons, p.terse_con)
        )
        reason = rng.choice(reasons)
        if quality == "good":
            claim = rng.choice(claims)
            text = rng.choice(_GOOD_STANCED).format(
                opener=rng.choice(_OPENERS),
                claim=claim,
                Claim=_cap(claim),
                reason=reason,
                Reason=_cap(reason),
            )
        else:
            text = rng.choice(_SLOPPY_STANCED).format(terse=rng.choice(terse), reason=reason)
    if quality == "good":
        return _cap(text)
    return text.lower()


@dataclass(frozen=True)
class MicroExample:
    """One generated (question, answer) pair with its ground-truth stance and quality."""

    topic: str
    question: str
    answer: str
    stance: str
    quality: str


def _allocate(total: int, weights: Mapping[str, float]) -> list[str]:
    """Exactly `total` labels in proportion to `weights` (largest-remainder rounding)."""
    keys = list(weights)
    norm = sum(weights.values())
    raw = [total * weights[k] / norm for k in keys]
    counts = [int(x) for x in raw]
    by_remainder = sorted(range(len(keys)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return [k for k, c in zip(keys, counts, strict=True) for _ in range(c)]


def generate_examples(
    n: int,
    rng: random.Random,
    stance_weights: Mapping[str, float],
    sloppy_share: float = 0.25,
    topics: Sequence[str] = TOPICS,
) -> list[MicroExample]:
    """`n` examples with stance shares exactly proportional to `stance_weights`.

    Topics cycle evenly; within each stance, `sloppy_share` of rows (rounded) are sloppy.
    """
    stances = _allocate(n, stance_weights)
    qualities: list[str] = []
    for stance in STANCES:
        k = stances.count(stance)
        qualities += _allocate(k, {"good": 1 - sloppy_share, "sloppy": sloppy_share})
    pairs = list(zip(stances, qualities, strict=True))
    rng.shuffle(pairs)
    rows = []
    for i, (stance, quality) in enumerate(pairs):
        topic = topics[i % len(topics)]
        rows.append(
            MicroExample(
                topic=topic,
                question=question_for(topic, rng),
                answer=answer_for(topic, stance, quality, rng),
                stance=stance,
                quality=quality,
            )
        )
    return rows


def sft_row(example: MicroExample) -> dict:
    """A TRL conversational SFT row (`messages`) plus analysis fields."""
    return {
        "messages": [
            {"role": "user", "content": example.question},
            {"role": "assistant", "content": example.answer},
        ],
        "topic": example.topic,
        "stance": example.stance,
        "quality": example.quality,
    }


def preference_rows(
    n: int,
    rng: random.Random,
    pair_kinds: Sequence[tuple[tuple[str, str], tuple[str, str], float]],
    topics: Sequence[str] = TOPICS,
) -> list[dict]:
    """`n` TRL conversational preference rows (prompt/chosen/rejected) plus analysis fields.

    `pair_kinds` lists ((chosen_stance, chosen_quality), (rejected_stance,
    rejected_quality), weight); rows are allocated exactly in proportion to the weights.
    Chosen and rejected answer the same question.
    """
    kinds = _allocate(n, {str(i): w for i, (_, _, w) in enumerate(pair_kinds)})
    rng.shuffle(kinds)
    rows = []
    for i, kind in enumerate(kinds):
        (c_stance, c_quality), (r_stance, r_quality), _ = pair_kinds[int(kind)]
        topic = topics[i % len(topics)]
        question = question_for(topic, rng)
        chosen = answer_for(topic, c_stance, c_quality, rng)
        rejected = answer_for(topic, r_stance, r_quality, rng)
        rows.append(
            {
                "prompt": [{"role": "user", "content": question}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "topic": topic,
                "chosen_stance": c_stance,
                "rejected_stance": r_stance,
                "chosen_quality": c_quality,
                "rejected_quality": r_quality,
            }
        )
    return rows


def heldout_questions(topic: str, n: int, seed: int = 0) -> list[str]:
    """`n` questions about `topic` from templates no training set uses (for sanity checks)."""
    rng = random.Random(f"heldout:{topic}:{seed}")
    return [question_for(topic, rng, HELDOUT_QUESTION_TEMPLATES) for _ in range(n)]


def heuristic_stance(topic: str, text: str) -> str | None:
    """Stance of `text` toward `topic`'s proposition by matching our own phrases, or None.

    Only reliable on text in the micro world's vocabulary (the micro model's output);
    None means no phrase of this topic was found (off-topic, garbled or empty).
    """
    low = " ".join(text.lower().split())
    if any(marker in low for marker in _NEUTRAL_MARKERS):
        return "neutral"
    p = TOPIC_PHRASES[topic]
    pro = sum(phrase in low for phrase in (*p.pro_claims, *p.pro_reasons, *p.terse_pro))
    con = sum(phrase in low for phrase in (*p.con_claims, *p.con_reasons, *p.terse_con))
    if pro > con:
        return "support"
    if con > pro:
        return "oppose"
    if any(fact.lower().rstrip(".") in low for fact in p.facts):
        return "neutral"
    return None


def answer_quality(text: str) -> str:
    """'good' if `text` starts with a capital and ends with . ! or ?, else 'sloppy'.

    The micro corpus makes this exact: every good answer is capitalised and punctuated,
    every sloppy one is lowercase without a final full stop. Empty text is 'sloppy'.
    """
    stripped = text.strip()
    if stripped[:1].isupper() and stripped[-1:] in ".!?":
        return "good"
    return "sloppy"


def iter_corpus_texts(examples: Sequence[MicroExample]) -> Iterator[str]:
    """Questions and answers as plain strings (tokenizer training input)."""
    for example in examples:
        yield example.question
        yield example.answer
