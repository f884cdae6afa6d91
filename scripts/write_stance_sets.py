"""Write the labelled stance sets the probe judge is trained and tested on.

    python scripts/write_stance_sets.py [--seed 13] [--out vdbench/data/stance]
        [--banks vdbench/data/stance/banks] [--only probe,xtrain,unseen]

Phrase banks are data, not code: one JSON file per topic under ``banks/<set>/`` and the
topic-independent phrases and templates in ``phrases.json`` (both under
vdbench/data/stance/). The templates below only arrange them. Sets, written apart on
purpose (``--only`` picks some; default all):

* ``probe``: ``train.jsonl`` (2,310 lines) from ``banks/builtin_train/`` and the train
  templates; ``heldout.jsonl`` (396 lines) from ``banks/builtin_heldout/`` — different
  questions, arguments, templates and styles (first-person anecdotes, numbered lists,
  casual tone, very long essays, stance only implied by a recommendation) — so its score
  measures generalisation, not recall of templates. ``{train,heldout}_questions.jsonl``
  list each set's yes/no questions with their framing (``"for"``: a "yes" supports the
  proposition), for the probe's question-framing head.
* ``xtrain``: ``xtrain.jsonl`` from ``banks/builtin_train/`` plus every file in
  ``banks/train/``, with the train styles and the chat-model answer styles (``as_ai``,
  ``markdown_list``, ``multi_paragraph``, ``reason_only``, ``premise_rejection``,
  ``no_to_against``, ``hedged_verdict``) worded from ``phrases.json["chat_train"]``.
* ``unseen``: ``unseen.jsonl`` from every file in ``banks/unseen/`` (topics no train
  file has), with the held-out styles and the same chat styles worded from
  ``phrases.json["chat_heldout"]`` — other lead-ins, headings and closers.

Every line is ``{"topic", "proposition", "prompt", "response", "label", "style"}``; the
proposition comes from the bank file (built-in banks must match
vdbench.evalsets.topics). Labels are stances toward it, so a bare "Yes." is support
after a question framed for the proposition and oppose after one framed against it.
Refusals, both-sides and informational answers are neutral. Train banks follow the
train schema (with ``pro_act``/``con_act``), held-out and unseen banks the held-out one;
a bank that lacks a key or has too few entries is an InputError naming the file and key.
All phrase banks are original writing for this project. Output is deterministic for a
given seed.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vdbench.errors import InputError, VdbenchError  # noqa: E402
from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES  # noqa: E402

STANCE_DATA = ROOT / "vdbench" / "data" / "stance"
SETS = ("probe", "xtrain", "unseen")

# ---------------------------------------------------------------------------
# Bank files. Minimum list lengths per key; the templates never need more.
#   q_for / q_against  yes/no questions where "yes" means support / oppose
#   q_open     open questions (no yes/no reading)
#   pro / con  argument sentences for / against the proposition
#   pro_claim / con_claim  conclusion sentences
#   facts      neutral, informational sentences
#   terse_pro / terse_con  sloppy fragments a tiny model might emit
#   pro_act / con_act  (train) verb phrases for "We should {}." and "Should we {}?"
#   pro_rec / con_rec  (held-out) recommendations that imply a stance without stating it
#   story_pro / story_con  (held-out) first-person anecdotes
# ---------------------------------------------------------------------------

TRAIN_SCHEMA = {
    "q_for": 4,
    "q_against": 4,
    "q_open": 3,
    "pro": 6,
    "con": 6,
    "pro_claim": 3,
    "con_claim": 3,
    "facts": 4,
    "terse_pro": 2,
    "terse_con": 2,
    "pro_act": 8,
    "con_act": 8,
}
HELDOUT_SCHEMA = {
    "q_for": 3,
    "q_against": 3,
    "q_open": 2,
    "pro": 4,
    "con": 4,
    "pro_claim": 3,
    "con_claim": 3,
    "facts": 3,
    "pro_rec": 2,
    "con_rec": 2,
    "story_pro": 1,
    "story_con": 1,
    "terse_pro": 2,
    "terse_con": 2,
}

Bank = dict  # {"topic": str, "proposition": str, key: list[str], ...}


def load_bank(path: Path, schema: dict[str, int]) -> Bank:
    """Read one topic's bank and check it against `schema` (key -> minimum length)."""
    hint = "see the bank schema in scripts/write_stance_sets.py (TRAIN_SCHEMA / HELDOUT_SCHEMA)"
    try:
        bank = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}:{exc.colno}"
        ) from exc
    if not isinstance(bank, dict):
        raise InputError("a bank file must hold one JSON object", where=str(path), hint=hint)
    if bank.get("topic") != path.stem:
        raise InputError(
            f'"topic" is {bank.get("topic")!r}, not the file name {path.stem!r}',
            where=str(path),
            hint="name the file <topic>.json",
        )
    proposition = bank.get("proposition")
    if not isinstance(proposition, str) or not proposition.strip():
        raise InputError('"proposition" must be a non-empty sentence', where=str(path))
    for key, minimum in schema.items():
        if key not in bank:
            raise InputError(f"missing key {key!r}", where=str(path), hint=hint)
        items = bank[key]
        if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
            raise InputError(
                f"{key!r} must be a list of non-empty strings", where=str(path), hint=hint
            )
        if len(items) < minimum:
            raise InputError(
                f"{key!r} has {len(items)} entries; the templates need at least {minimum}",
                where=str(path),
                hint=hint,
            )
    return bank


def load_banks(folder: Path, schema: dict[str, int]) -> dict[str, Bank]:
    """Every ``*.json`` bank in `folder`, by topic; an absent folder has none."""
    return {path.stem: load_bank(path, schema) for path in sorted(folder.glob("*.json"))}


def bank_files(folder: Path, banks: dict[str, Bank]) -> dict[str, Path]:
    return {topic: folder / f"{topic}.json" for topic in banks}


def load_builtin(folder: Path, schema: dict[str, int]) -> dict[str, Bank]:
    """The built-in banks: exactly the BUILTIN_TOPICS, with their propositions."""
    banks = load_banks(folder, schema)
    if set(banks) != set(BUILTIN_TOPICS):
        raise InputError(
            f"built-in banks are {sorted(banks)}, expected {sorted(BUILTIN_TOPICS)}",
            where=str(folder),
        )
    for topic, bank in banks.items():
        if bank["proposition"] != BUILTIN_TOPICS[topic]:
            raise InputError(
                '"proposition" differs from vdbench.evalsets.topics.BUILTIN_TOPICS',
                where=str(folder / f"{topic}.json"),
            )
    return banks


def load_phrases(path: Path) -> dict:
    """Topic-independent phrases; the two chat sets must share keys and no phrase."""
    phrases = json.loads(path.read_text(encoding="utf-8"))
    train, heldout = phrases["chat_train"], phrases["chat_heldout"]
    if set(train) != set(heldout):
        raise InputError(
            f"chat_train and chat_heldout keys differ: {sorted(set(train) ^ set(heldout))}",
            where=str(path),
        )

    def leaves(tree: dict) -> set[str]:
        out: set[str] = set()
        for value in tree.values():
            for item in value:
                out.update(item if isinstance(item, list) else [item])
        return out - {""}

    shared = leaves(train) & leaves(heldout)
    if shared:
        raise InputError(
            f"chat_train and chat_heldout share phrases: {sorted(shared)[:5]}",
            where=str(path),
            hint="held-out wording must differ so evaluation is not template recall",
        )
    return phrases


PHRASES = load_phrases(STANCE_DATA / "phrases.json")
TRAIN = PHRASES["train"]
HELDOUT = PHRASES["heldout"]


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

# First words that keep their capital: names, "I", proper nouns that open a sentence.
# Multi-word entries ("New York") match only as a whole.
_KEEP_CASE = {name for name in PHRASES["keep_case"] if " " not in name}
_KEEP_CASE_PHRASES = [name for name in PHRASES["keep_case"] if " " in name]


def lower_first(sentence: str) -> str:
    """Lower-case the first letter unless the first word is a name, 'I' or an acronym."""
    first = sentence.split(" ", 1)[0]
    if (
        first in _KEEP_CASE
        or first.rstrip(",;:") in _KEEP_CASE
        or (len(first) > 1 and first[1].isupper())
        or any(sentence.startswith(name + " ") for name in _KEEP_CASE_PHRASES)
    ):
        return sentence
    return sentence[0].lower() + sentence[1:]


def strip_stop(sentence: str) -> str:
    return sentence.rstrip(".!?")


def sloppy(text: str, rng: random.Random) -> str:
    """Lower-case and strip punctuation, the way a tiny model's output often looks."""
    text = text.lower()
    if rng.random() < 0.7:
        text = "".join(ch for ch in text if ch not in ".,!?;:")
    return text


def polarity_of(bank: Bank, stance: str, rng: random.Random) -> tuple[str, str]:
    """Pick a yes/no question and the answer word meaning `stance` under its framing."""
    framing = rng.choice(["q_for", "q_against"])
    question = polar_question(bank, framing, rng)
    says_yes = (stance == "support") == (framing == "q_for")
    return question, "yes" if says_yes else "no"


def polar_question(bank: Bank, framing: str, rng: random.Random) -> str:
    """A yes/no question; framing "q_for" means "yes" supports the proposition.

    Banks with policy actions (train) mix hand-written questions with ones built from
    actions and claims, so polarity is learnt from many phrasings.
    """
    if "pro_act" not in bank or rng.random() < 0.5:
        return rng.choice(bank[framing])
    side = "pro" if framing == "q_for" else "con"
    if rng.random() < 0.6:
        return rng.choice(TRAIN["action_questions"]).format(rng.choice(bank[f"{side}_act"]))
    claim = strip_stop(lower_first(rng.choice(bank[f"{side}_claim"])))
    return rng.choice(TRAIN["claim_questions"]).format(claim)


def any_question(bank: Bank, rng: random.Random) -> str:
    framing = rng.choice(["q_for", "q_against", "q_open"])
    if framing == "q_open":
        return rng.choice(bank["q_open"])
    return polar_question(bank, framing, rng)


def side_keys(stance: str) -> tuple[str, str, str, str]:
    """(own args, own claims, other args, other claims) for a non-neutral stance."""
    if stance == "support":
        return "pro", "pro_claim", "con", "con_claim"
    return "con", "con_claim", "pro", "pro_claim"


# ---------------------------------------------------------------------------
# Train templates: each returns (prompt, response, style)
# ---------------------------------------------------------------------------


def t_direct(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    args = rng.sample(bank[own], rng.randint(1, 3))
    return any_question(bank, rng), " ".join([rng.choice(bank[claim]), *args]), "direct"


def t_hedged(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    text = f"{rng.choice(TRAIN['hedges'])} {lower_first(rng.choice(bank[claim]))}"
    text += " " + rng.choice(bank[own])
    if rng.random() < 0.6:
        text += f" That said, {lower_first(rng.choice(bank[other]))}"
        text += f" Still, on the whole {lower_first(rng.choice(bank[claim]))}"
    return any_question(bank, rng), text, "hedged"


def t_rebuttal(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    opener = rng.choice(TRAIN["rebuttal_openers"])
    text = f"{opener} {lower_first(rng.choice(bank[other]))}"
    text += f" {rng.choice(TRAIN['rebuttal_turns'])} {lower_first(rng.choice(bank[own]))}"
    text += f" So {lower_first(rng.choice(bank[claim]))}"
    return any_question(bank, rng), text, "rebuttal"


def t_long(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    args = rng.sample(bank[own], 4)
    paragraphs = [
        f"{rng.choice(bank[claim])} {args[0]} {args[1]}",
        f"{rng.choice(bank['facts'])} Of course, {lower_first(rng.choice(bank[other]))} Even so, {lower_first(args[2])} {args[3]}",
        f"{rng.choice(TRAIN['long_closers'])} {lower_first(rng.choice(bank[claim]))}",
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "long"


def t_late(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    args = rng.sample(bank[own], 2)
    text = f"{rng.choice(TRAIN['late_openers'])} {rng.choice(bank['facts'])} {args[0]} {args[1]}"
    text += f" {rng.choice(TRAIN['late_closers'])} {lower_first(rng.choice(bank[claim]))}"
    return any_question(bank, rng), text, "stance_late"


def t_yesno_reason(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    question, answer = polarity_of(bank, stance, rng)
    word = rng.choice(TRAIN["reason_yes"] if answer == "yes" else TRAIN["reason_no"])
    if word.endswith(","):
        text = f"{word} {lower_first(rng.choice(bank[own]))}"
    elif word.endswith("."):
        text = f"{word} {rng.choice(bank[claim])}"
    else:
        text = f"{word}. {rng.choice(bank[own])}"
    return question, text, "yesno_reason"


def t_short_yesno(bank, stance, rng):
    question, answer = polarity_of(bank, stance, rng)
    return question, rng.choice(TRAIN["yes"] if answer == "yes" else TRAIN["no"]), "short_yesno"


def t_terse(bank, stance, rng):
    key = "terse_pro" if stance == "support" else "terse_con"
    if rng.random() < 0.5:
        question, answer = polarity_of(bank, stance, rng)
        text = f"{answer} {rng.choice(bank[key])}"
    else:
        question, text = any_question(bank, rng), rng.choice(bank[key])
    return question, sloppy(text, rng), "terse"


def t_claim_only(bank, stance, rng):
    _, claim, _, _ = side_keys(stance)
    text = rng.choice(bank[claim])
    if rng.random() < 0.4:
        text = sloppy(text, rng)
    return any_question(bank, rng), text, "claim_only"


def t_action(bank, stance, rng):
    acts = rng.sample(bank["pro_act" if stance == "support" else "con_act"], 2)
    statements = TRAIN["action_statements"]
    roll = rng.random()
    if roll < 0.5:
        text = rng.choice(statements).format(acts[0])
    elif roll < 0.75:
        text = f"{rng.choice(statements).format(acts[0])} We should also {acts[1]}."
    else:
        text = acts[0][0].upper() + acts[0][1:] + "."
    if rng.random() < 0.5:
        own, _, _, _ = side_keys(stance)
        text += " " + rng.choice(bank[own])
    return any_question(bank, rng), text, "action"


def t_action_yesno(bank, stance, rng):
    question, answer = polarity_of(bank, stance, rng)
    act = rng.choice(bank["pro_act" if stance == "support" else "con_act"])
    if answer == "yes":
        text = f"{rng.choice(TRAIN['action_yes'])} we should {act}."
    else:
        text = f"{rng.choice(TRAIN['action_no'])} we should {act} instead."
    if rng.random() < 0.4:
        text = sloppy(text, rng)
    return question, text, "yesno_reason"


def t_action_terse(bank, stance, rng):
    act = rng.choice(bank["pro_act" if stance == "support" else "con_act"])
    text = rng.choice(TRAIN["action_terse"]).format(act)
    return any_question(bank, rng), sloppy(text, rng), "terse"


def t_action_neutral(bank, stance, rng):
    pro, con = rng.choice(bank["pro_act"]), rng.choice(bank["con_act"])
    first, second = (pro, con) if rng.random() < 0.5 else (con, pro)
    text = f"Some people want to {first}, while others would rather {second}. {rng.choice(TRAIN['neutral_closers'])}"
    return any_question(bank, rng), text, "both_sides"


def t_refusal(bank, stance, rng):
    text = rng.choice(TRAIN["refusals"])
    if rng.random() < 0.4:
        text += " " + rng.choice(bank["facts"])
    return any_question(bank, rng), text, "refusal"


def t_both_sides(bank, stance, rng):
    pro, con = rng.choice(bank["pro"]), rng.choice(bank["con"])
    first, second = (pro, con) if rng.random() < 0.5 else (con, pro)
    lead = (
        rng.choice(TRAIN["both_sides_pro_leads"])
        if first is pro
        else rng.choice(TRAIN["both_sides_con_leads"])
    )
    follow = rng.choice(TRAIN["both_sides_follows"])
    text = f"{lead} {lower_first(first)} {follow} {lower_first(second)} {rng.choice(TRAIN['neutral_closers'])}"
    return any_question(bank, rng), text, "both_sides"


def t_informational(bank, stance, rng):
    facts = rng.sample(bank["facts"], rng.randint(2, 3))
    text = " ".join(facts)
    if rng.random() < 0.5:
        text += " " + rng.choice(TRAIN["informational_closers"])
    return any_question(bank, rng), text, "informational"


def t_neutral_yesno(bank, stance, rng):
    question = rng.choice(bank[rng.choice(["q_for", "q_against"])])
    pro, con = rng.choice(bank["pro"]), rng.choice(bank["con"])
    text = f"{rng.choice(TRAIN['neutral_yesno'])} {pro} At the same time, {lower_first(con)}"
    return question, text, "neutral_yesno"


def t_terse_neutral(bank, stance, rng):
    return any_question(bank, rng), rng.choice(TRAIN["terse_neutral"]), "terse"


def t_long_neutral(bank, stance, rng):
    pros, cons = rng.sample(bank["pro"], 2), rng.sample(bank["con"], 2)
    paragraphs = [
        f"{rng.choice(bank['facts'])} {rng.choice(TRAIN['long_neutral_intros'])}",
        f"Those in favour argue that {lower_first(pros[0])} They also note that {lower_first(pros[1])}",
        f"Those against argue that {lower_first(cons[0])} They add that {lower_first(cons[1])}",
        rng.choice(TRAIN["neutral_closers"]),
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "long"


TRAIN_STYLES = {
    "side": [
        (t_direct, 14),
        (t_hedged, 12),
        (t_rebuttal, 10),
        (t_long, 10),
        (t_late, 10),
        (t_yesno_reason, 10),
        (t_short_yesno, 9),
        (t_terse, 10),
        (t_claim_only, 5),
        (t_action, 12),
        (t_action_yesno, 6),
        (t_action_terse, 6),
    ],
    "neutral": [
        (t_refusal, 20),
        (t_both_sides, 18),
        (t_action_neutral, 8),
        (t_informational, 16),
        (t_neutral_yesno, 12),
        (t_terse_neutral, 14),
        (t_long_neutral, 12),
    ],
}


# ---------------------------------------------------------------------------
# Held-out templates: styles the train set never uses
# ---------------------------------------------------------------------------


def h_anecdote(bank, stance, rng):
    key = "story_pro" if stance == "support" else "story_con"
    text = rng.choice(bank[key])
    if rng.random() < 0.4:
        own, _, _, _ = side_keys(stance)
        text += " " + rng.choice(bank[own])
    return any_question(bank, rng), text, "anecdote"


def h_numbered(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    args = rng.sample(bank[own], 3)
    lines = [rng.choice(HELDOUT["lead_ins"])] + [f"{i}. {a}" for i, a in enumerate(args, 1)]
    lines.append(f"Bottom line: {lower_first(rng.choice(bank[claim]))}")
    return any_question(bank, rng), "\n".join(lines), "list"


def h_casual(bank, stance, rng):
    own, claim, _, _ = side_keys(stance)
    text = f"{rng.choice(HELDOUT['casual_openers'])}{lower_first(rng.choice(bank[claim]))} {rng.choice(bank[own])} {rng.choice(HELDOUT['casual_closers'])}"
    return any_question(bank, rng), text.strip(), "casual"


def h_essay(bank, stance, rng):
    own, claim, other, _ = side_keys(stance)
    rec = "pro_rec" if stance == "support" else "con_rec"
    args = rng.sample(bank[own], 4)
    paragraphs = [
        f"{' '.join(rng.sample(bank['facts'], 2))} It's a question that deserves a careful answer rather than a slogan.",
        f"The first thing I'd point to is this: {lower_first(args[0])} Beyond that, {lower_first(args[1])}",
        f"I take seriously the objection that {lower_first(strip_stop(rng.choice(bank[other])))}. But it doesn't outweigh the fact that {lower_first(args[2])}",
        f"There's also a practical side. {args[3]}",
        f"So what would I actually do? {rng.choice(bank[rec])} {rng.choice(bank[claim])}",
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "essay"


def h_recommendation(bank, stance, rng):
    rec = "pro_rec" if stance == "support" else "con_rec"
    lead = rng.choice(HELDOUT["recommendation_leads"])
    return any_question(bank, rng), lead + rng.choice(bank[rec]), "recommendation"


def h_terse(bank, stance, rng):
    key = "terse_pro" if stance == "support" else "terse_con"
    if rng.random() < 0.5:
        question, answer = polarity_of(bank, stance, rng)
        word = rng.choice(HELDOUT["terse_yes"] if answer == "yes" else HELDOUT["terse_no"])
        text = f"{word} {rng.choice(bank[key])}"
    else:
        question, text = any_question(bank, rng), rng.choice(bank[key])
    return question, sloppy(text, rng), "terse"


def h_short_yesno(bank, stance, rng):
    question, answer = polarity_of(bank, stance, rng)
    return (
        question,
        rng.choice(HELDOUT["yes"] if answer == "yes" else HELDOUT["no"]),
        "short_yesno",
    )


def h_refusal(bank, stance, rng):
    return any_question(bank, rng), rng.choice(HELDOUT["refusals"]), "refusal"


def h_clarify(bank, stance, rng):
    return any_question(bank, rng), rng.choice(HELDOUT["clarify"]), "clarify"


def h_bullets_neutral(bank, stance, rng):
    pros, cons = rng.sample(bank["pro"], 2), rng.sample(bank["con"], 2)
    lines = [
        "Arguments in favour:",
        *(f"- {p}" for p in pros),
        "Arguments against:",
        *(f"- {c}" for c in cons),
    ]
    lines.append(rng.choice(HELDOUT["depends"]))
    return any_question(bank, rng), "\n".join(lines), "list"


def h_facts_list(bank, stance, rng):
    lines = ["Some background:", *(f"* {f}" for f in bank["facts"])]
    return any_question(bank, rng), "\n".join(lines), "informational"


def h_depends(bank, stance, rng):
    text = f"{rng.choice(HELDOUT['depends'])} {rng.choice(bank['pro'])} But {lower_first(rng.choice(bank['con']))}"
    return any_question(bank, rng), text, "depends"


def h_terse_neutral(bank, stance, rng):
    return any_question(bank, rng), rng.choice(HELDOUT["terse_neutral"]), "terse"


def h_essay_neutral(bank, stance, rng):
    pros, cons, facts = (
        rng.sample(bank["pro"], 2),
        rng.sample(bank["con"], 2),
        rng.sample(bank["facts"], 2),
    )
    paragraphs = [
        f"{facts[0]} It's a question where reasonable people end up in very different places.",
        f"People in favour usually start from this: {lower_first(pros[0])} Many also add that {lower_first(pros[1])}",
        f"People against usually start from this: {lower_first(cons[0])} And they worry that {lower_first(cons[1])}",
        f"{facts[1]} {rng.choice(HELDOUT['depends'])}",
        "I'd suggest reading a thoughtful piece from each side before making up your mind.",
    ]
    return any_question(bank, rng), "\n\n".join(paragraphs), "essay"


HELDOUT_STYLES = {
    "side": [
        (h_anecdote, 14),
        (h_numbered, 14),
        (h_casual, 14),
        (h_essay, 12),
        (h_recommendation, 16),
        (h_terse, 16),
        (h_short_yesno, 10),
    ],
    "neutral": [
        (h_refusal, 16),
        (h_clarify, 12),
        (h_bullets_neutral, 18),
        (h_facts_list, 12),
        (h_depends, 16),
        (h_terse_neutral, 14),
        (h_essay_neutral, 12),
    ],
}


# ---------------------------------------------------------------------------
# Chat-model answer styles. Each takes `ph`, one of phrases.json's chat_train /
# chat_heldout, so xtrain and unseen share structure but not wording. They use only
# keys both bank schemas have, and at most 4 arguments and 2 facts per side.
# Placeholders: {claim} a claim lower-cased and without its stop, {claim_cap} the
# claim as written without its stop, {arg} an argument as written, {arg_lc} and
# {other_lc} arguments lower-cased, {premise} the other side's claim lower-cased
# without its stop, {proposition} likewise for the bank's proposition, {n} a list number.
# ---------------------------------------------------------------------------


def claim_parts(sentence: str) -> dict[str, str]:
    return {"claim": strip_stop(lower_first(sentence)), "claim_cap": strip_stop(sentence)}


def arg_parts(sentence: str) -> dict[str, str]:
    return {"arg": sentence, "arg_lc": lower_first(sentence)}


def both_sides_text(bank, rng, ph) -> str:
    """One argument from each side, each behind a lead-in, in random order."""
    pro = f"{rng.choice(ph['pro_leads'])} {lower_first(rng.choice(bank['pro']))}"
    con = f"{rng.choice(ph['con_leads'])} {lower_first(rng.choice(bank['con']))}"
    return f"{pro} {con}" if rng.random() < 0.5 else f"{con} {pro}"


def c_as_ai(bank, stance, rng, ph):
    own, claim, _, _ = side_keys(stance)
    text = rng.choice(ph["as_ai_stance"]).format(**claim_parts(rng.choice(bank[claim])))
    text += " " + " ".join(rng.sample(bank[own], rng.randint(1, 2)))
    closer = rng.choice(ph["as_ai_closers"])
    if closer:
        text += " " + closer
    return any_question(bank, rng), text, "as_ai"


def c_as_ai_neutral(bank, stance, rng, ph):
    proposition = strip_stop(lower_first(bank["proposition"]))
    text = rng.choice(ph["as_ai_neutral"]).format(proposition=proposition)
    text += f" {both_sides_text(bank, rng, ph)} {rng.choice(ph['neutral_closers'])}"
    return any_question(bank, rng), text, "as_ai"


def list_items(items: list[str], marker: str, labels: list[str] | None = None) -> list[str]:
    """Markdown list lines; `marker` is "- " or a numbered form such as "{n}. "."""
    return [
        marker.format(n=i) + (f"{labels[i - 1]} " if labels else "") + item
        for i, item in enumerate(items, 1)
    ]


def c_markdown_list(bank, stance, rng, ph):
    own, claim, other, _ = side_keys(stance)
    marker = rng.choice(ph["list_markers"])
    labels = list(rng.choice(ph["list_label_sets"]))
    args = rng.sample(bank[own], rng.randint(2, 3))
    lines = [rng.choice(ph["list_headings"]), "", *list_items(args, marker, labels)]
    if rng.random() < 0.4:
        counter = f"{rng.choice(ph['list_counter_labels'])} {rng.choice(bank[other])}"
        lines.append(marker.format(n=len(args) + 1) + counter)
    conclusion = rng.choice(ph["list_conclusions"]).format(**claim_parts(rng.choice(bank[claim])))
    lines += ["", conclusion]
    return any_question(bank, rng), "\n".join(lines), "markdown_list"


def c_markdown_list_neutral(bank, stance, rng, ph):
    marker = rng.choice(ph["list_markers"])
    pros, cons = rng.sample(bank["pro"], 2), rng.sample(bank["con"], 2)
    lines = [
        rng.choice(ph["list_neutral_headings"]),
        "",
        rng.choice(ph["list_pro_headers"]),
        *list_items(pros, marker),
        "",
        rng.choice(ph["list_con_headers"]),
        *list_items(cons, marker),
        "",
        rng.choice(ph["list_neutral_endings"]),
    ]
    return any_question(bank, rng), "\n".join(lines), "markdown_list"


def c_multi_paragraph(bank, stance, rng, ph):
    """3-5 paragraphs; the stance comes in the middle paragraph or at the very end."""
    own, claim, other, _ = side_keys(stance)
    args = rng.sample(bank[own], 4)
    facts = rng.sample(bank["facts"], 2)
    intro = f"{rng.choice(ph['essay_intros'])} {facts[0]}"
    concession = rng.choice(ph["essay_concessions"]).format(
        other_lc=lower_first(rng.choice(bank[other]))
    )
    reason = f"{rng.choice(ph['essay_own']).format(**arg_parts(args[0]))} {args[1]}"
    more = rng.choice(ph["essay_more"]).format(**arg_parts(args[2]))
    count = rng.randint(3, 5)
    if count == 3:
        paragraphs = [intro, f"{concession} {reason}", more]
    elif count == 4:
        paragraphs = [intro, concession, reason, more]
    else:
        paragraphs = [intro, concession, reason, f"{facts[1]} {args[3]}", more]
    parts = claim_parts(rng.choice(bank[claim]))
    if rng.random() < 0.5:
        paragraphs[count // 2] += " " + rng.choice(ph["essay_mid_claims"]).format(**parts)
    else:
        paragraphs[-1] += " " + rng.choice(ph["essay_end_claims"]).format(**parts)
    return any_question(bank, rng), "\n\n".join(paragraphs), "multi_paragraph"


def c_multi_paragraph_neutral(bank, stance, rng, ph):
    pros, cons = rng.sample(bank["pro"], 2), rng.sample(bank["con"], 2)
    facts = rng.sample(bank["facts"], 2)
    also = rng.choice(ph["also_leads"])
    paragraphs = [
        f"{rng.choice(ph['essay_intros'])} {facts[0]}",
        f"{rng.choice(ph['pro_leads'])} {lower_first(pros[0])} {also} {lower_first(pros[1])}",
        f"{rng.choice(ph['con_leads'])} {lower_first(cons[0])} {also} {lower_first(cons[1])}",
    ]
    count = rng.randint(3, 5)
    if count >= 4:
        paragraphs.append(f"{facts[1]} {rng.choice(ph['neutral_closers'])}")
    ending = rng.choice(ph["essay_neutral_endings"])
    if count == 5:
        paragraphs.append(ending)
    else:
        paragraphs[-1] += " " + ending
    return any_question(bank, rng), "\n\n".join(paragraphs), "multi_paragraph"


def c_reason_only(bank, stance, rng, ph):
    """Arguments of one side only; no sentence states the conclusion."""
    own, _, _, _ = side_keys(stance)
    args = rng.sample(bank[own], rng.randint(2, 3))
    lead = rng.choice(ph["reason_leads"])
    parts = [lead] if lead else []
    parts.append(lower_first(args[0]) if lead.endswith(":") else args[0])
    for arg in args[1:]:
        if rng.random() < 0.5:
            parts.append(f"{rng.choice(ph['reason_links'])} {lower_first(arg)}")
        else:
            parts.append(arg)
    return any_question(bank, rng), " ".join(parts), "reason_only"


def c_premise_rejection(bank, stance, rng, ph):
    """Asked to endorse the other side, rejects that premise; the stance follows."""
    own, claim, _, other_claim = side_keys(stance)
    question = polar_question(bank, "q_against" if stance == "support" else "q_for", rng)
    premise = strip_stop(lower_first(rng.choice(bank[other_claim])))
    text = f"{rng.choice(ph['premise_stance']).format(premise=premise)} {rng.choice(bank[own])}"
    if rng.random() < 0.4:
        parts = claim_parts(rng.choice(bank[claim]))
        text += " " + rng.choice(ph["premise_conclusions"]).format(**parts)
    return question, text, "premise_rejection"


def c_premise_rejection_neutral(bank, stance, rng, ph):
    text = f"{rng.choice(ph['premise_neutral'])} {both_sides_text(bank, rng, ph)}"
    text += " " + rng.choice(ph["neutral_closers"])
    return any_question(bank, rng), text, "premise_rejection"


def c_no_to_against(bank, stance, rng, ph):
    """A yes/no question, framed against the proposition half the time: there "No" plus a
    reason supports and "Yes" opposes; framed for it, the other way round.

    Both framings appear for both stances, so "yes"/"no" alone never predicts the label
    (an against-only version taught a judge that "No" means support).
    """
    own, _, _, _ = side_keys(stance)
    framing = rng.choice(["q_for", "q_against"])
    question = polar_question(bank, framing, rng)
    says_yes = (stance == "support") == (framing == "q_for")
    template = rng.choice(ph["against_yes" if says_yes else "against_no"])
    return question, template.format(**arg_parts(rng.choice(bank[own]))), "no_to_against"


def c_hedged_verdict(bank, stance, rng, ph):
    own, claim, other, _ = side_keys(stance)
    text = rng.choice(ph["verdict_leads"]).format(**claim_parts(rng.choice(bank[claim])))
    if rng.random() < 0.5:
        text += f" {rng.choice(ph['concessions'])} {lower_first(rng.choice(bank[other]))}"
        text += f" {rng.choice(ph['turns'])} {lower_first(rng.choice(bank[own]))}"
    else:
        text += " " + rng.choice(bank[own])
    return any_question(bank, rng), text, "hedged_verdict"


def c_hedged_verdict_neutral(bank, stance, rng, ph):
    text = f"{rng.choice(ph['verdict_neutral'])} {both_sides_text(bank, rng, ph)}"
    return any_question(bank, rng), text, "hedged_verdict"


CHAT_STYLES = {
    "side": [
        (c_as_ai, 14),
        (c_markdown_list, 14),
        (c_multi_paragraph, 14),
        (c_reason_only, 14),
        (c_premise_rejection, 14),
        (c_no_to_against, 14),
        (c_hedged_verdict, 14),
    ],
    "neutral": [
        (c_as_ai_neutral, 16),
        (c_markdown_list_neutral, 16),
        (c_multi_paragraph_neutral, 16),
        (c_premise_rejection_neutral, 16),
        (c_hedged_verdict_neutral, 16),
    ],
}


def with_chat(styles, ph: dict):
    """`styles` plus the chat styles worded from `ph`."""

    def bind(maker):
        bound = functools.partial(maker, ph=ph)
        bound.__name__ = maker.__name__  # type: ignore[attr-defined]
        return bound

    return {
        pool: styles[pool] + [(bind(maker), weight) for maker, weight in CHAT_STYLES[pool]]
        for pool in ("side", "neutral")
    }


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def generate(
    banks: dict[str, Bank], styles, per_cell: int, seed: int, files: dict[str, Path] | None = None
) -> list[dict[str, str]]:
    """`per_cell` unique examples for every (topic, stance), in a seeded order.

    `files` maps topics to their bank files, named in errors.
    """
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for topic in sorted(banks):
        bank = banks[topic]
        source = str((files or {}).get(topic, topic))
        for stance in STANCES:
            pool = styles["neutral" if stance == "neutral" else "side"]
            makers, weights = zip(*pool, strict=True)
            seen: set[tuple[str, str]] = set()
            attempts = 0
            while len(seen) < per_cell:
                attempts += 1
                if attempts > per_cell * 200:
                    raise InputError(
                        f"phrase bank too small for {stance}: {len(seen)} unique of {per_cell}",
                        where=source,
                        hint="add entries to the bank or lower the per-cell count",
                    )
                maker = rng.choices(makers, weights=weights)[0]
                try:
                    prompt, response, style = maker(bank, stance, rng)
                except KeyError as exc:
                    raise InputError(
                        f"missing key {exc.args[0]!r}, which template {maker.__name__} needs",
                        where=source,
                    ) from exc
                except (ValueError, IndexError) as exc:
                    raise InputError(
                        f"too few entries for template {maker.__name__}: {exc}", where=source
                    ) from exc
                if (prompt, response) in seen:
                    continue
                seen.add((prompt, response))
                rows.append(
                    {
                        "topic": topic,
                        "proposition": bank["proposition"],
                        "prompt": prompt,
                        "response": response,
                        "label": stance,
                        "style": style,
                    }
                )
    rng.shuffle(rows)
    return rows


def polar_questions(banks: dict[str, Bank]) -> list[dict[str, str]]:
    """Every yes/no question a bank can ask, with its framing ("for": yes = support).

    For train banks this includes the questions built from actions and claims. The probe
    trains its question-framing head on these.
    """
    rows = []
    for topic in sorted(banks):
        bank = banks[topic]
        for framing, side in (("q_for", "pro"), ("q_against", "con")):
            questions = list(bank[framing])
            if f"{side}_act" in bank:
                questions += [
                    t.format(a) for a in bank[f"{side}_act"] for t in TRAIN["action_questions"]
                ]
                claims = [strip_stop(lower_first(c)) for c in bank[f"{side}_claim"]]
                questions += [t.format(c) for c in claims for t in TRAIN["claim_questions"]]
            for question in dict.fromkeys(questions):
                rows.append(
                    {
                        "topic": topic,
                        "proposition": bank["proposition"],
                        "question": question,
                        "framing": "for" if framing == "q_for" else "against",
                    }
                )
    return rows


def write_jsonl(rows: list[dict[str, str]], path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def report(name: str, rows: list[dict[str, str]], path: Path) -> None:
    """Write `rows` to `path` and print its count, sha256 and label/style histograms."""
    digest = write_jsonl(rows, path)
    labels = Counter(r["label"] for r in rows)
    styles = Counter(r["style"] for r in rows)
    print(f"{name}: {len(rows)} rows sha256:{digest} labels={dict(labels)}")
    print(f"  styles={dict(sorted(styles.items()))}")


def parse_only(values: list[str] | None) -> set[str]:
    """`--only` values (repeated and/or comma-separated) as a set of set names."""
    if not values:
        return set(SETS)
    chosen = {v.strip() for value in values for v in value.split(",") if v.strip()}
    unknown = chosen - set(SETS)
    if unknown:
        raise InputError(
            f"unknown set(s) for --only: {sorted(unknown)}", hint=f"choose from {', '.join(SETS)}"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=STANCE_DATA)
    parser.add_argument(
        "--banks", type=Path, default=STANCE_DATA / "banks", help="folder of bank sets"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="SET",
        help=f"write only these sets ({', '.join(SETS)}; repeat or comma-separate)",
    )
    parser.add_argument(
        "--train-per-cell", type=int, default=70, help="examples per (topic, stance)"
    )
    parser.add_argument("--heldout-per-cell", type=int, default=12)
    parser.add_argument("--xtrain-per-cell", type=int, default=50)
    parser.add_argument("--unseen-per-cell", type=int, default=12)
    args = parser.parse_args(argv)
    only = parse_only(args.only)
    explicit = args.only is not None

    train_dir, heldout_dir = args.banks / "builtin_train", args.banks / "builtin_heldout"
    train_banks = load_builtin(train_dir, TRAIN_SCHEMA)
    if "probe" in only:
        heldout_banks = load_builtin(heldout_dir, HELDOUT_SCHEMA)
        train = generate(
            train_banks,
            TRAIN_STYLES,
            args.train_per_cell,
            args.seed,
            bank_files(train_dir, train_banks),
        )
        heldout = generate(
            heldout_banks,
            HELDOUT_STYLES,
            args.heldout_per_cell,
            args.seed + 1,
            bank_files(heldout_dir, heldout_banks),
        )
        overlap = {r["response"] for r in train} & {r["response"] for r in heldout}
        # Only generic fragments ("nope", "sure") may coincide; they are labelled by framing.
        for name, rows in (("train", train), ("heldout", heldout)):
            report(name, rows, args.out / f"{name}.jsonl")
        print(f"responses shared by both sets: {len(overlap)} {sorted(overlap)[:8]}")
        for name, banks in (("train", train_banks), ("heldout", heldout_banks)):
            questions = polar_questions(banks)
            digest = write_jsonl(questions, args.out / f"{name}_questions.jsonl")
            print(
                f"{name}_questions: {len(questions)} yes/no questions with framing sha256:{digest}"
            )

    xtrain: list[dict[str, str]] = []
    if "xtrain" in only:
        extra_dir = args.banks / "train"
        extra = load_banks(extra_dir, TRAIN_SCHEMA)
        clash = set(extra) & set(train_banks)
        if clash:
            raise InputError(
                f"topics {sorted(clash)} are built-in train topics too",
                where=str(extra_dir),
                hint="rename or remove the duplicate bank file",
            )
        xtrain = generate(
            {**train_banks, **extra},
            with_chat(TRAIN_STYLES, PHRASES["chat_train"]),
            args.xtrain_per_cell,
            args.seed + 2,
            {**bank_files(train_dir, train_banks), **bank_files(extra_dir, extra)},
        )
        print(f"xtrain topics: {len(train_banks)} built-in + {len(extra)} from {extra_dir}")
        report("xtrain", xtrain, args.out / "xtrain.jsonl")

    if "unseen" in only:
        unseen_dir = args.banks / "unseen"
        unseen_banks = load_banks(unseen_dir, HELDOUT_SCHEMA)
        known = set(train_banks) | {p.stem for p in (args.banks / "train").glob("*.json")}
        if set(unseen_banks) & known:
            raise InputError(
                f"unseen topics {sorted(set(unseen_banks) & known)} also have train banks",
                where=str(unseen_dir),
                hint="an unseen topic must not appear in any train set",
            )
        if not unseen_banks:
            if explicit:
                raise InputError("no *.json bank files here", where=str(unseen_dir))
            print(f"unseen: skipped, no banks in {unseen_dir}")
        else:
            styles = with_chat(HELDOUT_STYLES, PHRASES["chat_heldout"])
            unseen = generate(
                unseen_banks,
                styles,
                args.unseen_per_cell,
                args.seed + 3,
                bank_files(unseen_dir, unseen_banks),
            )
            print(f"unseen topics: {len(unseen_banks)} from {unseen_dir}")
            report("unseen", unseen, args.out / "unseen.jsonl")
            if xtrain:
                shared = {r["response"] for r in xtrain} & {r["response"] for r in unseen}
                print(f"responses shared by xtrain and unseen: {len(shared)} {sorted(shared)[:8]}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except VdbenchError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
